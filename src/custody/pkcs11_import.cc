// Pkcs11Custody: keys made in the token or brought into it (JWK import,
// BYOK), each ending as a blob (Hold).
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/envelope.h"
#include "byok/token_unwrap.h"
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
                            binding, r.exportable);
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
                            binding, r.exportable);
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
      return Hold(s, ScopedObject(s, *h), std::move(held), binding,
                  r.exportable);
    }
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<HeldKey> Pkcs11Custody::ImportPrivate(
    EVP_PKEY* key, std::span<const uint8_t> binding, bool exportable) {
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
  return Hold(s, ScopedObject(s, *h), std::move(held), binding, exportable);
}

absl::StatusOr<HeldKey> Pkcs11Custody::ImportSecret(
    const SecretBytes& key, std::span<const uint8_t> binding,
    bool exportable) {
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return absl::InvalidArgumentError("oct key must be 16, 24 or 32 bytes");
  }
  ASSIGN_OR_RETURN(Lease lease, pool_->Borrow(/*check=*/true));
  Session& s = *lease;
  ASSIGN_OR_RETURN(ObjectHandle h, s.CreateObject(hsm::AesValueTemplate(key)));
  HeldKey held;
  held.kind = KeyKind::kOct;
  held.bits = static_cast<int>(key.size() * 8);
  return Hold(s, ScopedObject(s, h), std::move(held), binding, exportable);
}

absl::StatusOr<HeldKey> Pkcs11Custody::DescribeRecovered(
    Session& s, ObjectHandle obj, size_t unwrapped_bound,
    const KeyRequest& expected) {
  const crypto::KeyType type = expected.kind == KeyKind::kOct
                                   ? crypto::KeyType::kAes
                                   : p11::PrivateKeyType(expected.kind);
  ASSIGN_OR_RETURN(byok::UnwrappedKey got_key,
                   byok::DescribeUnwrapped(s, obj, type, unwrapped_bound));
  HeldKey held;
  held.kind = expected.kind;
  held.bits = got_key.bits;
  held.curve = got_key.curve;
  RecoveredKeyInfo got;
  got.kind = expected.kind;  // the token unwrapped it as that kind
  got.bits = got_key.bits;
  got.curve = got_key.curve;
  RETURN_IF_ERROR(CheckRecoveredKey(got, expected));
  if (expected.kind == KeyKind::kRsa) {
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pk,
                     crypto::RsaPublicFromParts(got_key.rsa.n, got_key.rsa.e));
    ASSIGN_OR_RETURN(held.public_jwk, crypto::PublicKeyToJwk(pk.get()));
  } else if (expected.kind == KeyKind::kEc) {
    ASSIGN_OR_RETURN(held.public_jwk, EcPublicJwk(s, obj, *got_key.curve));
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
  byok::TokenUnwrapRoute route;
  route.native = limits_.rsa_aes_key_wrap;
  route.kwp_mechanism = limits_.kwp_mechanism;
  ASSIGN_OR_RETURN(
      byok::TokenUnwrapper unwrapper,
      byok::TokenUnwrapper::Open(s, kek_obj->handle(), k, ciphertext, route));
  const hsm::Template target =
      expected.kind == KeyKind::kOct
          ? hsm::SecretKeyTemplate(true)
          : hsm::PrivateKeyTemplate(p11::PrivateKeyType(expected.kind), true);
  ASSIGN_OR_RETURN(
      ScopedObject obj,
      unwrapper.Unwrap(target, expected.kind == KeyKind::kOct
                                   ? crypto::KeyType::kAes
                                   : p11::PrivateKeyType(expected.kind)));
  ASSIGN_OR_RETURN(
      HeldKey held,
      DescribeRecovered(s, obj.get(), unwrapper.payload_bound(), expected));
  return Hold(s, std::move(obj), std::move(held), binding,
              expected.exportable);
}

}  // namespace keyferry::custody
