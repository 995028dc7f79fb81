#include "custody/software_custody.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/envelope.h"
#include "crypto/aead.h"
#include "crypto/aes_wrap.h"
#include "crypto/cipher.h"
#include "crypto/errors.h"
#include "crypto/mac.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"
#include "crypto/rsa_pkcs1.h"
#include "custody/cipher_rules.h"

namespace keyferry::custody {
namespace {

// Custody blob, version 1 (docs/security-model.md §2):
//   "KFS1" | kind u8 | bits u16be | curve u8 (0xff: none) | nonce[12] | tag[16]
//   | ct
// AAD = the 8 header bytes || binding.
constexpr std::string_view kMagic = "KFS1";
constexpr size_t kHeaderBytes = kBlobHeaderBytes;
constexpr size_t kOverhead =
    kHeaderBytes + crypto::kGcmNonceBytes + crypto::kGcmTagBytes;

std::vector<uint8_t> Header(const HeldKey& k) { return BlobHeader(kMagic, k); }

std::vector<uint8_t> Aad(const std::vector<uint8_t>& header,
                         std::span<const uint8_t> binding) {
  std::vector<uint8_t> aad = header;
  aad.insert(aad.end(), binding.begin(), binding.end());
  return aad;
}

crypto::CbcPadding CbcPaddingOf(CipherAlg a) {
  return IsAesCbcPad(a) ? crypto::CbcPadding::kPkcs7
                        : crypto::CbcPadding::kNone;
}

crypto::OaepHash OaepOf(CipherAlg a) {
  return a == CipherAlg::kRsaOaep256 ? crypto::OaepHash::kSha256
                                     : crypto::OaepHash::kSha1;
}

// Backups: "KFB1" | nonce[12] | tag[16] | ct, AES-256-GCM under a key
// derived from the master key, AAD "KFB1".
constexpr uint8_t kBackupMagic[] = {'K', 'F', 'B', '1'};

// Keys derived from the master key, one per purpose (HKDF-SHA256, no salt).
constexpr std::string_view kBackupInfo = "keyferry backup v1";
constexpr std::string_view kRecordInfo = "keyferry record v1";

}  // namespace

absl::StatusOr<std::unique_ptr<SoftwareCustody>> SoftwareCustody::New(
    SecretBytes master_key, size_t cached_keys) {
  if (master_key.size() != 32) {
    return absl::InvalidArgumentError("master key must be 32 bytes");
  }
  ASSIGN_OR_RETURN(SecretBytes backup_key,
                   crypto::HkdfSha256(master_key, {}, kBackupInfo, 32));
  ASSIGN_OR_RETURN(SecretBytes record_key,
                   crypto::HkdfSha256(master_key, {}, kRecordInfo, 32));
  return std::unique_ptr<SoftwareCustody>(
      new SoftwareCustody(std::move(master_key), std::move(backup_key),
                          std::move(record_key), cached_keys));
}

absl::StatusOr<std::vector<uint8_t>> SoftwareCustody::ProtectBackup(
    std::span<const uint8_t> plaintext) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> nonce,
                   crypto::RandomBytes(crypto::kGcmNonceBytes));
  ASSIGN_OR_RETURN(
      crypto::GcmCiphertext s,
      crypto::AesGcmEncrypt(backup_key_, nonce, plaintext, kBackupMagic));
  std::vector<uint8_t> out(kBackupMagic, kBackupMagic + 4);
  out.insert(out.end(), nonce.begin(), nonce.end());
  out.insert(out.end(), s.tag.begin(), s.tag.end());
  out.insert(out.end(), s.ciphertext.begin(), s.ciphertext.end());
  return out;
}

absl::StatusOr<std::vector<uint8_t>> SoftwareCustody::UnprotectBackup(
    std::span<const uint8_t> b) {
  const auto bad = [] {
    return absl::InvalidArgumentError(
        "the backup was not made by this deployment or is damaged");
  };
  constexpr size_t kHead = 4 + crypto::kGcmNonceBytes + crypto::kGcmTagBytes;
  if (b.size() < kHead ||
      !std::equal(kBackupMagic, kBackupMagic + 4, b.begin())) {
    return bad();
  }
  auto pt = crypto::AesGcmDecrypt(
      backup_key_, b.subspan(4, crypto::kGcmNonceBytes), b.subspan(kHead),
      b.subspan(4 + crypto::kGcmNonceBytes, crypto::kGcmTagBytes),
      kBackupMagic);
  if (!pt.ok()) return bad();
  auto d = pt->data(SecretAccess::Get());
  return std::vector<uint8_t>(d.begin(), d.end());
}

absl::Status SoftwareCustody::EncryptBlob(
    HeldKey& held, const SecretBytes& plaintext,
    std::span<const uint8_t> binding) const {
  std::vector<uint8_t> header = Header(held);
  ASSIGN_OR_RETURN(std::vector<uint8_t> nonce,
                   crypto::RandomBytes(crypto::kGcmNonceBytes));
  ASSIGN_OR_RETURN(
      crypto::GcmCiphertext s,
      crypto::AesGcmEncrypt(master_, nonce, plaintext.data(SecretAccess::Get()),
                            Aad(header, binding)));
  held.blob = header;
  held.blob.insert(held.blob.end(), nonce.begin(), nonce.end());
  held.blob.insert(held.blob.end(), s.tag.begin(), s.tag.end());
  held.blob.insert(held.blob.end(), s.ciphertext.begin(), s.ciphertext.end());
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> SoftwareCustody::DecryptBlob(
    const HeldKey& held, std::span<const uint8_t> binding) const {
  const auto& b = held.blob;
  std::vector<uint8_t> header = Header(held);
  if (b.size() < kOverhead ||
      !std::equal(header.begin(), header.end(), b.begin())) {
    return absl::DataLossError(
        "sealed key material is not a software custody blob "
        "for this key type");
  }
  std::span<const uint8_t> all(b);
  auto nonce = all.subspan(kHeaderBytes, crypto::kGcmNonceBytes);
  auto tag =
      all.subspan(kHeaderBytes + crypto::kGcmNonceBytes, crypto::kGcmTagBytes);
  auto ct = all.subspan(kOverhead);
  auto pt =
      crypto::AesGcmDecrypt(master_, nonce, ct, tag, Aad(header, binding));
  if (!pt.ok()) {
    return absl::DataLossError(
        "sealed key material does not open under this deployment's master key "
        "for this key (damaged, moved, or another deployment's)");
  }
  return pt;
}

absl::StatusOr<crypto::EvpPkeyPtr> SoftwareCustody::PrivateKey(
    const HeldKey& held, std::span<const uint8_t> binding) const {
  if (held.kind == KeyKind::kOct) {
    return absl::InvalidArgumentError(
        "an oct key has no private key operation");
  }
  // A cached key is found only by the exact blob and binding that opened
  // before; the blob's header (kind, size, curve) must still describe
  // `held`, as Unseal would check.
  const std::vector<uint8_t> header = Header(held);
  if (held.blob.size() >= kOverhead &&
      std::equal(header.begin(), header.end(), held.blob.begin())) {
    if (crypto::EvpPkeyPtr hit = private_keys_.Find(held.blob, binding)) {
      return hit;
    }
  }
  // Read on a miss only (a hit takes no second lock), before the key is
  // opened: a ForgetCachedKeys (a purge) while it is being opened keeps it
  // out of the cache. A purge between the caller's store read and this
  // line is not caught here; the next purge anywhere, or eviction, drops
  // that copy (docs/storage.md §6.5).
  const uint64_t generation = private_keys_.generation();
  ASSIGN_OR_RETURN(SecretBytes p8, DecryptBlob(held, binding));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key,
                   crypto::ParsePkcs8Der(p8, /*allow_trailing_zeros=*/false));
  private_keys_.Insert(held.blob, binding, key.get(), generation);
  return key;
}

absl::StatusOr<HeldKey> SoftwareCustody::HoldPrivate(
    EVP_PKEY* key, std::span<const uint8_t> binding) const {
  ASSIGN_OR_RETURN(crypto::KeyDescription d, crypto::Describe(key));
  if (!d.has_private)
    return absl::InvalidArgumentError("key has no private part");
  HeldKey held;
  held.kind = d.type == crypto::KeyType::kRsa ? KeyKind::kRsa : KeyKind::kEc;
  held.bits = d.bits;
  held.curve = d.curve;
  ASSIGN_OR_RETURN(held.public_jwk, crypto::PublicKeyToJwk(key));
  ASSIGN_OR_RETURN(SecretBytes p8, crypto::PrivateKeyToPkcs8Der(key));
  RETURN_IF_ERROR(EncryptBlob(held, p8, binding));
  return held;
}

absl::StatusOr<HeldKey> SoftwareCustody::Generate(
    const KeyRequest& r, std::span<const uint8_t> binding) {
  RETURN_IF_ERROR(CheckKeyRequest(r));
  switch (r.kind) {
    case KeyKind::kRsa: {
      ASSIGN_OR_RETURN(crypto::EvpPkeyPtr k,
                       crypto::GenerateRsa(r.bits, r.public_exponent));
      return HoldPrivate(k.get(), binding);
    }
    case KeyKind::kEc: {
      ASSIGN_OR_RETURN(crypto::EvpPkeyPtr k, crypto::GenerateEc(*r.curve));
      return HoldPrivate(k.get(), binding);
    }
    case KeyKind::kOct: {
      ASSIGN_OR_RETURN(SecretBytes v, crypto::RandomSecret(r.bits / 8));
      return ImportSecret(v, binding, r.exportable);
    }
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<HeldKey> SoftwareCustody::ImportPrivate(
    EVP_PKEY* key, std::span<const uint8_t> binding, bool /*exportable*/) {
  return HoldPrivate(key, binding);
}

absl::StatusOr<HeldKey> SoftwareCustody::ImportSecret(
    const SecretBytes& key, std::span<const uint8_t> binding,
    bool /*exportable*/) {
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return absl::InvalidArgumentError("oct key must be 16, 24 or 32 bytes");
  }
  HeldKey held;
  held.kind = KeyKind::kOct;
  held.bits = static_cast<int>(key.size() * 8);
  RETURN_IF_ERROR(EncryptBlob(held, key, binding));
  return held;
}

absl::StatusOr<HeldKey> SoftwareCustody::ImportByok(
    const HeldKey& kek, std::span<const uint8_t> kek_binding,
    std::span<const uint8_t> ciphertext, const KeyRequest& expected,
    std::span<const uint8_t> binding) {
  if (kek.kind != KeyKind::kRsa) {
    return absl::InvalidArgumentError("the KEK is not an RSA key");
  }
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr kek_key, PrivateKey(kek, kek_binding));
  ASSIGN_OR_RETURN(SecretBytes payload,
                   byok::UnwrapWithKek(kek_key.get(), ciphertext));
  ASSIGN_OR_RETURN(
      byok::RecoveredKey rk,
      byok::DecodePayload(payload, expected.kind == KeyKind::kOct));
  RecoveredKeyInfo got;
  got.kind = rk.type == crypto::KeyType::kRsa  ? KeyKind::kRsa
             : rk.type == crypto::KeyType::kEc ? KeyKind::kEc
                                               : KeyKind::kOct;
  got.bits = rk.bits;
  got.curve = rk.curve;
  RETURN_IF_ERROR(CheckRecoveredKey(got, expected));
  if (got.kind == KeyKind::kOct) return ImportSecret(rk.secret, binding, expected.exportable);
  return HoldPrivate(rk.pkey.get(), binding);
}

absl::StatusOr<std::vector<uint8_t>> SoftwareCustody::Sign(
    const HeldKey& key, std::span<const uint8_t> binding, crypto::SignAlg alg,
    std::span<const uint8_t> digest) {
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr k, PrivateKey(key, binding));
  return crypto::SignDigest(k.get(), alg, digest);
}

absl::StatusOr<std::vector<uint8_t>> SoftwareCustody::WrapForRelease(
    const HeldKey& key, std::span<const uint8_t> binding,
    EVP_PKEY* wrapping_key, crypto::OaepHash hash) {
  // The key in its release encoding (PKCS#8 DER or raw oct bytes) is what
  // the blob holds; it lives in a SecretBytes only for the wrap.
  ASSIGN_OR_RETURN(SecretBytes plain, DecryptBlob(key, binding));
  return byok::WrapToKek(wrapping_key, plain, hash);
}

absl::StatusOr<crypto::EvpPkeyPtr> SoftwareCustody::RsaPublicKey(
    const HeldKey& held, std::span<const uint8_t> binding) const {
  if (held.public_jwk.empty()) return PrivateKey(held, binding);
  const std::span<const uint8_t> jwk = AsBytes(held.public_jwk);
  if (crypto::EvpPkeyPtr hit = public_keys_.Find(jwk, {})) return hit;
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, crypto::ParsePublicKey(jwk));
  public_keys_.Insert(jwk, {}, key.get());
  return key;
}

absl::StatusOr<CipherOutput> SoftwareCustody::Encrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& in) {
  RETURN_IF_ERROR(CheckCipherFits(key, in.alg));
  CipherOutput out;
  if (IsRsaCipher(in.alg)) {
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub, RsaPublicKey(key, binding));
    ASSIGN_OR_RETURN(out.value, RsaPublicEncrypt(pub.get(), in.alg, in.value));
    return out;
  }
  // Malformed input is refused before the key is decrypted.
  RETURN_IF_ERROR(CheckAesEncryptInput(in));
  ASSIGN_OR_RETURN(SecretBytes k, DecryptBlob(key, binding));
  if (IsAesGcm(in.alg)) {
    out.iv = in.iv;
    if (out.iv.empty()) {
      ASSIGN_OR_RETURN(out.iv, crypto::RandomBytes(crypto::kGcmNonceBytes));
    }
    ASSIGN_OR_RETURN(crypto::GcmCiphertext enc,
                     crypto::AesGcmEncrypt(k, out.iv, in.value, in.aad));
    out.value = std::move(enc.ciphertext);
    out.tag = std::move(enc.tag);
    return out;
  }
  if (IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) {
    out.iv = in.iv;
    if (out.iv.empty()) {
      ASSIGN_OR_RETURN(out.iv, crypto::RandomBytes(crypto::kCbcIvBytes));
    }
    ASSIGN_OR_RETURN(out.value, crypto::AesCbcEncrypt(k, out.iv, in.value,
                                                      CbcPaddingOf(in.alg)));
    return out;
  }
  // The plaintext of a key wrap is normally key material: keep it in a
  // zeroizing buffer while it is wrapped.
  SecretBytes plaintext(in.value);
  if (IsAesKw(in.alg)) {
    ASSIGN_OR_RETURN(out.value, crypto::KwWrap(k, plaintext));
  } else {
    ASSIGN_OR_RETURN(out.value, crypto::KwpWrap(k, plaintext));
  }
  return out;
}

absl::StatusOr<CipherOutput> SoftwareCustody::Decrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& in) {
  RETURN_IF_ERROR(CheckCipherFits(key, in.alg));
  RETURN_IF_ERROR(CheckAesDecryptInput(in));
  SecretBytes plaintext;
  if (IsRsaCipher(in.alg)) {
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr priv, PrivateKey(key, binding));
    ASSIGN_OR_RETURN(
        plaintext,
        in.alg == CipherAlg::kRsa15
            ? crypto::RsaPkcs1DecryptImplicitRejection(priv.get(), in.value)
            : crypto::RsaOaepDecrypt(priv.get(), OaepOf(in.alg), in.value));
  } else {
    ASSIGN_OR_RETURN(SecretBytes k, DecryptBlob(key, binding));
    if (IsAesGcm(in.alg)) {
      ASSIGN_OR_RETURN(
          plaintext, crypto::AesGcmDecrypt(k, in.iv, in.value, in.tag, in.aad));
    } else if (IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) {
      ASSIGN_OR_RETURN(plaintext, crypto::AesCbcDecrypt(k, in.iv, in.value,
                                                        CbcPaddingOf(in.alg)));
    } else if (IsAesKw(in.alg)) {
      ASSIGN_OR_RETURN(plaintext, crypto::KwUnwrap(k, in.value));
    } else {
      ASSIGN_OR_RETURN(plaintext, crypto::KwpUnwrap(k, in.value));
    }
  }
  CipherOutput out;
  out.value = PlainCopy(plaintext);
  return out;
}

absl::StatusOr<HeldKey> SoftwareCustody::Rebind(
    const HeldKey& key, std::span<const uint8_t> old_binding,
    std::span<const uint8_t> new_binding) {
  ASSIGN_OR_RETURN(SecretBytes material, DecryptBlob(key, old_binding));
  HeldKey moved = key;
  RETURN_IF_ERROR(EncryptBlob(moved, material, new_binding));
  return moved;
}

absl::StatusOr<std::vector<uint8_t>> SoftwareCustody::AuthenticateRecord(
    std::span<const uint8_t> record) {
  return crypto::HmacSha256(record_key_, record);
}

absl::Status SoftwareCustody::VerifyRecord(std::span<const uint8_t> record,
                                           std::span<const uint8_t> tag) {
  return crypto::VerifyHmacSha256(record_key_, record, tag);
}

void SoftwareCustody::ForgetCachedKeys() { private_keys_.Clear(); }

}  // namespace keyferry::custody
