#include "cli/files.h"

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/status.h"
#include "byok/envelope.h"
#include "crypto/keys.h"

namespace keyferry::cli {

absl::StatusOr<crypto::EvpPkeyPtr> ReadPublicKeyFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  auto key = crypto::ParsePublicKey(AsBytes(text));
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a public key (", key.status().message(), ")"));
  }
  return key;
}

absl::StatusOr<crypto::EvpPkeyPtr> ReadKekFile(const std::string& path) {
  auto key = ReadPublicKeyFile(path);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a KEK public key: ", key.status().message()));
  }
  RETURN_IF_ERROR(byok::KekModulusBytes(key->get()).status());
  return key;
}

}  // namespace keyferry::cli
