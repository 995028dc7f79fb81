// Pkcs11Custody: the key operations (sign, encrypt, decrypt) that run in the
// token on a key's session object.
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/random.h"
#include "custody/cipher_rules.h"
#include "custody/pkcs11_internal.h"
#include "hsm/errors.h"
#include "hsm/mechanisms.h"
#include "hsm/templates.h"

namespace keyferry::custody {

using hsm::ObjectHandle;
using hsm::Session;

namespace {

std::optional<crypto::Curve> CurveOfAlg(crypto::SignAlg a) {
  switch (a) {
    case crypto::SignAlg::kEs256:
      return crypto::Curve::kP256;
    case crypto::SignAlg::kEs384:
      return crypto::Curve::kP384;
    case crypto::SignAlg::kEs512:
      return crypto::Curve::kP521;
    case crypto::SignAlg::kEs256k:
      return crypto::Curve::kSecp256k1;
    default:
      return std::nullopt;
  }
}

std::vector<uint8_t> Concat(std::span<const uint8_t> a,
                            std::span<const uint8_t> b) {
  std::vector<uint8_t> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// EncryptInToken runs one AES encryption of `in` with the oct key `obj`,
// with `iv` already chosen.
absl::StatusOr<CipherOutput> EncryptInToken(Session& s, uint64_t kwp,
                                            ObjectHandle obj,
                                            const CipherInput& in,
                                            CipherOutput result) {
  if (IsAesGcm(in.alg)) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> ct,
                     s.Encrypt(hsm::AesGcm(result.iv, in.aad), obj, in.value));
    if (ct.size() < 16) return absl::InternalError("AES-GCM output too short");
    result.tag.assign(ct.end() - 16, ct.end());
    ct.resize(ct.size() - 16);
    result.value = std::move(ct);
    return result;
  }
  if (IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) {
    ASSIGN_OR_RETURN(
        result.value,
        s.Encrypt(hsm::AesCbc(result.iv, IsAesCbcPad(in.alg)), obj, in.value));
    return result;
  }
  // Key wrap of caller data: the data becomes a short-lived session object
  // the oct key wraps (C_WrapKey), as tokens offer AES key wrap for
  // wrap/unwrap only.
  ASSIGN_OR_RETURN(
      ObjectHandle dh,
      s.CreateObject(hsm::DataObjectTemplate(SecretBytes(in.value))));
  hsm::ScopedObject data(s, dh);
  ASSIGN_OR_RETURN(
      result.value,
      s.WrapKey({IsAesKw(in.alg) ? hsm::kAesKeyWrap : kwp}, obj, data.get()));
  return result;
}

// DecryptInToken runs one decryption of `in` with `obj`.
absl::StatusOr<SecretBytes> DecryptInToken(Session& s, uint64_t kwp,
                                           ObjectHandle obj,
                                           const CipherInput& in) {
  if (IsRsaCipher(in.alg)) {
    return s.Decrypt(hsm::RsaOaep(in.alg == CipherAlg::kRsaOaep256
                                      ? crypto::OaepHash::kSha256
                                      : crypto::OaepHash::kSha1),
                     obj, in.value);
  }
  if (IsAesGcm(in.alg)) {
    return s.Decrypt(hsm::AesGcm(in.iv, in.aad), obj, Concat(in.value, in.tag));
  }
  if (IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) {
    return s.Decrypt(hsm::AesCbc(in.iv, IsAesCbcPad(in.alg)), obj, in.value);
  }
  ASSIGN_OR_RETURN(ObjectHandle h,
                   s.UnwrapKey({IsAesKw(in.alg) ? hsm::kAesKeyWrap : kwp}, obj,
                               in.value, hsm::DataObjectTemplate()));
  hsm::ScopedObject data(s, h);
  return hsm::ReadSecretValue(s, data.get());
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::Sign(
    const HeldKey& key, std::span<const uint8_t> binding, crypto::SignAlg alg,
    std::span<const uint8_t> digest) {
  if (digest.size() != crypto::DigestBytes(alg)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(crypto::SignAlgName(alg)), " signs a ",
                     crypto::DigestBytes(alg), "-byte digest"));
  }
  const std::optional<crypto::Curve> curve = CurveOfAlg(alg);
  if (curve) {
    if (key.kind != KeyKind::kEc || key.curve != curve) {
      return absl::InvalidArgumentError(
          absl::StrCat(Sv(crypto::SignAlgName(alg)), " needs an EC key on ",
                       Sv(crypto::CurveJwkName(*curve))));
    }
  } else if (key.kind != KeyKind::kRsa) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(crypto::SignAlgName(alg)), " needs an RSA key"));
  }
  const bool pss = alg == crypto::SignAlg::kPs256 ||
                   alg == crypto::SignAlg::kPs384 ||
                   alg == crypto::SignAlg::kPs512;
  using Out = std::vector<uint8_t>;
  return WithKey<Out>(
      key, binding, [&](Session& s, ObjectHandle h) -> absl::StatusOr<Out> {
        if (curve) return s.Sign({hsm::kEcdsa}, h, digest);
        if (pss) return s.Sign(hsm::RsaPss(digest.size()), h, digest);
        return s.Sign({hsm::kRsaPkcs}, h, hsm::Pkcs1DigestInfo(digest));
      });
}

absl::StatusOr<CipherOutput> Pkcs11Custody::Encrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& in) {
  RETURN_IF_ERROR(CheckCipherFits(key, in.alg));
  CipherOutput out;
  if (in.alg == CipherAlg::kRsaOaep256 && !limits_.oaep_sha256) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA-OAEP-256 is not available on this vault's HSM (",
                     platform_, "): its RSA-OAEP is SHA-1 only; use RSA-OAEP"));
  }
  if (IsRsaCipher(in.alg)) {
    // The public half: the same arithmetic in or out of the token.
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                     crypto::ParsePublicKey(AsBytes(key.public_jwk)));
    ASSIGN_OR_RETURN(out.value, RsaPublicEncrypt(pub.get(), in.alg, in.value));
    return out;
  }
  if (IsAesGcm(in.alg) && !limits_.aes_gcm) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-GCM is not available on this vault's HSM (", platform_, ")"));
  }
  RETURN_IF_ERROR(CheckAesEncryptInput(in));
  if (IsAesCbc(in.alg) && in.value.size() % 16 != 0) {
    return absl::InvalidArgumentError(
        "AES-CBC without padding needs a multiple of 16 bytes");
  }
  if (in.alg == CipherAlg::kCkmAesKeyWrapPad) {
    if (limits_.kwp_wrap_defect && in.value.size() % 8 != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "this vault's HSM (", platform_,
          ") pads RFC 5649 wraps wrongly for input that is not a multiple of "
          "8 bytes (the SoftHSM 2.6.1 defect); wrap a multiple of 8 bytes"));
    }
  }
  // The IV is chosen once, outside a retry, so a retried call reuses it.
  if ((IsAesGcm(in.alg) || IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) &&
      in.iv.empty()) {
    ASSIGN_OR_RETURN(out.iv, crypto::RandomBytes(IsAesGcm(in.alg) ? 12 : 16));
  } else {
    out.iv = in.iv;
  }
  return WithKey<CipherOutput>(
      key, binding,
      [&](Session& s, ObjectHandle obj) -> absl::StatusOr<CipherOutput> {
        return EncryptInToken(s, limits_.kwp_mechanism, obj, in, out);
      });
}

absl::StatusOr<CipherOutput> Pkcs11Custody::Decrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& in) {
  RETURN_IF_ERROR(CheckCipherFits(key, in.alg));
  if (in.alg == CipherAlg::kRsaOaep256 && !limits_.oaep_sha256) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA-OAEP-256 is not available on this vault's HSM (",
                     platform_, "): its RSA-OAEP is SHA-1 only; use RSA-OAEP"));
  }
  if (IsAesGcm(in.alg) && !limits_.aes_gcm) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-GCM is not available on this vault's HSM (", platform_, ")"));
  }
  RETURN_IF_ERROR(CheckAesDecryptInput(in));
  if (in.alg == CipherAlg::kRsa15) return DecryptRsa15(key, binding, in.value);
  // One fixed message per family, whatever the token said (no oracle).
  const bool kw = IsAesKw(in.alg);
  const char* failed = IsRsaCipher(in.alg) ? "RSA-OAEP decryption failed"
                       : IsAesGcm(in.alg)  ? "AES-GCM authentication failed"
                       : (IsAesCbc(in.alg) || IsAesCbcPad(in.alg))
                           ? "AES-CBC decryption failed"
                       : kw ? "AES-KW unwrap failed: integrity check"
                            : "AES-KWP unwrap failed: integrity check";
  if (!IsRsaCipher(in.alg) && !IsAesGcm(in.alg) && !IsAesCbc(in.alg) &&
      !IsAesCbcPad(in.alg) &&
      ((kw && (in.value.size() < 24 || in.value.size() % 8 != 0)) ||
       (!kw && (in.value.size() < 16 || in.value.size() % 8 != 0)))) {
    return absl::InvalidArgumentError(failed);
  }
  absl::StatusOr<SecretBytes> pt = WithKey<SecretBytes>(
      key, binding,
      [&](Session& s, ObjectHandle obj) -> absl::StatusOr<SecretBytes> {
        absl::StatusOr<SecretBytes> pt =
            DecryptInToken(s, limits_.kwp_mechanism, obj, in);
        // What the token refuses about the caller's data is one fixed
        // message per family (no oracle); a token fault stays one (and a
        // lost session is retried by WithKey).
        if (!pt.ok() && !hsm::IsTokenFault(pt.status())) {
          return absl::InvalidArgumentError(failed);
        }
        return pt;
      });
  if (!pt.ok()) {
    // A damaged key record (DataLoss) or a token fault is the server's
    // failure, never the caller's 400.
    if (hsm::GetCkr(pt.status()) && hsm::IsTokenFault(pt.status())) {
      return p11::AsTokenFault(pt.status(), "decrypting");
    }
    return pt.status();
  }
  CipherOutput out;
  out.value = PlainCopy(*pt);
  return out;
}

}  // namespace keyferry::custody
