#include "crypto/aead.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/errors.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {
namespace {

absl::StatusOr<EvpCipherPtr> FetchGcm(size_t key_len) {
  const char* name = key_len == 16   ? "AES-128-GCM"
                     : key_len == 24 ? "AES-192-GCM"
                     : key_len == 32 ? "AES-256-GCM"
                                     : nullptr;
  if (name == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-GCM key must be 16, 24 or 32 bytes, not ", key_len));
  }
  EvpCipherPtr c(EVP_CIPHER_fetch(nullptr, name, nullptr));
  if (!c) return SslError(absl::StatusCode::kInternal, name);
  return c;
}

}  // namespace

absl::StatusOr<GcmCiphertext> AesGcmEncrypt(const SecretBytes& key,
                                            std::span<const uint8_t> nonce,
                                            std::span<const uint8_t> plaintext,
                                            std::span<const uint8_t> aad) {
  if (nonce.size() != kGcmNonceBytes) {
    return absl::InvalidArgumentError("AES-GCM nonce must be 12 bytes");
  }
  auto cipher = FetchGcm(key.size());
  if (!cipher.ok()) return cipher.status();
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  GcmCiphertext out;
  out.ciphertext.resize(plaintext.size());
  out.tag.resize(kGcmTagBytes);
  if (!ctx ||
      EVP_EncryptInit_ex2(ctx.get(), cipher->get(),
                          key.data(SecretAccess::Get()).data(), nonce.data(),
                          nullptr) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), out.ciphertext.data(), &len,
                        plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.ciphertext.data() + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kGcmTagBytes,
                          out.tag.data()) != 1) {
    return SslError(absl::StatusCode::kInternal, "AES-GCM encrypt");
  }
  return out;
}

absl::StatusOr<SecretBytes> AesGcmDecrypt(const SecretBytes& key,
                                          std::span<const uint8_t> nonce,
                                          std::span<const uint8_t> ciphertext,
                                          std::span<const uint8_t> tag,
                                          std::span<const uint8_t> aad) {
  const auto fail = [] {
    ERR_clear_error();
    return absl::InvalidArgumentError("AES-GCM authentication failed");
  };
  if (nonce.size() != kGcmNonceBytes || tag.size() != kGcmTagBytes)
    return fail();
  auto cipher = FetchGcm(key.size());
  if (!cipher.ok()) return cipher.status();
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  SecretBytes out(ciphertext.size());
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex2(ctx.get(), cipher->get(),
                          key.data(SecretAccess::Get()).data(), nonce.data(),
                          nullptr) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx.get(), out.mutable_data(SecretAccess::Get()).data(),
                        &len, ciphertext.data(),
                        static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kGcmTagBytes,
                          const_cast<uint8_t*>(tag.data())) != 1) {
    return fail();
  }
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.get(),
                          out.mutable_data(SecretAccess::Get()).data() + len,
                          &fin) != 1) {
    return fail();
  }
  return out;
}

}  // namespace keyferry::crypto
