#include "crypto/rsa_oaep.h"

#include <openssl/err.h>
#include <openssl/rsa.h>

#include <cstring>

#include "absl/status/status.h"
#include "crypto/errors.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {
namespace {

const EVP_MD* Md(OaepHash h) {
  switch (h) {
    case OaepHash::kSha1:
      return EVP_sha1();
    case OaepHash::kSha256:
      return EVP_sha256();
    case OaepHash::kSha384:
      return EVP_sha384();
    case OaepHash::kSha512:
      return EVP_sha512();
  }
  return EVP_sha1();
}

// Configure sets OAEP padding, hashes and label on `ctx`. The label is
// copied: set0_rsa_oaep_label takes ownership of an OPENSSL_malloc buffer.
bool Configure(EVP_PKEY_CTX* ctx, OaepHash hash, OaepHash mgf1,
               std::span<const uint8_t> label) {
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx, Md(hash)) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, Md(mgf1)) <= 0) {
    return false;
  }
  if (!label.empty()) {
    void* copy = OPENSSL_malloc(label.size());
    if (copy == nullptr) return false;
    std::memcpy(copy, label.data(), label.size());
    if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy,
                                         static_cast<int>(label.size())) <= 0) {
      OPENSSL_free(copy);
      return false;
    }
  }
  return true;
}

bool IsRsa(EVP_PKEY* key) {
  return key != nullptr && EVP_PKEY_is_a(key, "RSA");
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> RsaOaepEncrypt(
    EVP_PKEY* pub, OaepHash hash, std::span<const uint8_t> plaintext,
    std::span<const uint8_t> label) {
  if (!IsRsa(pub))
    return absl::InvalidArgumentError("RSA-OAEP needs an RSA key");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pub, nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      !Configure(ctx.get(), hash, hash, label)) {
    return SslError(absl::StatusCode::kInternal, "RSA-OAEP setup");
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plaintext.data(),
                       plaintext.size()) <= 0) {
    return SslError(absl::StatusCode::kInvalidArgument, "RSA-OAEP encrypt");
  }
  std::vector<uint8_t> out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plaintext.data(),
                       plaintext.size()) <= 0) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    "RSA-OAEP encrypt (message too long for the key?)");
  }
  out.resize(len);
  return out;
}

absl::StatusOr<SecretBytes> RsaOaepDecryptMgf(
    EVP_PKEY* priv, OaepHash hash, OaepHash mgf1,
    std::span<const uint8_t> ciphertext, std::span<const uint8_t> label) {
  if (!IsRsa(priv))
    return absl::InvalidArgumentError("RSA-OAEP needs an RSA key");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, priv, nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) <= 0 ||
      !Configure(ctx.get(), hash, mgf1, label)) {
    return SslError(absl::StatusCode::kInternal, "RSA-OAEP setup");
  }
  size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, ciphertext.data(),
                       ciphertext.size()) <= 0) {
    ERR_clear_error();
    return absl::InvalidArgumentError("RSA-OAEP decryption failed");
  }
  SecretBytes out(len);
  if (EVP_PKEY_decrypt(ctx.get(), out.mutable_data(SecretAccess::Get()).data(),
                       &len, ciphertext.data(), ciphertext.size()) <= 0) {
    ERR_clear_error();
    return absl::InvalidArgumentError("RSA-OAEP decryption failed");
  }
  out.Resize(len);
  return out;
}

absl::StatusOr<SecretBytes> RsaOaepDecrypt(EVP_PKEY* priv, OaepHash hash,
                                           std::span<const uint8_t> ciphertext,
                                           std::span<const uint8_t> label) {
  return RsaOaepDecryptMgf(priv, hash, hash, ciphertext, label);
}

}  // namespace keyferry::crypto
