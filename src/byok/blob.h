// The Azure `.byok` JSON container (docs/byok-format.md §1).
#ifndef KEYFERRY_BYOK_BLOB_H_
#define KEYFERRY_BYOK_BLOB_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::byok {

inline constexpr std::string_view kSchemaVersion = "1.0.0";
inline constexpr std::string_view kAlgDir = "dir";
inline constexpr std::string_view kEncRsaAesKeyWrap = "CKM_RSA_AES_KEY_WRAP";
// kMaxBlobBytes bounds the container text; the largest legal blob is < 4 KiB.
inline constexpr size_t kMaxBlobBytes = size_t{64} * 1024;

// KeyId is a parsed Azure key identifier
// `https://<host>[:port]/keys/<name>/<version>`.
struct KeyId {
  std::string host;     // host[:port], as written
  std::string name;     // key name, ^[0-9a-zA-Z-]{1,127}$
  std::string version;  // 32 hex characters
  std::string ToString() const;
};

// ParseKeyId parses `kid`. InvalidArgument names the rule that failed.
absl::StatusOr<KeyId> ParseKeyId(std::string_view kid);

// Blob is the decoded container. `ciphertext` is C1 || C2 (not secret).
struct Blob {
  std::string schema_version{kSchemaVersion};
  std::string kid;
  std::string alg{kAlgDir};
  std::string enc{kEncRsaAesKeyWrap};
  std::vector<uint8_t> ciphertext;
  bool ciphertext_was_padded = false;  // set by ParseBlob only
  std::string generator;
};

// ParseBlob decodes and validates the container: size limit, JSON, the
// fixed values of schema_version/alg/enc, the kid form, and the base64url
// ciphertext (padded or not). Unknown members are ignored. InvalidArgument
// names the first rule that failed; the message never quotes the ciphertext.
absl::StatusOr<Blob> ParseBlob(std::string_view text);

// SerializeBlob writes the compact JSON of docs/byok-format.md §1, ciphertext
// as unpadded base64url, followed by a newline.
std::string SerializeBlob(const Blob& blob);

}  // namespace keyferry::byok

#endif  // KEYFERRY_BYOK_BLOB_H_
