#include "auth/rbac.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/strings.h"

namespace keyferry::auth {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kCryptoOfficer:
      return "Key Vault Crypto Officer";
    case Role::kCryptoUser:
      return "Key Vault Crypto User";
    case Role::kCryptoServiceEncryptionUser:
      return "Key Vault Crypto Service Encryption User";
    case Role::kReader:
      return "Key Vault Reader";
    case Role::kCryptoServiceReleaseUser:
      return "Key Vault Crypto Service Release User";
  }
  return "";
}

absl::StatusOr<Role> ParseRole(std::string_view name) {
  std::string n = absl::AsciiStrToLower(Sv(name));
  n = absl::StrReplaceAll(n, {{"-", " "}, {"_", " "}});
  if (n.rfind("key vault ", 0) == 0) n = n.substr(10);
  if (n == "crypto officer") return Role::kCryptoOfficer;
  if (n == "crypto user") return Role::kCryptoUser;
  if (n == "crypto service encryption user")
    return Role::kCryptoServiceEncryptionUser;
  if (n == "reader") return Role::kReader;
  if (n == "crypto service release user") {
    return Role::kCryptoServiceReleaseUser;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", Sv(name),
                   "' (Crypto Officer, Crypto User, Crypto Service Encryption "
                   "User, Crypto Service Release User, Reader)"));
}

std::string_view DataAction(Operation op) {
  switch (op) {
    case Operation::kGet:
    case Operation::kList:
      return "Microsoft.KeyVault/vaults/keys/read";
    case Operation::kListDeleted:
    case Operation::kGetDeleted:
      return "Microsoft.KeyVault/vaults/deletedKeys/read";
    case Operation::kCreate:
      return "Microsoft.KeyVault/vaults/keys/create/action";
    case Operation::kImport:
      return "Microsoft.KeyVault/vaults/keys/import/action";
    case Operation::kUpdate:
      return "Microsoft.KeyVault/vaults/keys/update/action";
    case Operation::kDelete:
      return "Microsoft.KeyVault/vaults/keys/delete";
    case Operation::kRecover:
      return "Microsoft.KeyVault/vaults/deletedKeys/recover/action";
    case Operation::kPurge:
      return "Microsoft.KeyVault/vaults/deletedKeys/delete";
    case Operation::kBackup:
      return "Microsoft.KeyVault/vaults/keys/backup/action";
    case Operation::kRestore:
      return "Microsoft.KeyVault/vaults/keys/restore/action";
    case Operation::kSign:
      return "Microsoft.KeyVault/vaults/keys/sign/action";
    case Operation::kVerify:
      return "Microsoft.KeyVault/vaults/keys/verify/action";
    case Operation::kEncrypt:
      return "Microsoft.KeyVault/vaults/keys/encrypt/action";
    case Operation::kDecrypt:
      return "Microsoft.KeyVault/vaults/keys/decrypt/action";
    case Operation::kWrapKey:
      return "Microsoft.KeyVault/vaults/keys/wrap/action";
    case Operation::kUnwrapKey:
      return "Microsoft.KeyVault/vaults/keys/unwrap/action";
    case Operation::kRotate:
      return "Microsoft.KeyVault/vaults/keys/rotate/action";
    case Operation::kGetRotationPolicy:
      return "Microsoft.KeyVault/vaults/keyrotationpolicies/read";
    case Operation::kSetRotationPolicy:
      return "Microsoft.KeyVault/vaults/keyrotationpolicies/write";
    case Operation::kGetRandom:
      return "Microsoft.KeyVault/vaults/rng/action";
    case Operation::kRelease:
      return "Microsoft.KeyVault/vaults/keys/release/action";
  }
  return "";
}

bool Allows(Role role, Operation op) {
  switch (role) {
    case Role::kCryptoOfficer:
      return true;
    case Role::kCryptoUser:
      switch (op) {
        case Operation::kGet:
        case Operation::kList:
        case Operation::kUpdate:
        case Operation::kBackup:
        case Operation::kSign:
        case Operation::kVerify:
        case Operation::kEncrypt:
        case Operation::kDecrypt:
        case Operation::kWrapKey:
        case Operation::kUnwrapKey:
        case Operation::kGetRandom:
          return true;
        default:
          return false;
      }
    case Role::kCryptoServiceEncryptionUser:
      return op == Operation::kGet || op == Operation::kWrapKey ||
             op == Operation::kUnwrapKey;
    case Role::kReader:
      return op == Operation::kGet || op == Operation::kList ||
             op == Operation::kListDeleted || op == Operation::kGetDeleted ||
             op == Operation::kGetRotationPolicy;
    case Role::kCryptoServiceReleaseUser:
      return op == Operation::kRelease;
  }
  return false;
}

}  // namespace keyferry::auth
