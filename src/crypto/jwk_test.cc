#include "crypto/jwk.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/keys.h"

namespace keyferry::crypto {
namespace {

using json = nlohmann::json;

// BnMember reads the big-number parameter `param` of `key` as base64url.
std::string BnMember(EVP_PKEY* key, const char* param, size_t width = 0) {
  BIGNUM* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, param, &raw), 1) << param;
  BnPtr bn(raw);
  size_t n = width ? width : static_cast<size_t>(BN_num_bytes(bn.get()));
  std::vector<uint8_t> bytes(n);
  EXPECT_GT(BN_bn2binpad(bn.get(), bytes.data(), static_cast<int>(n)), 0);
  return Base64UrlEncode(bytes);
}

json RsaJwk(EVP_PKEY* key) {
  return {{"kty", "RSA"},
          {"n", BnMember(key, OSSL_PKEY_PARAM_RSA_N)},
          {"e", BnMember(key, OSSL_PKEY_PARAM_RSA_E)},
          {"d", BnMember(key, OSSL_PKEY_PARAM_RSA_D)},
          {"p", BnMember(key, OSSL_PKEY_PARAM_RSA_FACTOR1)},
          {"q", BnMember(key, OSSL_PKEY_PARAM_RSA_FACTOR2)},
          {"dp", BnMember(key, OSSL_PKEY_PARAM_RSA_EXPONENT1)},
          {"dq", BnMember(key, OSSL_PKEY_PARAM_RSA_EXPONENT2)},
          {"qi", BnMember(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1)}};
}

json EcJwk(EVP_PKEY* key) {
  absl::StatusOr<std::string> pub = PublicKeyToJwk(key);
  EXPECT_OK(pub.status());
  json j = json::parse(*pub);
  j["d"] = BnMember(key, OSSL_PKEY_PARAM_PRIV_KEY, 32);
  return j;
}

TEST(JwkTest, RsaPrivateKeyRoundTrips) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateRsa(2048));
  json jwk = RsaJwk(key.get());
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr parsed, PrivateKeyFromJwk(jwk));
  EXPECT_TRUE(PublicKeysEqual(key.get(), parsed.get()));
  EXPECT_OK(CheckKeyPair(parsed.get()));
  jwk["kty"] = "RSA-HSM";
  EXPECT_OK(PrivateKeyFromJwk(jwk).status());
}

TEST(JwkTest, EcPrivateKeyRoundTrips) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEc(Curve::kP256));
  json jwk = EcJwk(key.get());
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr parsed, PrivateKeyFromJwk(jwk));
  EXPECT_TRUE(PublicKeysEqual(key.get(), parsed.get()));
}

TEST(JwkTest, FailureMissingOrBadMembers) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateRsa(2048));
  json jwk = RsaJwk(key.get());
  json no_d = jwk;
  no_d.erase("d");
  EXPECT_THAT(PrivateKeyFromJwk(no_d),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PrivateKeyFromJwk(no_d), StatusHasMessage("'d' is missing"));
  json bad = jwk;
  bad["qi"] = 7;
  EXPECT_THAT(PrivateKeyFromJwk(bad), StatusHasMessage("'qi' is not a string"));
  bad["qi"] = "!!";
  EXPECT_THAT(PrivateKeyFromJwk(bad), StatusHasMessage("not base64url"));
  EXPECT_THAT(PrivateKeyFromJwk(json{{"kty", "oct"}}),
              StatusHasMessage("'kty' must be RSA or EC"));
  EXPECT_THAT(PrivateKeyFromJwk(json::array()),
              StatusHasMessage("'kty' is missing"));
}

TEST(JwkTest, FailureMismatchedParts) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr a, GenerateEc(Curve::kP256));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr b, GenerateEc(Curve::kP256));
  json jwk = EcJwk(a.get());
  jwk["d"] = EcJwk(b.get())["d"];
  EXPECT_THAT(PrivateKeyFromJwk(jwk),
              StatusIs(absl::StatusCode::kInvalidArgument));
  json short_x = EcJwk(a.get());
  short_x["x"] = "AAAA";
  EXPECT_THAT(PrivateKeyFromJwk(short_x),
              StatusHasMessage("'x' is not a 32-byte coordinate"));
}

}  // namespace
}  // namespace keyferry::crypto
