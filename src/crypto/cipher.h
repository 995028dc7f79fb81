// AES-CBC (NIST SP 800-38A, with or without PKCS#7 padding) and RSAES-PKCS1-
// v1_5 encryption (RFC 8017 §7.2.1, JOSE "RSA1_5") through EVP. Both exist
// for compatibility with Key Vault's encrypt/decrypt; prefer AES-GCM and
// RSA-OAEP (aead.h, rsa_oaep.h) for anything new. RSA1_5 decryption, with
// implicit rejection, is in rsa_pkcs1.h.
#ifndef KEYFERRY_CRYPTO_CIPHER_H_
#define KEYFERRY_CRYPTO_CIPHER_H_

#include <openssl/evp.h>

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry::crypto {

inline constexpr size_t kCbcIvBytes = 16;

enum class CbcPadding {
  kNone,   // input a multiple of 16 bytes, output the same length
  kPkcs7,  // RFC 5652 §6.3: 1 to 16 bytes of padding, always added
};

// AesCbcEncrypt encrypts `plaintext` under `key` (16, 24 or 32 bytes) with
// the 16-byte `iv`. With CbcPadding::kNone the plaintext must be a multiple
// of 16 bytes (it may be empty). InvalidArgument for a bad key or IV length
// or an unpadded plaintext of the wrong length. The caller must choose an
// unpredictable IV for every message.
absl::StatusOr<std::vector<uint8_t>> AesCbcEncrypt(
    const SecretBytes& key, std::span<const uint8_t> iv,
    std::span<const uint8_t> plaintext, CbcPadding padding);

// AesCbcDecrypt reverses AesCbcEncrypt. InvalidArgument for a bad key or IV
// length, and, with CbcPadding::kNone, for a ciphertext that is not a
// multiple of 16 bytes. Every other failure (padded ciphertext empty or not a
// multiple of 16 bytes, bad padding) is InvalidArgument "AES-CBC decryption
// failed" with no detail, so that it cannot serve as a padding oracle.
// Unpadded CBC is not authenticated: it decrypts any ciphertext.
absl::StatusOr<SecretBytes> AesCbcDecrypt(const SecretBytes& key,
                                          std::span<const uint8_t> iv,
                                          std::span<const uint8_t> ciphertext,
                                          CbcPadding padding);

// RsaPkcs1Encrypt encrypts `plaintext` (at most modulus size - 11 bytes) for
// RSA key `pub` (borrowed; a private key works too). InvalidArgument for a
// key that is not RSA or a plaintext that is too long.
absl::StatusOr<std::vector<uint8_t>> RsaPkcs1Encrypt(
    EVP_PKEY* pub, std::span<const uint8_t> plaintext);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_CIPHER_H_
