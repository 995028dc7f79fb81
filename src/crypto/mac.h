// SHA-256, HMAC-SHA256 (RFC 2104), HKDF-SHA256 (RFC 5869) and scrypt
// (RFC 7914) on OpenSSL 3's EVP_Digest, EVP_MAC and EVP_KDF. Keys and
// derived keys are SecretBytes.
#ifndef KEYFERRY_CRYPTO_MAC_H_
#define KEYFERRY_CRYPTO_MAC_H_

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {

inline constexpr size_t kHmacSha256Bytes = 32;

// Sha256 returns the 32-byte SHA-256 digest of `data`.
std::vector<uint8_t> Sha256(std::span<const uint8_t> data);
// Sha1, Sha384 and Sha512 return the 20/48/64-byte digests of `data` (SHA-1
// only for certificate thumbprints, "x5t").
std::vector<uint8_t> Sha1(std::span<const uint8_t> data);
std::vector<uint8_t> Sha384(std::span<const uint8_t> data);
std::vector<uint8_t> Sha512(std::span<const uint8_t> data);

// HmacSha256Context computes HMAC-SHA256s of concatenated parts under any
// key with one OpenSSL context, for many MACs in a row (a PRF's blocks).
// Not thread-safe; movable.
class HmacSha256Context {
 public:
  static absl::StatusOr<HmacSha256Context> New();

  // Mac writes the 32-byte MAC under `key` of the concatenation of `parts`
  // to `out` (which must be 32 bytes). Internal on an OpenSSL failure.
  absl::Status Mac(std::span<const uint8_t> key,
                   std::initializer_list<std::span<const uint8_t>> parts,
                   std::span<uint8_t> out);

 private:
  explicit HmacSha256Context(EvpMacCtxPtr ctx) : ctx_(std::move(ctx)) {}
  EvpMacCtxPtr ctx_;
};

// HmacSha256 returns the 32-byte HMAC-SHA256 of `data` under `key` (any
// length). Internal on an OpenSSL failure.
absl::StatusOr<std::vector<uint8_t>> HmacSha256(const SecretBytes& key,
                                                std::span<const uint8_t> data);

// VerifyHmacSha256 compares `tag` with HmacSha256(key, data) in constant
// time: OK when equal, DataLoss when not (any length mismatch included).
absl::Status VerifyHmacSha256(const SecretBytes& key,
                              std::span<const uint8_t> data,
                              std::span<const uint8_t> tag);

// HkdfSha256 derives `length` bytes (at most 255 * 32) from `ikm` with the
// given salt (may be empty) and `info` (extract-then-expand, RFC 5869).
absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& ikm,
                                       std::span<const uint8_t> salt,
                                       std::string_view info, size_t length);

// ScryptCost: N (a power of two, at least 2), r and p of RFC 7914.
struct ScryptCost {
  uint64_t n = 0;
  uint32_t r = 0;
  uint32_t p = 0;
};

// Scrypt derives `length` bytes from `passphrase` and `salt` at `cost`.
// InvalidArgument for parameters RFC 7914 does not allow; callers bound the
// cost themselves (memory is 128 * r * (N + p) bytes). Internal on an
// OpenSSL failure.
absl::StatusOr<SecretBytes> Scrypt(const SecretBytes& passphrase,
                                   std::span<const uint8_t> salt,
                                   const ScryptCost& cost, size_t length);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_MAC_H_
