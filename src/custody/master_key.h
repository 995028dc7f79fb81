// The software custody's master key: 32 random bytes in a file that only the
// service account can read (docs/security-model.md §2).
#ifndef KEYFERRY_CUSTODY_MASTER_KEY_H_
#define KEYFERRY_CUSTODY_MASTER_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry::custody {

inline constexpr size_t kMasterKeyBytes = 32;

// MasterKeyPolicy says whether a custody may make its master key(s): the
// store decides (server/main.cc). A store that holds keys needs the master
// key it was made with; a new one may get a new key; a store that is fresh
// (its file was missing or empty) while a master key already exists is a
// lost store, never a new deployment.
enum class MasterKeyPolicy {
  kMustExist,     // FailedPrecondition when missing; never made
  kFindOrCreate,  // made when missing
  kMustBeNew,     // FailedPrecondition when one exists; made
};

// LoadOrCreateMasterKey reads the key file at `path`, or creates it (mode
// 0600, written atomically) as `policy` allows: keyferryd never replaces
// the master key of a store that has keys (kMustExist: a missing file is
// FailedPrecondition) and never adopts one for a fresh store (kMustBeNew:
// an existing file is FailedPrecondition). Refuses a file that group or
// others may read or write, a symbolic link, and a file of the wrong
// format. `created` is set when a new key was made.
absl::StatusOr<SecretBytes> LoadOrCreateMasterKey(const std::string& path,
                                                  bool* created,
                                                  MasterKeyPolicy policy);

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_MASTER_KEY_H_
