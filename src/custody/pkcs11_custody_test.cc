// Pkcs11Custody against two independent real tokens, each in a private
// directory: SoftHSMv2 and NSS softokn (a parameterized fixture). Independent
// checks: signatures verify with OpenSSL under the published public key,
// ciphertexts come from or open with OpenSSL primitives, BYOK blobs are made
// in software from the spec, and OpenSC's pkcs11-tool lists what the
// SoftHSM token holds (it cannot pass NSS's initialization string).
#include "custody/pkcs11_custody.h"

#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "base/encoding.h"
#include "base/testing.h"
#include "byok/envelope.h"
#include "crypto/aead.h"
#include "crypto/aes_wrap.h"
#include "crypto/cipher.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"
#include "crypto/rsa_pkcs1.h"
#include "crypto/sign.h"
#include "custody/cipher_rules.h"
#include "custody/pkcs11_test_tokens.h"

namespace keyferry::custody {
namespace {

using p11test::B;
using p11test::CloseTokenEnvs;
using p11test::CustodyOptions;
using p11test::InitSoftHsmToken;
using p11test::MakeNssDatabase;
using p11test::SoftHsmTool;
using p11test::Token;
using p11test::TokenEnv;
using p11test::TokenName;
using p11test::UseSoftHsmDirectory;

constexpr char kToken[] = "kfd";
constexpr char kEmptyToken[] = "emptytoken";  // not a prefix match of kToken

// The tokens the fixture runs on, and what each one's probes must find.

class Pkcs11CustodyTest : public ::testing::TestWithParam<Token> {
 protected:
  static void TearDownTestSuite() { CloseTokenEnvs(envs_); }
  void SetUp() override {
    TokenEnv& e = env();
    if (e.dir.empty()) {
      char tmpl[] = "/tmp/kf_p11custody.XXXXXX";
      e.dir = mkdtemp(tmpl);
      if (nss()) {
        MakeNssDatabase(e);
      } else {
        MakeSoftHsmTokens(e);
      }
      if (HasFatalFailure()) return;
      Reopen();
    }
    custody_ = e.custody;
    ASSERT_NE(custody_, nullptr);
  }
  static void MakeSoftHsmTokens(TokenEnv& e) {
    UseSoftHsmDirectory(e);
    if (HasFatalFailure()) return;
    InitSoftHsmToken(kToken);
    // A second token that never gets master keys
    // (FailureNoMasterKeysAndNoneMayBeMade); made before the module is
    // loaded, which is when SoftHSM reads its tokens.
    InitSoftHsmToken(kEmptyToken);
  }
  bool nss() const { return GetParam() == Token::kNss; }
  TokenEnv& env() { return envs_[static_cast<int>(GetParam())]; }
  void Reopen() {
    TokenEnv& e = env();
    delete e.custody;
    e.custody = nullptr;
    custody_ = nullptr;
    Pkcs11Options o = CustodyOptions(GetParam(), e, kToken);
    o.sessions = 4;
    o.cached_keys = 8;
    o.master_keys = MasterKeyPolicy::kFindOrCreate;
    auto c = Pkcs11Custody::Open(std::move(o));
    ASSERT_OK(c);
    e.custody = c->release();
    custody_ = e.custody;
  }
  // Tool runs pkcs11-tool on the SoftHSM test token.
  static std::string Tool(const std::string& args) {
    return SoftHsmTool(kToken, args);
  }

  static std::array<TokenEnv, 2> envs_;
  Pkcs11Custody* custody_ = nullptr;
};
std::array<TokenEnv, 2> Pkcs11CustodyTest::envs_;

INSTANTIATE_TEST_SUITE_P(Tokens, Pkcs11CustodyTest,
                         ::testing::Values(Token::kSoftHsm, Token::kNss),
                         TokenName);

const std::vector<uint8_t> kBinding = B("myvault/k/1");

TEST_P(Pkcs11CustodyTest, ProbesFindTheTokensLimits) {
  Pkcs11Custody& c = *custody_;
  EXPECT_EQ(c.Kind(), "pkcs11");
  EXPECT_FALSE(c.limits().rsa_aes_key_wrap);
  EXPECT_TRUE(c.limits().aes_gcm);
  EXPECT_TRUE(c.limits().rsa_raw);
  if (nss()) {
    // NSS softokn 3.87: RFC 5649 is 0x210B (its 0x210A is RFC 3394 over
    // PKCS#7 padding), right; OAEP with SHA-2; no secp256k1.
    EXPECT_NE(c.Platform().find("NSS"), std::string::npos) << c.Platform();
    EXPECT_EQ(c.limits().kwp_mechanism, 0x210Bu);
    EXPECT_FALSE(c.limits().kwp_wrap_defect);
    EXPECT_TRUE(c.limits().oaep_sha256);
    EXPECT_FALSE(c.limits().secp256k1);
    return;
  }
  EXPECT_NE(c.Platform().find("SoftHSM"), std::string::npos) << c.Platform();
  EXPECT_NE(c.Platform().find("'kfd'"), std::string::npos) << c.Platform();
  // SoftHSM 2.6.1 (shared reference softhsm-2.6.1.md §§2, 4, 5).
  EXPECT_EQ(c.limits().kwp_mechanism, 0x210Au);
  EXPECT_FALSE(c.limits().oaep_sha256);
  EXPECT_TRUE(c.limits().kwp_wrap_defect);
  EXPECT_TRUE(c.limits().secp256k1);
}

struct SignCase {
  KeyKind kind;
  int bits;
  std::optional<crypto::Curve> curve;
  crypto::SignAlg alg;
};

TEST_P(Pkcs11CustodyTest, GeneratedKeysSignAndOpenSslVerifies) {
  std::vector<SignCase> cases = {
      {KeyKind::kRsa, 2048, std::nullopt, crypto::SignAlg::kRs256},
      {KeyKind::kRsa, 2048, std::nullopt, crypto::SignAlg::kPs256},
      {KeyKind::kRsa, 3072, std::nullopt, crypto::SignAlg::kRs384},
      {KeyKind::kRsa, 2048, std::nullopt, crypto::SignAlg::kPs512},
      {KeyKind::kEc, 0, crypto::Curve::kP256, crypto::SignAlg::kEs256},
      {KeyKind::kEc, 0, crypto::Curve::kP384, crypto::SignAlg::kEs384},
      {KeyKind::kEc, 0, crypto::Curve::kP521, crypto::SignAlg::kEs512},
  };
  if (custody_->limits().secp256k1) {
    cases.push_back(
        {KeyKind::kEc, 0, crypto::Curve::kSecp256k1, crypto::SignAlg::kEs256k});
  } else {
    // The token's limit, named.
    EXPECT_THAT(custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kSecp256k1},
                                   kBinding),
                StatusHasMessage("cannot generate secp256k1 keys"));
  }
  for (const SignCase& sc : cases) {
    SCOPED_TRACE(std::string(crypto::SignAlgName(sc.alg)));
    KeyRequest r{sc.kind, sc.bits, sc.curve};
    ASSERT_OK_AND_ASSIGN(HeldKey k, custody_->Generate(r, kBinding));
    ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub,
                         crypto::ParsePublicKey(AsBytes(k.public_jwk)));
    // The size the rest of keyferry records (crypto::Describe).
    ASSERT_OK_AND_ASSIGN(crypto::KeyDescription d, crypto::Describe(pub.get()));
    EXPECT_EQ(k.bits, d.bits);
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> digest,
                         crypto::RandomBytes(crypto::DigestBytes(sc.alg)));
    // Twice: the second use comes from the session-object cache.
    for (int i = 0; i < 2; ++i) {
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> sig,
                           custody_->Sign(k, kBinding, sc.alg, digest));
      ASSERT_OK_AND_ASSIGN(
          bool ok, crypto::VerifyDigest(pub.get(), sc.alg, digest, sig));
      EXPECT_TRUE(ok);
    }
    digest[0] ^= 1;
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> sig,
                         custody_->Sign(k, kBinding, sc.alg, digest));
    digest[0] ^= 1;
    ASSERT_OK_AND_ASSIGN(bool ok,
                         crypto::VerifyDigest(pub.get(), sc.alg, digest, sig));
    EXPECT_FALSE(ok);
  }
}

TEST_P(Pkcs11CustodyTest, FailureWrongBindingTamperOrAlgorithm) {
  ASSERT_OK_AND_ASSIGN(
      HeldKey k,
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP256}, kBinding));
  std::vector<uint8_t> d(32, 7);
  EXPECT_THAT(
      custody_->Sign(k, B("myvault/other/1"), crypto::SignAlg::kEs256, d),
      StatusIs(absl::StatusCode::kDataLoss));
  HeldKey tampered = k;
  tampered.blob.back() ^= 1;
  EXPECT_THAT(custody_->Sign(tampered, kBinding, crypto::SignAlg::kEs256, d),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(custody_->Sign(k, kBinding, crypto::SignAlg::kEs384,
                             std::vector<uint8_t>(48, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(custody_->Sign(k, kBinding, crypto::SignAlg::kRs256, d),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Rebind moves the key; the old binding no longer opens the new blob.
  ASSERT_OK_AND_ASSIGN(HeldKey moved,
                       custody_->Rebind(k, kBinding, B("othervault/k/1")));
  EXPECT_OK(
      custody_->Sign(moved, B("othervault/k/1"), crypto::SignAlg::kEs256, d));
  EXPECT_THAT(custody_->Sign(moved, kBinding, crypto::SignAlg::kEs256, d),
              StatusIs(absl::StatusCode::kDataLoss));
}

// A damaged key record is the server's fault: DataLoss (a 500), never the
// 400 a bad ciphertext gets.
TEST_P(Pkcs11CustodyTest, FailureDamagedKeyIsNotTheCallersFault) {
  ASSERT_OK_AND_ASSIGN(HeldKey rsa,
                       custody_->Generate({KeyKind::kRsa, 2048}, kBinding));
  ASSERT_OK_AND_ASSIGN(HeldKey aes,
                       custody_->Generate({KeyKind::kOct, 256}, kBinding));
  HeldKey bad_rsa = rsa, bad_aes = aes;
  bad_rsa.blob.back() ^= 1;
  bad_aes.blob.back() ^= 1;
  const std::vector<uint8_t> c(256, 1);
  EXPECT_THAT(custody_->Decrypt(bad_rsa, kBinding, {CipherAlg::kRsaOaep, c}),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(custody_->Decrypt(bad_rsa, kBinding, {CipherAlg::kRsa15, c}),
              StatusIs(absl::StatusCode::kDataLoss));
  CipherInput gcm{CipherAlg::kA256Gcm,
                  std::vector<uint8_t>(32, 2),
                  std::vector<uint8_t>(12, 3),
                  {},
                  std::vector<uint8_t>(16, 4)};
  EXPECT_THAT(custody_->Decrypt(bad_aes, kBinding, gcm),
              StatusIs(absl::StatusCode::kDataLoss));
  // The same inputs on the intact keys are the caller's fault.
  EXPECT_THAT(custody_->Decrypt(rsa, kBinding, {CipherAlg::kRsaOaep, c}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(custody_->Decrypt(aes, kBinding, gcm),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Record tags are HMACs by the token's master MAC key: deterministic,
// verified in the token (and remembered once verified), never accepting an
// altered record.
TEST_P(Pkcs11CustodyTest, RecordTagsAreMadeAndCheckedInTheToken) {
  const std::vector<uint8_t> rec = B("a stored key version");
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> tag,
                       custody_->AuthenticateRecord(rec));
  EXPECT_EQ(tag.size(), 32u);
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> again,
                       custody_->AuthenticateRecord(rec));
  EXPECT_EQ(tag, again);
  for (int i = 0; i < 2; ++i) {  // the second time from the verified set
    EXPECT_OK(custody_->VerifyRecord(rec, tag));
    std::vector<uint8_t> altered = rec;
    altered[0] ^= 1;
    EXPECT_THAT(custody_->VerifyRecord(altered, tag),
                StatusIs(absl::StatusCode::kDataLoss));
    std::vector<uint8_t> bad_tag = tag;
    bad_tag[5] ^= 1;
    EXPECT_THAT(custody_->VerifyRecord(rec, bad_tag),
                StatusIs(absl::StatusCode::kDataLoss));
  }
  EXPECT_THAT(custody_->VerifyRecord(rec, {}),
              StatusIs(absl::StatusCode::kDataLoss));
  // A record tag is not a key blob's MAC: blob and record inputs are
  // domain-separated ("KFP1" header vs "KFR1").
  ASSERT_OK_AND_ASSIGN(HeldKey k,
                       custody_->Generate({KeyKind::kOct, 128}, kBinding));
  EXPECT_THAT(
      custody_->VerifyRecord(std::span<const uint8_t>(k.blob).subspan(36),
                             std::span<const uint8_t>(k.blob).subspan(4, 32)),
      StatusIs(absl::StatusCode::kDataLoss));
}

// A store with keys needs the token its keys were made with: on a token
// without the master keys Open refuses and makes nothing.
TEST_P(Pkcs11CustodyTest, FailureNoMasterKeysAndNoneMayBeMade) {
  if (nss()) {
    GTEST_SKIP() << "NSS softokn opens one database per process: no second "
                    "token beside the fixture's";
  }
  Pkcs11Options o = CustodyOptions(Token::kSoftHsm, env(), kEmptyToken);
  o.master_keys = MasterKeyPolicy::kMustExist;
  EXPECT_THAT(Pkcs11Custody::Open(std::move(o)),
              StatusHasMessage("has no master key 'keyferryd-master-wrap'"));
  std::string objects = SoftHsmTool(kEmptyToken, "--list-objects");
  EXPECT_EQ(objects.find("keyferryd-master"), std::string::npos) << objects;
}

TEST_P(Pkcs11CustodyTest, RsaDecryptInTokenOfOpenSslCiphertexts) {
  ASSERT_OK_AND_ASSIGN(HeldKey k,
                       custody_->Generate({KeyKind::kRsa, 2048}, kBinding));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub,
                       crypto::ParsePublicKey(AsBytes(k.public_jwk)));
  const std::vector<uint8_t> msg = B("attack at dawn");
  ASSERT_OK_AND_ASSIGN(
      std::vector<uint8_t> oaep,
      crypto::RsaOaepEncrypt(pub.get(), crypto::OaepHash::kSha1, msg));
  ASSERT_OK_AND_ASSIGN(
      CipherOutput o1,
      custody_->Decrypt(k, kBinding, {CipherAlg::kRsaOaep, oaep}));
  EXPECT_EQ(o1.value, msg);
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> v15,
                       crypto::RsaPkcs1Encrypt(pub.get(), msg));
  ASSERT_OK_AND_ASSIGN(
      CipherOutput o2,
      custody_->Decrypt(k, kBinding, {CipherAlg::kRsa15, v15}));
  EXPECT_EQ(o2.value, msg);
  // Encrypt (public half) then decrypt in the token.
  ASSERT_OK_AND_ASSIGN(
      CipherOutput e,
      custody_->Encrypt(k, kBinding, {CipherAlg::kRsaOaep, msg}));
  ASSERT_OK_AND_ASSIGN(
      CipherOutput o3,
      custody_->Decrypt(k, kBinding, {CipherAlg::kRsaOaep, e.value}));
  EXPECT_EQ(o3.value, msg);
  // One fixed message whatever the token said.
  oaep[10] ^= 1;
  EXPECT_THAT(custody_->Decrypt(k, kBinding, {CipherAlg::kRsaOaep, oaep}),
              StatusHasMessage("RSA-OAEP decryption failed"));
  if (custody_->limits().oaep_sha256) {
    ASSERT_OK_AND_ASSIGN(
        std::vector<uint8_t> oaep256,
        crypto::RsaOaepEncrypt(pub.get(), crypto::OaepHash::kSha256, msg));
    ASSERT_OK_AND_ASSIGN(
        CipherOutput o3,
        custody_->Decrypt(k, kBinding, {CipherAlg::kRsaOaep256, oaep256}));
    EXPECT_EQ(o3.value, msg);
    return;
  }
  // The token's limit, named, never a software fallback.
  EXPECT_THAT(custody_->Decrypt(k, kBinding, {CipherAlg::kRsaOaep256, oaep}),
              StatusHasMessage("SHA-1 only"));
  EXPECT_THAT(custody_->Encrypt(k, kBinding, {CipherAlg::kRsaOaep256, msg}),
              StatusHasMessage("SHA-1 only"));
}

// RSA1_5 with implicit rejection: raw RSA in the token, the padding check
// in software. Bad padding is answered (OK, as 200 over the API) with a
// synthetic message, stable for the key and the ciphertext.
TEST_P(Pkcs11CustodyTest, Rsa15BadPaddingDecryptsToAStableSyntheticMessage) {
  ASSERT_OK_AND_ASSIGN(HeldKey k,
                       custody_->Generate({KeyKind::kRsa, 2048}, kBinding));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub,
                       crypto::ParsePublicKey(AsBytes(k.public_jwk)));
  const std::vector<uint8_t> msg = B("a 32-byte content encryption key");
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ct,
                       crypto::RsaPkcs1Encrypt(pub.get(), msg));
  ASSERT_OK_AND_ASSIGN(CipherOutput valid,
                       custody_->Decrypt(k, kBinding, {CipherAlg::kRsa15, ct}));
  EXPECT_EQ(valid.value, msg);

  std::vector<uint8_t> bad = ct;
  bad[128] ^= 0x01;
  bad[0] = 0;  // below any 2048-bit modulus, for the second key below
  ASSERT_OK_AND_ASSIGN(
      CipherOutput a, custody_->Decrypt(k, kBinding, {CipherAlg::kRsa15, bad}));
  ASSERT_OK_AND_ASSIGN(
      CipherOutput b, custody_->Decrypt(k, kBinding, {CipherAlg::kRsa15, bad}));
  EXPECT_EQ(a.value, b.value);
  EXPECT_NE(a.value, msg);
  EXPECT_LE(a.value.size(), 245u);
  // The answer belongs to the key, not to where it is kept: the same after
  // a restore into another vault.
  ASSERT_OK_AND_ASSIGN(HeldKey moved,
                       custody_->Rebind(k, kBinding, B("othervault/k/1")));
  ASSERT_OK_AND_ASSIGN(
      CipherOutput after,
      custody_->Decrypt(moved, B("othervault/k/1"), {CipherAlg::kRsa15, bad}));
  EXPECT_EQ(after.value, a.value);
  // Another key (imported: a known d), another answer; and not the one the
  // draft's KDK from d would give (the token's KDK is its own).
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr other_key, crypto::GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(
      HeldKey other, custody_->ImportPrivate(other_key.get(), kBinding, false));
  ASSERT_OK_AND_ASSIGN(
      CipherOutput theirs,
      custody_->Decrypt(other, kBinding, {CipherAlg::kRsa15, bad}));
  EXPECT_NE(theirs.value, a.value);
  ASSERT_OK_AND_ASSIGN(
      SecretBytes software,
      crypto::RsaPkcs1DecryptImplicitRejection(other_key.get(), bad));
  EXPECT_NE(PlainCopy(software), theirs.value);
  // Valid padding under the imported key: the same plaintext as OpenSSL.
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ct2,
                       crypto::RsaPkcs1Encrypt(other_key.get(), msg));
  ASSERT_OK_AND_ASSIGN(
      CipherOutput ok2,
      custody_->Decrypt(other, kBinding, {CipherAlg::kRsa15, ct2}));
  EXPECT_EQ(ok2.value, msg);
  // Only public facts fail: longer than the modulus, or not below it.
  EXPECT_THAT(custody_->Decrypt(k, kBinding,
                                {CipherAlg::kRsa15, std::vector<uint8_t>(257)}),
              StatusHasMessage("RSA1_5 decryption failed"));
  EXPECT_THAT(
      custody_->Decrypt(k, kBinding,
                        {CipherAlg::kRsa15, std::vector<uint8_t>(256, 0xff)}),
      StatusHasMessage("RSA1_5 decryption failed"));
}

TEST_P(Pkcs11CustodyTest, AesOperationsMatchOpenSsl) {
  ASSERT_OK_AND_ASSIGN(SecretBytes key, crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(HeldKey k, custody_->ImportSecret(key, kBinding, false));
  EXPECT_EQ(k.bits, 256);
  const std::vector<uint8_t> msg = B("sixteen byte msg and some more bytes");
  const std::vector<uint8_t> aad = B("header");
  // GCM in the token, opened by OpenSSL; and the reverse.
  ASSERT_OK_AND_ASSIGN(
      CipherOutput g,
      custody_->Encrypt(k, kBinding, {CipherAlg::kA256Gcm, msg, {}, aad}));
  ASSERT_OK_AND_ASSIGN(SecretBytes gp,
                       crypto::AesGcmDecrypt(key, g.iv, g.value, g.tag, aad));
  EXPECT_TRUE(gp.ConstantTimeEquals(SecretBytes(msg)));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> iv, crypto::RandomBytes(12));
  ASSERT_OK_AND_ASSIGN(crypto::GcmCiphertext os,
                       crypto::AesGcmEncrypt(key, iv, msg, aad));
  ASSERT_OK_AND_ASSIGN(
      CipherOutput gd,
      custody_->Decrypt(k, kBinding,
                        {CipherAlg::kA256Gcm, os.ciphertext, iv, aad, os.tag}));
  EXPECT_EQ(gd.value, msg);
  os.tag[0] ^= 1;
  EXPECT_THAT(
      custody_->Decrypt(k, kBinding,
                        {CipherAlg::kA256Gcm, os.ciphertext, iv, aad, os.tag}),
      StatusHasMessage("AES-GCM authentication failed"));
  // CBC with padding.
  ASSERT_OK_AND_ASSIGN(
      CipherOutput c,
      custody_->Encrypt(k, kBinding, {CipherAlg::kA256CbcPad, msg}));
  ASSERT_OK_AND_ASSIGN(
      SecretBytes cp,
      crypto::AesCbcDecrypt(key, c.iv, c.value, crypto::CbcPadding::kPkcs7));
  EXPECT_TRUE(cp.ConstantTimeEquals(SecretBytes(msg)));
  // Key wrap (RFC 3394) of 32 bytes, both directions against OpenSSL.
  ASSERT_OK_AND_ASSIGN(SecretBytes data, crypto::RandomSecret(32));
  std::span<const uint8_t> dv = data.data(SecretAccess::Get());
  std::vector<uint8_t> dvec(dv.begin(), dv.end());
  ASSERT_OK_AND_ASSIGN(
      CipherOutput w,
      custody_->Encrypt(k, kBinding, {CipherAlg::kA256Kw, dvec}));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> want, crypto::KwWrap(key, data));
  EXPECT_EQ(w.value, want);
  ASSERT_OK_AND_ASSIGN(
      CipherOutput uw,
      custody_->Decrypt(k, kBinding, {CipherAlg::kA256Kw, want}));
  EXPECT_EQ(uw.value, dvec);
  want[3] ^= 1;
  EXPECT_THAT(custody_->Decrypt(k, kBinding, {CipherAlg::kA256Kw, want}),
              StatusHasMessage("AES-KW unwrap failed"));
  // RFC 5649 of a multiple of 8 is right on SoftHSM; other lengths are the
  // token's named limit. A token without the defect wraps any length.
  ASSERT_OK_AND_ASSIGN(
      CipherOutput kwp,
      custody_->Encrypt(k, kBinding, {CipherAlg::kCkmAesKeyWrapPad, dvec}));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> kwp_want,
                       crypto::KwpWrap(key, data));
  EXPECT_EQ(kwp.value, kwp_want);
  if (custody_->limits().kwp_wrap_defect) {
    EXPECT_THAT(custody_->Encrypt(k, kBinding,
                                  {CipherAlg::kCkmAesKeyWrapPad, B("seven!!")}),
                StatusHasMessage("multiple of 8"));
    return;
  }
  ASSERT_OK_AND_ASSIGN(
      CipherOutput kwp7,
      custody_->Encrypt(k, kBinding,
                        {CipherAlg::kCkmAesKeyWrapPad, B("seven!!")}));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> kwp7_want,
                       crypto::KwpWrap(key, SecretBytes(B("seven!!"))));
  EXPECT_EQ(kwp7.value, kwp7_want);
}

TEST_P(Pkcs11CustodyTest, OctSizesAndImportedPrivateKeys) {
  for (int bits : {128, 192, 256}) {
    ASSERT_OK_AND_ASSIGN(HeldKey k,
                         custody_->Generate({KeyKind::kOct, bits}, kBinding));
    EXPECT_EQ(k.bits, bits);
    ASSERT_OK_AND_ASSIGN(CipherOutput c,
                         custody_->Encrypt(k, kBinding,
                                           {CipherAlg::kCkmAesKeyWrap,
                                            std::vector<uint8_t>(16, 5)}));
    ASSERT_OK_AND_ASSIGN(
        CipherOutput p,
        custody_->Decrypt(k, kBinding, {CipherAlg::kCkmAesKeyWrap, c.value}));
    EXPECT_EQ(p.value, std::vector<uint8_t>(16, 5));
  }
  for (auto [make, alg] :
       {std::pair{+[] { return crypto::GenerateRsa(2048); },
                  crypto::SignAlg::kRs256},
        std::pair{+[] { return crypto::GenerateEc(crypto::Curve::kP384); },
                  crypto::SignAlg::kEs384}}) {
    ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr key, make());
    ASSERT_OK_AND_ASSIGN(HeldKey k,
                         custody_->ImportPrivate(key.get(), kBinding, false));
    ASSERT_OK_AND_ASSIGN(std::string jwk, crypto::PublicKeyToJwk(key.get()));
    EXPECT_EQ(k.public_jwk, jwk);
    std::vector<uint8_t> d(crypto::DigestBytes(alg), 9);
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> sig,
                         custody_->Sign(k, kBinding, alg, d));
    ASSERT_OK_AND_ASSIGN(bool ok, crypto::VerifyDigest(key.get(), alg, d, sig));
    EXPECT_TRUE(ok);
    // The stored blob does not carry the PKCS#8 in the clear.
    ASSERT_OK_AND_ASSIGN(SecretBytes p8,
                         crypto::PrivateKeyToPkcs8Der(key.get()));
    auto pv = p8.data(SecretAccess::Get());
    auto tail = pv.subspan(pv.size() - 32);
    EXPECT_EQ(
        std::search(k.blob.begin(), k.blob.end(), tail.begin(), tail.end()),
        k.blob.end());
  }
}

TEST_P(Pkcs11CustodyTest, ByokImportInTokenOfSpecBlobs) {
  ASSERT_OK_AND_ASSIGN(HeldKey kek, custody_->Generate({KeyKind::kRsa, 2048},
                                                       B("myvault/kek/1")));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr kek_pub,
                       crypto::ParsePublicKey(AsBytes(kek.public_jwk)));
  // Targets made by OpenSSL, wrapped in software from the spec.
  struct Target {
    crypto::EvpPkeyPtr key;
    KeyRequest expect;
    crypto::SignAlg alg;
  };
  std::vector<Target> targets;
  {
    ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr r, crypto::GenerateRsa(2048));
    targets.push_back(
        {std::move(r), {KeyKind::kRsa, 2048}, crypto::SignAlg::kPs256});
    ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr e1,
                         crypto::GenerateEc(crypto::Curve::kP256));
    targets.push_back({std::move(e1),
                       {KeyKind::kEc, 0, crypto::Curve::kP256},
                       crypto::SignAlg::kEs256});
    ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr e2,
                         crypto::GenerateEc(crypto::Curve::kP521));
    targets.push_back({std::move(e2),
                       {KeyKind::kEc, 0, crypto::Curve::kP521},
                       crypto::SignAlg::kEs512});
  }
  for (Target& t : targets) {
    SCOPED_TRACE(std::string(crypto::SignAlgName(t.alg)));
    ASSERT_OK_AND_ASSIGN(SecretBytes p8,
                         crypto::PrivateKeyToPkcs8Der(t.key.get()));
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> blob,
                         byok::WrapToKek(kek_pub.get(), p8));
    ASSERT_OK_AND_ASSIGN(
        HeldKey k, custody_->ImportByok(kek, B("myvault/kek/1"), blob, t.expect,
                                        kBinding));
    ASSERT_OK_AND_ASSIGN(std::string jwk, crypto::PublicKeyToJwk(t.key.get()));
    EXPECT_EQ(k.public_jwk, jwk);  // EC: recovered from two signatures
    std::vector<uint8_t> d(crypto::DigestBytes(t.alg), 3);
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> sig,
                         custody_->Sign(k, kBinding, t.alg, d));
    ASSERT_OK_AND_ASSIGN(bool ok,
                         crypto::VerifyDigest(t.key.get(), t.alg, d, sig));
    EXPECT_TRUE(ok);
  }
  // AES-256 target; the imported key then agrees with OpenSSL.
  ASSERT_OK_AND_ASSIGN(SecretBytes aes, crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ablob,
                       byok::WrapToKek(kek_pub.get(), aes));
  ASSERT_OK_AND_ASSIGN(HeldKey ak,
                       custody_->ImportByok(kek, B("myvault/kek/1"), ablob,
                                            {KeyKind::kOct, 256}, kBinding));
  EXPECT_EQ(ak.bits, 256);
  std::vector<uint8_t> sixteen(16, 1);
  ASSERT_OK_AND_ASSIGN(
      CipherOutput w,
      custody_->Encrypt(ak, kBinding, {CipherAlg::kA256Kw, sixteen}));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> want,
                       crypto::KwWrap(aes, SecretBytes(sixteen)));
  EXPECT_EQ(w.value, want);

  // Failures: kty mismatch, curve mismatch, wrong KEK, damaged blob.
  EXPECT_THAT(custody_->ImportByok(kek, B("myvault/kek/1"), ablob,
                                   {KeyKind::kRsa, 2048}, kBinding),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(SecretBytes ep8,
                       crypto::PrivateKeyToPkcs8Der(targets[1].key.get()));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> eblob,
                       byok::WrapToKek(kek_pub.get(), ep8));
  EXPECT_THAT(
      custody_->ImportByok(kek, B("myvault/kek/1"), eblob,
                           {KeyKind::kEc, 0, crypto::Curve::kP384}, kBinding),
      StatusHasMessage("crv asks for P-384"));
  ASSERT_OK_AND_ASSIGN(
      HeldKey other_kek,
      custody_->Generate({KeyKind::kRsa, 2048}, B("myvault/kek2/1")));
  EXPECT_THAT(
      custody_->ImportByok(other_kek, B("myvault/kek2/1"), eblob,
                           {KeyKind::kEc, 0, crypto::Curve::kP256}, kBinding),
      StatusHasMessage("does not decrypt with the KEK"));
  eblob.back() ^= 1;
  EXPECT_THAT(
      custody_->ImportByok(kek, B("myvault/kek/1"), eblob,
                           {KeyKind::kEc, 0, crypto::Curve::kP256}, kBinding),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(Pkcs11CustodyTest, BackupOpensOnlyHere) {
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> b,
                       custody_->ProtectBackup(B("payload")));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> p, custody_->UnprotectBackup(b));
  EXPECT_EQ(p, B("payload"));
  b.back() ^= 1;
  EXPECT_THAT(custody_->UnprotectBackup(b),
              StatusHasMessage("not made by this deployment"));
}

TEST_P(Pkcs11CustodyTest, RecoversWhenTheTokenDropsEverySession) {
  ASSERT_OK_AND_ASSIGN(
      HeldKey ec,
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP256}, kBinding));
  ASSERT_OK_AND_ASSIGN(HeldKey oct,
                       custody_->Generate({KeyKind::kOct, 256}, kBinding));
  std::vector<uint8_t> d(32, 4);
  ASSERT_OK(custody_->Sign(ec, kBinding, crypto::SignAlg::kEs256, d));
  ASSERT_OK(custody_->Encrypt(
      oct, kBinding, {CipherAlg::kA256Kw, std::vector<uint8_t>(16, 1)}));
  // As a token reset does: every session, login and session object gone.
  custody_->CloseAllSessionsForTest();
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub,
                       crypto::ParsePublicKey(AsBytes(ec.public_jwk)));
  ASSERT_OK_AND_ASSIGN(
      std::vector<uint8_t> sig,
      custody_->Sign(ec, kBinding, crypto::SignAlg::kEs256, d));
  ASSERT_OK_AND_ASSIGN(
      bool ok,
      crypto::VerifyDigest(pub.get(), crypto::SignAlg::kEs256, d, sig));
  EXPECT_TRUE(ok);
  ASSERT_OK_AND_ASSIGN(
      CipherOutput w,
      custody_->Encrypt(oct, kBinding,
                        {CipherAlg::kA256Kw, std::vector<uint8_t>(16, 1)}));
  ASSERT_OK_AND_ASSIGN(
      CipherOutput u,
      custody_->Decrypt(oct, kBinding, {CipherAlg::kA256Kw, w.value}));
  EXPECT_EQ(u.value, std::vector<uint8_t>(16, 1));
  // New keys work too (fresh sessions, logged in again), also when a
  // generation or an import is the first call after the reset.
  EXPECT_OK(custody_->Generate({KeyKind::kOct, 128}, kBinding));
  custody_->CloseAllSessionsForTest();
  ASSERT_OK_AND_ASSIGN(SecretBytes raw, crypto::RandomSecret(16));
  EXPECT_OK(custody_->ImportSecret(raw, kBinding, false));
  custody_->CloseAllSessionsForTest();
  EXPECT_OK(
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP384}, kBinding));
  EXPECT_OK(custody_->Sign(ec, kBinding, crypto::SignAlg::kEs256, d));
}

// Runs last in the suite order: reopens the custody.
TEST_P(Pkcs11CustodyTest, TokenHoldsOnlyTheMasterKeysAndReconcileCleansUp) {
  if (nss()) {
    GTEST_SKIP() << "OpenSC's pkcs11-tool cannot pass NSS softokn its "
                    "initialization string";
  }
  ASSERT_OK_AND_ASSIGN(
      HeldKey k,
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP256}, kBinding));
  // What OpenSC sees in the token: the four master keys (the exportable
  // wrapping key too), sensitive and never extractable; no per-key objects.
  std::string list = Tool("--list-objects --type secrkey");
  for (const char* label :
       {Pkcs11Custody::kWrapLabel, Pkcs11Custody::kExportWrapLabel,
        Pkcs11Custody::kMacLabel, Pkcs11Custody::kBackupLabel}) {
    EXPECT_NE(list.find(label), std::string::npos) << list;
  }
  EXPECT_EQ(Tool("--list-objects --type privkey").find("Private Key Object"),
            std::string::npos);
  size_t never = 0;
  for (size_t at = list.find("never extractable"); at != std::string::npos;
       at = list.find("never extractable", at + 1)) {
    ++never;
  }
  EXPECT_EQ(never, 4u) << list;
  // An object an interrupted operation left behind is removed at start-up.
  std::string made =
      Tool("--keygen --key-type AES:32 --label keyferryd-transient-leftover");
  ASSERT_NE(Tool("--list-objects --type secrkey")
                .find("keyferryd-transient-leftover"),
            std::string::npos)
      << made;
  Reopen();
  EXPECT_EQ(custody_->reconciled(), 1);
  EXPECT_EQ(Tool("--list-objects --type secrkey").find("keyferryd-transient"),
            std::string::npos);
  // Keys held before the restart still work: the master keys persisted.
  std::vector<uint8_t> d(32, 1);
  EXPECT_OK(custody_->Sign(k, kBinding, crypto::SignAlg::kEs256, d));
}

}  // namespace
}  // namespace keyferry::custody
