// Internal to the key vault (key_vault*.cc): the Key Vault error answers and
// small helpers its files share. Not part of the vault's interface.
#ifndef KEYFERRY_VAULT_KEY_VAULT_INTERNAL_H_
#define KEYFERRY_VAULT_KEY_VAULT_INTERNAL_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace keyferry::vault::internal {

// kBackupFormat names the backup blob format (docs/api.md).
inline constexpr std::string_view kBackupFormat = "keyferry-backup/1";

// Lower returns `s` in ASCII lower case.
std::string Lower(std::string_view s);

// KeyNotFound is Key Vault's 404 for an active key `name` (KeyNotFound).
absl::Status KeyNotFound(std::string_view name);

// DeletedKeyNotFound is Key Vault's 404 for a deleted key `name`.
absl::Status DeletedKeyNotFound(std::string_view name);

// NotFoundAs keeps non-NotFound errors and rewrites NotFound with `name`.
absl::Status NotFoundAs(const absl::Status& s, std::string_view name);

}  // namespace keyferry::vault::internal

#endif  // KEYFERRY_VAULT_KEY_VAULT_INTERNAL_H_
