#include "hsm/templates.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/encoding.h"
#include "base/status.h"
#include "crypto/random.h"
#include "hsm/keys.h"
#include "hsm/pkcs11.h"

namespace keyferry::hsm {
namespace {

// The wrapping master key's CKA_UNWRAP_TEMPLATE. The CK_ATTRIBUTE array is
// copied into the template as bytes, so the values it points at are static.
const CK_BBOOL kTrue = CK_TRUE;
const CK_BBOOL kFalse = CK_FALSE;
const CK_ATTRIBUTE kUnwrapTemplate[] = {
    {CKA_TOKEN, const_cast<CK_BBOOL*>(&kFalse), sizeof kFalse},
    {CKA_SENSITIVE, const_cast<CK_BBOOL*>(&kTrue), sizeof kTrue},
    {CKA_EXTRACTABLE, const_cast<CK_BBOOL*>(&kFalse), sizeof kFalse},
};
// The exportable master's: sensitive (never readable in the clear) but
// extractable, so the token can wrap it for Secure Key Release.
const CK_ATTRIBUTE kExportUnwrapTemplate[] = {
    {CKA_TOKEN, const_cast<CK_BBOOL*>(&kFalse), sizeof kFalse},
    {CKA_SENSITIVE, const_cast<CK_BBOOL*>(&kTrue), sizeof kTrue},
    {CKA_EXTRACTABLE, const_cast<CK_BBOOL*>(&kTrue), sizeof kTrue},
};

CK_KEY_TYPE MasterKeyType(MasterKeyRole role) {
  return role == MasterKeyRole::kMac ? CKK_GENERIC_SECRET : CKK_AES;
}

// Strips the DER OCTET STRING a token may wrap CKA_EC_POINT in.
std::span<const uint8_t> EcPointBytes(std::span<const uint8_t> v,
                                      size_t field_bytes) {
  const size_t raw = 1 + 2 * field_bytes;
  if (v.size() == raw && v[0] == 0x04) return v;
  if (v.size() > 2 && v[0] == 0x04) {
    size_t len = 0, off = 2;
    if (v[1] < 0x80) {
      len = v[1];
    } else if (v[1] == 0x81 && v.size() > 3) {
      len = v[2];
      off = 3;
    }
    if (len == raw && off + len == v.size()) return v.subspan(off);
  }
  return {};
}

// Ulong reads a CK_ULONG attribute of `t`, if present.
std::optional<CK_ULONG> UlongIn(const Template& t, uint64_t type) {
  for (const Attr& a : t) {
    if (a.type != type) continue;
    auto v = a.value.data(SecretAccess::Get());
    if (v.size() != sizeof(CK_ULONG)) return std::nullopt;
    CK_ULONG out;
    std::memcpy(&out, v.data(), sizeof out);
    return out;
  }
  return std::nullopt;
}

}  // namespace

bool HoldsStandInPublicValue(Session& s, ObjectHandle h) {
  return s.GetAttribute(h, kNssDbAttribute).ok();
}

absl::StatusOr<Template> DemandedByTokens(const Template& t) {
  Template extras;
  if (UlongIn(t, CKA_CLASS) != CKO_PRIVATE_KEY ||
      UlongIn(t, CKA_KEY_TYPE) != CKK_EC) {
    return extras;
  }
  if (std::any_of(t.begin(), t.end(),
                  [](const Attr& a) { return a.type == kNssDbAttribute; })) {
    return extras;
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> id, crypto::RandomBytes(32));
  extras.push_back(Attr::Bytes(kNssDbAttribute, id));
  return extras;
}

Template PrivateKeyTemplate(crypto::KeyType kind, bool extractable,
                            bool with_class) {
  const bool rsa = kind == crypto::KeyType::kRsa;
  Template t;
  if (with_class) {
    t.push_back(Attr::Ulong(CKA_CLASS, CKO_PRIVATE_KEY));
    t.push_back(Attr::Ulong(CKA_KEY_TYPE, rsa ? CKK_RSA : CKK_EC));
  }
  t.push_back(Attr::Bool(CKA_TOKEN, false));
  t.push_back(Attr::Bool(CKA_PRIVATE, true));
  t.push_back(Attr::Bool(CKA_SENSITIVE, true));
  t.push_back(Attr::Bool(CKA_EXTRACTABLE, extractable));
  t.push_back(Attr::Bool(CKA_SIGN, true));
  t.push_back(Attr::Bool(CKA_DECRYPT, rsa));
  t.push_back(Attr::Bool(CKA_UNWRAP, rsa));
  t.push_back(Attr::Bool(CKA_DERIVE, false));
  return t;
}

Template SecretKeyTemplate(bool extractable) {
  return {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
          Attr::Ulong(CKA_KEY_TYPE, CKK_AES),
          Attr::Bool(CKA_TOKEN, false),
          Attr::Bool(CKA_PRIVATE, true),
          Attr::Bool(CKA_SENSITIVE, true),
          Attr::Bool(CKA_EXTRACTABLE, extractable),
          Attr::Bool(CKA_ENCRYPT, true),
          Attr::Bool(CKA_DECRYPT, true),
          Attr::Bool(CKA_WRAP, true),
          Attr::Bool(CKA_UNWRAP, true),
          Attr::Bool(CKA_SIGN, false),
          Attr::Bool(CKA_VERIFY, false),
          Attr::Bool(CKA_DERIVE, false)};
}

Template AesKeyGenTemplate(size_t bytes, bool extractable) {
  Template t = SecretKeyTemplate(extractable);
  t.push_back(Attr::Ulong(CKA_VALUE_LEN, bytes));
  return t;
}

Template AesValueTemplate(const SecretBytes& value) {
  Template t = SecretKeyTemplate(true);
  t.push_back(Attr::Secret(CKA_VALUE, value));
  return t;
}

Template RsaPublicGenTemplate(uint64_t bits, std::span<const uint8_t> e) {
  return {
      Attr::Bool(CKA_TOKEN, false),        Attr::Bool(CKA_ENCRYPT, true),
      Attr::Bool(CKA_VERIFY, true),        Attr::Bool(CKA_WRAP, false),
      Attr::Ulong(CKA_MODULUS_BITS, bits), Attr::Bytes(CKA_PUBLIC_EXPONENT, e)};
}

Template EcPublicGenTemplate(crypto::Curve curve) {
  return {Attr::Bool(CKA_TOKEN, false), Attr::Bool(CKA_VERIFY, true),
          Attr::Bytes(CKA_EC_PARAMS, CurveOidDer(curve))};
}

Template DataObjectTemplate() {
  return {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
          Attr::Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
          Attr::Bool(CKA_TOKEN, false),
          Attr::Bool(CKA_PRIVATE, true),
          Attr::Bool(CKA_SENSITIVE, false),
          Attr::Bool(CKA_EXTRACTABLE, true),
          Attr::Bool(CKA_ENCRYPT, false),
          Attr::Bool(CKA_DECRYPT, false),
          Attr::Bool(CKA_SIGN, false),
          Attr::Bool(CKA_VERIFY, false),
          Attr::Bool(CKA_WRAP, false),
          Attr::Bool(CKA_UNWRAP, false),
          Attr::Bool(CKA_DERIVE, false)};
}

Template DataObjectTemplate(const SecretBytes& value) {
  Template t = DataObjectTemplate();
  t.push_back(Attr::Secret(CKA_VALUE, value));
  return t;
}

Template TransferKeyTemplate() {
  return {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
          Attr::Ulong(CKA_KEY_TYPE, CKK_AES),
          Attr::Bool(CKA_TOKEN, false),
          Attr::Bool(CKA_PRIVATE, true),
          Attr::Bool(CKA_SENSITIVE, true),
          Attr::Bool(CKA_EXTRACTABLE, false),
          Attr::Bool(CKA_UNWRAP, true),
          Attr::Bool(CKA_WRAP, false),
          Attr::Bool(CKA_ENCRYPT, false),
          Attr::Bool(CKA_DECRYPT, false)};
}

Template MasterKeyMatch(MasterKeyRole role, std::string_view label) {
  return {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
          Attr::Ulong(CKA_KEY_TYPE, MasterKeyType(role)),
          Attr::String(CKA_LABEL, label), Attr::Bool(CKA_TOKEN, true)};
}

Template MasterKeyTemplate(MasterKeyRole role, std::string_view label) {
  Template t = {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
                Attr::Ulong(CKA_KEY_TYPE, MasterKeyType(role)),
                Attr::String(CKA_LABEL, label),
                Attr::Bool(CKA_TOKEN, true),
                Attr::Bool(CKA_PRIVATE, true),
                Attr::Bool(CKA_SENSITIVE, true),
                Attr::Bool(CKA_EXTRACTABLE, false),
                Attr::Bool(CKA_MODIFIABLE, false),
                Attr::Bool(CKA_DERIVE, false),
                Attr::Ulong(CKA_VALUE_LEN, 32)};
  const bool wraps =
      role == MasterKeyRole::kWrap || role == MasterKeyRole::kExportWrap;
  const std::vector<CK_ATTRIBUTE_TYPE> usages =
      wraps                         ? std::vector{CKA_WRAP, CKA_UNWRAP}
      : role == MasterKeyRole::kMac ? std::vector{CKA_SIGN, CKA_VERIFY}
                                    : std::vector{CKA_ENCRYPT, CKA_DECRYPT};
  for (CK_ATTRIBUTE_TYPE a :
       {CKA_WRAP, CKA_UNWRAP, CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY}) {
    t.push_back(Attr::Bool(
        a, std::find(usages.begin(), usages.end(), a) != usages.end()));
  }
  if (role == MasterKeyRole::kWrap) {
    t.push_back(
        Attr::Bytes(CKA_UNWRAP_TEMPLATE,
                    std::span<const uint8_t>(
                        reinterpret_cast<const uint8_t*>(kUnwrapTemplate),
                        sizeof kUnwrapTemplate)));
  } else if (role == MasterKeyRole::kExportWrap) {
    t.push_back(
        Attr::Bytes(CKA_UNWRAP_TEMPLATE,
                    std::span<const uint8_t>(
                        reinterpret_cast<const uint8_t*>(kExportUnwrapTemplate),
                        sizeof kExportUnwrapTemplate)));
  }
  return t;
}

Mechanism MasterKeyGenMechanism(MasterKeyRole role) {
  return {MasterKeyType(role) == CKK_AES ? CKM_AES_KEY_GEN
                                         : CKM_GENERIC_SECRET_KEY_GEN};
}

Template EphemeralWrapKeyTemplate(size_t bytes) {
  return {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
          Attr::Ulong(CKA_KEY_TYPE, CKK_AES),
          Attr::Ulong(CKA_VALUE_LEN, bytes),
          Attr::Bool(CKA_TOKEN, false),
          Attr::Bool(CKA_PRIVATE, true),
          Attr::Bool(CKA_SENSITIVE, true),
          Attr::Bool(CKA_EXTRACTABLE, true),
          Attr::Bool(CKA_MODIFIABLE, false),
          Attr::Bool(CKA_WRAP, true),
          Attr::Bool(CKA_UNWRAP, false),
          Attr::Bool(CKA_ENCRYPT, false),
          Attr::Bool(CKA_DECRYPT, false),
          Attr::Bool(CKA_SIGN, false),
          Attr::Bool(CKA_VERIFY, false),
          Attr::Bool(CKA_DERIVE, false)};
}

Template TestSecretTemplate(const SecretBytes& value, bool aes_wrapping_key) {
  return {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
          Attr::Ulong(CKA_KEY_TYPE,
                      aes_wrapping_key ? CKK_AES : CKK_GENERIC_SECRET),
          Attr::Bool(CKA_TOKEN, false),
          Attr::Bool(CKA_SENSITIVE, false),
          Attr::Bool(CKA_EXTRACTABLE, true),
          Attr::Bool(CKA_WRAP, aes_wrapping_key),
          Attr::Bool(CKA_UNWRAP, aes_wrapping_key),
          Attr::Bool(CKA_ENCRYPT, false),
          Attr::Bool(CKA_DECRYPT, false),
          Attr::Bool(CKA_SIGN, false),
          Attr::Bool(CKA_VERIFY, false),
          Attr::Secret(CKA_VALUE, value)};
}

Template TestSecretUnwrapTemplate() {
  return {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
          Attr::Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
          Attr::Bool(CKA_TOKEN, false), Attr::Bool(CKA_SENSITIVE, false),
          Attr::Bool(CKA_EXTRACTABLE, true)};
}

Template TestEcPublicTemplate(crypto::Curve curve) {
  return {Attr::Ulong(CKA_CLASS, CKO_PUBLIC_KEY),
          Attr::Ulong(CKA_KEY_TYPE, CKK_EC), Attr::Bool(CKA_TOKEN, false),
          Attr::Bytes(CKA_EC_PARAMS, CurveOidDer(curve))};
}

Template TestEcPrivateTemplate() {
  return {Attr::Ulong(CKA_CLASS, CKO_PRIVATE_KEY),
          Attr::Ulong(CKA_KEY_TYPE, CKK_EC),
          Attr::Bool(CKA_TOKEN, false),
          Attr::Bool(CKA_SENSITIVE, false),
          Attr::Bool(CKA_EXTRACTABLE, true),
          Attr::Bool(CKA_SIGN, false)};
}

absl::StatusOr<std::vector<ObjectHandle>> FindTokenObjects(Session& s) {
  return s.Find({Attr::Bool(CKA_TOKEN, true)});
}

absl::StatusOr<std::string> ReadLabel(Session& s, ObjectHandle h) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> label, s.GetAttribute(h, CKA_LABEL));
  return AsString(label);
}

absl::StatusOr<RsaPublicParts> ReadRsaPublic(Session& s, ObjectHandle h) {
  RsaPublicParts p;
  ASSIGN_OR_RETURN(p.n, s.GetAttribute(h, CKA_MODULUS));
  ASSIGN_OR_RETURN(p.e, s.GetAttribute(h, CKA_PUBLIC_EXPONENT));
  return p;
}

absl::StatusOr<std::vector<uint8_t>> ReadModulus(Session& s, ObjectHandle h) {
  return s.GetAttribute(h, CKA_MODULUS);
}

absl::StatusOr<crypto::Curve> ReadEcCurve(Session& s, ObjectHandle h) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> der, s.GetAttribute(h, CKA_EC_PARAMS));
  for (crypto::Curve c : {crypto::Curve::kP256, crypto::Curve::kP384,
                          crypto::Curve::kP521, crypto::Curve::kSecp256k1}) {
    std::span<const uint8_t> oid = CurveOidDer(c);
    if (std::equal(oid.begin(), oid.end(), der.begin(), der.end())) return c;
  }
  return absl::InvalidArgumentError(
      "the EC key is on a curve keyferryd does not support");
}

absl::StatusOr<std::vector<uint8_t>> ReadEcPoint(Session& s, ObjectHandle h,
                                                 crypto::Curve curve) {
  absl::StatusOr<std::vector<uint8_t>> point = s.GetAttribute(h, CKA_EC_POINT);
  const size_t fb = static_cast<size_t>(crypto::CurveFieldBytes(curve));
  std::span<const uint8_t> raw =
      point.ok() ? EcPointBytes(*point, fb) : std::span<const uint8_t>();
  if (raw.empty()) {
    return absl::InternalError("the token returned no usable EC point");
  }
  return std::vector<uint8_t>(raw.begin(), raw.end());
}

absl::StatusOr<crypto::KeyType> ReadKeyType(Session& s, ObjectHandle h) {
  ASSIGN_OR_RETURN(uint64_t type, s.GetUlong(h, CKA_KEY_TYPE));
  switch (type) {
    case CKK_RSA:
      return crypto::KeyType::kRsa;
    case CKK_EC:
      return crypto::KeyType::kEc;
    case CKK_AES:
      return crypto::KeyType::kAes;
    default:
      return absl::InvalidArgumentError(
          "the key is of a type keyferryd does not support");
  }
}

absl::StatusOr<uint64_t> ReadValueLen(Session& s, ObjectHandle h) {
  return s.GetUlong(h, CKA_VALUE_LEN);
}

absl::StatusOr<SecretBytes> ReadSecretValue(Session& s, ObjectHandle h) {
  return s.GetSecretAttribute(h, CKA_VALUE);
}

absl::StatusOr<bool> IsExtractable(Session& s, ObjectHandle h) {
  return s.GetBool(h, CKA_EXTRACTABLE);
}

}  // namespace keyferry::hsm
