#include "hsm/keys.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/random.h"
#include "hsm/errors.h"
#include "hsm/pkcs11.h"

namespace keyferry::hsm {
namespace {

struct FlagDef {
  const char* name;
  bool KeyFlags::*field;
  CK_ATTRIBUTE_TYPE attr;
  bool settable;
};

// The order of ListKeyFlags.
constexpr FlagDef kFlags[] = {
    {"sensitive", &KeyFlags::sensitive, CKA_SENSITIVE, true},
    {"extractable", &KeyFlags::extractable, CKA_EXTRACTABLE, true},
    {"modifiable", &KeyFlags::modifiable, CKA_MODIFIABLE, true},
    {"copyable", &KeyFlags::copyable, CKA_COPYABLE, true},
    {"destroyable", &KeyFlags::destroyable, CKA_DESTROYABLE, true},
    {"token", &KeyFlags::token, CKA_TOKEN, true},
    {"private", &KeyFlags::private_, CKA_PRIVATE, true},
    {"encrypt", &KeyFlags::encrypt, CKA_ENCRYPT, true},
    {"decrypt", &KeyFlags::decrypt, CKA_DECRYPT, true},
    {"sign", &KeyFlags::sign, CKA_SIGN, true},
    {"verify", &KeyFlags::verify, CKA_VERIFY, true},
    {"wrap", &KeyFlags::wrap, CKA_WRAP, true},
    {"unwrap", &KeyFlags::unwrap, CKA_UNWRAP, true},
    {"derive", &KeyFlags::derive, CKA_DERIVE, true},
    {"wrapwithtrusted", &KeyFlags::wrapwithtrusted, CKA_WRAP_WITH_TRUSTED,
     true},
    {"trusted", &KeyFlags::trusted, CKA_TRUSTED, true},
    {"local", &KeyFlags::local, CKA_LOCAL, false},
    {"alwayssensitive", &KeyFlags::alwayssensitive, CKA_ALWAYS_SENSITIVE,
     false},
    {"neverextractable", &KeyFlags::neverextractable, CKA_NEVER_EXTRACTABLE,
     false},
};

constexpr uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr uint8_t kP384Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr uint8_t kP521Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
constexpr uint8_t kK256Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};

// Which attributes apply to which object: a public key has no CKA_SIGN in
// SoftHSM's sense, a private key no CKA_ENCRYPT, and so on.
bool Applies(CK_ATTRIBUTE_TYPE a, CK_OBJECT_CLASS klass) {
  switch (a) {
    case CKA_SENSITIVE:
    case CKA_EXTRACTABLE:
    case CKA_WRAP_WITH_TRUSTED:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
      return klass != CKO_PUBLIC_KEY;
    case CKA_ENCRYPT:
    case CKA_VERIFY:
    case CKA_WRAP:
    case CKA_TRUSTED:
      return klass != CKO_PRIVATE_KEY;
    case CKA_DECRYPT:
    case CKA_SIGN:
    case CKA_UNWRAP:
      return klass != CKO_PUBLIC_KEY;
    default:
      return true;
  }
}

Template FlagTemplate(const KeyFlags& f, CK_OBJECT_CLASS klass) {
  Template t;
  for (const auto& d : kFlags) {
    if (!d.settable || !Applies(d.attr, klass)) continue;
    // CKA_TRUSTED can only be set by the SO; leave it out unless asked.
    if (d.attr == CKA_TRUSTED && !(f.*d.field)) continue;
    t.push_back(Attr::Bool(d.attr, f.*d.field));
  }
  return t;
}

// The PKCS#11 2.40 attributes CKA_COPYABLE and CKA_DESTROYABLE: a token
// that implements an older standard for its stored objects fails to make a
// token object that carries them (NSS softokn 3.87: CKR_GENERAL_ERROR for
// token objects; others: CKR_ATTRIBUTE_TYPE_INVALID).
constexpr CK_ATTRIBUTE_TYPE k240Attributes[] = {CKA_COPYABLE, CKA_DESTROYABLE};

bool Has240Attributes(const Template& t) {
  return std::any_of(t.begin(), t.end(), [](const Attr& a) {
    return std::find(std::begin(k240Attributes), std::end(k240Attributes),
                     a.type) != std::end(k240Attributes);
  });
}

bool IsTokenObject(const Template& t) {
  return std::any_of(t.begin(), t.end(), [](const Attr& a) {
    auto v = a.value.data(SecretAccess::Get());
    return a.type == CKA_TOKEN && v.size() == 1 && v[0] == CK_TRUE;
  });
}

// CannotKeep240Attributes tells whether a failure to make the token object
// of template `t` may be the token's inability to store the 2.40
// attributes (confirmed after the retry by Lacks240Attributes). An unwrap
// whose retry with the attributes tokens demand (Session::UnwrapKey) failed
// so reports its first answer, CKR_TEMPLATE_INCOMPLETE (NSS softokn, EC).
bool CannotKeep240Attributes(const absl::Status& st, const Template& t) {
  std::optional<unsigned long> rv = GetCkr(st);
  return rv &&
         (*rv == CKR_GENERAL_ERROR || *rv == CKR_ATTRIBUTE_TYPE_INVALID ||
          *rv == CKR_TEMPLATE_INCOMPLETE) &&
         IsTokenObject(t) && Has240Attributes(t);
}

// Lacks240Attributes tells whether the token answers
// CKR_ATTRIBUTE_TYPE_INVALID for both attributes of object `h`, i.e. it
// does not know them (rather than having failed for another reason).
bool Lacks240Attributes(Session& s, ObjectHandle h) {
  for (CK_ATTRIBUTE_TYPE a : k240Attributes) {
    absl::StatusOr<bool> v = s.GetBool(h, a);
    // Session::GetBool: NotFound is CKR_ATTRIBUTE_TYPE_INVALID.
    if (v.ok() || !absl::IsNotFound(v.status())) return false;
  }
  return true;
}

// Drop240Attributes removes them from `t` and names the flags removed.
std::vector<std::string> Drop240Attributes(Template& t) {
  std::vector<std::string> names;
  for (auto it = t.begin(); it != t.end();) {
    if (it->type == CKA_COPYABLE || it->type == CKA_DESTROYABLE) {
      names.push_back(it->type == CKA_COPYABLE ? "copyable" : "destroyable");
      it = t.erase(it);
    } else {
      ++it;
    }
  }
  return names;
}

void Append(Template& t, Template more) {
  for (auto& a : more) t.push_back(std::move(a));
}

}  // namespace

KeyFlags DefaultFlags(KeyKind kind) {
  KeyFlags f;
  switch (kind) {
    case KeyKind::kRsa:
      f.sign = f.verify = f.decrypt = f.encrypt = true;
      break;
    case KeyKind::kEc:
      f.sign = f.verify = true;
      break;
    case KeyKind::kAes:
      f.encrypt = f.decrypt = f.wrap = f.unwrap = true;
      break;
  }
  return f;
}

absl::StatusOr<KeyFlags> ParseFlags(std::string_view text, KeyFlags base) {
  for (absl::string_view word :
       absl::StrSplit(Sv(text), absl::ByAnyChar(", "), absl::SkipEmpty())) {
    std::string w = absl::AsciiStrToLower(word);
    bool value = true;
    std::string name = w;
    if (w.rfind("non", 0) == 0) {
      value = false;
      name = w.substr(3);
    }
    const FlagDef* def = nullptr;
    for (const auto& d : kFlags) {
      if (name == d.name) def = &d;
    }
    // "nonextractable" must not be read as non + "extractable" twice, and
    // no flag name itself starts with "non".
    if (def == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", word, "'"));
    }
    if (!def->settable) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag '", word, "' is reported by the token, not set"));
    }
    base.*(def->field) = value;
  }
  return base;
}

std::string FormatFlags(const KeyFlags& f) {
  std::string out;
  for (const auto& d : kFlags) {
    if (!out.empty()) out += ' ';
    if (std::find(f.unknown.begin(), f.unknown.end(), d.name) !=
        f.unknown.end()) {
      absl::StrAppend(&out, d.name, "=?");
      continue;
    }
    absl::StrAppend(&out, (f.*d.field) ? "" : "non", d.name);
  }
  return out;
}

std::span<const uint8_t> CurveOidDer(EcCurve c) {
  switch (c) {
    case EcCurve::kP256:
      return kP256Oid;
    case EcCurve::kP384:
      return kP384Oid;
    case EcCurve::kP521:
      return kP521Oid;
    case EcCurve::kSecp256k1:
      return kK256Oid;
  }
  return {};
}

absl::StatusOr<KeySpec> ParseKeySpec(std::string_view type,
                                     std::optional<int> size,
                                     std::optional<std::string_view> curve) {
  std::string t = absl::AsciiStrToLower(Sv(type));
  KeySpec spec;
  if (t == "rsa") {
    spec.kind = KeyKind::kRsa;
    spec.bits = size.value_or(2048);
    if (spec.bits != 2048 && spec.bits != 3072 && spec.bits != 4096) {
      return absl::InvalidArgumentError("RSA size must be 2048, 3072 or 4096");
    }
    if (curve) return absl::InvalidArgumentError("--curve is for EC keys");
  } else if (t == "ec") {
    spec.kind = KeyKind::kEc;
    if (!curve) {
      return absl::InvalidArgumentError(
          "EC keys need --curve (P-256, P-384, P-521 or secp256k1)");
    }
    ASSIGN_OR_RETURN(EcCurve c, crypto::ParseCurve(*curve));
    spec.curve = c;
    spec.bits =
        crypto::CurveFieldBytes(c) == 66 ? 521 : crypto::CurveFieldBytes(c) * 8;
    if (size && *size != spec.bits) {
      return absl::InvalidArgumentError("--size does not match the curve");
    }
  } else if (t == "aes") {
    spec.kind = KeyKind::kAes;
    spec.bits = size.value_or(256);
    if (spec.bits != 128 && spec.bits != 192 && spec.bits != 256) {
      return absl::InvalidArgumentError("AES size must be 128, 192 or 256");
    }
    if (curve) return absl::InvalidArgumentError("--curve is for EC keys");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown key type '", Sv(type), "' (rsa, ec or aes)"));
  }
  spec.flags = DefaultFlags(spec.kind);
  return spec;
}

std::vector<std::string> FlagsChangedByToken(
    const KeyFlags& asked, const KeyFlags& got, KeyKind kind,
    const std::vector<std::string>& skip) {
  CK_OBJECT_CLASS klass =
      kind == KeyKind::kAes ? CKO_SECRET_KEY : CKO_PRIVATE_KEY;
  std::vector<std::string> changed;
  for (const auto& d : kFlags) {
    if (!d.settable || !Applies(d.attr, klass)) continue;
    if (asked.*d.field == got.*d.field) continue;
    if (std::find(skip.begin(), skip.end(), d.name) != skip.end()) continue;
    changed.push_back(absl::StrCat(got.*d.field ? "" : "non", d.name));
  }
  return changed;
}

absl::Status NameRefusedCurve(const absl::Status& status, EcCurve c) {
  std::optional<unsigned long> rv = GetCkr(status);
  if (!rv ||
      (*rv != CKR_DOMAIN_PARAMS_INVALID && *rv != CKR_CURVE_NOT_SUPPORTED)) {
    return status;
  }
  std::string name(c == EcCurve::kSecp256k1 ? "secp256k1"
                                            : crypto::CurveJwkName(c));
  absl::Status out(status.code(),
                   absl::StrCat("the token does not offer EC curve ", name,
                                " (", status.message(), ")"));
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& p) {
    out.SetPayload(url, p);
  });
  return out;
}

absl::StatusOr<GeneratedKey> GenerateKey(Session& s, const KeySpec& spec) {
  if (spec.label.empty()) return absl::InvalidArgumentError("missing --label");
  RETURN_IF_ERROR(CheckLabelFree(s, spec.label));
  GeneratedKey out;
  ASSIGN_OR_RETURN(out.id, crypto::RandomBytes(8));
  const KeyFlags& f = spec.flags;
  auto common = [&](CK_OBJECT_CLASS klass, CK_KEY_TYPE type) {
    Template t = {
        Attr::Ulong(CKA_CLASS, klass), Attr::Ulong(CKA_KEY_TYPE, type),
        Attr::String(CKA_LABEL, spec.label), Attr::Bytes(CKA_ID, out.id)};
    return t;
  };
  switch (spec.kind) {
    case KeyKind::kAes: {
      Template t = KeyObjectTemplate(KeyKind::kAes, f, spec.label, out.id,
                                     spec.bits / 8);
      ASSIGN_OR_RETURN(out.private_or_secret, MakeKeyObject(
                                                  s, std::move(t), out.id,
                                                  [&s](const Template& tt) {
                                                    return s.GenerateKey(
                                                        {CKM_AES_KEY_GEN}, tt);
                                                  },
                                                  &out.flags_not_kept));
      break;
    }
    case KeyKind::kRsa:
    case KeyKind::kEc: {
      bool rsa = spec.kind == KeyKind::kRsa;
      CK_KEY_TYPE kt = rsa ? CKK_RSA : CKK_EC;
      Template pub = common(CKO_PUBLIC_KEY, kt);
      KeyFlags pub_flags = f;
      pub_flags.private_ = false;  // public keys are readable without login
      Append(pub, FlagTemplate(pub_flags, CKO_PUBLIC_KEY));
      Template priv = KeyObjectTemplate(spec.kind, f, spec.label, out.id);
      Mechanism mech{rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN};
      if (rsa) {
        const uint8_t e[] = {0x01, 0x00, 0x01};
        pub.push_back(Attr::Ulong(CKA_MODULUS_BITS, spec.bits));
        pub.push_back(Attr::Bytes(CKA_PUBLIC_EXPONENT, e));
      } else {
        pub.push_back(Attr::Bytes(CKA_EC_PARAMS, CurveOidDer(*spec.curve)));
      }
      auto pair = s.GenerateKeyPair(mech, pub, priv);
      if (!pair.ok() && CannotKeep240Attributes(pair.status(), priv)) {
        RemoveLeftovers(s, out.id);
        std::vector<std::string> dropped = Drop240Attributes(priv);
        Drop240Attributes(pub);
        auto again = s.GenerateKeyPair(mech, pub, priv);
        if (again.ok() && Lacks240Attributes(s, again->second)) {
          out.flags_not_kept = std::move(dropped);
          pair = again;
        } else if (again.ok()) {
          (void)s.Destroy(
              again->first);  // the first failure was something else
          (void)s.Destroy(again->second);
        }
      }
      if (!pair.ok()) {
        return rsa ? pair.status()
                   : NameRefusedCurve(pair.status(), *spec.curve);
      }
      out.public_key = pair->first;
      out.private_or_secret = pair->second;
      break;
    }
  }
  return out;
}

Template KeyObjectTemplate(KeyKind kind, const KeyFlags& flags,
                           std::string_view label, std::span<const uint8_t> id,
                           std::optional<size_t> aes_bytes) {
  const CK_OBJECT_CLASS klass =
      kind == KeyKind::kAes ? CKO_SECRET_KEY : CKO_PRIVATE_KEY;
  const CK_KEY_TYPE type = kind == KeyKind::kAes   ? CKK_AES
                           : kind == KeyKind::kRsa ? CKK_RSA
                                                   : CKK_EC;
  Template t = {Attr::Ulong(CKA_CLASS, klass), Attr::Ulong(CKA_KEY_TYPE, type),
                Attr::String(CKA_LABEL, label), Attr::Bytes(CKA_ID, id)};
  if (aes_bytes) t.push_back(Attr::Ulong(CKA_VALUE_LEN, *aes_bytes));
  Append(t, FlagTemplate(flags, klass));
  return t;
}

void RemoveLeftovers(Session& s, std::span<const uint8_t> id) {
  absl::StatusOr<std::vector<ObjectHandle>> left =
      s.Find({Attr::Bytes(CKA_ID, id)});
  if (!left.ok()) return;
  for (ObjectHandle h : *left) (void)s.Destroy(h);
}

absl::Status CheckLabelFree(Session& s, std::string_view label) {
  auto existing = s.Find({Attr::String(CKA_LABEL, label)});
  if (existing.ok() && !existing->empty()) {
    return absl::AlreadyExistsError(
        absl::StrCat("a key labelled '", Sv(label), "' already exists"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ObjectHandle> MakeKeyObject(
    Session& s, Template t, std::span<const uint8_t> id,
    const std::function<absl::StatusOr<ObjectHandle>(const Template&)>& make,
    std::vector<std::string>* flags_not_kept) {
  absl::StatusOr<ObjectHandle> h = make(t);
  if (h.ok() || !CannotKeep240Attributes(h.status(), t)) return h;
  RemoveLeftovers(s, id);
  std::vector<std::string> dropped = Drop240Attributes(t);
  absl::StatusOr<ObjectHandle> again = make(t);
  if (again.ok() && Lacks240Attributes(s, *again)) {
    *flags_not_kept = std::move(dropped);
    return again;
  }
  if (again.ok()) (void)s.Destroy(*again);  // the first failure was another
  return h;
}

absl::StatusOr<KeyEntry> DescribeKey(Session& s, ObjectHandle h) {
  KeyEntry e;
  e.handle = h;
  ASSIGN_OR_RETURN(uint64_t klass, s.GetUlong(h, CKA_CLASS));
  ASSIGN_OR_RETURN(uint64_t type, s.GetUlong(h, CKA_KEY_TYPE));
  e.klass = klass == CKO_PRIVATE_KEY  ? "private"
            : klass == CKO_PUBLIC_KEY ? "public"
                                      : "secret";
  if (auto label = s.GetAttribute(h, CKA_LABEL); label.ok()) {
    e.label.assign(label->begin(), label->end());
  }
  if (auto id = s.GetAttribute(h, CKA_ID); id.ok()) e.id = *id;
  if (type == CKK_RSA) {
    e.kind = KeyKind::kRsa;
    ASSIGN_OR_RETURN(auto n, s.GetAttribute(h, CKA_MODULUS));
    size_t lead = 0;
    while (lead < n.size() && n[lead] == 0) ++lead;
    e.bits = static_cast<int>((n.size() - lead) * 8);
  } else if (type == CKK_EC) {
    e.kind = KeyKind::kEc;
    ASSIGN_OR_RETURN(auto params, s.GetAttribute(h, CKA_EC_PARAMS));
    for (EcCurve c : {EcCurve::kP256, EcCurve::kP384, EcCurve::kP521,
                      EcCurve::kSecp256k1}) {
      auto oid = CurveOidDer(c);
      if (params.size() == oid.size() &&
          std::equal(params.begin(), params.end(), oid.begin())) {
        e.curve = c;
      }
    }
    if (!e.curve)
      return absl::UnimplementedError("EC key on an unsupported curve");
    e.bits =
        e.curve == EcCurve::kP521 ? 521 : crypto::CurveFieldBytes(*e.curve) * 8;
  } else if (type == CKK_AES) {
    e.kind = KeyKind::kAes;
    ASSIGN_OR_RETURN(uint64_t len, s.GetUlong(h, CKA_VALUE_LEN));
    e.bits = static_cast<int>(len * 8);
  } else {
    return absl::UnimplementedError(
        absl::StrCat("key type 0x", absl::Hex(type), " is not RSA, EC or AES"));
  }
  return e;
}

absl::StatusOr<std::vector<KeyEntry>> ListKeys(Session& s) {
  std::vector<KeyEntry> out;
  for (CK_OBJECT_CLASS klass :
       {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY}) {
    ASSIGN_OR_RETURN(auto handles, s.Find({Attr::Ulong(CKA_CLASS, klass),
                                           Attr::Bool(CKA_TOKEN, true)}));
    for (ObjectHandle h : handles) {
      auto e = DescribeKey(s, h);
      if (e.ok()) out.push_back(std::move(*e));
    }
  }
  std::sort(out.begin(), out.end(), [](const KeyEntry& a, const KeyEntry& b) {
    return std::tie(a.label, a.klass) < std::tie(b.label, b.klass);
  });
  return out;
}

absl::StatusOr<KeyFlags> ReadFlags(Session& s, ObjectHandle h) {
  ASSIGN_OR_RETURN(uint64_t klass, s.GetUlong(h, CKA_CLASS));
  KeyFlags f;
  for (const auto& d : kFlags) {
    f.*d.field = false;
    if (!Applies(d.attr, klass)) continue;
    auto v = s.GetBool(h, d.attr);
    if (v.ok()) {
      f.*d.field = *v;
    } else if (absl::IsNotFound(v.status())) {  // CKR_ATTRIBUTE_TYPE_INVALID
      f.unknown.push_back(d.name);
    }
  }
  return f;
}

absl::StatusOr<ObjectHandle> FindKey(
    Session& s, std::string_view label,
    std::optional<std::span<const uint8_t>> id) {
  std::vector<ObjectHandle> found;
  for (CK_OBJECT_CLASS klass : {CKO_PRIVATE_KEY, CKO_SECRET_KEY}) {
    Template t = {Attr::Ulong(CKA_CLASS, klass)};
    if (!label.empty()) t.push_back(Attr::String(CKA_LABEL, label));
    if (id) t.push_back(Attr::Bytes(CKA_ID, *id));
    ASSIGN_OR_RETURN(auto h, s.Find(t));
    found.insert(found.end(), h.begin(), h.end());
  }
  if (found.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no private or secret key labelled '", Sv(label), "'"));
  }
  if (found.size() > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(found.size(), " keys are labelled '", Sv(label),
                     "'; select one by id"));
  }
  return found[0];
}

absl::StatusOr<ObjectHandle> FindPublicKey(Session& s, std::string_view label) {
  ASSIGN_OR_RETURN(auto h, s.Find({Attr::Ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                                   Attr::String(CKA_LABEL, label)}));
  if (h.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no public key labelled '", Sv(label), "'"));
  }
  if (h.size() > 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(h.size(), " public keys are labelled '", Sv(label), "'"));
  }
  return h[0];
}

absl::StatusOr<ObjectHandle> ImportRsaPublicKey(Session& s,
                                                std::span<const uint8_t> n,
                                                std::span<const uint8_t> e,
                                                bool token,
                                                std::string_view label) {
  Template t = {Attr::Ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                Attr::Ulong(CKA_KEY_TYPE, CKK_RSA),
                Attr::Bool(CKA_TOKEN, token),
                Attr::Bool(CKA_PRIVATE, false),
                Attr::Bool(CKA_MODIFIABLE, false),
                Attr::Bool(CKA_WRAP, true),
                Attr::Bool(CKA_ENCRYPT, true),
                Attr::Bool(CKA_VERIFY, false),
                Attr::Bytes(CKA_MODULUS, n),
                Attr::Bytes(CKA_PUBLIC_EXPONENT, e)};
  if (!label.empty()) t.push_back(Attr::String(CKA_LABEL, label));
  return s.CreateObject(t);
}

}  // namespace keyferry::hsm
