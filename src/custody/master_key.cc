#include "custody/master_key.h"

#include <errno.h>
#include <sys/stat.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "crypto/random.h"

namespace keyferry::custody {
namespace {

// File format: "KFMK" | version 0x01 | 32 key bytes.
constexpr char kMagic[] = {'K', 'F', 'M', 'K', 0x01};
constexpr size_t kFileBytes = sizeof kMagic + kMasterKeyBytes;

}  // namespace

absl::StatusOr<SecretBytes> LoadOrCreateMasterKey(const std::string& path,
                                                  bool* created,
                                                  MasterKeyPolicy policy) {
  *created = false;
  absl::StatusOr<SecretBytes> file = ReadOwnerOnlySecretFile(path, 4096);
  if (file.ok() && policy == MasterKeyPolicy::kMustBeNew) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the store is new (keys.db was missing or empty), but the master key "
        "file ",
        path,
        " exists: this deployment's store is lost. Restore keys.db from your "
        "backup; for a new deployment use a new data directory"));
  }
  if (absl::IsNotFound(file.status())) {
    if (policy == MasterKeyPolicy::kMustExist) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the master key file ", path,
          " is missing, but the store holds keys made under it: restore it "
          "from your backup (keyferryd never makes a new master key for a "
          "store that has keys)"));
    }
    ASSIGN_OR_RETURN(SecretBytes key, crypto::RandomSecret(kMasterKeyBytes));
    SecretBytes out(kFileBytes);
    auto o = out.mutable_data(SecretAccess::Get());
    std::memcpy(o.data(), kMagic, sizeof kMagic);
    auto k = key.data(SecretAccess::Get());
    std::memcpy(o.data() + sizeof kMagic, k.data(), k.size());
    RETURN_IF_ERROR(WriteFileAtomic(path, out.data(SecretAccess::Get()), 0600));
    *created = true;
    return key;
  }
  if (!file.ok()) return file.status();
  auto d = file->data(SecretAccess::Get());
  if (d.size() != kFileBytes ||
      std::memcmp(d.data(), kMagic, sizeof kMagic) != 0) {
    return absl::DataLossError(absl::StrCat("master key file ", path,
                                            " is not a keyferry master key"));
  }
  return SecretBytes(d.subspan(sizeof kMagic));
}

}  // namespace keyferry::custody
