// The software custody's master key: 32 random bytes in a file that only the
// service account can read (docs/security-model.md §2).
#ifndef KEYFERRY_CUSTODY_MASTER_KEY_H_
#define KEYFERRY_CUSTODY_MASTER_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry::custody {

inline constexpr size_t kMasterKeyBytes = 32;

// LoadOrCreateMasterKey reads the key file at `path`, or, when it does not
// exist and `may_create` (a new deployment: the store holds no keys),
// creates it (mode 0600, written atomically). A missing file that may not
// be created is FailedPrecondition: keyferryd never replaces the master key
// of a store that has keys. Refuses a file that group or others may read or
// write, and a file of the wrong format. `created` is set when a new key
// was made.
absl::StatusOr<SecretBytes> LoadOrCreateMasterKey(const std::string& path,
                                                  bool* created,
                                                  bool may_create = true);

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_MASTER_KEY_H_
