// The hsm layer and byok::Pkcs11ExportSession against a real SoftHSMv2 2.6.1
// token in a private directory (its own SOFTHSM2_CONF).
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "base/encoding.h"
#include "base/testing.h"
#include "byok/envelope.h"
#include "byok/export.h"
#include "byok/import.h"
#include "byok/pkcs11_export_session.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "hsm/errors.h"
#include "hsm/keys.h"
#include "hsm/module.h"
#include "hsm/pkcs11.h"
#include "hsm/session.h"
#include "hsm/templates.h"

namespace keyferry::hsm {
namespace {

constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";

SecretBytes Pin(const char* s) { return SecretBytes(AsBytes(s)); }

class SoftHsmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/kf_softhsm.XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string tokens = dir_ + "/tokens";
    ASSERT_EQ(mkdir(tokens.c_str(), 0700), 0);
    std::ofstream(dir_ + "/softhsm2.conf")
        << "directories.tokendir = " << tokens
        << "\nobjectstore.backend = file\n"
        << "log.level = ERROR\nslots.removable = false\n";
    setenv("SOFTHSM2_CONF", (dir_ + "/softhsm2.conf").c_str(), 1);
    auto m = Module::Load(kModule);
    ASSERT_OK(m);
    module_ = m->release();
    ASSERT_OK_AND_ASSIGN(SlotId free, module_->FindFreeSlot());
    ASSERT_OK(module_->InitToken(free, Pin("so-pin-1"), "unit"));
    ASSERT_OK_AND_ASSIGN(slot_, module_->FindSlotByTokenLabel("unit"));
    ASSERT_OK_AND_ASSIGN(auto so, Session::OpenSecurityOfficer(
                                      *module_, slot_, Pin("so-pin-1")));
    ASSERT_OK(so->InitUserPin(Pin("user-pin-1")));
  }
  static void TearDownTestSuite() {
    delete module_;
    std::system(("rm -rf " + dir_).c_str());
  }
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(session_,
                         Session::Open(*module_, slot_, Pin("user-pin-1")));
  }

  static std::string dir_;
  static Module* module_;
  static SlotId slot_;
  std::unique_ptr<Session> session_;
};
std::string SoftHsmTest::dir_;
Module* SoftHsmTest::module_ = nullptr;
SlotId SoftHsmTest::slot_ = 0;

TEST_F(SoftHsmTest, TokenInfoAndMechanisms) {
  ASSERT_OK_AND_ASSIGN(TokenInfo t, module_->GetTokenInfo(slot_));
  EXPECT_EQ(t.label, "unit");
  EXPECT_EQ(t.manufacturer, "SoftHSM project");
  ASSERT_OK_AND_ASSIGN(MechanismInfo oaep,
                       module_->GetMechanism(slot_, CKM_RSA_PKCS_OAEP));
  EXPECT_TRUE(oaep.wrap);
  EXPECT_THAT(module_->GetMechanism(slot_, CKM_RSA_AES_KEY_WRAP),
              StatusIs(absl::StatusCode::kNotFound));
}

// The library is initialized once per process: a second Module of it, and
// its destruction, leave the first one's sessions working (C_Finalize only
// when the last user goes).
TEST_F(SoftHsmTest, SecondModuleOfTheSameLibraryDoesNotFinalizeIt) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Module> second, Module::Load(kModule));
    ASSERT_OK(second->GetTokenInfo(slot_).status());
  }
  EXPECT_TRUE(session_->IsAlive());
  ASSERT_OK_AND_ASSIGN(TokenInfo info, module_->GetTokenInfo(slot_));
  EXPECT_EQ(info.label, "unit");
  ASSERT_OK_AND_ASSIGN(auto again,
                       Session::Open(*module_, slot_, Pin("user-pin-1")));
  EXPECT_TRUE(again->IsAlive());
}

TEST_F(SoftHsmTest, FailureWrongPin) {
  session_.reset();  // login is per application: log the fixture's session out
  auto s = Session::Open(*module_, slot_, Pin("nope"));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(s, StatusHasMessage("CKR_PIN_INCORRECT"));
  EXPECT_EQ(GetCkr(s.status()), CKR_PIN_INCORRECT);
}

TEST_F(SoftHsmTest, FailureUnknownTokenLabel) {
  EXPECT_THAT(module_->FindSlotByTokenLabel("absent"),
              StatusHasMessage("absent"));
}

TEST_F(SoftHsmTest, GeneratedFlagsReadBack) {
  ASSERT_OK_AND_ASSIGN(KeySpec spec, ParseKeySpec("aes", 192, std::nullopt));
  spec.label = "flags-aes";
  ASSERT_OK_AND_ASSIGN(
      spec.flags, ParseFlags("extractable,modifiable,nonwrap", spec.flags));
  ASSERT_OK_AND_ASSIGN(GeneratedKey k, GenerateKey(*session_, spec));
  ASSERT_OK_AND_ASSIGN(KeyFlags f, ReadFlags(*session_, k.private_or_secret));
  EXPECT_EQ(
      FormatFlags(f),
      "sensitive extractable modifiable noncopyable destroyable token private "
      "encrypt decrypt nonsign nonverify nonwrap unwrap nonderive "
      "nonwrapwithtrusted nontrusted local alwayssensitive "
      "nonneverextractable");
  ASSERT_OK_AND_ASSIGN(KeyEntry e, DescribeKey(*session_, k.private_or_secret));
  EXPECT_EQ(e.bits, 192);
  EXPECT_EQ(e.id, k.id);
  EXPECT_THAT(GenerateKey(*session_, spec),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(SoftHsmTest, FailureSensitiveValueUnreadable) {
  byok::Pkcs11ExportSession token(*session_, "t");
  ASSERT_OK_AND_ASSIGN(byok::ObjectRef k, token.GenerateEphemeralAes(32));
  auto v = session_->GetSecretAttribute(k, CKA_VALUE);
  EXPECT_EQ(GetCkr(v.status()), CKR_ATTRIBUTE_SENSITIVE);
  ASSERT_OK(token.Destroy(k));
  EXPECT_EQ(GetCkr(session_->GetBool(k, CKA_SENSITIVE).status()),
            CKR_OBJECT_HANDLE_INVALID);
}

TEST_F(SoftHsmTest, KwpProbeDetectsSoftHsmPaddingDefect) {
  byok::Pkcs11ExportSession token(*session_, "t");
  ASSERT_OK_AND_ASSIGN(byok::ExportSession::KwpProbe p,
                       token.ProbeKwp(CKM_AES_KEY_WRAP_PAD));
  EXPECT_TRUE(p.unwrap_ok) << p.detail;  // SoftHSM 2.6.1 unwrap is RFC 5649
  EXPECT_FALSE(p.wrap_ok);
  EXPECT_TRUE(p.padding_defect) << p.detail;
  ASSERT_OK_AND_ASSIGN(p, token.ProbeKwp(CKM_AES_KEY_WRAP));  // RFC 3394
  EXPECT_FALSE(p.unwrap_ok);
  EXPECT_FALSE(p.padding_defect);
}

// SignSecret (a MAC into a zeroizing buffer) and VerifyMac against RFC 4231
// §4.7, test case 6: HMAC-SHA-256 with a 131-byte key.
TEST_F(SoftHsmTest, SignSecretAndVerifyMacHmacMatchRfc4231) {
  ASSERT_OK_AND_ASSIGN(
      ObjectHandle key,
      session_->CreateObject(
          {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
           Attr::Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
           Attr::Bool(CKA_TOKEN, false), Attr::Bool(CKA_SIGN, true),
           Attr::Secret(CKA_VALUE,
                        SecretBytes(std::vector<uint8_t>(131, 0xaa)))}));
  const std::string_view data =
      "Test Using Larger Than Block-Size Key - Hash Key First";
  ASSERT_OK_AND_ASSIGN(
      SecretBytes mac,
      session_->SignSecret({CKM_SHA256_HMAC}, key, AsBytes(data)));
  EXPECT_EQ(HexEncode(mac.data(SecretAccess::Get())),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> plain,
                       session_->Sign({CKM_SHA256_HMAC}, key, AsBytes(data)));
  EXPECT_EQ(HexEncode(plain), HexEncode(mac.data(SecretAccess::Get())));
  // VerifyMac: the RFC's MAC verifies; one bit off, one byte short or
  // other data does not (InvalidArgument, never a token fault).
  EXPECT_OK(session_->VerifyMac({CKM_SHA256_HMAC}, key, AsBytes(data), plain));
  std::vector<uint8_t> bad = plain;
  bad[31] ^= 1;
  EXPECT_THAT(session_->VerifyMac({CKM_SHA256_HMAC}, key, AsBytes(data), bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  bad = plain;
  bad.pop_back();
  EXPECT_THAT(session_->VerifyMac({CKM_SHA256_HMAC}, key, AsBytes(data), bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      session_->VerifyMac({CKM_SHA256_HMAC}, key, AsBytes("other"), plain),
      StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(session_->Destroy(key));
}

TEST_F(SoftHsmTest, FailureNonExtractableCarriesCkr) {
  ASSERT_OK_AND_ASSIGN(KeySpec spec, ParseKeySpec("aes", 256, std::nullopt));
  spec.label = "locked";
  ASSERT_OK_AND_ASSIGN(GeneratedKey k, GenerateKey(*session_, spec));
  byok::Pkcs11ExportSession token(*session_, "t");
  ASSERT_OK_AND_ASSIGN(byok::ObjectRef eph, token.GenerateEphemeralAes(32));
  auto st = token.WrapKwp(CKM_AES_KEY_WRAP_PAD, eph, k.private_or_secret);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(GetCkr(st.status()), CKR_KEY_UNEXTRACTABLE);
  ASSERT_OK(token.Destroy(eph));
}

TEST_F(SoftHsmTest, ExportAesLeavesNoSessionObjects) {
  ASSERT_OK_AND_ASSIGN(KeySpec spec, ParseKeySpec("aes", 256, std::nullopt));
  spec.label = "export-me";
  ASSERT_OK_AND_ASSIGN(spec.flags,
                       ParseFlags("nonsensitive,extractable", spec.flags));
  ASSERT_OK_AND_ASSIGN(GeneratedKey k, GenerateKey(*session_, spec));
  ASSERT_OK_AND_ASSIGN(SecretBytes value, session_->GetSecretAttribute(
                                              k.private_or_secret, CKA_VALUE));
  ASSERT_OK_AND_ASSIGN(auto kek, crypto::GenerateRsa(2048));
  auto before = session_->Find({Attr::Bool(CKA_TOKEN, false)});
  ASSERT_OK(before);
  byok::Pkcs11ExportSession token(*session_, "t");
  ASSERT_OK_AND_ASSIGN(
      byok::ExportResult r,
      byok::ExportFromToken(token, k.private_or_secret, kek.get(), {}));
  ASSERT_OK_AND_ASSIGN(SecretBytes back,
                       byok::UnwrapWithKek(kek.get(), r.ciphertext));
  EXPECT_TRUE(back.ConstantTimeEquals(value));
  auto after = session_->Find({Attr::Bool(CKA_TOKEN, false)});
  ASSERT_OK(after);
  EXPECT_EQ(after->size(), before->size());
}

// byok::ImportToToken: a refused blob leaves no object at all (transfer key
// and check key destroyed), a refused template no token object, and a good
// one exactly one sensitive, non-extractable token key.
TEST_F(SoftHsmTest, ImportLeavesNothingBehindOnRefusal) {
  ASSERT_OK_AND_ASSIGN(KeySpec kek_spec,
                       ParseKeySpec("rsa", 2048, std::nullopt));
  kek_spec.label = "import-kek";
  kek_spec.flags.token = false;
  kek_spec.flags.unwrap = true;
  ASSERT_OK_AND_ASSIGN(GeneratedKey kek, GenerateKey(*session_, kek_spec));
  ASSERT_OK_AND_ASSIGN(RsaPublicParts parts,
                       ReadRsaPublic(*session_, kek.private_or_secret));
  ASSERT_OK_AND_ASSIGN(auto pub, crypto::RsaPublicFromParts(parts.n, parts.e));
  ASSERT_OK_AND_ASSIGN(SecretBytes aes, crypto::RandomSecret(32));
  byok::TransferBlob blob;
  ASSERT_OK_AND_ASSIGN(blob.ciphertext, byok::WrapToKek(pub.get(), aes));
  ASSERT_OK_AND_ASSIGN(KeySpec spec, ParseKeySpec("aes", 256, std::nullopt));
  spec.label = "imported";
  spec.flags.modifiable = true;  // SoftHSM refuses it FALSE on unwrap
  auto count = [&](const Template& t) {
    auto found = session_->Find(t);
    EXPECT_OK(found.status());
    return found.ok() ? found->size() : size_t{0};
  };
  const size_t all = count({});
  const size_t tokens = count({Attr::Bool(CKA_TOKEN, true)});

  byok::TransferBlob damaged = blob;
  damaged.ciphertext.back() ^= 1;
  EXPECT_THAT(
      byok::ImportToToken(*session_, kek.private_or_secret, damaged, spec, {}),
      StatusHasMessage("does not unwrap as an AES key"));
  EXPECT_EQ(count({}), all);
  KeySpec small = spec;
  small.bits = 128;
  EXPECT_THAT(
      byok::ImportToToken(*session_, kek.private_or_secret, blob, small, {}),
      StatusHasMessage("not the declared AES-128"));
  EXPECT_EQ(count({}), all);
  KeySpec fixed = spec;
  fixed.flags.modifiable = false;
  EXPECT_THAT(
      byok::ImportToToken(*session_, kek.private_or_secret, blob, fixed, {}),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  // SoftHSM keeps half of the refused trial key (with its CKA_ID): removed.
  EXPECT_EQ(count({}), all);

  ASSERT_OK_AND_ASSIGN(
      byok::TokenImportResult r,
      byok::ImportToToken(*session_, kek.private_or_secret, blob, spec, {}));
  EXPECT_EQ(count({Attr::Bool(CKA_TOKEN, true)}), tokens + 1);
  ASSERT_OK_AND_ASSIGN(KeyFlags f, ReadFlags(*session_, r.key));
  EXPECT_TRUE(f.token && f.sensitive && !f.extractable && f.encrypt);
  // The key is the payload: the token's AES-ECB of a zero block is the
  // same as that of a session key made from the known value.
  const std::vector<uint8_t> zero(16, 0);
  ASSERT_OK_AND_ASSIGN(ObjectHandle known,
                       session_->CreateObject(AesValueTemplate(aes)));
  ScopedObject known_obj(*session_, known);
  ASSERT_OK_AND_ASSIGN(auto want,
                       session_->Encrypt({CKM_AES_ECB}, known, zero));
  ASSERT_OK_AND_ASSIGN(auto got, session_->Encrypt({CKM_AES_ECB}, r.key, zero));
  EXPECT_EQ(got, want);
  ASSERT_OK(session_->Destroy(r.key));
}

}  // namespace
}  // namespace keyferry::hsm
