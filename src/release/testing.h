// Test support for Secure Key Release: an attestation service of the test's
// own (a signing key, its JWK Set, tokens it mints) and the token's
// wrapping key as a JWK. Header-only; for tests.
#ifndef KEYFERRY_RELEASE_TESTING_H_
#define KEYFERRY_RELEASE_TESTING_H_

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "crypto/sign.h"

namespace keyferry::release::test_support {

// TestIssuer holds a signing key and mints tokens as an attestation service.
struct TestIssuer {
  crypto::EvpPkeyPtr key;
  std::string kid;
  crypto::SignAlg alg;

  static TestIssuer Rsa(std::string kid = "sig-1") {
    absl::StatusOr<crypto::EvpPkeyPtr> k = crypto::GenerateRsa(2048);
    EXPECT_TRUE(k.ok());
    return TestIssuer{*std::move(k), std::move(kid), crypto::SignAlg::kRs256};
  }
  static TestIssuer Ec(std::string kid = "sig-ec") {
    absl::StatusOr<crypto::EvpPkeyPtr> k =
        crypto::GenerateEc(crypto::Curve::kP256);
    EXPECT_TRUE(k.ok());
    return TestIssuer{*std::move(k), std::move(kid), crypto::SignAlg::kEs256};
  }

  // Jwks is {"keys":[the public key with "kid"]}.
  std::string Jwks() const {
    nlohmann::json jwk =
        nlohmann::json::parse(*crypto::PublicKeyToJwk(key.get()));
    jwk["kid"] = kid;
    return nlohmann::json{{"keys", nlohmann::json::array({jwk})}}.dump();
  }

  // Mint signs `payload` with `header` completed by alg and kid.
  std::string Mint(const nlohmann::json& payload,
                   nlohmann::json header = nlohmann::json::object()) const {
    if (!header.contains("alg")) header["alg"] = crypto::SignAlgName(alg);
    if (!header.contains("kid")) header["kid"] = kid;
    std::string in = Base64UrlEncode(AsBytes(header.dump())) + "." +
                     Base64UrlEncode(AsBytes(payload.dump()));
    absl::StatusOr<std::vector<uint8_t>> sig =
        crypto::SignDigest(key.get(), alg, crypto::Sha256(AsBytes(in)));
    EXPECT_TRUE(sig.ok());
    return in + "." + Base64UrlEncode(sig.ok() ? *sig : std::vector<uint8_t>{});
  }
};

// WrappingJwk is `key`'s public JWK with "kid" and key_ops ["encrypt"], as
// the x-ms-runtime.keys of a confidential VM's token carry it.
inline nlohmann::json WrappingJwk(
    EVP_PKEY* key, std::string kid = "TpmEphemeralEncryptionKey") {
  nlohmann::json jwk = nlohmann::json::parse(*crypto::PublicKeyToJwk(key));
  jwk["kid"] = std::move(kid);
  jwk["key_ops"] = nlohmann::json::array({"encrypt"});
  return jwk;
}

}  // namespace keyferry::release::test_support

#endif  // KEYFERRY_RELEASE_TESTING_H_
