// Differential: crypto/aes_wrap.h KwpWrap / KwpUnwrap (RFC 5649, the .byok
// payload wrap) against OpenSSL's EVP AES-{128,192,256}-WRAP-PAD used
// directly (EVP_aes_*_wrap_pad, one EVP_CipherUpdate). Both must agree on
// success or failure and on the bytes; our wrap must unwrap to its input.
// Input: byte 0 picks the KEK size (bits 0-1) and wrap or unwrap (bit 2),
// then the KEK, then the plaintext or the wrapped text.
#include <openssl/evp.h>

#include <optional>
#include <vector>

#include "crypto/aes_wrap.h"
#include "fuzz_util.h"

namespace {

using keyferry::SecretAccess;
using keyferry::SecretBytes;
using keyferry::fuzz::Mismatch;

const EVP_CIPHER* Cipher(size_t kek_len) {
  return kek_len == 16   ? EVP_aes_128_wrap_pad()
         : kek_len == 24 ? EVP_aes_192_wrap_pad()
                         : EVP_aes_256_wrap_pad();
}

// Reference runs OpenSSL's wrap-pad cipher on `in`; nullopt on failure.
std::optional<std::vector<uint8_t>> Reference(std::span<const uint8_t> kek,
                                              std::span<const uint8_t> in,
                                              bool wrap) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) Mismatch("EVP_CIPHER_CTX_new");
  EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  std::optional<std::vector<uint8_t>> result;
  std::vector<uint8_t> out(in.size() + 16);
  int n = 0;
  if (EVP_CipherInit_ex(ctx, Cipher(kek.size()), nullptr, kek.data(), nullptr,
                        wrap ? 1 : 0) == 1 &&
      EVP_CipherUpdate(ctx, out.data(), &n, in.data(),
                       static_cast<int>(in.size())) == 1 &&
      n >= 0) {
    out.resize(static_cast<size_t>(n));
    result = std::move(out);
  }
  EVP_CIPHER_CTX_free(ctx);
  return result;
}

std::vector<uint8_t> Plain(const SecretBytes& s) {
  auto d = s.data(SecretAccess::Get());
  return {d.begin(), d.end()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr size_t kSizes[] = {16, 24, 32, 32};
  const size_t kek_len = kSizes[data[0] & 3];
  const bool wrap = (data[0] & 4) == 0;
  if (size < 1 + kek_len) return 0;
  std::span<const uint8_t> kek(data + 1, kek_len);
  std::span<const uint8_t> in(data + 1 + kek_len, size - 1 - kek_len);
  SecretBytes kek_secret(kek);

  std::optional<std::vector<uint8_t>> theirs = Reference(kek, in, wrap);
  if (wrap) {
    auto ours = keyferry::crypto::KwpWrap(kek_secret, SecretBytes(in));
    // OpenSSL's EVP wraps an empty input to nothing; RFC 5649 and we refuse.
    if (in.empty()) {
      if (ours.ok()) Mismatch("KwpWrap accepted an empty plaintext");
      return 0;
    }
    if (ours.ok() != theirs.has_value() || (ours.ok() && *ours != *theirs)) {
      Mismatch("KwpWrap differs from OpenSSL's AES-WRAP-PAD");
    }
    if (ours.ok()) {
      auto back = keyferry::crypto::KwpUnwrap(kek_secret, *ours);
      if (!back.ok() ||
          Plain(*back) != std::vector<uint8_t>(in.begin(), in.end())) {
        Mismatch("KwpUnwrap(KwpWrap(x)) != x");
      }
    }
  } else {
    auto ours = keyferry::crypto::KwpUnwrap(kek_secret, in);
    if (theirs.has_value() && theirs->empty()) theirs.reset();
    if (ours.ok() != theirs.has_value() ||
        (ours.ok() && Plain(*ours) != *theirs)) {
      Mismatch("KwpUnwrap differs from OpenSSL's AES-WRAP-PAD");
    }
  }
  return 0;
}
