#include "auth/signing_key.h"

#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "crypto/keys.h"

namespace keyferry::auth {
namespace {

std::string TempDir() {
  char t[] = "/tmp/kf_signing.XXXXXX";
  return mkdtemp(t);
}

// The PEM file keyferryd would find for `key`.
std::string PemOf(EVP_PKEY* key) {
  absl::StatusOr<SecretBytes> pem = crypto::PrivateKeyToPem(key);
  EXPECT_OK(pem.status());
  if (!pem.ok()) return "";
  std::span<const uint8_t> b = pem->data(SecretAccess::Get());
  return std::string(b.begin(), b.end());
}

TEST(SigningKeyTest, KeyIdIsStableAndPublic) {
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr k,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub, crypto::PublicKeyOf(k.get()));
  ASSERT_OK_AND_ASSIGN(std::string a, AccessTokenKeyId(k.get()));
  ASSERT_OK_AND_ASSIGN(std::string b, AccessTokenKeyId(pub.get()));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 16u);
}

TEST(SigningKeyTest, LoadsALegacyPem) {
  std::string path = TempDir() + "/token-signing-key.pem";
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr k,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ASSERT_OK(WriteFileAtomic(path, AsBytes(PemOf(k.get())), 0600));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr loaded, LoadLegacySigningKey(path));
  EXPECT_TRUE(crypto::PublicKeysEqual(k.get(), loaded.get()));
}

TEST(SigningKeyTest, FailureMissingModeAndContent) {
  std::string dir = TempDir();
  EXPECT_THAT(LoadLegacySigningKey(dir + "/none.pem"),
              StatusIs(absl::StatusCode::kNotFound));
  std::string path = dir + "/k.pem";
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr k,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ASSERT_OK(WriteFileAtomic(path, AsBytes(PemOf(k.get())), 0640));
  EXPECT_THAT(LoadLegacySigningKey(path), StatusHasMessage("must be 0600"));
  ASSERT_OK(WriteFileAtomic(dir + "/junk.pem", AsBytes("junk"), 0600));
  EXPECT_THAT(LoadLegacySigningKey(dir + "/junk.pem"),
              StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr p384,
                       crypto::GenerateEc(crypto::Curve::kP384));
  ASSERT_OK(
      WriteFileAtomic(dir + "/p384.pem", AsBytes(PemOf(p384.get())), 0600));
  EXPECT_THAT(LoadLegacySigningKey(dir + "/p384.pem"),
              StatusHasMessage("not a P-256 key"));
}

}  // namespace
}  // namespace keyferry::auth
