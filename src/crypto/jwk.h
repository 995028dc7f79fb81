// Private JSON Web Keys (RFC 7517/7518) to EVP_PKEY: RSA (n, e, d, p, q, dp,
// dq, qi) and EC (crv, x, y, d). Private members are decoded into buffers
// that are cleared as soon as OpenSSL holds them.
#ifndef KEYFERRY_CRYPTO_JWK_H_
#define KEYFERRY_CRYPTO_JWK_H_

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {

// PrivateKeyFromJwk builds a private key from `jwk` (kty "RSA"/"RSA-HSM" or
// "EC"/"EC-HSM"); the caller owns the result. The key must be consistent:
// the RSA CRT values, or the EC public point matching d (checked with
// EVP_PKEY_pairwise_check). InvalidArgument naming the member at fault
// ("'d' is missing", "the private and public parts do not match", …), never
// any key bytes; Internal when OpenSSL fails to allocate.
absl::StatusOr<EvpPkeyPtr> PrivateKeyFromJwk(const nlohmann::json& jwk);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_JWK_H_
