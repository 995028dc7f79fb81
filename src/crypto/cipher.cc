#include "crypto/cipher.h"

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/errors.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {
namespace {

constexpr size_t kBlock = 16;

absl::StatusOr<EvpCipherPtr> FetchCbc(size_t key_len) {
  const char* name = key_len == 16   ? "AES-128-CBC"
                     : key_len == 24 ? "AES-192-CBC"
                     : key_len == 32 ? "AES-256-CBC"
                                     : nullptr;
  if (name == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-CBC key must be 16, 24 or 32 bytes, not ", key_len));
  }
  EvpCipherPtr c(EVP_CIPHER_fetch(nullptr, name, nullptr));
  if (!c) return SslError(absl::StatusCode::kInternal, name);
  return c;
}

absl::Status CheckIv(std::span<const uint8_t> iv) {
  if (iv.size() != kCbcIvBytes) {
    return absl::InvalidArgumentError("AES-CBC iv must be 16 bytes");
  }
  return absl::OkStatus();
}

absl::Status UnpaddedLengthError() {
  return absl::InvalidArgumentError(
      "AES-CBC without padding needs a multiple of 16 bytes");
}

// Init prepares `ctx` for CBC in direction `enc` (1 encrypt, 0 decrypt).
bool Init(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, const SecretBytes& key,
          std::span<const uint8_t> iv, CbcPadding padding, int enc) {
  return EVP_CipherInit_ex2(ctx, cipher, key.data(SecretAccess::Get()).data(),
                            iv.data(), enc, nullptr) == 1 &&
         EVP_CIPHER_CTX_set_padding(ctx,
                                    padding == CbcPadding::kPkcs7 ? 1 : 0) == 1;
}

bool IsRsa(EVP_PKEY* key) {
  return key != nullptr && EVP_PKEY_is_a(key, "RSA");
}

// RsaPkcs1EncryptCtx makes a context for RSAES-PKCS1-v1_5 encryption.
EvpPkeyCtxPtr RsaPkcs1EncryptCtx(EVP_PKEY* key) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) {
    return nullptr;
  }
  return ctx;
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> AesCbcEncrypt(
    const SecretBytes& key, std::span<const uint8_t> iv,
    std::span<const uint8_t> plaintext, CbcPadding padding) {
  absl::StatusOr<EvpCipherPtr> cipher = FetchCbc(key.size());
  if (!cipher.ok()) return cipher.status();
  if (absl::Status s = CheckIv(iv); !s.ok()) return s;
  if (padding == CbcPadding::kNone && plaintext.size() % kBlock != 0) {
    return UnpaddedLengthError();
  }
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || !Init(ctx.get(), cipher->get(), key, iv, padding, 1)) {
    return SslError(absl::StatusCode::kInternal, "AES-CBC encrypt setup");
  }
  std::vector<uint8_t> out(plaintext.size() + kBlock);
  int n = 0, fin = 0;
  if (EVP_EncryptUpdate(ctx.get(), out.data(), &n, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &fin) != 1) {
    return SslError(absl::StatusCode::kInternal, "AES-CBC encrypt");
  }
  out.resize(static_cast<size_t>(n) + static_cast<size_t>(fin));
  return out;
}

absl::StatusOr<SecretBytes> AesCbcDecrypt(const SecretBytes& key,
                                          std::span<const uint8_t> iv,
                                          std::span<const uint8_t> ciphertext,
                                          CbcPadding padding) {
  const auto fail = [] {
    ERR_clear_error();
    return absl::InvalidArgumentError("AES-CBC decryption failed");
  };
  absl::StatusOr<EvpCipherPtr> cipher = FetchCbc(key.size());
  if (!cipher.ok()) return cipher.status();
  if (absl::Status s = CheckIv(iv); !s.ok()) return s;
  if (ciphertext.size() % kBlock != 0) {
    if (padding == CbcPadding::kNone) return UnpaddedLengthError();
    return fail();
  }
  if (padding == CbcPadding::kPkcs7 && ciphertext.empty()) return fail();
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || !Init(ctx.get(), cipher->get(), key, iv, padding, 0)) {
    return SslError(absl::StatusCode::kInternal, "AES-CBC decrypt setup");
  }
  // EVP_DecryptUpdate may write up to one block more than it was given.
  SecretBytes out(ciphertext.size() + kBlock);
  uint8_t* p = out.mutable_data(SecretAccess::Get()).data();
  int n = 0, fin = 0;
  if (EVP_DecryptUpdate(ctx.get(), p, &n, ciphertext.data(),
                        static_cast<int>(ciphertext.size())) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), p + n, &fin) != 1) {
    return fail();
  }
  out.Resize(static_cast<size_t>(n) + static_cast<size_t>(fin));
  return out;
}

absl::StatusOr<std::vector<uint8_t>> RsaPkcs1Encrypt(
    EVP_PKEY* pub, std::span<const uint8_t> plaintext) {
  if (!IsRsa(pub)) return absl::InvalidArgumentError("RSA1_5 needs an RSA key");
  EvpPkeyCtxPtr ctx = RsaPkcs1EncryptCtx(pub);
  if (!ctx) return SslError(absl::StatusCode::kInternal, "RSA1_5 setup");
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plaintext.data(),
                       plaintext.size()) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument, "RSA1_5 encrypt");
  }
  std::vector<uint8_t> out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plaintext.data(),
                       plaintext.size()) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    "RSA1_5 encrypt (message too long for the key?)");
  }
  out.resize(len);
  return out;
}

}  // namespace keyferry::crypto
