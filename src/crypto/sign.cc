#include "crypto/sign.h"

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/errors.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {
namespace {

struct AlgInfo {
  SignAlg alg;
  const char* name;
  const EVP_MD* (*md)();
  enum { kPkcs1, kPss, kEcdsa } scheme;
  Curve curve;  // for ECDSA
};

constexpr AlgInfo kAlgs[] = {
    {SignAlg::kRs256, "RS256", EVP_sha256, AlgInfo::kPkcs1, Curve::kP256},
    {SignAlg::kRs384, "RS384", EVP_sha384, AlgInfo::kPkcs1, Curve::kP256},
    {SignAlg::kRs512, "RS512", EVP_sha512, AlgInfo::kPkcs1, Curve::kP256},
    {SignAlg::kPs256, "PS256", EVP_sha256, AlgInfo::kPss, Curve::kP256},
    {SignAlg::kPs384, "PS384", EVP_sha384, AlgInfo::kPss, Curve::kP256},
    {SignAlg::kPs512, "PS512", EVP_sha512, AlgInfo::kPss, Curve::kP256},
    {SignAlg::kEs256, "ES256", EVP_sha256, AlgInfo::kEcdsa, Curve::kP256},
    {SignAlg::kEs384, "ES384", EVP_sha384, AlgInfo::kEcdsa, Curve::kP384},
    {SignAlg::kEs512, "ES512", EVP_sha512, AlgInfo::kEcdsa, Curve::kP521},
    {SignAlg::kEs256k, "ES256K", EVP_sha256, AlgInfo::kEcdsa,
     Curve::kSecp256k1},
};

const AlgInfo& Info(SignAlg a) {
  for (const auto& i : kAlgs) {
    if (i.alg == a) return i;
  }
  return kAlgs[0];
}

// Prepare checks key/alg fit and digest length, and sets up `ctx`.
absl::StatusOr<EvpPkeyCtxPtr> Prepare(EVP_PKEY* key, SignAlg alg,
                                      std::span<const uint8_t> digest,
                                      bool sign) {
  const AlgInfo& info = Info(alg);
  if (digest.size() != static_cast<size_t>(EVP_MD_get_size(info.md()))) {
    return absl::InvalidArgumentError(
        absl::StrCat(info.name, " signs a ", EVP_MD_get_size(info.md()),
                     "-byte digest, not ", digest.size(), " bytes"));
  }
  ASSIGN_OR_RETURN(KeyDescription d, Describe(key));
  if (info.scheme == AlgInfo::kEcdsa) {
    if (d.type != KeyType::kEc || d.curve != info.curve) {
      return absl::InvalidArgumentError(absl::StrCat(
          info.name, " needs an EC ", Sv(CurveJwkName(info.curve)), " key"));
    }
  } else if (d.type != KeyType::kRsa) {
    return absl::InvalidArgumentError(
        absl::StrCat(info.name, " needs an RSA key"));
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx ||
      (sign ? EVP_PKEY_sign_init(ctx.get())
            : EVP_PKEY_verify_init(ctx.get())) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), info.md()) != 1) {
    return SslError(absl::StatusCode::kInternal, "signature setup");
  }
  if (info.scheme != AlgInfo::kEcdsa) {
    int pad = info.scheme == AlgInfo::kPss ? RSA_PKCS1_PSS_PADDING
                                           : RSA_PKCS1_PADDING;
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), pad) != 1 ||
        (info.scheme == AlgInfo::kPss &&
         (EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), RSA_PSS_SALTLEN_DIGEST) !=
              1 ||
          EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), info.md()) != 1))) {
      return SslError(absl::StatusCode::kInternal, "RSA padding setup");
    }
  }
  return ctx;
}

}  // namespace

absl::StatusOr<SignAlg> ParseSignAlg(std::string_view name) {
  for (const auto& i : kAlgs) {
    if (name == i.name) return i.alg;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported signature algorithm '", Sv(name), "'"));
}

std::string_view SignAlgName(SignAlg alg) { return Info(alg).name; }

size_t DigestBytes(SignAlg alg) {
  return static_cast<size_t>(EVP_MD_get_size(Info(alg).md()));
}

std::vector<uint8_t> DigestFor(SignAlg alg, std::span<const uint8_t> data) {
  switch (DigestBytes(alg)) {
    case 48:
      return Sha384(data);
    case 64:
      return Sha512(data);
    default:
      return Sha256(data);
  }
}

absl::StatusOr<std::vector<uint8_t>> SignDigest(
    EVP_PKEY* key, SignAlg alg, std::span<const uint8_t> digest) {
  ASSIGN_OR_RETURN(EvpPkeyCtxPtr ctx, Prepare(key, alg, digest, true));
  size_t len = 0;
  if (EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) !=
      1) {
    return SslError(absl::StatusCode::kInternal, "sign");
  }
  std::vector<uint8_t> sig(len);
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(),
                    digest.size()) != 1) {
    return SslError(absl::StatusCode::kInternal, "sign");
  }
  sig.resize(len);
  if (Info(alg).scheme != AlgInfo::kEcdsa) return sig;
  // DER ECDSA-Sig-Value -> fixed-length r || s.
  const unsigned char* p = sig.data();
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (es == nullptr)
    return SslError(absl::StatusCode::kInternal, "ECDSA signature");
  int n = CurveFieldBytes(Info(alg).curve);
  std::vector<uint8_t> raw(2 * static_cast<size_t>(n));
  bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(es), raw.data(), n) == n &&
            BN_bn2binpad(ECDSA_SIG_get0_s(es), raw.data() + n, n) == n;
  ECDSA_SIG_free(es);
  if (!ok) return absl::InternalError("ECDSA signature encoding");
  return raw;
}

absl::StatusOr<bool> VerifyDigest(EVP_PKEY* key, SignAlg alg,
                                  std::span<const uint8_t> digest,
                                  std::span<const uint8_t> signature) {
  ASSIGN_OR_RETURN(EvpPkeyCtxPtr ctx, Prepare(key, alg, digest, false));
  std::vector<uint8_t> der;
  if (Info(alg).scheme == AlgInfo::kEcdsa) {
    size_t n = static_cast<size_t>(CurveFieldBytes(Info(alg).curve));
    if (signature.size() != 2 * n) return false;
    ECDSA_SIG* es = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(signature.data(), static_cast<int>(n), nullptr);
    BIGNUM* s = BN_bin2bn(signature.data() + n, static_cast<int>(n), nullptr);
    if (es == nullptr || r == nullptr || s == nullptr ||
        ECDSA_SIG_set0(es, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(es);
      return absl::InternalError("ECDSA signature decoding");
    }
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(es, &out);
    ECDSA_SIG_free(es);
    if (len <= 0) return absl::InternalError("ECDSA signature encoding");
    der.assign(out, out + len);
    OPENSSL_free(out);
    signature = der;
  }
  int rc = EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(),
                           digest.data(), digest.size());
  ERR_clear_error();
  return rc == 1;
}

}  // namespace keyferry::crypto
