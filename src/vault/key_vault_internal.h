// Internal to the key vault (key_vault*.cc): the Key Vault error answers and
// small helpers its files share. Not part of the vault's interface.
#ifndef KEYFERRY_VAULT_KEY_VAULT_INTERNAL_H_
#define KEYFERRY_VAULT_KEY_VAULT_INTERNAL_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "store/key_store.h"
#include "vault/key_vault.h"

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

// UpdateExportRules applies an update's exportable and release_policy to
// `k` with Azure's rules (docs/api.md §Secure Key Release): exportable
// cannot change ("AKV.SKR.1014: Cannot modify the exportable state of a
// key."); a policy only on an exportable key (AKV.SKR.1005); an immutable
// policy cannot change ("AKV.SKR.1020: Immutable Key Release Policy cannot
// be modified."). InvalidArgument (400 BadParameter); `k` unchanged then.
absl::Status UpdateExportRules(const KeyProperties& p, store::KeyVersion& k);

}  // namespace keyferry::vault::internal

#endif  // KEYFERRY_VAULT_KEY_VAULT_INTERNAL_H_
