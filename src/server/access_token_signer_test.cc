// The token signing key held by the custody (server/access_token_signer.h):
// made or taken over only while the store is bound for the first time, loaded
// and checked afterwards, never adopted from a file planted later.
#include "server/access_token_signer.h"

#include <openssl/pem.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "auth/jwt.h"
#include "auth/signing_key.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "vault/testing.h"

namespace keyferry::server {
namespace {

// The PEM file keyferryd would find for `key`.
std::string PemOf(EVP_PKEY* key) {
  absl::StatusOr<SecretBytes> pem = crypto::PrivateKeyToPem(key);
  EXPECT_OK(pem.status());
  if (!pem.ok()) return "";
  std::span<const uint8_t> b = pem->data(SecretAccess::Get());
  return std::string(b.begin(), b.end());
}

class AccessTokenSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(t_, vault::TestVault::New([] { return kNow; }));
    pem_ = t_->dir() + "/token-signing-key.pem";
  }
  absl::StatusOr<std::unique_ptr<AccessTokenSigner>> Load(bool may_create) {
    return AccessTokenSigner::LoadOrCreate(t_->store(), t_->custody(), pem_,
                                           may_create);
  }
  std::string Mint(const AccessTokenSigner& s) {
    auth::Claims c{"iss", "alice", "aud", "tid", kNow, kNow, kNow + 60};
    return s.Issue(c).value();
  }

  static constexpr int64_t kNow = 1'800'000'000;
  std::unique_ptr<vault::TestVault> t_;
  std::string pem_;
};

TEST_F(AccessTokenSignerTest, MadeInTheCustodyThenLoaded) {
  ASSERT_OK_AND_ASSIGN(auto first, Load(/*may_create=*/true));
  ASSERT_OK_AND_ASSIGN(auto again, Load(/*may_create=*/false));
  EXPECT_EQ(first->key_id(), again->key_id());
  EXPECT_TRUE(
      crypto::PublicKeysEqual(first->public_key(), again->public_key()));
  // Tokens it signs verify under the stored public key.
  const std::string token = Mint(*again);
  EXPECT_OK(auth::VerifyAccessToken(
                token, first->public_key(),
                {.issuer = "iss", .tenant = "tid", .audience = "aud"}, kNow)
                .status());
  // The record holds no private key in the clear.
  ASSERT_OK_AND_ASSIGN(auto text, t_->store().GetMeta(kAccessTokenKeyMeta));
  nlohmann::json j = nlohmann::json::parse(*text);
  EXPECT_FALSE(
      nlohmann::json::parse(j["public_jwk"].get<std::string>()).contains("d"));
  EXPECT_EQ(Base64UrlDecode(j["sealed"].get<std::string>()).value()[0], 'K');
}

// A store bound before whose record is gone: DataLoss; a PEM someone put
// into the data directory is not adopted, nor touched.
TEST_F(AccessTokenSignerTest, FailureRecordRemovedAndAPemPlanted) {
  ASSERT_OK(Load(/*may_create=*/true).status());
  ASSERT_OK(vault::TamperSql(t_->db_path(),
                             "DELETE FROM meta WHERE k='token_signing_key'")
                .status());
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr attacker,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ASSERT_OK(WriteFileAtomic(pem_, AsBytes(PemOf(attacker.get())), 0600));
  EXPECT_THAT(Load(/*may_create=*/false),
              StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(auto text, t_->store().GetMeta(kAccessTokenKeyMeta));
  EXPECT_FALSE(text.has_value());
  EXPECT_TRUE(std::filesystem::exists(pem_));
}

// A record whose public key was swapped in the database is refused.
TEST_F(AccessTokenSignerTest, FailurePublicKeySwappedInTheRecord) {
  ASSERT_OK(Load(/*may_create=*/true).status());
  ASSERT_OK_AND_ASSIGN(auto text, t_->store().GetMeta(kAccessTokenKeyMeta));
  nlohmann::json j = nlohmann::json::parse(*text);
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr attacker,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ASSERT_OK_AND_ASSIGN(std::string jwk, crypto::PublicKeyToJwk(attacker.get()));
  j["public_jwk"] = jwk;
  j["kid"] = auth::AccessTokenKeyId(attacker.get()).value();
  std::string sql =
      "UPDATE meta SET v='" + j.dump() + "' WHERE k='token_signing_key'";
  ASSERT_OK(vault::TamperSql(t_->db_path(), sql).status());
  EXPECT_THAT(Load(/*may_create=*/false),
              StatusIs(absl::StatusCode::kDataLoss));
}

// An older deployment's plain PEM is taken over at the first binding (same
// key id, so issued tokens stay valid) and removed; a file left at a later
// start is removed only when it is that same key.
TEST_F(AccessTokenSignerTest, LegacyPemTakenOverOnceAndRemoved) {
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr legacy,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ASSERT_OK(WriteFileAtomic(pem_, AsBytes(PemOf(legacy.get())), 0600));
  ASSERT_OK_AND_ASSIGN(auto signer, Load(/*may_create=*/true));
  EXPECT_EQ(signer->key_id(), auth::AccessTokenKeyId(legacy.get()).value());
  EXPECT_FALSE(std::filesystem::exists(pem_));
  // The same PEM again (a restore of an old backup of the directory):
  // removed. Another key: left alone, never used.
  ASSERT_OK(WriteFileAtomic(pem_, AsBytes(PemOf(legacy.get())), 0600));
  ASSERT_OK(Load(/*may_create=*/false).status());
  EXPECT_FALSE(std::filesystem::exists(pem_));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr other,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ASSERT_OK(WriteFileAtomic(pem_, AsBytes(PemOf(other.get())), 0600));
  ASSERT_OK_AND_ASSIGN(auto loaded, Load(/*may_create=*/false));
  EXPECT_EQ(loaded->key_id(), signer->key_id());
  EXPECT_TRUE(std::filesystem::exists(pem_));
}

}  // namespace
}  // namespace keyferry::server
