// Pkcs11Custody: keys made in the token or brought into it (JWK import,
// BYOK), each ending as a blob (Hold).
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/envelope.h"
#include "crypto/aes_wrap.h"
#include "crypto/ec_recover.h"
#include "crypto/random.h"
#include "custody/cipher_rules.h"
#include "custody/pkcs11_internal.h"
#include "hsm/errors.h"
#include "hsm/mechanisms.h"
#include "hsm/templates.h"

namespace keyferry::custody {

using hsm::ObjectHandle;
using hsm::ScopedObject;
using hsm::Session;

absl::StatusOr<std::string> Pkcs11Custody::EcPublicJwk(Session& s,
                                                       ObjectHandle priv,
                                                       crypto::Curve curve) {
  const size_t n = curve == crypto::Curve::kP521   ? 64
                   : curve == crypto::Curve::kP384 ? 48
                                                   : 32;
  ASSIGN_OR_RETURN(std::vector<uint8_t> d1, crypto::RandomBytes(n));
  ASSIGN_OR_RETURN(std::vector<uint8_t> d2, crypto::RandomBytes(n));
  ASSIGN_OR_RETURN(std::vector<uint8_t> s1, s.Sign({hsm::kEcdsa}, priv, d1));
  ASSIGN_OR_RETURN(std::vector<uint8_t> s2, s.Sign({hsm::kEcdsa}, priv, d2));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                   crypto::RecoverEcPublicKey(curve, d1, s1, d2, s2));
  return crypto::PublicKeyToJwk(pub.get());
}

absl::StatusOr<HeldKey> Pkcs11Custody::Generate(
    const KeyRequest& r, std::span<const uint8_t> binding) {
  RETURN_IF_ERROR(CheckKeyRequest(r));
  ASSIGN_OR_RETURN(Lease lease, pool_->Borrow(/*check=*/true));
  Session& s = *lease;
  HeldKey held;
  held.kind = r.kind;
  switch (r.kind) {
    case KeyKind::kRsa: {
      std::vector<uint8_t> e;
      for (int shift : {24, 16, 8, 0}) {
        uint8_t b = static_cast<uint8_t>(r.public_exponent >> shift);
        if (!e.empty() || b != 0) e.push_back(b);
      }
      auto pair = s.GenerateKeyPair(
          {hsm::kRsaPkcsKeyPairGen}, hsm::RsaPublicGenTemplate(r.bits, e),
          hsm::PrivateKeyTemplate(crypto::KeyType::kRsa, true, false));
      if (!pair.ok() && r.public_exponent != 65537 &&
          !hsm::IsTokenFault(pair.status())) {
        // Some tokens generate no key with a small exponent (NIST SP
        // 800-56B asks for at least 65537): the token's limit, named.
        return absl::InvalidArgumentError(absl::StrCat(
            "this HSM does not generate RSA keys with public exponent ",
            r.public_exponent, " (", platform_,
            "): ", pair.status().message()));
      }
      if (!pair.ok()) return pair.status();
      (void)ScopedObject(s, pair->first).Reset();
      ScopedObject priv(s, pair->second);
      held.bits = r.bits;
      absl::StatusOr<std::vector<uint8_t>> n = hsm::ReadModulus(s, priv.get());
      absl::StatusOr<crypto::EvpPkeyPtr> pk =
          n.ok() ? crypto::RsaPublicFromParts(*n, e)
                 : absl::StatusOr<crypto::EvpPkeyPtr>(n.status());
      return HoldWithPublic(s, std::move(priv), std::move(held), std::move(pk),
                            binding);
    }
    case KeyKind::kEc: {
      if (*r.curve == crypto::Curve::kSecp256k1 && !limits_.secp256k1) {
        return absl::InvalidArgumentError(
            absl::StrCat("P-256K keys are not available: ", platform_,
                         " cannot generate secp256k1 keys"));
      }
      ASSIGN_OR_RETURN(
          auto pair,
          s.GenerateKeyPair(
              {hsm::kEcKeyPairGen}, hsm::EcPublicGenTemplate(*r.curve),
              hsm::PrivateKeyTemplate(crypto::KeyType::kEc, true, false)));
      ScopedObject priv(s, pair.second);
      absl::StatusOr<std::vector<uint8_t>> point;
      {
        ScopedObject pub(s, pair.first);
        point = hsm::ReadEcPoint(s, pub.get(), *r.curve);
      }
      if (!point.ok()) return point.status();
      held.curve = r.curve;
      held.bits = crypto::CurveBits(*r.curve);
      const size_t fb = static_cast<size_t>(crypto::CurveFieldBytes(*r.curve));
      std::span<const uint8_t> raw(*point);
      absl::StatusOr<crypto::EvpPkeyPtr> pk = crypto::EcPublicFromParts(
          *r.curve, raw.subspan(1, fb), raw.subspan(1 + fb, fb));
      return HoldWithPublic(s, std::move(priv), std::move(held), std::move(pk),
                            binding);
    }
    case KeyKind::kOct: {
      absl::StatusOr<ObjectHandle> h = s.GenerateKey(
          {hsm::kAesKeyGen}, hsm::AesKeyGenTemplate(r.bits / 8, true));
      if (!h.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("this HSM cannot generate a ", r.bits,
                         "-bit AES key: ", h.status().message()));
      }
      held.bits = r.bits;
      return Hold(s, ScopedObject(s, *h), std::move(held), binding);
    }
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<HeldKey> Pkcs11Custody::ImportPrivate(
    EVP_PKEY* key, std::span<const uint8_t> binding) {
  // The plaintext arrived over the API (JWK import): it goes into the token
  // as an extractable session object only long enough to be wrapped.
  ASSIGN_OR_RETURN(crypto::KeyDescription d, crypto::Describe(key));
  if (!d.has_private) {
    return absl::InvalidArgumentError("key has no private part");
  }
  if (d.curve == crypto::Curve::kSecp256k1 && !limits_.secp256k1) {
    return absl::InvalidArgumentError(
        absl::StrCat("P-256K keys are not available: ", platform_,
                     " does not support secp256k1"));
  }
  HeldKey held;
  held.kind = d.type == crypto::KeyType::kRsa ? KeyKind::kRsa : KeyKind::kEc;
  held.bits = d.bits;
  held.curve = d.curve;
  ASSIGN_OR_RETURN(held.public_jwk, crypto::PublicKeyToJwk(key));
  ASSIGN_OR_RETURN(SecretBytes p8, crypto::PrivateKeyToPkcs8Der(key));
  ASSIGN_OR_RETURN(Lease lease, pool_->Borrow(/*check=*/true));
  Session& s = *lease;
  // Into the token through an ephemeral AES key: C_UnwrapKey parses the
  // PKCS#8 inside the token, so no private component is set attribute by
  // attribute. The ephemeral key is a known-value session object that lives
  // for this call only.
  ASSIGN_OR_RETURN(SecretBytes ek, crypto::RandomSecret(32));
  absl::StatusOr<ObjectHandle> h;
  {
    ASSIGN_OR_RETURN(ObjectHandle eh,
                     s.CreateObject(hsm::AesValueTemplate(ek)));
    ScopedObject ephemeral(s, eh);
    absl::StatusOr<std::vector<uint8_t>> wrapped = crypto::KwpWrap(ek, p8);
    h = wrapped.ok() ? s.UnwrapKey({limits_.kwp_mechanism}, eh, *wrapped,
                                   hsm::PrivateKeyTemplate(
                                       p11::PrivateKeyType(held.kind), true))
                     : absl::StatusOr<ObjectHandle>(wrapped.status());
  }
  if (!h.ok()) return p11::Step(h.status(), "loading the key into the token");
  return Hold(s, ScopedObject(s, *h), std::move(held), binding);
}

absl::StatusOr<HeldKey> Pkcs11Custody::ImportSecret(
    const SecretBytes& key, std::span<const uint8_t> binding) {
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return absl::InvalidArgumentError("oct key must be 16, 24 or 32 bytes");
  }
  ASSIGN_OR_RETURN(Lease lease, pool_->Borrow(/*check=*/true));
  Session& s = *lease;
  ASSIGN_OR_RETURN(ObjectHandle h, s.CreateObject(hsm::AesValueTemplate(key)));
  HeldKey held;
  held.kind = KeyKind::kOct;
  held.bits = static_cast<int>(key.size() * 8);
  return Hold(s, ScopedObject(s, h), std::move(held), binding);
}

absl::StatusOr<ScopedObject> Pkcs11Custody::UnwrapByok(
    Session& s, ObjectHandle kek, std::span<const uint8_t> ciphertext, size_t k,
    const KeyRequest& expected) {
  hsm::Template target =
      expected.kind == KeyKind::kOct
          ? hsm::SecretKeyTemplate(true)
          : hsm::PrivateKeyTemplate(p11::PrivateKeyType(expected.kind), true);
  if (limits_.rsa_aes_key_wrap) {
    absl::StatusOr<ObjectHandle> got =
        s.UnwrapKey(hsm::RsaAesKeyWrap(256), kek, ciphertext, target);
    if (!got.ok()) {
      if (hsm::IsTokenFault(got.status())) {
        return p11::AsTokenFault(got.status(), "unwrapping the BYOK blob");
      }
      return absl::InvalidArgumentError(
          absl::StrCat("the token could not unwrap the BYOK blob with the KEK "
                       "(CKM_RSA_AES_KEY_WRAP): ",
                       got.status().message()));
    }
    return ScopedObject(s, *got);
  }
  absl::StatusOr<ObjectHandle> eh =
      s.UnwrapKey(hsm::RsaOaep(crypto::OaepHash::kSha1), kek,
                  ciphertext.subspan(0, k), hsm::TransferKeyTemplate());
  if (!eh.ok()) {
    if (hsm::IsTokenFault(eh.status())) {
      return p11::AsTokenFault(eh.status(), "decrypting the BYOK transfer key");
    }
    return absl::InvalidArgumentError(
        "the transfer key does not decrypt with the KEK (RSA-OAEP-SHA1 in "
        "the token failed): wrong KEK or damaged blob");
  }
  absl::StatusOr<ObjectHandle> got;
  {
    ScopedObject transfer(s, *eh);
    got = s.UnwrapKey({limits_.kwp_mechanism}, transfer.get(),
                      ciphertext.subspan(k), target);
  }
  if (!got.ok()) {
    if (hsm::IsTokenFault(got.status())) {
      return p11::AsTokenFault(got.status(), "unwrapping the BYOK target key");
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "the target key does not unwrap as ",
        expected.kind == KeyKind::kOct
            ? "an AES key"
            : absl::StrCat("an ", KeyKindName(expected.kind), " private key"),
        " (RFC 5649 in the token failed): the blob is damaged or kty does "
        "not match the key inside"));
  }
  return ScopedObject(s, *got);
}

absl::StatusOr<HeldKey> Pkcs11Custody::DescribeRecovered(
    Session& s, ObjectHandle obj, size_t unwrapped_bound,
    const KeyRequest& expected) {
  HeldKey held;
  held.kind = expected.kind;
  RecoveredKeyInfo got;
  got.kind = expected.kind;  // the token unwrapped it as that kind
  if (expected.kind != KeyKind::kOct) {
    // A token may parse the PKCS#8 into the key it holds whatever key type
    // the template asked for: the object's own type decides.
    ASSIGN_OR_RETURN(crypto::KeyType type, hsm::ReadKeyType(s, obj));
    if (type != p11::PrivateKeyType(expected.kind)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the target key in the blob is not an ", KeyKindName(expected.kind),
          " private key: kty does not match the key inside"));
    }
  }
  if (expected.kind == KeyKind::kOct) {
    // SoftHSM leaves CKA_VALUE_LEN of an unwrapped key unset (0). RFC 5649
    // then bounds the length: the token checked the MLI, which lies in
    // (|C2| - 16, |C2| - 8], a window holding one AES size at most
    // (|C2| - 8). Whether the key is that size and not another length in
    // the window, the token tells by encrypting one block with it: AES
    // refuses keys that are not 16, 24 or 32 bytes.
    absl::StatusOr<uint64_t> len = hsm::ReadValueLen(s, obj);
    uint64_t bytes = len.ok() ? *len : 0;
    if (bytes == 0) {
      bytes = unwrapped_bound;
      const std::vector<uint8_t> block(16, 0);
      if (!s.Encrypt({hsm::kAesEcb}, obj, block).ok()) bytes = 0;
    }
    held.bits = static_cast<int>(bytes * 8);
    if (held.bits != 128 && held.bits != 192 && held.bits != 256) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the AES key in the blob is not 16, 24 or 32 bytes long (",
          held.bits == 0 ? std::string("the token refuses it as an AES key")
                         : absl::StrCat(held.bits, " bits"),
          ")"));
    }
    got.bits = held.bits;
    RETURN_IF_ERROR(CheckRecoveredKey(got, expected));
  } else if (expected.kind == KeyKind::kRsa) {
    ASSIGN_OR_RETURN(hsm::RsaPublicParts parts, hsm::ReadRsaPublic(s, obj));
    size_t lead = 0;
    while (lead < parts.n.size() && parts.n[lead] == 0) ++lead;
    held.bits = static_cast<int>((parts.n.size() - lead) * 8);
    got.bits = held.bits;
    RETURN_IF_ERROR(CheckRecoveredKey(got, expected));
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pk,
                     crypto::RsaPublicFromParts(parts.n, parts.e));
    ASSIGN_OR_RETURN(held.public_jwk, crypto::PublicKeyToJwk(pk.get()));
  } else {
    ASSIGN_OR_RETURN(crypto::Curve curve, hsm::ReadEcCurve(s, obj));
    got.curve = curve;
    got.bits = crypto::CurveBits(curve);
    RETURN_IF_ERROR(CheckRecoveredKey(got, expected));
    held.curve = curve;
    held.bits = got.bits;
    ASSIGN_OR_RETURN(held.public_jwk, EcPublicJwk(s, obj, curve));
  }
  return held;
}

absl::StatusOr<HeldKey> Pkcs11Custody::ImportByok(
    const HeldKey& kek, std::span<const uint8_t> kek_binding,
    std::span<const uint8_t> ciphertext, const KeyRequest& expected,
    std::span<const uint8_t> binding) {
  if (kek.kind != KeyKind::kRsa) {
    return absl::InvalidArgumentError("the KEK is not an RSA key");
  }
  if (expected.curve == crypto::Curve::kSecp256k1 && !limits_.secp256k1) {
    return absl::InvalidArgumentError(
        absl::StrCat("P-256K keys are not available: ", platform_,
                     " does not support secp256k1"));
  }
  const size_t k = static_cast<size_t>(kek.bits / 8);
  RETURN_IF_ERROR(byok::CheckCiphertextLength(ciphertext.size(), k));
  ASSIGN_OR_RETURN(Lease lease, pool_->Borrow(/*check=*/true));
  Session& s = *lease;
  ASSIGN_OR_RETURN(std::shared_ptr<Resident> kek_obj, Use(s, kek, kek_binding));
  ASSIGN_OR_RETURN(ScopedObject obj,
                   UnwrapByok(s, kek_obj->handle(), ciphertext, k, expected));
  ASSIGN_OR_RETURN(
      HeldKey held,
      DescribeRecovered(s, obj.get(), ciphertext.size() - k - 8, expected));
  return Hold(s, std::move(obj), std::move(held), binding);
}

}  // namespace keyferry::custody
