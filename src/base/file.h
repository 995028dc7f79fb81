// File helpers with crash-safe writes.
#ifndef KEYFERRY_BASE_FILE_H_
#define KEYFERRY_BASE_FILE_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry {

// ReadFile returns the whole file. NotFound when it does not exist;
// InvalidArgument when it is larger than `max_bytes`.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes = 16 << 20);

// ReadSecretFile reads a file holding key material or a PIN straight into a
// zeroizing buffer, with no intermediate copies. Same errors as ReadFile.
absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path,
                                           size_t max_bytes = 1 << 20);

// WriteFileAtomic writes `data` to a temporary file beside `path` with
// permissions `mode`, fsyncs it, renames it over `path` and fsyncs the
// directory. On any failure the temporary file is removed and `path` is left
// as it was: never a partial file.
absl::Status WriteFileAtomic(const std::string& path,
                             std::span<const uint8_t> data,
                             unsigned mode = 0644);

// ReadOwnerOnlySecretFile reads a file that holds a secret, refusing it
// unless it is a regular file (a symbolic link is not followed) that group
// and others cannot access: PermissionDenied naming the file and its mode.
// NotFound when there is no file; the mode is checked on the file read
// (fstat), not on a name that could be swapped between check and read.
absl::StatusOr<SecretBytes> ReadOwnerOnlySecretFile(const std::string& path,
                                                    size_t max_bytes);

// CheckOwnerOnly refuses (PermissionDenied, naming `what`, the file and its
// mode in octal) a file that group or others can access; NotFound when
// there is no file.
absl::Status CheckOwnerOnly(const std::string& path, std::string_view what);

// SyncDirectory fsyncs the directory holding `path`, so a file created,
// renamed or removed there is durable.
absl::Status SyncDirectory(const std::string& path);

// ShredFile overwrites the file at `path` with zeros, fsyncs it, removes it
// and fsyncs its directory: for files that held a secret. (A journaling or
// copy-on-write file system may still hold the old blocks; the docs say
// so.) OK when there is no file. A symbolic link is not followed (nor
// overwritten): FailedPrecondition.
absl::Status ShredFile(const std::string& path);

}  // namespace keyferry

#endif  // KEYFERRY_BASE_FILE_H_
