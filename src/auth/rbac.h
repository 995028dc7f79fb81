// Authorization modelled on Azure Key Vault's RBAC built-in roles: each keys
// API operation is a data action; a role grants a set of data actions.
#ifndef KEYFERRY_AUTH_RBAC_H_
#define KEYFERRY_AUTH_RBAC_H_

#include <string_view>

#include "absl/status/statusor.h"

namespace keyferry::auth {

enum class Role {
  kCryptoOfficer,  // Key Vault Crypto Officer: every key operation
  kCryptoUser,     // Key Vault Crypto User: read and use keys
  kCryptoServiceEncryptionUser,  // read keys, wrap and unwrap
  kReader,                       // Key Vault Reader: metadata only
  // Key Vault Crypto Service Release User: release only (Secure Key
  // Release; no other data action, not even read).
  kCryptoServiceReleaseUser,
};

enum class Operation {
  kGet,
  kList,
  kListDeleted,
  kGetDeleted,
  kCreate,
  kImport,
  kUpdate,
  kDelete,
  kRecover,
  kPurge,
  kBackup,
  kRestore,
  kSign,
  kVerify,
  kEncrypt,
  kDecrypt,
  kWrapKey,
  kUnwrapKey,
  kRotate,
  kGetRotationPolicy,
  kSetRotationPolicy,
  kGetRandom,
  kRelease,  // Secure Key Release
};

// ParseRole accepts "Crypto Officer", "crypto-officer", "Key Vault Crypto
// Officer", … (case-insensitive, spaces or dashes).
absl::StatusOr<Role> ParseRole(std::string_view name);
std::string_view RoleName(Role role);  // "Key Vault Crypto Officer", …

// DataAction is Azure's data action for `op`, e.g.
// "Microsoft.KeyVault/vaults/keys/sign/action", as 403 messages name it.
std::string_view DataAction(Operation op);

// Allows tells whether `role` grants `op`.
bool Allows(Role role, Operation op);

}  // namespace keyferry::auth

#endif  // KEYFERRY_AUTH_RBAC_H_
