#include "crypto/mac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "crypto/errors.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {
namespace {

// NewKdf returns a context of the named EVP_KDF, or null.
EvpKdfCtxPtr NewKdf(const char* name) {
  EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, name, nullptr));
  if (kdf == nullptr) return nullptr;
  return EvpKdfCtxPtr(EVP_KDF_CTX_new(kdf.get()));  // holds its own reference
}

// The HMAC implementation, fetched once: a fetch costs a lock and a lookup
// in OpenSSL's method store, more than the MAC of a short record.
EVP_MAC* Hmac() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

}  // namespace

namespace {
std::vector<uint8_t> DigestOf(const EVP_MD* md, std::span<const uint8_t> data) {
  std::vector<uint8_t> d(EVP_MD_get_size(md));
  unsigned int n = 0;
  // EVP_Digest with a built-in digest fails only on allocation failure.
  if (EVP_Digest(data.data(), data.size(), d.data(), &n, md, nullptr) != 1) {
    std::abort();
  }
  return d;
}
}  // namespace

std::vector<uint8_t> Sha256(std::span<const uint8_t> data) {
  return DigestOf(EVP_sha256(), data);
}
std::vector<uint8_t> Sha1(std::span<const uint8_t> data) {
  return DigestOf(EVP_sha1(), data);
}
std::vector<uint8_t> Sha384(std::span<const uint8_t> data) {
  return DigestOf(EVP_sha384(), data);
}
std::vector<uint8_t> Sha512(std::span<const uint8_t> data) {
  return DigestOf(EVP_sha512(), data);
}

absl::StatusOr<HmacSha256Context> HmacSha256Context::New() {
  if (Hmac() == nullptr) return SslError(absl::StatusCode::kInternal, "HMAC");
  EvpMacCtxPtr ctx(EVP_MAC_CTX_new(Hmac()));
  if (!ctx) return SslError(absl::StatusCode::kInternal, "HMAC");
  return HmacSha256Context(std::move(ctx));
}

absl::Status HmacSha256Context::Mac(
    std::span<const uint8_t> key,
    std::initializer_list<std::span<const uint8_t>> parts,
    std::span<uint8_t> out) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (out.size() != kHmacSha256Bytes ||
      EVP_MAC_init(ctx_.get(), key.data(), key.size(), params) != 1) {
    return SslError(absl::StatusCode::kInternal, "HMAC init");
  }
  for (std::span<const uint8_t> p : parts) {
    if (EVP_MAC_update(ctx_.get(), p.data(), p.size()) != 1) {
      return SslError(absl::StatusCode::kInternal, "HMAC update");
    }
  }
  size_t len = 0;
  if (EVP_MAC_final(ctx_.get(), out.data(), &len, out.size()) != 1 ||
      len != kHmacSha256Bytes) {
    return SslError(absl::StatusCode::kInternal, "HMAC final");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> HmacSha256(const SecretBytes& key,
                                                std::span<const uint8_t> data) {
  ASSIGN_OR_RETURN(HmacSha256Context ctx, HmacSha256Context::New());
  std::vector<uint8_t> out(kHmacSha256Bytes);
  RETURN_IF_ERROR(ctx.Mac(key.data(SecretAccess::Get()), {data}, out));
  return out;
}

absl::Status VerifyHmacSha256(const SecretBytes& key,
                              std::span<const uint8_t> data,
                              std::span<const uint8_t> tag) {
  absl::StatusOr<std::vector<uint8_t>> want = HmacSha256(key, data);
  if (!want.ok()) return want.status();
  if (tag.size() != want->size() ||
      CRYPTO_memcmp(tag.data(), want->data(), want->size()) != 0) {
    return absl::DataLossError("the HMAC-SHA256 tag does not verify");
  }
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> HkdfSha256(const SecretBytes& ikm,
                                       std::span<const uint8_t> salt,
                                       std::string_view info, size_t length) {
  if (length == 0 || length > 255 * kHmacSha256Bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("HKDF-SHA256 cannot derive ", length, " bytes"));
  }
  EvpKdfCtxPtr ctx = NewKdf("HKDF");
  if (ctx == nullptr) return SslError(absl::StatusCode::kInternal, "HKDF");
  char digest[] = "SHA256";
  auto k = ikm.data(SecretAccess::Get());
  OSSL_PARAM params[5];
  size_t i = 0;
  params[i++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[i++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(k.data()), k.size());
  if (!salt.empty()) {
    params[i++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()), salt.size());
  }
  params[i++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size());
  params[i] = OSSL_PARAM_construct_end();
  SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.mutable_data(SecretAccess::Get()).data(),
                     length, params) != 1) {
    return SslError(absl::StatusCode::kInternal, "HKDF-SHA256 derive");
  }
  return out;
}

absl::StatusOr<SecretBytes> Scrypt(const SecretBytes& passphrase,
                                   std::span<const uint8_t> salt,
                                   const ScryptCost& cost, size_t length) {
  uint64_t n = cost.n;
  uint32_t r = cost.r;
  uint32_t p = cost.p;
  if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0 || length == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "scrypt parameters N=", n, " r=", r, " p=", p, " are not valid"));
  }
  EvpKdfCtxPtr ctx = NewKdf("SCRYPT");
  if (ctx == nullptr) return SslError(absl::StatusCode::kInternal, "scrypt");
  // OpenSSL needs 128*r*(N+2) + 128*r*p bytes; leave headroom.
  uint64_t maxmem =
      128 * uint64_t{r} * (n + 2) + 128 * uint64_t{r} * p + (uint64_t{1} << 20);
  auto pw = passphrase.data(SecretAccess::Get());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_PASSWORD, const_cast<uint8_t*>(pw.data()), pw.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end()};
  SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.mutable_data(SecretAccess::Get()).data(),
                     length, params) != 1) {
    return SslError(absl::StatusCode::kInternal, "scrypt derive");
  }
  return out;
}

}  // namespace keyferry::crypto
