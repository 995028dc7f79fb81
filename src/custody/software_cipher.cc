// SoftwareCustody's encrypt/decrypt/wrap/unwrap and Rebind, plus the
// CipherAlg vocabulary (custody.h).
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/aead.h"
#include "crypto/aes_wrap.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"
#include "crypto/ssl_ptr.h"
#include "custody/software_custody.h"

namespace keyferry::custody {
namespace {

struct AlgInfo {
  CipherAlg alg;
  std::string_view name;
  int key_bytes;  // 0: RSA or any AES size
};

constexpr std::array<AlgInfo, 17> kAlgs = {{
    {CipherAlg::kRsa15, "RSA1_5", 0},
    {CipherAlg::kRsaOaep, "RSA-OAEP", 0},
    {CipherAlg::kRsaOaep256, "RSA-OAEP-256", 0},
    {CipherAlg::kA128Gcm, "A128GCM", 16},
    {CipherAlg::kA192Gcm, "A192GCM", 24},
    {CipherAlg::kA256Gcm, "A256GCM", 32},
    {CipherAlg::kA128Kw, "A128KW", 16},
    {CipherAlg::kA192Kw, "A192KW", 24},
    {CipherAlg::kA256Kw, "A256KW", 32},
    {CipherAlg::kA128Cbc, "A128CBC", 16},
    {CipherAlg::kA192Cbc, "A192CBC", 24},
    {CipherAlg::kA256Cbc, "A256CBC", 32},
    {CipherAlg::kA128CbcPad, "A128CBCPAD", 16},
    {CipherAlg::kA192CbcPad, "A192CBCPAD", 24},
    {CipherAlg::kA256CbcPad, "A256CBCPAD", 32},
    {CipherAlg::kCkmAesKeyWrap, "CKM_AES_KEY_WRAP", 0},
    {CipherAlg::kCkmAesKeyWrapPad, "CKM_AES_KEY_WRAP_PAD", 0},
}};

bool IsGcm(CipherAlg a) {
  return a == CipherAlg::kA128Gcm || a == CipherAlg::kA192Gcm ||
         a == CipherAlg::kA256Gcm;
}
bool IsKw(CipherAlg a) {
  return a == CipherAlg::kA128Kw || a == CipherAlg::kA192Kw ||
         a == CipherAlg::kA256Kw || a == CipherAlg::kCkmAesKeyWrap;
}
bool IsCbc(CipherAlg a) {
  return a == CipherAlg::kA128Cbc || a == CipherAlg::kA192Cbc ||
         a == CipherAlg::kA256Cbc;
}
bool IsCbcPad(CipherAlg a) {
  return a == CipherAlg::kA128CbcPad || a == CipherAlg::kA192CbcPad ||
         a == CipherAlg::kA256CbcPad;
}

const EVP_CIPHER* CbcCipher(size_t key_bytes) {
  switch (key_bytes) {
    case 16:
      return EVP_aes_128_cbc();
    case 24:
      return EVP_aes_192_cbc();
    default:
      return EVP_aes_256_cbc();
  }
}

// AesCbc runs AES-CBC with or without PKCS#7 padding. Decrypt failures are
// one fixed message (no padding oracle).
absl::StatusOr<std::vector<uint8_t>> AesCbc(const SecretBytes& key,
                                            std::span<const uint8_t> iv,
                                            std::span<const uint8_t> in,
                                            bool pad, bool encrypt) {
  if (iv.size() != 16) {
    return absl::InvalidArgumentError("AES-CBC needs a 16-byte iv");
  }
  if (!pad && in.size() % 16 != 0) {
    return absl::InvalidArgumentError(
        "AES-CBC without padding needs a multiple of 16 bytes");
  }
  if (!encrypt && (in.empty() || in.size() % 16 != 0)) {
    return absl::InvalidArgumentError("AES-CBC decryption failed");
  }
  crypto::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  const uint8_t* k = key.data(SecretAccess::Get()).data();
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), CbcCipher(key.size()), nullptr, k, iv.data(),
                        encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), pad ? 1 : 0) != 1) {
    return absl::InternalError("AES-CBC setup failed");
  }
  std::vector<uint8_t> out(in.size() + 16);
  int n1 = 0, n2 = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &n1, in.data(),
                       static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + n1, &n2) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::InvalidArgumentError(encrypt ? "AES-CBC encryption failed"
                                              : "AES-CBC decryption failed");
  }
  out.resize(static_cast<size_t>(n1 + n2));
  return out;
}

// RsaPkcs1 runs RSAES-PKCS1-v1_5. Every decryption failure is one fixed
// message.
absl::StatusOr<std::vector<uint8_t>> RsaPkcs1(EVP_PKEY* key,
                                              std::span<const uint8_t> in,
                                              bool encrypt) {
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx ||
      (encrypt ? EVP_PKEY_encrypt_init(ctx.get())
               : EVP_PKEY_decrypt_init(ctx.get())) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) {
    return absl::InternalError("RSA1_5 setup failed");
  }
  size_t len = 0;
  auto op = encrypt ? EVP_PKEY_encrypt : EVP_PKEY_decrypt;
  if (op(ctx.get(), nullptr, &len, in.data(), in.size()) != 1) {
    return absl::InvalidArgumentError(encrypt ? "RSA1_5 encryption failed"
                                              : "RSA1_5 decryption failed");
  }
  std::vector<uint8_t> out(len);
  if (op(ctx.get(), out.data(), &len, in.data(), in.size()) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::InvalidArgumentError(encrypt ? "RSA1_5 encryption failed"
                                              : "RSA1_5 decryption failed");
  }
  out.resize(len);
  return out;
}

std::vector<uint8_t> Plain(const SecretBytes& s) {
  std::span<const uint8_t> p = s.data(SecretAccess::Get());
  return std::vector<uint8_t>(p.begin(), p.end());
}

absl::Status CheckFits(const HeldKey& key, CipherAlg alg) {
  if (IsRsaCipher(alg)) {
    if (key.kind != KeyKind::kRsa) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Algorithm ", Sv(CipherAlgName(alg)), " needs an RSA key."));
    }
    return absl::OkStatus();
  }
  if (key.kind != KeyKind::kOct) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Algorithm ", Sv(CipherAlgName(alg)), " needs an oct (AES) key."));
  }
  int need = CipherKeyBytes(alg);
  if (need != 0 && need * 8 != key.bits) {
    return absl::InvalidArgumentError(
        absl::StrCat("Algorithm ", Sv(CipherAlgName(alg)), " needs a ",
                     need * 8, "-bit key; this key has ", key.bits, " bits."));
  }
  return absl::OkStatus();
}

crypto::OaepHash OaepOf(CipherAlg alg) {
  return alg == CipherAlg::kRsaOaep256 ? crypto::OaepHash::kSha256
                                       : crypto::OaepHash::kSha1;
}

}  // namespace

absl::StatusOr<CipherAlg> ParseCipherAlg(std::string_view name) {
  for (const AlgInfo& a : kAlgs) {
    if (a.name == name) return a.alg;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Invalid algorithm: '", Sv(name), "'."));
}

std::string_view CipherAlgName(CipherAlg alg) {
  for (const AlgInfo& a : kAlgs) {
    if (a.alg == alg) return a.name;
  }
  return "?";
}

bool IsRsaCipher(CipherAlg alg) {
  return alg == CipherAlg::kRsa15 || alg == CipherAlg::kRsaOaep ||
         alg == CipherAlg::kRsaOaep256;
}

int CipherKeyBytes(CipherAlg alg) {
  for (const AlgInfo& a : kAlgs) {
    if (a.alg == alg) return a.key_bytes;
  }
  return 0;
}

absl::StatusOr<CipherOutput> SoftwareCustody::Encrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& in) {
  RETURN_IF_ERROR(CheckFits(key, in.alg));
  CipherOutput out;
  if (IsRsaCipher(in.alg)) {
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                     crypto::ParsePublicKey(AsBytes(key.public_jwk)));
    if (in.alg == CipherAlg::kRsa15) {
      ASSIGN_OR_RETURN(out.value, RsaPkcs1(pub.get(), in.value, true));
    } else {
      absl::StatusOr<std::vector<uint8_t>> v =
          crypto::RsaOaepEncrypt(pub.get(), OaepOf(in.alg), in.value);
      if (!v.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            Sv(CipherAlgName(in.alg)),
            " encryption failed: the plaintext is too long for this key"));
      }
      out.value = std::move(*v);
    }
    return out;
  }
  ASSIGN_OR_RETURN(SecretBytes k, Unseal(key, binding));
  SecretBytes plaintext(in.value);
  if (IsGcm(in.alg)) {
    out.iv = in.iv;
    if (out.iv.empty()) {
      ASSIGN_OR_RETURN(out.iv, crypto::RandomBytes(crypto::kGcmNonceBytes));
    }
    if (out.iv.size() != crypto::kGcmNonceBytes) {
      return absl::InvalidArgumentError("AES-GCM needs a 12-byte iv");
    }
    ASSIGN_OR_RETURN(crypto::GcmSealed sealed,
                     crypto::AesGcmEncrypt(k, out.iv, in.value, in.aad));
    out.value = std::move(sealed.ciphertext);
    out.tag = std::move(sealed.tag);
    return out;
  }
  if (IsCbc(in.alg) || IsCbcPad(in.alg)) {
    out.iv = in.iv;
    if (out.iv.empty()) {
      ASSIGN_OR_RETURN(out.iv, crypto::RandomBytes(16));
    }
    ASSIGN_OR_RETURN(out.value,
                     AesCbc(k, out.iv, in.value, IsCbcPad(in.alg), true));
    return out;
  }
  if (IsKw(in.alg)) {
    if (in.value.size() < 16 || in.value.size() % 8 != 0) {
      return absl::InvalidArgumentError(
          "AES key wrap (RFC 3394) needs a multiple of 8 bytes, at least 16");
    }
    ASSIGN_OR_RETURN(out.value, crypto::KwWrap(k, plaintext));
    return out;
  }
  // CKM_AES_KEY_WRAP_PAD: RFC 5649.
  if (in.value.empty()) {
    return absl::InvalidArgumentError("nothing to wrap");
  }
  ASSIGN_OR_RETURN(out.value, crypto::KwpWrap(k, plaintext));
  return out;
}

absl::StatusOr<CipherOutput> SoftwareCustody::Decrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& in) {
  RETURN_IF_ERROR(CheckFits(key, in.alg));
  CipherOutput out;
  if (IsRsaCipher(in.alg)) {
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr priv, PrivateKey(key, binding));
    if (in.alg == CipherAlg::kRsa15) {
      ASSIGN_OR_RETURN(out.value, RsaPkcs1(priv.get(), in.value, false));
      return out;
    }
    ASSIGN_OR_RETURN(SecretBytes p, crypto::RsaOaepDecrypt(
                                        priv.get(), OaepOf(in.alg), in.value));
    out.value = Plain(p);
    return out;
  }
  ASSIGN_OR_RETURN(SecretBytes k, Unseal(key, binding));
  if (IsGcm(in.alg)) {
    if (in.iv.size() != crypto::kGcmNonceBytes ||
        in.tag.size() != crypto::kGcmTagBytes) {
      return absl::InvalidArgumentError(
          "AES-GCM decryption needs a 12-byte iv and a 16-byte tag");
    }
    ASSIGN_OR_RETURN(SecretBytes p,
                     crypto::AesGcmDecrypt(k, in.iv, in.value, in.tag, in.aad));
    out.value = Plain(p);
    return out;
  }
  if (IsCbc(in.alg) || IsCbcPad(in.alg)) {
    ASSIGN_OR_RETURN(out.value,
                     AesCbc(k, in.iv, in.value, IsCbcPad(in.alg), false));
    return out;
  }
  if (IsKw(in.alg)) {
    ASSIGN_OR_RETURN(SecretBytes p, crypto::KwUnwrap(k, in.value));
    out.value = Plain(p);
    return out;
  }
  ASSIGN_OR_RETURN(SecretBytes p, crypto::KwpUnwrap(k, in.value));
  out.value = Plain(p);
  return out;
}

absl::StatusOr<HeldKey> SoftwareCustody::Rebind(
    const HeldKey& key, std::span<const uint8_t> old_binding,
    std::span<const uint8_t> new_binding) {
  ASSIGN_OR_RETURN(SecretBytes plain, Unseal(key, old_binding));
  HeldKey moved = key;
  RETURN_IF_ERROR(Seal(moved, plain, new_binding));
  return moved;
}

}  // namespace keyferry::custody
