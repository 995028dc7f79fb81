// Private JSON Web Keys as Key Vault's import takes them: the parsing is
// crypto::PrivateKeyFromJwk (crypto/jwk.h); this adds Key Vault's wording.
#ifndef KEYFERRY_VAULT_JWK_H_
#define KEYFERRY_VAULT_JWK_H_

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::vault {

// ParsePrivateJwk builds a private key from `jwk` as
// crypto::PrivateKeyFromJwk does. InvalidArgument "The property \"key\" must be
// a valid JsonWebKey object." plus the member at fault; never any key bytes.
absl::StatusOr<crypto::EvpPkeyPtr> ParsePrivateJwk(const nlohmann::json& jwk);

}  // namespace keyferry::vault

#endif  // KEYFERRY_VAULT_JWK_H_
