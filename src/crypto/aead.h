// AES-GCM (NIST SP 800-38D) through EVP: 96-bit nonce, 128-bit tag.
#ifndef KEYFERRY_CRYPTO_AEAD_H_
#define KEYFERRY_CRYPTO_AEAD_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry::crypto {

inline constexpr size_t kGcmNonceBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

struct GcmCiphertext {
  std::vector<uint8_t> ciphertext;
  std::vector<uint8_t> tag;  // kGcmTagBytes
};

// AesGcmEncrypt encrypts `plaintext` under `key` (16, 24 or 32 bytes) with
// the given 12-byte `nonce` and additional data `aad`. The caller must never
// reuse a nonce under one key.
absl::StatusOr<GcmCiphertext> AesGcmEncrypt(const SecretBytes& key,
                                            std::span<const uint8_t> nonce,
                                            std::span<const uint8_t> plaintext,
                                            std::span<const uint8_t> aad);

// AesGcmDecrypt checks the tag and returns the plaintext. Any failure is
// InvalidArgument "AES-GCM authentication failed" (no detail).
absl::StatusOr<SecretBytes> AesGcmDecrypt(const SecretBytes& key,
                                          std::span<const uint8_t> nonce,
                                          std::span<const uint8_t> ciphertext,
                                          std::span<const uint8_t> tag,
                                          std::span<const uint8_t> aad);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_AEAD_H_
