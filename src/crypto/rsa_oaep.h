// RSAES-OAEP (RFC 8017) through EVP_PKEY.
#ifndef KEYFERRY_CRYPTO_RSA_OAEP_H_
#define KEYFERRY_CRYPTO_RSA_OAEP_H_

#include <openssl/evp.h>

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry::crypto {

enum class OaepHash { kSha1, kSha256, kSha384, kSha512 };

// RsaOaepEncrypt encrypts `plaintext` for RSA key `pub` (borrowed), MGF1
// with the same hash as OAEP, with optional `label`.
absl::StatusOr<std::vector<uint8_t>> RsaOaepEncrypt(
    EVP_PKEY* pub, OaepHash hash, std::span<const uint8_t> plaintext,
    std::span<const uint8_t> label = {});

// RsaOaepDecrypt decrypts with private key `priv` (borrowed). Every failure
// is InvalidArgument "RSA-OAEP decryption failed", with no detail (no
// padding oracle).
absl::StatusOr<SecretBytes> RsaOaepDecrypt(EVP_PKEY* priv, OaepHash hash,
                                           std::span<const uint8_t> ciphertext,
                                           std::span<const uint8_t> label = {});

// RsaOaepDecryptMgf is RsaOaepDecrypt with a separate MGF1 hash.
absl::StatusOr<SecretBytes> RsaOaepDecryptMgf(
    EVP_PKEY* priv, OaepHash hash, OaepHash mgf1,
    std::span<const uint8_t> ciphertext, std::span<const uint8_t> label = {});

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_RSA_OAEP_H_
