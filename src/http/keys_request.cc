#include "http/keys_request.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/keys.h"
#include "vault/jwk.h"
#include "vault/model.h"
#include "vault/rotation.h"

namespace keyferry::http::keys {
namespace {

using json = nlohmann::json;

absl::Status Invalid(std::string_view message) {
  return absl::InvalidArgumentError(Sv(message));
}

// Shown is a client's string as a message repeats it: at most 64 bytes.
std::string Shown(std::string_view s) {
  constexpr size_t kMax = 64;
  return s.size() <= kMax ? std::string(s)
                          : absl::StrCat(Sv(s.substr(0, kMax)), "...");
}

// NotOneOf is Key Vault's message for a value outside an enumeration.
absl::Status NotOneOf(std::string_view value, std::string_view path,
                      std::string_view allowed) {
  return Invalid(absl::StrCat("The value \"", Shown(value), "\" of ", Sv(path),
                              " is not one of ", Sv(allowed), "."));
}

absl::StatusOr<vault::Kty> ReadKty(const Fields& f) {
  ASSIGN_OR_RETURN(std::string kty, f.RequiredString("kty"));
  absl::StatusOr<vault::Kty> k = vault::ParseKty(kty);
  if (!k.ok()) {
    return NotOneOf(kty, f.Path("kty"),
                    "RSA, RSA-HSM, EC, EC-HSM, oct, oct-HSM");
  }
  return k;
}

// ReadCurve reads the optional "crv": Key Vault's names, in any case.
absl::StatusOr<std::optional<crypto::Curve>> ReadCurve(const Fields& f) {
  ASSIGN_OR_RETURN(std::optional<std::string> crv, f.String("crv"));
  if (!crv.has_value()) return std::optional<crypto::Curve>();
  constexpr std::string_view kNames[] = {"P-256", "P-384", "P-521", "P-256K",
                                         "SECP256K1"};
  bool known = std::any_of(
      std::begin(kNames), std::end(kNames),
      [&](std::string_view n) { return EqualsIgnoreCase(*crv, n); });
  absl::StatusOr<crypto::Curve> curve = crypto::ParseCurve(*crv);
  if (!known || !curve.ok()) {
    return NotOneOf(*crv, f.Path("crv"), "P-256, P-384, P-521, P-256K");
  }
  return std::optional<crypto::Curve>(*curve);
}

absl::StatusOr<std::optional<std::vector<vault::KeyOp>>> ReadKeyOps(
    const Fields& f) {
  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> names,
                   f.Strings("key_ops"));
  if (!names.has_value()) return std::optional<std::vector<vault::KeyOp>>();
  for (const std::string& n : *names) {
    if (!vault::ParseKeyOp(n).ok()) {
      return Invalid(absl::StrCat("The value \"", Shown(n), "\" of ",
                                  f.Path("key_ops"),
                                  " is not a valid key operation."));
    }
  }
  ASSIGN_OR_RETURN(std::vector<vault::KeyOp> ops, vault::ParseKeyOps(*names));
  return std::optional<std::vector<vault::KeyOp>>(std::move(ops));
}

// ReadAttributes reads the "attributes" object of a create, import or
// update body into `p`.
absl::Status ReadAttributes(const json& attributes, vault::KeyProperties& p) {
  Fields a(attributes, "attributes.");
  ASSIGN_OR_RETURN(p.enabled, a.Bool("enabled"));
  ASSIGN_OR_RETURN(p.not_before, a.Int("nbf", 0, kMaxUnixSeconds));
  ASSIGN_OR_RETURN(p.expires, a.Int("exp", 0, kMaxUnixSeconds));
  // Read-only members a client may echo back: checked, then ignored.
  for (const char* t : {"created", "updated"}) {
    RETURN_IF_ERROR(a.Int(t, 0, kMaxUnixSeconds).status());
  }
  RETURN_IF_ERROR(a.Int("recoverableDays", 7, 90).status());
  for (const char* s : {"recoveryLevel", "hsmPlatform"}) {
    RETURN_IF_ERROR(a.String(s).status());
  }
  ASSIGN_OR_RETURN(p.exportable, a.Bool("exportable"));
  if (p.exportable.value_or(false)) {
    return Invalid(
        "The property \"attributes.exportable\" cannot be true: exportable "
        "keys need a release policy, which keyferryd does not support.");
  }
  return absl::OkStatus();
}

// CheckKeySize applies the sizes of each key kind to "key_size".
absl::Status CheckKeySize(custody::KeyKind kind, int64_t size) {
  switch (kind) {
    case custody::KeyKind::kRsa:
      if (size == 2048 || size == 3072 || size == 4096) break;
      return Invalid(
          "The property \"key_size\" must be 2048, 3072 or 4096 for an RSA "
          "key.");
    case custody::KeyKind::kEc:
      if (size == 256 || size == 384 || size == 521) break;
      return Invalid(
          "The property \"key_size\" must be 256, 384 or 521 for an EC key.");
    case custody::KeyKind::kOct:
      if (size == 128 || size == 192 || size == 256) break;
      return Invalid(
          "The property \"key_size\" must be 128, 192 or 256 for an oct key.");
  }
  return absl::OkStatus();
}

absl::StatusOr<crypto::SignAlg> ReadSignAlg(const Fields& f) {
  ASSIGN_OR_RETURN(std::string alg, f.RequiredString("alg"));
  absl::StatusOr<crypto::SignAlg> a = crypto::ParseSignAlg(alg);
  if (!a.ok()) {
    return NotOneOf(alg, "alg",
                    "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, "
                    "ES512, ES256K");
  }
  return a;
}

}  // namespace

Fields::Fields(const json& object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

std::string Fields::Path(std::string_view name) const {
  return absl::StrCat(prefix_, Sv(name));
}

const json* Fields::Member(std::string_view name) const {
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(std::string(name));
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool Fields::Given(std::string_view name) const {
  return Member(name) != nullptr;
}

absl::Status Fields::WrongType(std::string_view name,
                               std::string_view what) const {
  return Invalid(absl::StrCat("The property \"", Path(name), "\" must be ",
                              Sv(what), "."));
}

absl::StatusOr<std::optional<std::string>> Fields::String(
    std::string_view name) const {
  const json* m = Member(name);
  if (m == nullptr) return std::optional<std::string>();
  if (!m->is_string()) return WrongType(name, "a string");
  return std::optional<std::string>(m->get_ref<const std::string&>());
}

absl::StatusOr<std::string> Fields::RequiredString(
    std::string_view name) const {
  ASSIGN_OR_RETURN(std::optional<std::string> s, String(name));
  if (!s.has_value()) {
    return Invalid(
        absl::StrCat("The property \"", Path(name), "\" is required."));
  }
  return std::move(*s);
}

absl::StatusOr<std::optional<bool>> Fields::Bool(std::string_view name) const {
  const json* m = Member(name);
  if (m == nullptr) return std::optional<bool>();
  if (!m->is_boolean()) return WrongType(name, "a boolean");
  return std::optional<bool>(m->get<bool>());
}

absl::StatusOr<std::optional<int64_t>> Fields::Int(std::string_view name,
                                                   int64_t min,
                                                   int64_t max) const {
  const json* m = Member(name);
  if (m == nullptr) return std::optional<int64_t>();
  auto out_of_range = [&] {
    return Invalid(absl::StrCat("The property \"", Path(name),
                                "\" must be an integer from ", min, " to ", max,
                                "."));
  };
  // Each JSON number kind is compared in its own type before any conversion,
  // so no value (2^64, -2^63, 1e300, inf) converts out of range.
  if (m->is_number_unsigned()) {
    uint64_t u = m->get<uint64_t>();
    if (max < 0 || u > static_cast<uint64_t>(max) ||
        static_cast<int64_t>(u) < min) {
      return out_of_range();
    }
    return std::optional<int64_t>(static_cast<int64_t>(u));
  }
  if (m->is_number_integer()) {
    int64_t v = m->get<int64_t>();
    if (v < min || v > max) return out_of_range();
    return std::optional<int64_t>(v);
  }
  if (m->is_number_float()) {
    double d = m->get<double>();
    if (std::isfinite(d) && d != std::trunc(d)) {
      return WrongType(name, "an integer");
    }
    // min and max are within ±2^53, so they convert to double exactly.
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max))) {
      return out_of_range();
    }
    return std::optional<int64_t>(static_cast<int64_t>(d));
  }
  return WrongType(name, "an integer");
}

absl::StatusOr<int64_t> Fields::RequiredInt(std::string_view name, int64_t min,
                                            int64_t max) const {
  ASSIGN_OR_RETURN(std::optional<int64_t> v, Int(name, min, max));
  if (!v.has_value()) {
    return Invalid(
        absl::StrCat("The property \"", Path(name), "\" is required."));
  }
  return *v;
}

absl::StatusOr<std::optional<std::vector<std::string>>> Fields::Strings(
    std::string_view name) const {
  const json* m = Member(name);
  if (m == nullptr) return std::optional<std::vector<std::string>>();
  std::vector<std::string> out;
  if (!m->is_array()) return WrongType(name, "an array of strings");
  for (const json& e : *m) {
    if (!e.is_string()) return WrongType(name, "an array of strings");
    out.push_back(e.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

absl::StatusOr<const json*> Fields::Object(std::string_view name) const {
  const json* m = Member(name);
  if (m != nullptr && !m->is_object()) return WrongType(name, "an object");
  return m;
}

absl::StatusOr<std::vector<uint8_t>> Fields::Bytes(std::string_view name,
                                                   bool required) const {
  ASSIGN_OR_RETURN(std::optional<std::string> s, String(name));
  if (!s.has_value()) {
    if (required) {
      return Invalid(
          absl::StrCat("The property \"", Path(name), "\" is required."));
    }
    return std::vector<uint8_t>();
  }
  // Clients send base64url without padding; tolerate padding and the
  // standard alphabet some tools produce.
  while (!s->empty() && s->back() == '=') s->pop_back();
  std::replace(s->begin(), s->end(), '+', '-');
  std::replace(s->begin(), s->end(), '/', '_');
  absl::StatusOr<std::vector<uint8_t>> v = Base64UrlDecode(*s);
  if (!v.ok()) {
    return Invalid(absl::StrCat("The property \"", Path(name),
                                "\" is not valid base64url."));
  }
  return v;
}

absl::StatusOr<json> ParseBody(const Request& r) {
  if (r.body.empty()) return Invalid("The request body is empty.");
  absl::StatusOr<json> j = ParseJson(r.body);
  if (!j.ok() || !j->is_object()) {
    return Invalid(absl::StrCat(
        "The request body is not a valid JSON object",
        j.ok() ? "" : absl::StrCat(": ", j.status().message()), "."));
  }
  return j;
}

absl::StatusOr<std::vector<uint8_t>> B64Field(const json& body,
                                              const char* name, bool required) {
  return Fields(body).Bytes(name, required);
}

absl::StatusOr<PageParams> ReadPage(const Request& r) {
  PageParams p;
  if (auto m = r.QueryParam("maxresults"); m.has_value() && !m->empty()) {
    bool digits =
        m->size() <= 2 && std::all_of(m->begin(), m->end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        });
    if (!digits || !absl::SimpleAtoi(Sv(*m), &p.limit) || p.limit < 1 ||
        p.limit > kMaxPage) {
      return Invalid("maxresults must be a number from 1 to 25.");
    }
  }
  if (auto t = r.QueryParam("$skiptoken"); t.has_value() && !t->empty()) {
    absl::StatusOr<std::vector<uint8_t>> d = Base64UrlDecode(*t);
    if (!d.ok()) return Invalid("$skiptoken is not valid.");
    p.after.assign(d->begin(), d->end());
  }
  return p;
}

absl::StatusOr<std::string> ReadNamePrefix(const Request& r) {
  std::optional<std::string_view> p = r.QueryParam("prefix");
  if (!p.has_value() || p->empty()) return std::string();
  bool ok =
      p->size() <= 127 && std::all_of(p->begin(), p->end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-';
      });
  if (!ok) {
    return Invalid("prefix must be 1 to 127 letters, digits or dashes.");
  }
  return absl::AsciiStrToLower(Sv(*p));
}

std::string PrefixCursor(std::string_view prefix) {
  std::string cursor(prefix);
  cursor.back() = static_cast<char>(cursor.back() - 1);
  cursor.push_back('~');
  return cursor;
}

absl::StatusOr<vault::KeyProperties> ReadProperties(const json& body,
                                                    const json& ops_holder,
                                                    std::string ops_prefix) {
  vault::KeyProperties p;
  Fields f(body);
  ASSIGN_OR_RETURN(const json* attributes, f.Object("attributes"));
  if (attributes != nullptr) RETURN_IF_ERROR(ReadAttributes(*attributes, p));
  ASSIGN_OR_RETURN(const json* tags, f.Object("tags"));
  if (tags != nullptr) {
    for (auto it = tags->begin(); it != tags->end(); ++it) {
      if (!it.value().is_string()) {
        return Invalid(absl::StrCat("The property \"tags.", Shown(it.key()),
                                    "\" must be a string."));
      }
    }
    ASSIGN_OR_RETURN(p.tags_json, vault::TagsFromJson(*tags));
  }
  ASSIGN_OR_RETURN(p.key_ops, ReadKeyOps(Fields(ops_holder, ops_prefix)));
  if (f.Given("release_policy")) {
    return Invalid(
        "The property \"release_policy\" is not supported: keyferryd "
        "offers no key release.");
  }
  return p;
}

absl::StatusOr<vault::CreateKeyRequest> ReadCreate(const json& body) {
  Fields f(body);
  vault::CreateKeyRequest cr;
  ASSIGN_OR_RETURN(cr.kty, ReadKty(f));
  const custody::KeyKind kind = vault::KindOf(cr.kty);
  ASSIGN_OR_RETURN(std::optional<int64_t> size, f.Int("key_size", 1, 16384));
  if (size.has_value()) {
    RETURN_IF_ERROR(CheckKeySize(kind, *size));
    cr.key_size = static_cast<int>(*size);
  }
  ASSIGN_OR_RETURN(
      std::optional<int64_t> e,
      f.Int("public_exponent", 3, std::numeric_limits<int32_t>::max()));
  if (e.has_value()) {
    if (kind != custody::KeyKind::kRsa) {
      return Invalid(
          "The property \"public_exponent\" is only valid for RSA keys.");
    }
    if (*e % 2 == 0) {
      return Invalid("The property \"public_exponent\" must be odd.");
    }
    cr.public_exponent = static_cast<uint32_t>(*e);
  }
  ASSIGN_OR_RETURN(cr.curve, ReadCurve(f));
  ASSIGN_OR_RETURN(cr.properties, ReadProperties(body, body));
  return cr;
}

absl::StatusOr<vault::ImportKeyRequest> ReadImport(const json& body,
                                                   std::string vault_host) {
  Fields f(body);
  absl::StatusOr<const json*> key = f.Object("key");
  if (!key.ok() || *key == nullptr) {
    return Invalid("The property \"key\" must be a valid JsonWebKey object.");
  }
  Fields k(**key, "key.");
  vault::ImportKeyRequest ir;
  ir.vault_host = std::move(vault_host);
  ASSIGN_OR_RETURN(ir.kty, ReadKty(k));
  ASSIGN_OR_RETURN(std::optional<bool> hsm, f.Bool("Hsm"));
  ir.hsm = hsm.value_or(false);
  ASSIGN_OR_RETURN(ir.curve, ReadCurve(k));
  RETURN_IF_ERROR(k.String("kid").status());
  if (k.Given("key_hsm")) {
    ASSIGN_OR_RETURN(ir.key_hsm, k.Bytes("key_hsm", true));
  } else if (vault::KindOf(ir.kty) == custody::KeyKind::kOct) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> secret, k.Bytes("k", true));
    ir.secret = SecretBytes(secret);
    std::fill(secret.begin(), secret.end(), 0);
  } else {
    ASSIGN_OR_RETURN(ir.private_key, vault::ParsePrivateJwk(**key));
  }
  ASSIGN_OR_RETURN(ir.properties, ReadProperties(body, **key, "key."));
  return ir;
}

absl::StatusOr<SignRequest> ReadSign(const json& body) {
  Fields f(body);
  SignRequest s;
  ASSIGN_OR_RETURN(s.alg, ReadSignAlg(f));
  ASSIGN_OR_RETURN(s.digest, f.Bytes("value", true));
  return s;
}

absl::StatusOr<VerifyRequest> ReadVerify(const json& body) {
  Fields f(body);
  VerifyRequest v;
  ASSIGN_OR_RETURN(v.alg, ReadSignAlg(f));
  ASSIGN_OR_RETURN(v.digest, f.Bytes("digest", true));
  ASSIGN_OR_RETURN(v.signature, f.Bytes("value", true));
  return v;
}

absl::StatusOr<custody::CipherInput> ReadCipher(const json& body) {
  Fields f(body);
  custody::CipherInput in;
  ASSIGN_OR_RETURN(std::string alg, f.RequiredString("alg"));
  absl::StatusOr<custody::CipherAlg> a = custody::ParseCipherAlg(alg);
  if (!a.ok()) {
    return Invalid(absl::StrCat("The value \"", Shown(alg),
                                "\" of alg is not a supported algorithm."));
  }
  in.alg = *a;
  ASSIGN_OR_RETURN(in.value, f.Bytes("value", true));
  ASSIGN_OR_RETURN(in.iv, f.Bytes("iv", false));
  ASSIGN_OR_RETURN(in.aad, f.Bytes("aad", false));
  ASSIGN_OR_RETURN(in.tag, f.Bytes("tag", false));
  return in;
}

absl::StatusOr<int64_t> ReadRandomCount(const json& body) {
  return Fields(body).RequiredInt("count", 1, 128);
}

absl::StatusOr<std::vector<uint8_t>> ReadRestore(const json& body) {
  return Fields(body).Bytes("value", true);
}

absl::StatusOr<std::string> ReadRotationPolicy(json body) {
  DropNullAttributes(body);
  std::string text = body.dump();
  RETURN_IF_ERROR(vault::ParseRotationPolicy(text).status());
  return text;
}

void DropNullAttributes(json& policy) {
  if (!policy.contains("attributes") || !policy["attributes"].is_object()) {
    return;
  }
  json& a = policy["attributes"];
  for (auto it = a.begin(); it != a.end();) {
    it = it.value().is_null() ? a.erase(it) : std::next(it);
  }
}

}  // namespace keyferry::http::keys
