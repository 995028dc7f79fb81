// Key files read by several keyferry commands.
#ifndef KEYFERRY_CLI_FILES_H_
#define KEYFERRY_CLI_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::cli {

// ReadPublicKeyFile parses a public key file (PEM, DER or JWK).
// InvalidArgument "<path>: not a public key (…)" otherwise.
absl::StatusOr<crypto::EvpPkeyPtr> ReadPublicKeyFile(const std::string& path);

// ReadKekFile is ReadPublicKeyFile for a KEK: RSA 2048, 3072 or 4096 only.
absl::StatusOr<crypto::EvpPkeyPtr> ReadKekFile(const std::string& path);

}  // namespace keyferry::cli

#endif  // KEYFERRY_CLI_FILES_H_
