// Private JSON Web Keys (RFC 7517/7518) as Key Vault's import takes them:
// RSA (n, e, d, p, q, dp, dq, qi) and EC (crv, x, y, d). Private members are
// decoded into zeroizing buffers and cleared after OpenSSL has them.
#ifndef KEYFERRY_VAULT_JWK_H_
#define KEYFERRY_VAULT_JWK_H_

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::vault {

// ParsePrivateJwk builds a private key from `jwk` (kty "RSA"/"RSA-HSM" or
// "EC"/"EC-HSM"). The key must be consistent: the RSA CRT values, or the EC
// public point matching d (checked with EVP_PKEY_pairwise_check).
// InvalidArgument "The property \"key\" must be a valid JsonWebKey object."
// plus the member at fault; never any key bytes.
absl::StatusOr<crypto::EvpPkeyPtr> ParsePrivateJwk(const nlohmann::json& jwk);

}  // namespace keyferry::vault

#endif  // KEYFERRY_VAULT_JWK_H_
