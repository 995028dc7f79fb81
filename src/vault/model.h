// The key vault's data model and its rules, independent of transport and
// storage: key names and versions, kty/crv/key_ops vocabularies, attributes
// and the checks every operation applies (enabled, nbf, exp, key_ops).
// Field names and values follow the Key Vault REST API (docs/api.md).
#ifndef KEYFERRY_VAULT_MODEL_H_
#define KEYFERRY_VAULT_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/keys.h"
#include "custody/custody.h"

namespace keyferry::vault {

// Kty is the JSON Web Key type with Key Vault's "-HSM" variants.
enum class Kty { kRsa, kRsaHsm, kEc, kEcHsm, kOct, kOctHsm };
absl::StatusOr<Kty> ParseKty(std::string_view s);
std::string_view KtyName(Kty k);
custody::KeyKind KindOf(Kty k);
bool IsHsm(Kty k);

enum class KeyOp {
  kEncrypt,
  kDecrypt,
  kSign,
  kVerify,
  kWrapKey,
  kUnwrapKey,
  kImport,
  kExport
};
absl::StatusOr<KeyOp> ParseKeyOp(std::string_view s);
std::string_view KeyOpName(KeyOp op);
// ParseKeyOps reads a key_ops list; duplicates are dropped, order kept.
absl::StatusOr<std::vector<KeyOp>> ParseKeyOps(
    const std::vector<std::string>& ops);
// DefaultKeyOps is what a key of kind `k` allows when created without
// key_ops: RSA every operation but import/export; EC sign/verify; oct
// encrypt/decrypt/wrapKey/unwrapKey.
std::vector<KeyOp> DefaultKeyOps(custody::KeyKind k);

// ValidateKeyName checks ^[0-9a-zA-Z-]{1,127}$.
absl::Status ValidateKeyName(std::string_view name);
// ValidateVersion checks 32 hexadecimal characters.
absl::Status ValidateVersion(std::string_view version);
// NewVersion returns 32 random lower-case hex characters.
absl::StatusOr<std::string> NewVersion();

struct Attributes {
  bool enabled = true;
  std::optional<int64_t> not_before;  // nbf, Unix seconds
  std::optional<int64_t> expires;     // exp
  int64_t created = 0;
  int64_t updated = 0;
  bool exportable = false;
  int recoverable_days = 90;
  std::string recovery_level = "Recoverable+Purgeable";
};

// KeyUse is the answer of the one key-usability rule (CheckKeyUse).
enum class KeyUse {
  kAllowed,
  kDisabled,        // the key is disabled and `op` uses its private half
  kNotYetValid,     // now < nbf (every op but verify)
  kExpired,         // now >= exp (every op but verify)
  kOpNotPermitted,  // `op` is not in the key's key_ops
};

// UsesPrivateKey tells whether `op` needs the private (or secret) half of
// the key: sign, decrypt, unwrapKey, and import (a KEK unwraps the blob).
bool UsesPrivateKey(KeyOp op);

// CheckKeyUse is the one rule every key operation applies at time `now`, in
// this order: a disabled key refuses the ops that use its private half
// (UsesPrivateKey); nbf and exp bound every op but verify (a signature made
// while the key was valid stays verifiable); `op` must be in `ops`.
KeyUse CheckKeyUse(const Attributes& a, const std::vector<KeyOp>& ops, KeyOp op,
                   int64_t now);

// CheckOperation applies CheckKeyUse to a key with attributes `a` and the
// stored key_ops `key_ops` (unknown words are ignored), and words a refusal
// as the API answers it: PermissionDenied with error code "Forbidden" and
// inner code KeyDisabled, KeyNotYetValid, KeyExpired or
// KeyOperationForbidden, "Operation <op> is not allowed on a disabled
// key." and so on.
absl::Status CheckOperation(const Attributes& a,
                            const std::vector<std::string>& key_ops, KeyOp op,
                            int64_t now);

// IsKek tells whether `ops` is exactly {import} and `kty` is RSA-HSM
// with 2048/3072/4096 bits: a Key Exchange Key for BYOK (Azure makes KEKs
// only as RSA-HSM; keyferry refuses `import` on any other kty).
bool IsKek(Kty kty, int bits, const std::vector<KeyOp>& ops);

}  // namespace keyferry::vault

#endif  // KEYFERRY_VAULT_MODEL_H_
