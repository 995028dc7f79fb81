// Public-key recovery from an ECDSA signature (SEC 1 v2 §4.1.6).
//
// A PKCS#11 token that unwraps an EC private key (BYOK import) creates a
// private key object only; the standard gives it no public point. Given two
// signatures the token made over known digests, the public key is the one
// candidate that both signatures verify under, so the vault can publish
// the key's JWK without the private scalar ever leaving the token.
#ifndef KEYFERRY_CRYPTO_EC_RECOVER_H_
#define KEYFERRY_CRYPTO_EC_RECOVER_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/keys.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {

// RecoverEcPublicCandidates returns the public keys Q for which the raw
// signature `r || s` (each CurveFieldBytes long) is valid over `digest`
// (at most the curve order's length, so no truncation applies): one per
// y-parity of R with R.x = r (the rare x = r + n is not tried).
// InvalidArgument for a malformed signature.
absl::StatusOr<std::vector<EvpPkeyPtr>> RecoverEcPublicCandidates(
    Curve curve, std::span<const uint8_t> digest,
    std::span<const uint8_t> signature);

// RecoverEcPublicKey returns the one public key under which both
// (digest1, sig1) and (digest2, sig2) verify; NotFound when no candidate
// does (signatures not made by one key).
absl::StatusOr<EvpPkeyPtr> RecoverEcPublicKey(Curve curve,
                                              std::span<const uint8_t> digest1,
                                              std::span<const uint8_t> sig1,
                                              std::span<const uint8_t> digest2,
                                              std::span<const uint8_t> sig2);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_EC_RECOVER_H_
