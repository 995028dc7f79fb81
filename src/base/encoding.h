// Hex and base64 codecs. Decoders return InvalidArgument with a message that
// names the problem (never the input, which may be secret).
#ifndef KEYFERRY_BASE_ENCODING_H_
#define KEYFERRY_BASE_ENCODING_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry {

// HexEncode returns lower-case hex of `data`.
std::string HexEncode(std::span<const uint8_t> data);
// HexDecode accepts upper or lower case hex with an even number of digits.
absl::StatusOr<std::vector<uint8_t>> HexDecode(std::string_view hex);
// HexDecodeSecret is HexDecode into a zeroizing buffer.
absl::StatusOr<SecretBytes> HexDecodeSecret(std::string_view hex);

// Base64UrlEncode writes the URL-safe alphabet (RFC 4648 §5) without padding.
std::string Base64UrlEncode(std::span<const uint8_t> data);
// Base64UrlDecode accepts the URL-safe alphabet with or without `=` padding.
// Standard-alphabet characters (`+`, `/`) and whitespace are rejected.
absl::StatusOr<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);

// Base64Encode writes the standard alphabet with padding (RFC 4648 §4).
std::string Base64Encode(std::span<const uint8_t> data);
// Base64Decode accepts the standard alphabet, padded or not.
absl::StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text);

// AsBytes views the characters of `s` as bytes.
inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
// AsString copies bytes into a std::string (never use it for secrets).
inline std::string AsString(std::span<const uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// LengthPrefixed builds an unambiguous byte string for a MAC or KDF to
// cover: a fixed domain prefix (`magic`, as is), then fields, each a
// 4-byte big-endian length and the bytes; Raw appends bytes without a
// length (for a last field of fixed meaning). Two different field lists
// never encode the same.
class LengthPrefixed {
 public:
  explicit LengthPrefixed(std::string_view magic)
      : out_(AsBytes(magic).begin(), AsBytes(magic).end()) {}
  LengthPrefixed& Add(std::span<const uint8_t> field);
  LengthPrefixed& Add(std::string_view field) { return Add(AsBytes(field)); }
  LengthPrefixed& Raw(std::span<const uint8_t> bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

}  // namespace keyferry

#endif  // KEYFERRY_BASE_ENCODING_H_
