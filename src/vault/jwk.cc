#include "vault/jwk.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "crypto/jwk.h"

namespace keyferry::vault {

absl::StatusOr<crypto::EvpPkeyPtr> ParsePrivateJwk(const nlohmann::json& jwk) {
  absl::StatusOr<crypto::EvpPkeyPtr> key = crypto::PrivateKeyFromJwk(jwk);
  if (key.status().code() == absl::StatusCode::kInvalidArgument) {
    return absl::InvalidArgumentError(
        absl::StrCat("The property \"key\" must be a valid JsonWebKey object: ",
                     key.status().message(), "."));
  }
  return key;
}

}  // namespace keyferry::vault
