#include "crypto/aes_wrap.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/errors.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {
namespace {

absl::StatusOr<EvpCipherPtr> FetchWrap(size_t kek_len, bool pad) {
  const char* name = nullptr;
  switch (kek_len) {
    case 16:
      name = pad ? "AES-128-WRAP-PAD" : "AES-128-WRAP";
      break;
    case 24:
      name = pad ? "AES-192-WRAP-PAD" : "AES-192-WRAP";
      break;
    case 32:
      name = pad ? "AES-256-WRAP-PAD" : "AES-256-WRAP";
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "AES key wrap: KEK must be 16, 24 or 32 bytes, not ", kek_len));
  }
  EvpCipherPtr c(EVP_CIPHER_fetch(nullptr, name, nullptr));
  if (!c) return SslError(absl::StatusCode::kInternal, name);
  return c;
}

// Run performs one wrap (`enc`) or unwrap through the cipher. The output
// buffer is zeroized on failure.
absl::StatusOr<SecretBytes> Run(const SecretBytes& kek,
                                std::span<const uint8_t> in, bool pad,
                                bool enc) {
  auto cipher = FetchWrap(kek.size(), pad);
  if (!cipher.ok()) return cipher.status();
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return SslError(absl::StatusCode::kInternal, "EVP_CIPHER_CTX_new");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_CipherInit_ex2(ctx.get(), cipher->get(),
                         kek.data(SecretAccess::Get()).data(), nullptr,
                         enc ? 1 : 0, nullptr) != 1) {
    return SslError(absl::StatusCode::kInternal, "AES key wrap init");
  }
  SecretBytes out(in.size() + 16);
  int len = 0;
  if (EVP_CipherUpdate(ctx.get(), out.mutable_data(SecretAccess::Get()).data(),
                       &len, in.data(), static_cast<int>(in.size())) != 1 ||
      len < 0) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        enc ? "AES key wrap failed: invalid input length"
            : (pad ? "AES-KWP unwrap failed: integrity check"
                   : "AES-KW unwrap failed: integrity check"));
  }
  int fin = 0;
  if (EVP_CipherFinal_ex(ctx.get(),
                         out.mutable_data(SecretAccess::Get()).data() + len,
                         &fin) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        pad ? "AES-KWP unwrap failed: integrity check"
            : "AES-KW unwrap failed: integrity check");
  }
  out.Resize(static_cast<size_t>(len) + static_cast<size_t>(fin));
  return out;
}

std::vector<uint8_t> Public(const SecretBytes& s) {
  auto d = s.data(SecretAccess::Get());
  return {d.begin(), d.end()};
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> KwpWrap(const SecretBytes& kek,
                                             const SecretBytes& plaintext) {
  if (plaintext.empty()) {
    return absl::InvalidArgumentError("AES-KWP: empty plaintext");
  }
  auto out = Run(kek, plaintext.data(SecretAccess::Get()), true, true);
  if (!out.ok()) return out.status();
  return Public(*out);
}

absl::StatusOr<SecretBytes> KwpUnwrap(const SecretBytes& kek,
                                      std::span<const uint8_t> wrapped) {
  if (wrapped.size() < 16 || wrapped.size() % 8 != 0) {
    if (kek.size() != 16 && kek.size() != 24 && kek.size() != 32) {
      return FetchWrap(kek.size(), true).status();
    }
    return absl::InvalidArgumentError("AES-KWP unwrap failed: integrity check");
  }
  return Run(kek, wrapped, true, false);
}

absl::StatusOr<std::vector<uint8_t>> KwWrap(const SecretBytes& kek,
                                            const SecretBytes& plaintext) {
  if (plaintext.size() < 16 || plaintext.size() % 8 != 0) {
    return absl::InvalidArgumentError(
        "AES-KW: plaintext must be a multiple of 8 bytes, at least 16");
  }
  auto out = Run(kek, plaintext.data(SecretAccess::Get()), false, true);
  if (!out.ok()) return out.status();
  return Public(*out);
}

absl::StatusOr<SecretBytes> KwUnwrap(const SecretBytes& kek,
                                     std::span<const uint8_t> wrapped) {
  if (wrapped.size() < 24 || wrapped.size() % 8 != 0) {
    if (kek.size() != 16 && kek.size() != 24 && kek.size() != 32) {
      return FetchWrap(kek.size(), false).status();
    }
    return absl::InvalidArgumentError("AES-KW unwrap failed: integrity check");
  }
  return Run(kek, wrapped, false, false);
}

}  // namespace keyferry::crypto
