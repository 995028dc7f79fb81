// Attestation tokens for Secure Key Release (docs/api.md §Secure Key
// Release): the `target` of a release request is a JWT from an attestation
// service. keyferryd contacts no Microsoft service: the operator names the
// authorities it trusts (issuer + JWK Set), and VerifyAttestation checks a
// token against them and finds the public key the key is to be wrapped to
// (the first RSA encryption key of the `x-ms-runtime.keys` claim, as Azure
// Key Vault picks it).
#ifndef KEYFERRY_RELEASE_ATTESTATION_H_
#define KEYFERRY_RELEASE_ATTESTATION_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::release {

// TrustedAuthorities is the set of attestation authorities the operator
// trusts: for each issuer (the tokens' `iss`), the public keys of its JWK
// Set. Immutable after setup; thread-safe to read.
class TrustedAuthorities {
 public:
  TrustedAuthorities() = default;
  TrustedAuthorities(TrustedAuthorities&&) = default;
  TrustedAuthorities& operator=(TrustedAuthorities&&) = default;

  // Add trusts `issuer` with the keys of `jwks` (a JWK Set text: {"keys":
  // [...]}). Each key needs a "kid" and is RSA (n, e; at least 2048 bits) or
  // EC (crv P-256/P-384/P-521, x, y); keys of other types, or marked for
  // encryption only ("use":"enc"), are skipped. InvalidArgument when the
  // issuer is empty or already trusted, the text is not a JWK Set, a usable
  // key is malformed, or no key is usable.
  absl::Status Add(std::string issuer, std::string_view jwks);

  bool empty() const { return authorities_.empty(); }
  // Issuers lists the trusted issuers, in the order added.
  std::vector<std::string> Issuers() const;

  struct Key {
    std::string kid;
    crypto::EvpPkeyPtr key;  // public
  };
  struct Authority {
    std::string issuer;
    std::vector<Key> keys;
  };
  // Find returns the authority whose issuer equals `iss` (one trailing '/'
  // ignored on either side), or nullptr.
  const Authority* Find(std::string_view iss) const;

 private:
  std::vector<Authority> authorities_;
};

// AttestedToken is what a verified attestation token says.
struct AttestedToken {
  std::string issuer;     // iss as the token wrote it
  nlohmann::json claims;  // the whole payload (an object)
  // The wrapping key: the first key of x-ms-runtime.keys with "kty":"RSA"
  // and "key_ops" holding "encrypt" or "use"/"key_use" "enc".
  std::string wrapping_kid;
  crypto::EvpPkeyPtr wrapping_key;  // RSA public, at least 2048 bits
};

// kAttestationSkewSeconds is the clock skew allowed on exp and nbf.
inline constexpr int64_t kAttestationSkewSeconds = 60;

// VerifyAttestation checks the compact JWS `token` at Unix time `now`, in
// this order: three base64url parts with JSON objects; header "alg" one of
// RS256/384/512, PS256/384/512, ES256/384/512 ("none" and anything else
// refused) and a "kid"; payload "iss" a trusted authority; "kid" one of that
// authority's keys, of a type fitting "alg"; the signature; "exp" present
// and now < exp + skew; now >= nbf - skew when "nbf" is present; then the
// wrapping key (above). PermissionDenied naming the failed check, never the
// token or a claim's value.
absl::StatusOr<AttestedToken> VerifyAttestation(
    std::string_view token, const TrustedAuthorities& trusted, int64_t now,
    int64_t skew_seconds = kAttestationSkewSeconds);

// TokenNonces lists the nonces `claims` carry for a release request's
// "nonce" to match: a top-level "nonce" string, and
// x-ms-runtime.client-payload.nonce as written and base64-decoded (Azure's
// confidential VM tokens carry the client's nonce base64-encoded there).
std::vector<std::string> TokenNonces(const nlohmann::json& claims);

}  // namespace keyferry::release

#endif  // KEYFERRY_RELEASE_ATTESTATION_H_
