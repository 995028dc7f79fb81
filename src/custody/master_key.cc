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
                                                  bool may_create) {
  *created = false;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot stat master key file ", path, ": ", strerror(errno)));
    }
    if (!may_create) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the master key file ", path,
          " is missing, but the store holds keys made under it: restore it "
          "from your backup (keyferryd never makes a new master key for a "
          "store that has keys)"));
    }
    ASSIGN_OR_RETURN(SecretBytes key, crypto::RandomSecret(kMasterKeyBytes));
    SecretBytes file(kFileBytes);
    auto out = file.mutable_data(SecretAccess::Get());
    std::memcpy(out.data(), kMagic, sizeof kMagic);
    auto k = key.data(SecretAccess::Get());
    std::memcpy(out.data() + sizeof kMagic, k.data(), k.size());
    RETURN_IF_ERROR(
        WriteFileAtomic(path, file.data(SecretAccess::Get()), 0600));
    *created = true;
    return key;
  }
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "master key file ", path, " is accessible to group or others (mode ",
        absl::Hex(st.st_mode & 0777), "); it must be 0600"));
  }
  ASSIGN_OR_RETURN(SecretBytes file, ReadSecretFile(path, 4096));
  auto d = file.data(SecretAccess::Get());
  if (d.size() != kFileBytes ||
      std::memcmp(d.data(), kMagic, sizeof kMagic) != 0) {
    return absl::DataLossError(absl::StrCat("master key file ", path,
                                            " is not a keyferry master key"));
  }
  return SecretBytes(d.subspan(sizeof kMagic));
}

}  // namespace keyferry::custody
