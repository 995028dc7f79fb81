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

// ShredFile overwrites the file at `path` with zeros, fsyncs it, removes it
// and fsyncs its directory: for files that held a secret. (A journaling or
// copy-on-write file system may still hold the old blocks; the docs say
// so.) OK when there is no file.
absl::Status ShredFile(const std::string& path);

}  // namespace keyferry

#endif  // KEYFERRY_BASE_FILE_H_
