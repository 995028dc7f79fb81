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

// CheckUsable applies enabled, nbf and exp at time `now`. The errors carry
// Key Vault's wording: FailedPrecondition "Operation is not allowed on a
// disabled key." / "… key is not yet valid / has expired".
absl::Status CheckUsable(const Attributes& a, int64_t now);

// CheckOperation applies CheckUsable and key_ops: PermissionDenied-free,
// InvalidArgument "Operation sign is not allowed on the key: key_ops …" when
// `op` is not in `ops`. A KEK (key_ops exactly [import]) can do nothing else.
absl::Status CheckOperation(const Attributes& a, const std::vector<KeyOp>& ops,
                            KeyOp op, int64_t now);

// IsKek tells whether `ops` is exactly {import} and `kty` is RSA-HSM
// with 2048/3072/4096 bits: a Key Exchange Key for BYOK (Azure makes KEKs
// only as RSA-HSM; keyferry refuses `import` on any other kty).
bool IsKek(Kty kty, int bits, const std::vector<KeyOp>& ops);

}  // namespace keyferry::vault

#endif  // KEYFERRY_VAULT_MODEL_H_
