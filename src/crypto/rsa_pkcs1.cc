#include "crypto/rsa_pkcs1.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include <initializer_list>
#include <string_view>

#include "absl/status/status.h"
#include "base/status.h"
#include "crypto/errors.h"
#include "crypto/mac.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {
namespace {

// The draft's limits: k >= 11 (RFC 8017's minimum for RSAES-PKCS1-v1_5),
// and IRPRF encodes its output length in bits in two octets.
constexpr size_t kMinModulusBytes = 11;
constexpr size_t kMaxModulusBytes = 8191;
constexpr size_t kCandidateBytes = 256;  // 128 two-octet lengths
constexpr size_t kSha256Bytes = 32;

absl::Status Failed() {
  ERR_clear_error();
  return absl::InvalidArgumentError("RSA1_5 decryption failed");
}

bool IsRsa(EVP_PKEY* key) {
  return key != nullptr && EVP_PKEY_is_a(key, "RSA");
}

// Constant-time helpers on 32-bit words. A mask is all ones (true) or all
// zeros (false). ValueBarrier hides a mask from the optimizer so that it
// cannot turn a selection back into a branch.
uint32_t ValueBarrier(uint32_t v) {
  asm("" : "+r"(v));
  return v;
}
uint32_t CtMsb(uint32_t a) { return 0u - (a >> 31); }
uint32_t CtIsZero(uint32_t a) { return CtMsb(~a & (a - 1)); }
uint32_t CtEq(uint32_t a, uint32_t b) { return CtIsZero(a ^ b); }
// a < b over the whole 32-bit range.
uint32_t CtLt(uint32_t a, uint32_t b) {
  return CtMsb(a ^ ((a ^ b) | ((a - b) ^ b)));
}
uint32_t CtGe(uint32_t a, uint32_t b) { return ~CtLt(a, b); }
uint32_t CtSelect(uint32_t mask, uint32_t a, uint32_t b) {
  mask = ValueBarrier(mask);
  return (mask & a) | (~mask & b);
}
uint8_t CtSelect8(uint32_t mask, uint8_t a, uint8_t b) {
  return static_cast<uint8_t>(CtSelect(mask, a, b));
}

std::span<const uint8_t> Label(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Irprf is the draft's IRPRF (§7.1): the first `length` octets of
// HMAC-SHA256(KDK, I2OSP(i, 2) || label || I2OSP(8 * length, 2)) for
// i = 0, 1, ....
absl::StatusOr<SecretBytes> Irprf(HmacSha256Context& hmac,
                                  const SecretBytes& kdk,
                                  std::string_view label, size_t length) {
  const size_t blocks = (length + kSha256Bytes - 1) / kSha256Bytes;
  SecretBytes out(blocks * kSha256Bytes);
  std::span<uint8_t> o = out.mutable_data(SecretAccess::Get());
  const size_t bits = length * 8;
  const uint8_t bit_length[2] = {static_cast<uint8_t>(bits >> 8),
                                 static_cast<uint8_t>(bits)};
  for (size_t i = 0; i < blocks; ++i) {
    const uint8_t iter[2] = {static_cast<uint8_t>(i >> 8),
                             static_cast<uint8_t>(i)};
    RETURN_IF_ERROR(hmac.Mac(kdk.data(SecretAccess::Get()),
                             {iter, Label(label), bit_length},
                             o.subspan(i * kSha256Bytes, kSha256Bytes)));
  }
  out.Resize(length);
  return out;
}

size_t ModulusBytes(EVP_PKEY* key) {
  const int n = EVP_PKEY_get_size(key);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> PadRsaCiphertext(
    EVP_PKEY* key, std::span<const uint8_t> ciphertext) {
  if (!IsRsa(key)) return absl::InvalidArgumentError("RSA1_5 needs an RSA key");
  const size_t k = ModulusBytes(key);
  if (k == 0 || ciphertext.size() > k) return Failed();
  std::vector<uint8_t> c(k - ciphertext.size(), 0);
  c.insert(c.end(), ciphertext.begin(), ciphertext.end());
  BIGNUM* raw_n = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &raw_n) != 1) {
    return SslError(absl::StatusCode::kInternal, "RSA modulus");
  }
  BnPtr n(raw_n);
  BnPtr value(BN_bin2bn(c.data(), static_cast<int>(c.size()), nullptr));
  if (!value) return SslError(absl::StatusCode::kInternal, "RSA1_5 input");
  if (BN_cmp(value.get(), n.get()) >= 0) return Failed();
  return c;
}

absl::StatusOr<SecretBytes> RsaRawDecrypt(EVP_PKEY* priv,
                                          std::span<const uint8_t> ciphertext) {
  // The length and range checks again, for callers that did not pad.
  ASSIGN_OR_RETURN(std::vector<uint8_t> c, PadRsaCiphertext(priv, ciphertext));
  const size_t k = c.size();
  if (ciphertext.size() != k) return Failed();
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, priv, nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) != 1) {
    return SslError(absl::StatusCode::kInternal, "RSA decrypt setup");
  }
  SecretBytes em(k);
  size_t len = k;
  if (EVP_PKEY_decrypt(ctx.get(), em.mutable_data(SecretAccess::Get()).data(),
                       &len, c.data(), c.size()) != 1 ||
      len != k) {
    // Not a padding failure (there is no padding here): a key without its
    // private half, or OpenSSL itself.
    return SslError(absl::StatusCode::kInternal, "RSA private-key operation");
  }
  return em;
}

absl::StatusOr<SecretBytes> RsaImplicitRejectionKdk(
    EVP_PKEY* priv, std::span<const uint8_t> ciphertext) {
  if (!IsRsa(priv)) {
    return absl::InvalidArgumentError("RSA1_5 needs an RSA key");
  }
  const size_t k = ModulusBytes(priv);
  if (ciphertext.size() != k) {
    return absl::InvalidArgumentError(
        "the implicit rejection KDK needs a ciphertext of the modulus length");
  }
  BIGNUM* raw_d = nullptr;
  if (EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_RSA_D, &raw_d) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("RSA1_5 needs an RSA private key");
  }
  BnPtr d(raw_d);  // cleared when freed
  // D = I2OSP(d, k); DH = SHA-256(D).
  SecretBytes encoded_d(k);
  std::span<uint8_t> dd = encoded_d.mutable_data(SecretAccess::Get());
  if (BN_bn2binpad(d.get(), dd.data(), static_cast<int>(k)) !=
      static_cast<int>(k)) {
    return SslError(absl::StatusCode::kInternal, "RSA private exponent");
  }
  EvpMdPtr sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  SecretBytes dh(kSha256Bytes);
  unsigned int dh_len = 0;
  if (!sha256 ||
      EVP_Digest(dd.data(), dd.size(),
                 dh.mutable_data(SecretAccess::Get()).data(), &dh_len,
                 sha256.get(), nullptr) != 1 ||
      dh_len != kSha256Bytes) {
    return SslError(absl::StatusCode::kInternal, "SHA-256");
  }
  encoded_d.Clear();
  // KDK = HMAC-SHA256(DH, C).
  ASSIGN_OR_RETURN(HmacSha256Context hmac, HmacSha256Context::New());
  SecretBytes kdk(kImplicitRejectionKdkBytes);
  RETURN_IF_ERROR(hmac.Mac(dh.data(SecretAccess::Get()), {ciphertext},
                           kdk.mutable_data(SecretAccess::Get())));
  return kdk;
}

absl::StatusOr<SecretBytes> RsaPkcs1DecodeImplicitRejection(
    const SecretBytes& encoded, const SecretBytes& kdk) {
  const size_t k = encoded.size();
  if (k < kMinModulusBytes || k > kMaxModulusBytes) {
    return absl::InvalidArgumentError(
        "RSA1_5 decoding needs an encoded message of 11 to 8191 octets");
  }
  if (kdk.size() != kImplicitRejectionKdkBytes) {
    return absl::InvalidArgumentError(
        "RSA1_5 implicit rejection needs a 32-byte KDK");
  }
  ASSIGN_OR_RETURN(HmacSha256Context hmac, HmacSha256Context::New());
  ASSIGN_OR_RETURN(SecretBytes candidates,
                   Irprf(hmac, kdk, "length", kCandidateBytes));
  ASSIGN_OR_RETURN(SecretBytes synthetic, Irprf(hmac, kdk, "message", k));
  std::span<const uint8_t> em = encoded.data(SecretAccess::Get());
  std::span<const uint8_t> cl = candidates.data(SecretAccess::Get());
  std::span<const uint8_t> am = synthetic.data(SecretAccess::Get());
  const uint32_t n = static_cast<uint32_t>(k);

  // The alternative length AL: the last candidate, masked to the bit length
  // of k - 11, that is at most k - 11; 0 if none is.
  const uint32_t max_length = n - 11;
  uint32_t mask = max_length;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  uint32_t alternative_length = 0;
  for (size_t i = 0; i < kCandidateBytes; i += 2) {
    const uint32_t candidate =
        ((static_cast<uint32_t>(cl[i]) << 8) | cl[i + 1]) & mask;
    alternative_length =
        CtSelect(CtGe(max_length, candidate), candidate, alternative_length);
  }

  // EM = 0x00 || 0x02 || PS || 0x00 || M with PS of at least 8 octets: the
  // first zero octet from index 2 on is the separator, at index 10 or later.
  uint32_t good = CtIsZero(em[0]) & CtEq(em[1], 2);
  uint32_t found = 0;
  uint32_t separator = 0;
  for (size_t i = 2; i < k; ++i) {
    const uint32_t is_zero = CtIsZero(em[i]);
    separator = CtSelect(~found & is_zero, static_cast<uint32_t>(i), separator);
    found |= is_zero;
  }
  good &= found & CtGe(separator, 2 + 8);
  const uint32_t length = CtSelect(good, n - 1 - separator, alternative_length);

  // Both messages end at octet k - 1: take EM or AM octet by octet, then
  // move the last `length` octets to the front with a left shift by
  // k - length, made of log2(k) passes of fixed shape.
  SecretBytes out(k);
  std::span<uint8_t> o = out.mutable_data(SecretAccess::Get());
  for (size_t i = 0; i < k; ++i) o[i] = CtSelect8(good, em[i], am[i]);
  const uint32_t shift = n - length;
  for (size_t step = 1; step < k; step <<= 1) {
    const uint32_t move = ~CtIsZero(shift & static_cast<uint32_t>(step));
    for (size_t i = 0; i + step < k; ++i) {
      o[i] = CtSelect8(move, o[i + step], o[i]);
    }
    for (size_t i = k - step; i < k; ++i) o[i] = CtSelect8(move, 0, o[i]);
  }
  // The length becomes public here: it is the length of the answer.
  out.Resize(length);
  return out;
}

absl::StatusOr<SecretBytes> RsaPkcs1DecryptImplicitRejection(
    EVP_PKEY* priv, std::span<const uint8_t> ciphertext) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> c, PadRsaCiphertext(priv, ciphertext));
  ASSIGN_OR_RETURN(SecretBytes em, RsaRawDecrypt(priv, c));
  ASSIGN_OR_RETURN(SecretBytes kdk, RsaImplicitRejectionKdk(priv, c));
  return RsaPkcs1DecodeImplicitRejection(em, kdk);
}

}  // namespace keyferry::crypto
