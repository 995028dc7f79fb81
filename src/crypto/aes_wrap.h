// AES key wrap: RFC 5649 (KWP, with padding) and RFC 3394 (KW), through
// OpenSSL's AES-*-WRAP-PAD and AES-*-WRAP ciphers.
#ifndef KEYFERRY_CRYPTO_AES_WRAP_H_
#define KEYFERRY_CRYPTO_AES_WRAP_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry::crypto {

// KwpWrap wraps `plaintext` (1 byte or more) under `kek` (16, 24 or 32 bytes)
// with RFC 5649. InvalidArgument for a bad KEK or empty plaintext.
absl::StatusOr<std::vector<uint8_t>> KwpWrap(const SecretBytes& kek,
                                             const SecretBytes& plaintext);
// KwpUnwrap reverses KwpWrap, checking the A65959A6 constant, the message
// length indicator and the zero padding. Any failure is InvalidArgument
// "AES-KWP unwrap failed: integrity check" (no detail that could serve as
// an oracle).
absl::StatusOr<SecretBytes> KwpUnwrap(const SecretBytes& kek,
                                      std::span<const uint8_t> wrapped);

// KwWrap wraps `plaintext` (a multiple of 8 bytes, at least 16) with RFC 3394.
absl::StatusOr<std::vector<uint8_t>> KwWrap(const SecretBytes& kek,
                                            const SecretBytes& plaintext);
// KwUnwrap reverses KwWrap, checking the A6A6A6A6A6A6A6A6 IV.
absl::StatusOr<SecretBytes> KwUnwrap(const SecretBytes& kek,
                                     std::span<const uint8_t> wrapped);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_AES_WRAP_H_
