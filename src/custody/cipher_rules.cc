#include "custody/cipher_rules.h"

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/cipher.h"
#include "crypto/rsa_oaep.h"

namespace keyferry::custody {

const char* KeyKindName(KeyKind k) {
  switch (k) {
    case KeyKind::kRsa:
      return "RSA";
    case KeyKind::kEc:
      return "EC";
    case KeyKind::kOct:
      return "oct";
  }
  return "?";
}

absl::Status CheckRsaKeySize(int bits) {
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RSA keys must have 2048, 3072 or 4096 bits; this one has ", bits));
  }
  return absl::OkStatus();
}

absl::Status CheckRecoveredKey(const RecoveredKeyInfo& got,
                               const KeyRequest& expected) {
  if (got.kind != expected.kind) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key in the blob is ", KeyKindName(got.kind),
                     ", but kty asks for ", KeyKindName(expected.kind)));
  }
  if (got.kind == KeyKind::kRsa) RETURN_IF_ERROR(CheckRsaKeySize(got.bits));
  if (got.kind == KeyKind::kEc && expected.curve && got.curve &&
      *got.curve != *expected.curve) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the EC key in the blob is on ", Sv(crypto::CurveJwkName(*got.curve)),
        ", but crv asks for ", Sv(crypto::CurveJwkName(*expected.curve))));
  }
  if (expected.bits != 0 && got.kind != KeyKind::kEc &&
      got.bits != expected.bits) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key in the blob has ", got.bits, " bits, but ",
                     expected.bits, " were asked for"));
  }
  return absl::OkStatus();
}

absl::Status CheckKeyRequest(const KeyRequest& r) {
  switch (r.kind) {
    case KeyKind::kRsa:
      RETURN_IF_ERROR(CheckRsaKeySize(r.bits));
      if (r.public_exponent < 3 || r.public_exponent % 2 == 0) {
        return absl::InvalidArgumentError(
            "RSA public exponent must be odd and at least 3");
      }
      return absl::OkStatus();
    case KeyKind::kEc:
      if (!r.curve) return absl::InvalidArgumentError("EC keys need a curve");
      return absl::OkStatus();
    case KeyKind::kOct:
      if (r.bits != 128 && r.bits != 192 && r.bits != 256) {
        return absl::InvalidArgumentError(
            "oct key size must be 128, 192 or 256");
      }
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown key kind");
}

bool IsAesGcm(CipherAlg a) {
  return a == CipherAlg::kA128Gcm || a == CipherAlg::kA192Gcm ||
         a == CipherAlg::kA256Gcm;
}
bool IsAesKw(CipherAlg a) {
  return a == CipherAlg::kA128Kw || a == CipherAlg::kA192Kw ||
         a == CipherAlg::kA256Kw || a == CipherAlg::kCkmAesKeyWrap;
}
bool IsAesCbc(CipherAlg a) {
  return a == CipherAlg::kA128Cbc || a == CipherAlg::kA192Cbc ||
         a == CipherAlg::kA256Cbc;
}
bool IsAesCbcPad(CipherAlg a) {
  return a == CipherAlg::kA128CbcPad || a == CipherAlg::kA192CbcPad ||
         a == CipherAlg::kA256CbcPad;
}

absl::Status CheckCipherFits(const HeldKey& key, CipherAlg alg) {
  const absl::string_view name = Sv(CipherAlgName(alg));
  if (IsRsaCipher(alg)) {
    if (key.kind != KeyKind::kRsa) {
      return absl::InvalidArgumentError(
          absl::StrCat("Algorithm ", name, " needs an RSA key; this key is ",
                       KeyKindName(key.kind), "."));
    }
    return absl::OkStatus();
  }
  if (key.kind != KeyKind::kOct) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Algorithm ", name, " needs an oct (AES) key; this key is ",
        KeyKindName(key.kind), "."));
  }
  const int need = CipherKeyBytes(alg);
  if (need != 0 && need * 8 != key.bits) {
    return absl::InvalidArgumentError(
        absl::StrCat("Algorithm ", name, " needs a ", need * 8,
                     "-bit oct key; this key has ", key.bits, " bits."));
  }
  return absl::OkStatus();
}

absl::Status CheckAesEncryptInput(const CipherInput& in) {
  if (IsAesGcm(in.alg) && !in.iv.empty() && in.iv.size() != 12) {
    return absl::InvalidArgumentError("AES-GCM needs a 12-byte iv");
  }
  if ((IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) && !in.iv.empty() &&
      in.iv.size() != 16) {
    return absl::InvalidArgumentError("AES-CBC needs a 16-byte iv");
  }
  if (IsAesKw(in.alg) && (in.value.size() < 16 || in.value.size() % 8 != 0)) {
    return absl::InvalidArgumentError(
        "AES key wrap (RFC 3394) needs a multiple of 8 bytes, at least 16");
  }
  if (in.alg == CipherAlg::kCkmAesKeyWrapPad && in.value.empty()) {
    return absl::InvalidArgumentError(
        "AES key wrap with padding (RFC 5649) needs at least 1 byte");
  }
  return absl::OkStatus();
}

absl::Status CheckAesDecryptInput(const CipherInput& in) {
  if (IsAesGcm(in.alg) && (in.iv.size() != 12 || in.tag.size() != 16)) {
    return absl::InvalidArgumentError(
        "AES-GCM decryption needs a 12-byte iv and a 16-byte tag");
  }
  if ((IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) && in.iv.size() != 16) {
    return absl::InvalidArgumentError("AES-CBC decryption needs a 16-byte iv");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> RsaPublicEncrypt(
    EVP_PKEY* pub, CipherAlg alg, std::span<const uint8_t> plaintext) {
  absl::StatusOr<std::vector<uint8_t>> ct =
      alg == CipherAlg::kRsa15
          ? crypto::RsaPkcs1Encrypt(pub, plaintext)
          : crypto::RsaOaepEncrypt(pub,
                                   alg == CipherAlg::kRsaOaep256
                                       ? crypto::OaepHash::kSha256
                                       : crypto::OaepHash::kSha1,
                                   plaintext);
  if (!ct.ok() && ct.status().code() == absl::StatusCode::kInvalidArgument) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(CipherAlgName(alg)),
                     " encryption failed: the plaintext is too long for this "
                     "key"));
  }
  return ct;
}

std::vector<uint8_t> PlainCopy(const SecretBytes& s) {
  std::span<const uint8_t> p = s.data(SecretAccess::Get());
  return std::vector<uint8_t>(p.begin(), p.end());
}

}  // namespace keyferry::custody
