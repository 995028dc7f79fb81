#include "http/keys_request.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/keys.h"
#include "vault/jwk.h"
#include "vault/model.h"

namespace keyferry::http::keys {
namespace {

using json = nlohmann::json;

absl::StatusOr<std::vector<vault::KeyOp>> OpsField(const json& j) {
  if (!j.is_array()) {
    return absl::InvalidArgumentError("key_ops must be an array of strings.");
  }
  std::vector<std::string> names;
  for (const json& o : j) {
    if (!o.is_string()) {
      return absl::InvalidArgumentError("key_ops must be an array of strings.");
    }
    names.push_back(o.get<std::string>());
  }
  return vault::ParseKeyOps(names);
}

// ReadAttributes reads the "attributes" object of a create, import or
// update body into `p`.
absl::Status ReadAttributes(const json& a, vault::KeyProperties& p) {
  if (!a.is_object()) {
    return absl::InvalidArgumentError("attributes must be an object.");
  }
  if (a.contains("enabled") && !a["enabled"].is_null()) {
    if (!a["enabled"].is_boolean()) {
      return absl::InvalidArgumentError("attributes.enabled must be a bool.");
    }
    p.enabled = a["enabled"].get<bool>();
  }
  for (const char* f : {"nbf", "exp"}) {
    if (!a.contains(f) || a[f].is_null()) continue;
    if (!a[f].is_number_integer()) {
      return absl::InvalidArgumentError(
          absl::StrCat("attributes.", f, " must be Unix seconds."));
    }
    (std::string_view(f) == "nbf" ? p.not_before : p.expires) =
        a[f].get<int64_t>();
  }
  if (a.contains("exportable") && a["exportable"].is_boolean()) {
    p.exportable = a["exportable"].get<bool>();
    if (*p.exportable) {
      return absl::InvalidArgumentError(
          "exportable keys need a release policy, which keyferryd does not "
          "support.");
    }
  }
  return absl::OkStatus();
}

// ReadCurve reads the optional "crv" member of `holder`.
absl::StatusOr<std::optional<crypto::Curve>> ReadCurve(const json& holder) {
  std::string crv = StringField(holder, "crv");
  if (crv.empty()) return std::optional<crypto::Curve>();
  absl::StatusOr<crypto::Curve> curve = crypto::ParseCurve(crv);
  if (!curve.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Unsupported curve '", crv, "'."));
  }
  return std::optional<crypto::Curve>(*curve);
}

absl::StatusOr<crypto::SignAlg> ReadSignAlg(const json& body) {
  std::string alg = StringField(body, "alg");
  absl::StatusOr<crypto::SignAlg> a = crypto::ParseSignAlg(alg);
  if (!a.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid algorithm: '", alg, "'."));
  }
  return a;
}

}  // namespace

absl::StatusOr<json> ParseBody(const Request& r) {
  if (r.body.empty()) {
    return absl::InvalidArgumentError("The request body is empty.");
  }
  absl::StatusOr<json> j = ParseJson(r.body);
  if (!j.ok() || !j->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The request body is not a valid JSON object",
        j.ok() ? "" : absl::StrCat(": ", j.status().message()), "."));
  }
  return j;
}

absl::StatusOr<std::vector<uint8_t>> B64Field(const json& body,
                                              const char* name, bool required) {
  if (!body.contains(name) || body[name].is_null()) {
    if (required) {
      return absl::InvalidArgumentError(
          absl::StrCat("The property \"", name, "\" is required."));
    }
    return std::vector<uint8_t>();
  }
  if (!body[name].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The property \"", name, "\" must be a base64url string."));
  }
  std::string s = body[name].get<std::string>();
  // Clients send base64url without padding; tolerate padding and the
  // standard alphabet some tools produce.
  while (!s.empty() && s.back() == '=') s.pop_back();
  std::replace(s.begin(), s.end(), '+', '-');
  std::replace(s.begin(), s.end(), '/', '_');
  absl::StatusOr<std::vector<uint8_t>> v = Base64UrlDecode(s);
  if (!v.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("The property \"", name, "\" is not valid base64url."));
  }
  return v;
}

std::string StringField(const json& body, const char* name) {
  if (!body.contains(name) || !body[name].is_string()) return "";
  return body[name].get<std::string>();
}

absl::StatusOr<PageParams> ReadPage(const Request& r) {
  PageParams p;
  if (auto m = r.QueryParam("maxresults"); m.has_value() && !m->empty()) {
    if (!absl::SimpleAtoi(Sv(*m), &p.limit) || p.limit < 1 ||
        p.limit > kMaxPage) {
      return absl::InvalidArgumentError(
          "maxresults must be a number from 1 to 25.");
    }
  }
  if (auto t = r.QueryParam("$skiptoken"); t.has_value() && !t->empty()) {
    absl::StatusOr<std::vector<uint8_t>> d = Base64UrlDecode(*t);
    if (!d.ok()) return absl::InvalidArgumentError("$skiptoken is not valid.");
    p.after.assign(d->begin(), d->end());
  }
  return p;
}

absl::StatusOr<vault::KeyProperties> ReadProperties(const json& body,
                                                    const json& ops_holder) {
  vault::KeyProperties p;
  if (body.contains("attributes") && !body["attributes"].is_null()) {
    RETURN_IF_ERROR(ReadAttributes(body["attributes"], p));
  }
  if (body.contains("tags") && !body["tags"].is_null()) {
    ASSIGN_OR_RETURN(p.tags_json, vault::TagsFromJson(body["tags"]));
  }
  if (ops_holder.contains("key_ops") && !ops_holder["key_ops"].is_null()) {
    ASSIGN_OR_RETURN(p.key_ops, OpsField(ops_holder["key_ops"]));
  }
  if (body.contains("release_policy") && !body["release_policy"].is_null()) {
    return absl::InvalidArgumentError(
        "release policies are not supported by keyferryd.");
  }
  return p;
}

absl::StatusOr<vault::CreateKeyRequest> ReadCreate(const json& body) {
  vault::CreateKeyRequest cr;
  ASSIGN_OR_RETURN(cr.kty, vault::ParseKty(StringField(body, "kty")));
  if (body.contains("key_size") && !body["key_size"].is_null()) {
    cr.key_size = body["key_size"].get<int>();
  }
  if (body.contains("public_exponent") && !body["public_exponent"].is_null()) {
    cr.public_exponent = body["public_exponent"].get<uint32_t>();
  }
  ASSIGN_OR_RETURN(cr.curve, ReadCurve(body));
  ASSIGN_OR_RETURN(cr.properties, ReadProperties(body, body));
  return cr;
}

absl::StatusOr<vault::ImportKeyRequest> ReadImport(const json& body,
                                                   std::string vault_host) {
  if (!body.contains("key") || !body["key"].is_object()) {
    return absl::InvalidArgumentError(
        "The property \"key\" must be a valid JsonWebKey object.");
  }
  const json& key = body["key"];
  vault::ImportKeyRequest ir;
  ir.vault_host = std::move(vault_host);
  ASSIGN_OR_RETURN(ir.kty, vault::ParseKty(StringField(key, "kty")));
  if (body.contains("Hsm") && body["Hsm"].is_boolean()) {
    ir.hsm = body["Hsm"].get<bool>();
  }
  ASSIGN_OR_RETURN(ir.curve, ReadCurve(key));
  if (key.contains("key_hsm") && !key["key_hsm"].is_null()) {
    absl::StatusOr<std::vector<uint8_t>> blob = B64Field(key, "key_hsm", true);
    if (!blob.ok()) {
      return absl::InvalidArgumentError(
          "key_hsm must be the base64url encoding of a BYOK blob.");
    }
    ir.key_hsm = std::move(*blob);
  } else if (vault::KindOf(ir.kty) == custody::KeyKind::kOct) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> k, B64Field(key, "k", true));
    ir.secret = SecretBytes(k);
    std::fill(k.begin(), k.end(), 0);
  } else {
    ASSIGN_OR_RETURN(ir.private_key, vault::ParsePrivateJwk(key));
  }
  ASSIGN_OR_RETURN(ir.properties, ReadProperties(body, key));
  return ir;
}

absl::StatusOr<SignRequest> ReadSign(const json& body) {
  SignRequest s;
  ASSIGN_OR_RETURN(s.alg, ReadSignAlg(body));
  ASSIGN_OR_RETURN(s.digest, B64Field(body, "value", true));
  return s;
}

absl::StatusOr<VerifyRequest> ReadVerify(const json& body) {
  VerifyRequest v;
  ASSIGN_OR_RETURN(v.alg, ReadSignAlg(body));
  ASSIGN_OR_RETURN(v.digest, B64Field(body, "digest", true));
  ASSIGN_OR_RETURN(v.signature, B64Field(body, "value", true));
  return v;
}

absl::StatusOr<custody::CipherInput> ReadCipher(const json& body) {
  custody::CipherInput in;
  std::string alg = StringField(body, "alg");
  absl::StatusOr<custody::CipherAlg> a = custody::ParseCipherAlg(alg);
  if (!a.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid algorithm: '", alg, "'."));
  }
  in.alg = *a;
  ASSIGN_OR_RETURN(in.value, B64Field(body, "value", true));
  ASSIGN_OR_RETURN(in.iv, B64Field(body, "iv", false));
  ASSIGN_OR_RETURN(in.aad, B64Field(body, "aad", false));
  ASSIGN_OR_RETURN(in.tag, B64Field(body, "tag", false));
  return in;
}

absl::StatusOr<int64_t> ReadRandomCount(const json& body) {
  if (!body.contains("count") || !body["count"].is_number_integer()) {
    return absl::InvalidArgumentError("The property \"count\" is required.");
  }
  int64_t n = body["count"].get<int64_t>();
  if (n < 1 || n > 128) {
    return absl::InvalidArgumentError("count must be from 1 to 128.");
  }
  return n;
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
