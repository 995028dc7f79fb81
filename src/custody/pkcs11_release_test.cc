// Pkcs11Custody's Secure Key Release against a real SoftHSMv2 token in a
// private directory: the released ciphertext is opened with OpenSSL
// (byok::UnwrapWithKek) and the key compared by signatures; non-exportable
// keys are refused; the exportable master key is made for a token set up
// before it existed. OpenSC's pkcs11-tool lists what the token holds.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>

#include "base/encoding.h"
#include "base/testing.h"
#include "byok/envelope.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/sign.h"
#include "custody/pkcs11_custody.h"
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

constexpr char kToken[] = "kfrel";

struct SignCase {
  KeyKind kind;
  int bits;
  std::optional<crypto::Curve> curve;
  crypto::SignAlg alg;
};

// One token of each kind for the suite, made on first use in a private
// directory (SoftHSM reads its configuration, NSS opens its database, when
// the module is first loaded in the process).
class Pkcs11ReleaseTest : public ::testing::TestWithParam<Token> {
 protected:
  static void TearDownTestSuite() { CloseTokenEnvs(envs_); }
  void SetUp() override {
    TokenEnv& e = env();
    if (e.dir.empty()) {
      char tmpl[] = "/tmp/kf_p11release.XXXXXX";
      e.dir = mkdtemp(tmpl);
      if (nss()) {
        MakeNssDatabase(e);
      } else {
        UseSoftHsmDirectory(e);
        if (!HasFatalFailure()) InitSoftHsmToken(kToken);
      }
      if (HasFatalFailure()) return;
      Reopen(MasterKeyPolicy::kFindOrCreate);
    }
    custody_ = e.custody;
    ASSERT_NE(custody_, nullptr);
  }
  bool nss() const { return GetParam() == Token::kNss; }
  TokenEnv& env() { return envs_[static_cast<int>(GetParam())]; }
  void Reopen(MasterKeyPolicy policy) {
    TokenEnv& e = env();
    delete e.custody;
    e.custody = nullptr;
    custody_ = nullptr;
    Pkcs11Options o = CustodyOptions(GetParam(), e, kToken);
    o.sessions = 2;
    o.cached_keys = 4;
    o.master_keys = policy;
    auto c = Pkcs11Custody::Open(std::move(o));
    ASSERT_OK(c);
    e.custody = c->release();
    custody_ = e.custody;
  }
  // Tool runs pkcs11-tool on the SoftHSM token.
  static std::string Tool(const std::string& args) {
    return SoftHsmTool(kToken, args);
  }

  static std::array<TokenEnv, 2> envs_;
  Pkcs11Custody* custody_ = nullptr;
};
std::array<TokenEnv, 2> Pkcs11ReleaseTest::envs_;

INSTANTIATE_TEST_SUITE_P(Tokens, Pkcs11ReleaseTest,
                         ::testing::Values(Token::kSoftHsm, Token::kNss),
                         TokenName);

const std::vector<uint8_t> kBinding = B("myvault/k/1");

// Secure Key Release (docs/api.md §8.5): an exportable key is wrapped in
// the token to the attestation's key and opens, with OpenSSL, to the same
// key; a key not made exportable is never released.
TEST_P(Pkcs11ReleaseTest, ReleasesExportableKeysWrappedInTheToken) {
  EXPECT_TRUE(custody_->CanRelease());
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr to, crypto::GenerateRsa(2048));
  for (SignCase c :
       {SignCase{KeyKind::kEc, 0, crypto::Curve::kP256,
                 crypto::SignAlg::kEs256},
        SignCase{KeyKind::kEc, 0, crypto::Curve::kP384,
                 crypto::SignAlg::kEs384},
        SignCase{KeyKind::kRsa, 2048, std::nullopt, crypto::SignAlg::kRs256}}) {
    KeyRequest r{c.kind, c.bits, c.curve};
    r.exportable = true;
    ASSERT_OK_AND_ASSIGN(HeldKey k, custody_->Generate(r, kBinding));
    absl::StatusOr<std::vector<uint8_t>> wrapped = custody_->WrapForRelease(
        k, kBinding, to.get(), crypto::OaepHash::kSha1);
    // A token whose RFC 5649 wrap zero-pads (SoftHSM 2.6.1) would release
    // a wrong key_hsm for encodings that are not a multiple of 8 bytes (its
    // RSA and EC P-256 PKCS#8; EC P-384's is 80 bytes): refused, named.
    if (custody_->limits().kwp_wrap_defect && c.curve != crypto::Curve::kP384) {
      EXPECT_THAT(wrapped, StatusIs(absl::StatusCode::kFailedPrecondition));
      EXPECT_THAT(wrapped, StatusHasMessage("zero-pads the key"));
      continue;
    }
    // NSS softokn wraps an unwrapped EC key's PKCS#8 with the stand-in
    // public value it demanded (docs/tokens.md): refused, named.
    if (nss() && c.kind == KeyKind::kEc) {
      EXPECT_THAT(wrapped, StatusIs(absl::StatusCode::kFailedPrecondition));
      EXPECT_THAT(wrapped, StatusHasMessage("stand-in"));
      continue;
    }
    ASSERT_OK(wrapped);
    const std::vector<uint8_t>& ct = *wrapped;
    const std::vector<uint8_t> d(c.curve == crypto::Curve::kP384 ? 48 : 32, 7);
    ASSERT_OK_AND_ASSIGN(SecretBytes p8, byok::UnwrapWithKek(to.get(), ct));
    // Byte-exact PKCS#8: no padding left by the token's RFC 5649 wrap.
    absl::StatusOr<crypto::EvpPkeyPtr> parsed =
        crypto::ParsePkcs8Der(p8, false);
    ASSERT_OK(parsed);
    crypto::EvpPkeyPtr released = std::move(*parsed);
    // The released key signs what the held key's public half verifies,
    // and the token still signs with the held key.
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> sig,
                         crypto::SignDigest(released.get(), c.alg, d));
    ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub,
                         crypto::ParsePublicKey(AsBytes(k.public_jwk)));
    ASSERT_OK_AND_ASSIGN(bool ok,
                         crypto::VerifyDigest(pub.get(), c.alg, d, sig));
    EXPECT_TRUE(ok);
    ASSERT_OK_AND_ASSIGN(sig, custody_->Sign(k, kBinding, c.alg, d));
    ASSERT_OK_AND_ASSIGN(ok,
                         crypto::VerifyDigest(released.get(), c.alg, d, sig));
    EXPECT_TRUE(ok);
  }
  // An imported exportable oct key is released as its raw bytes.
  ASSERT_OK_AND_ASSIGN(SecretBytes raw, crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(HeldKey oct,
                       custody_->ImportSecret(raw, kBinding, true));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ct,
                       custody_->WrapForRelease(oct, kBinding, to.get(),
                                                crypto::OaepHash::kSha1));
  ASSERT_OK_AND_ASSIGN(SecretBytes back, byok::UnwrapWithKek(to.get(), ct));
  EXPECT_TRUE(back.ConstantTimeEquals(raw));
  // RSA-OAEP with SHA-256: where the token has it; otherwise refused,
  // naming the mechanism the token lacks.
  absl::StatusOr<std::vector<uint8_t>> ct256 = custody_->WrapForRelease(
      oct, kBinding, to.get(), crypto::OaepHash::kSha256);
  if (custody_->limits().oaep_sha256) {
    ASSERT_OK(ct256);
    ASSERT_OK_AND_ASSIGN(
        back, byok::UnwrapWithKek(to.get(), *ct256, crypto::OaepHash::kSha256));
    EXPECT_TRUE(back.ConstantTimeEquals(raw));
  } else {
    EXPECT_THAT(ct256, StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(ct256, StatusHasMessage("CKM_RSA_PKCS_OAEP with SHA-256"));
  }
}

TEST_P(Pkcs11ReleaseTest, FailureNonExportableKeysAreNotReleased) {
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr to, crypto::GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(
      HeldKey k,
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP256}, kBinding));
  EXPECT_THAT(
      custody_->WrapForRelease(k, kBinding, to.get(), crypto::OaepHash::kSha1),
      StatusIs(absl::StatusCode::kFailedPrecondition));
  // Its blob relabelled as exportable fails the MAC: it never reaches the
  // exportable master.
  HeldKey forged = k;
  std::copy_n("KFE1", 4, forged.blob.begin());
  EXPECT_THAT(custody_->WrapForRelease(forged, kBinding, to.get(),
                                       crypto::OaepHash::kSha1),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(custody_->Sign(forged, kBinding, crypto::SignAlg::kEs256,
                             std::vector<uint8_t>(32, 1)),
              StatusIs(absl::StatusCode::kDataLoss));
  // The key itself still works, and stays non-extractable.
  EXPECT_OK(custody_->Sign(k, kBinding, crypto::SignAlg::kEs256,
                           std::vector<uint8_t>(32, 1)));
}

// Runs last: both wrapping masters exist; a token set up before the
// exportable one existed gets it at start-up, even where no master key may
// otherwise be made.
TEST_P(Pkcs11ReleaseTest, ZzExportableMasterIsMadeForAnExistingToken) {
  if (nss()) {
    GTEST_SKIP() << "OpenSC's pkcs11-tool cannot pass NSS softokn its "
                    "initialization string";
  }
  ASSERT_OK_AND_ASSIGN(
      HeldKey k,
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP256}, kBinding));
  std::string list = Tool("--list-objects --type secrkey");
  EXPECT_NE(list.find(Pkcs11Custody::kWrapLabel), std::string::npos) << list;
  EXPECT_NE(list.find(Pkcs11Custody::kExportWrapLabel), std::string::npos)
      << list;
  delete env().custody;
  env().custody = nullptr;
  custody_ = nullptr;
  std::string del =
      Tool(std::string("--delete-object --type secrkey --label ") +
           Pkcs11Custody::kExportWrapLabel);
  ASSERT_EQ(Tool("--list-objects --type secrkey")
                .find(Pkcs11Custody::kExportWrapLabel),
            std::string::npos)
      << del;
  Reopen(MasterKeyPolicy::kMustExist);
  EXPECT_NE(Tool("--list-objects --type secrkey")
                .find(Pkcs11Custody::kExportWrapLabel),
            std::string::npos);
  // Keys held before still work.
  EXPECT_OK(custody_->Sign(k, kBinding, crypto::SignAlg::kEs256,
                           std::vector<uint8_t>(32, 1)));
}

}  // namespace
}  // namespace keyferry::custody
