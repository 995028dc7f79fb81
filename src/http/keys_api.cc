#include "http/keys_api.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "auth/identity.h"
#include "auth/jwt.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/random.h"
#include "http/azure.h"
#include "vault/jwk.h"

namespace keyferry::http {
namespace {

using json = nlohmann::json;
using auth::Operation;

constexpr int kMaxPage = 25;

// Call is one authenticated, version-checked request.
struct Call {
  const Request& req;
  const RouteContext& ctx;
  std::string principal;
  ApiVersion api;
  std::string vault_url;  // https://host[:port], as the client addressed us
  std::string_view Param(std::string_view n) const { return ctx.Param(n); }
};

std::string VaultUrl(const Request& r) {
  std::string u = "https://" + r.host;
  if (r.host_port) absl::StrAppend(&u, ":", *r.host_port);
  return u;
}

Response Error(const absl::Status& s) { return StatusResponse(s); }

Response BadParameter(std::string_view message) {
  return AzureError(400, "BadParameter", message);
}

Response Json(const json& j, int status = 200) {
  return JsonResponse(status, j.dump());
}

// KeyAnswer answers `j` about version `k`, which the audit record names
// (for a create, import, rotate or restore: the version made).
Response KeyAnswer(const json& j, const store::KeyVersion& k) {
  Response r = Json(j);
  r.audit.emplace();
  r.audit->key = k.name;
  r.audit->version = k.version;
  return r;
}

// ParseBody parses a JSON object body, refusing deep nesting before
// anything walks it (base/json.h).
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

// Kid is the key identifier of version `k` under vault URL `url`.
std::string Kid(const store::KeyVersion& k, const std::string& url) {
  return absl::StrCat(url, "/keys/", k.name, "/", k.version);
}

json KeyJson(const store::KeyVersion& k, const std::string& url) {
  json key = json::object();
  if (!k.public_jwk.empty()) {
    absl::StatusOr<json> parsed = ParseJson(k.public_jwk);
    if (parsed.ok() && parsed->is_object()) key = std::move(*parsed);
  }
  key["kid"] = Kid(k, url);
  key["kty"] = k.kty;
  key["key_ops"] = k.key_ops;
  return key;
}

bool IsHsmKty(std::string_view kty) {
  return kty.size() > 4 && kty.substr(kty.size() - 4) == "-HSM";
}

class Renderer {
 public:
  Renderer(const vault::KeyVault& v, const Call& c) : v_(v), c_(c) {}

  json Attributes(const store::KeyVersion& k) const {
    json a = {{"enabled", k.enabled},
              {"created", k.created},
              {"updated", k.updated},
              {"recoveryLevel", v_.options().recovery_level}};
    if (k.not_before) a["nbf"] = *k.not_before;
    if (k.expires) a["exp"] = *k.expires;
    if (c_.api.level >= ApiLevel::k7_1) {
      a["recoverableDays"] = v_.options().recoverable_days;
    }
    if (c_.api.level >= ApiLevel::k7_3) a["exportable"] = k.exportable;
    if (c_.api.level >= ApiLevel::k7_5 && IsHsmKty(k.kty)) {
      a["hsmPlatform"] = v_.custody().Platform();
    }
    return a;
  }

  void AddTags(json& out, const store::KeyVersion& k) const {
    if (k.tags_json.empty() || k.tags_json == "{}") return;
    absl::StatusOr<json> t = ParseJson(k.tags_json);
    if (t.ok()) out["tags"] = std::move(*t);
  }

  json Bundle(const store::KeyVersion& k) const {
    json b = {{"key", KeyJson(k, c_.vault_url)}, {"attributes", Attributes(k)}};
    AddTags(b, k);
    if (k.managed) b["managed"] = true;
    return b;
  }

  json Item(const store::KeyVersion& k, bool with_version) const {
    std::string kid = absl::StrCat(c_.vault_url, "/keys/", k.name);
    if (with_version) absl::StrAppend(&kid, "/", k.version);
    json i = {{"kid", kid}, {"attributes", Attributes(k)}};
    AddTags(i, k);
    if (k.managed) i["managed"] = true;
    return i;
  }

  void AddDeleted(json& out, const store::KeyName& n) const {
    out["recoveryId"] = absl::StrCat(c_.vault_url, "/deletedkeys/", n.name);
    out["deletedDate"] = n.deleted_date;
    out["scheduledPurgeDate"] = n.scheduled_purge_date;
  }

 private:
  const vault::KeyVault& v_;
  const Call& c_;
};

// PageParams reads maxresults (1..25) and $skiptoken.
struct PageParams {
  int limit = kMaxPage;
  std::string after;
};

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

std::string NextLink(const Call& c, std::string_view path,
                     const std::string& cursor, int limit) {
  return absl::StrCat(c.vault_url, Sv(path), "?api-version=", c.api.text,
                      "&$skiptoken=", Base64UrlEncode(AsBytes(cursor)),
                      "&maxresults=", limit);
}

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

// ReadProperties reads attributes, tags and key_ops of create, import and
// update bodies. `key_ops` comes from `ops_holder` (the body for create and
// update, the key for import).
absl::StatusOr<vault::KeyProperties> ReadProperties(const json& body,
                                                    const json& ops_holder) {
  vault::KeyProperties p;
  if (body.contains("attributes") && !body["attributes"].is_null()) {
    const json& a = body["attributes"];
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

absl::StatusOr<crypto::SignAlg> SignAlgField(const json& body) {
  std::string alg = StringField(body, "alg");
  absl::StatusOr<crypto::SignAlg> a = crypto::ParseSignAlg(alg);
  if (!a.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid algorithm: '", alg, "'."));
  }
  return a;
}

absl::StatusOr<custody::CipherInput> CipherField(const json& body) {
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

}  // namespace

absl::StatusOr<Grant> ParseGrant(std::string_view text) {
  std::vector<std::string> parts = absl::StrSplit(Sv(text), ':');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a grant is principal:vault:role (vault may be *), not '",
                     Sv(text), "'"));
  }
  ASSIGN_OR_RETURN(auth::Role role, auth::ParseRole(parts[2]));
  return Grant{parts[0], absl::AsciiStrToLower(parts[1]), role};
}

KeysApi::KeysApi(KeysApiOptions options, vault::KeyVault* vault)
    : options_(std::move(options)),
      vault_(vault),
      token_key_(options_.token_key) {}

void KeysApi::SetTokenKey(EVP_PKEY* key) { token_key_.store(key); }

absl::StatusOr<std::unique_ptr<KeysApi>> KeysApi::New(KeysApiOptions options,
                                                      vault::KeyVault* vault) {
  if (vault == nullptr) {
    return absl::InvalidArgumentError("KeysApi needs a vault");
  }
  if (options.token_issuer.empty() || options.tenant.empty() ||
      options.token_max_lifetime < 1) {
    return absl::InvalidArgumentError(
        "KeysApi needs the token issuer, the tenant and a positive maximum "
        "token lifetime");
  }
  if (!options.clock) options.clock = vault::SystemClock;
  auto api = std::unique_ptr<KeysApi>(new KeysApi(std::move(options), vault));
  RETURN_IF_ERROR(api->Register());
  return api;
}

bool KeysApi::MayBlock(const Request& r) {
  if (EqualsIgnoreCase(r.method, "GET") || EqualsIgnoreCase(r.method, "HEAD")) {
    return false;
  }
  if (!EqualsIgnoreCase(r.method, "POST") || r.path_segments.empty()) {
    return true;
  }
  const std::string& last = r.path_segments.back();
  for (std::string_view op : {"sign", "verify", "encrypt", "decrypt", "wrapkey",
                              "unwrapkey", "backup", "rng"}) {
    if (EqualsIgnoreCase(last, op)) return false;
  }
  return true;
}

auth::TokenRequirements KeysApi::TokenRules(std::string_view audience) const {
  return {.issuer = options_.token_issuer,
          .tenant = options_.tenant,
          .audience = audience,
          .max_lifetime_seconds = options_.token_max_lifetime};
}

Response KeysApi::Handle(const Request& request) const {
  return router_->Handle(request);
}

absl::Status KeysApi::Register() {
  std::vector<std::string> vaults = options_.vaults;
  router_ = std::make_unique<Router>(RouterOptions{
      .domain = options_.domain,
      .vault_exists =
          [vaults](std::string_view v) {
            return std::find(vaults.begin(), vaults.end(), v) != vaults.end();
          },
  });

  // Wrap turns an operation into a route handler: bearer token, RBAC,
  // api-version, then the operation, with JSON errors as 400.
  auto wrap = [this](Operation op, std::string_view op_name,
                     std::function<Response(const Call&)> fn) -> RouteHandler {
    return [this, op, op_name, fn](const Request& req,
                                   const RouteContext& ctx) -> Response {
      const std::string resource = router_->ChallengeResource(req);
      std::string key(ctx.Param("name"));
      // Every routed answer carries its audit note; a handler may have
      // named the key and version it acted on (the version created, the
      // latest one used).
      auto done = [&](Response r, std::string_view principal) {
        AuditNote note = r.audit.value_or(AuditNote{});
        note.vault = std::string(ctx.vault);
        note.principal = std::string(principal);
        note.operation = std::string(op_name);
        if (note.key.empty()) note.key = key;
        if (note.version.empty())
          note.version = std::string(ctx.Param("version"));
        r.audit = std::move(note);
        return r;
      };
      std::optional<std::string_view> authz = req.headers.Get("Authorization");
      if (!authz.has_value() || authz->size() < 8 ||
          !EqualsIgnoreCase(authz->substr(0, 7), "Bearer ")) {
        return done(ChallengeResponse(resource, options_.tenant), "");
      }
      absl::StatusOr<auth::Claims> claims =
          tokens_.Verify(authz->substr(7), token_key_.load(),
                         TokenRules(resource), options_.clock());
      if (!claims.ok()) {
        Response r = ChallengeResponse(resource, options_.tenant);
        r.body = AzureError(401, "Unauthorized",
                            absl::StrCat("AKV10032: the access token was "
                                         "rejected: ",
                                         claims.status().message()))
                     .body;
        return done(std::move(r), "");
      }
      const std::string& principal = claims->subject;
      bool allowed = false;
      for (const Grant& g : options_.grants) {
        if (g.principal == principal &&
            (g.vault == "*" || g.vault == ctx.vault) &&
            auth::Allows(g.role, op)) {
          allowed = true;
          break;
        }
      }
      if (!allowed) {
        return done(
            AzureError(
                403, "Forbidden",
                absl::StrCat(
                    "Caller is not authorized to perform action on "
                    "resource.\r\nIf role assignments, deny assignments or "
                    "role definitions were changed recently, please observe "
                    "propagation time.\r\nCaller: oid=",
                    principal, "\r\nAction: '", Sv(auth::DataAction(op)),
                    "'\r\nResource: '/vaults/", ctx.vault,
                    key.empty() ? "" : "/keys/", key,
                    "'\r\nAssignment: (not found)\r\nVault: ", ctx.vault,
                    ";location=local\r\n"),
                "ForbiddenByRbac"),
            principal);
      }
      absl::StatusOr<ApiVersion> api = RequestApiVersion(req);
      if (!api.ok()) return done(Error(api.status()), principal);
      Call call{req, ctx, principal, *api, VaultUrl(req)};
      try {
        return done(fn(call), principal);
      } catch (const json::exception&) {
        return done(BadParameter("The request body has a member of the wrong "
                                 "type."),
                    principal);
      }
    };
  };

  vault::KeyVault& v = *vault_;
  auto add = [&](std::string_view method, std::string_view pattern,
                 Operation op, std::string_view name,
                 std::function<Response(const Call&)> fn) {
    return router_->Add(method, pattern, wrap(op, name, std::move(fn)));
  };

  // --- create, import, get, update, list ---------------------------------
  RETURN_IF_ERROR(add(
      "POST", "/keys/{name}/create", Operation::kCreate, "create",
      [&v](const Call& c) -> Response {
        absl::StatusOr<json> body = ParseBody(c.req);
        if (!body.ok()) return Error(body.status());
        vault::CreateKeyRequest cr;
        absl::StatusOr<vault::Kty> kty =
            vault::ParseKty(StringField(*body, "kty"));
        if (!kty.ok()) return Error(kty.status());
        cr.kty = *kty;
        if (body->contains("key_size") && !(*body)["key_size"].is_null()) {
          cr.key_size = (*body)["key_size"].get<int>();
        }
        if (body->contains("public_exponent") &&
            !(*body)["public_exponent"].is_null()) {
          cr.public_exponent = (*body)["public_exponent"].get<uint32_t>();
        }
        if (std::string crv = StringField(*body, "crv"); !crv.empty()) {
          absl::StatusOr<crypto::Curve> curve = crypto::ParseCurve(crv);
          if (!curve.ok()) {
            return BadParameter(absl::StrCat("Unsupported curve '", crv, "'."));
          }
          cr.curve = *curve;
        }
        absl::StatusOr<vault::KeyProperties> props =
            ReadProperties(*body, *body);
        if (!props.ok()) return Error(props.status());
        cr.properties = std::move(*props);
        absl::StatusOr<store::KeyVersion> k =
            v.Create(c.ctx.vault, c.Param("name"), cr);
        if (!k.ok()) return Error(k.status());
        return KeyAnswer(Renderer(v, c).Bundle(*k), *k);
      }));

  RETURN_IF_ERROR(add(
      "PUT", "/keys/{name}", Operation::kImport, "import",
      [&v](const Call& c) -> Response {
        absl::StatusOr<json> body = ParseBody(c.req);
        if (!body.ok()) return Error(body.status());
        if (!body->contains("key") || !(*body)["key"].is_object()) {
          return BadParameter(
              "The property \"key\" must be a valid JsonWebKey object.");
        }
        const json& key = (*body)["key"];
        vault::ImportKeyRequest ir;
        ir.vault_host = c.vault_url.substr(std::string_view("https://").size());
        absl::StatusOr<vault::Kty> kty =
            vault::ParseKty(StringField(key, "kty"));
        if (!kty.ok()) return Error(kty.status());
        ir.kty = *kty;
        if (body->contains("Hsm") && (*body)["Hsm"].is_boolean()) {
          ir.hsm = (*body)["Hsm"].get<bool>();
        }
        if (std::string crv = StringField(key, "crv"); !crv.empty()) {
          absl::StatusOr<crypto::Curve> curve = crypto::ParseCurve(crv);
          if (!curve.ok()) {
            return BadParameter(absl::StrCat("Unsupported curve '", crv, "'."));
          }
          ir.curve = *curve;
        }
        if (key.contains("key_hsm") && !key["key_hsm"].is_null()) {
          absl::StatusOr<std::vector<uint8_t>> blob =
              B64Field(key, "key_hsm", true);
          if (!blob.ok()) {
            return BadParameter(
                "key_hsm must be the base64url encoding of a BYOK blob.");
          }
          ir.key_hsm = std::move(*blob);
        } else if (vault::KindOf(ir.kty) == custody::KeyKind::kOct) {
          absl::StatusOr<std::vector<uint8_t>> k = B64Field(key, "k", true);
          if (!k.ok()) return Error(k.status());
          ir.secret = SecretBytes(*k);
          std::fill(k->begin(), k->end(), 0);
        } else {
          absl::StatusOr<crypto::EvpPkeyPtr> pk = vault::ParsePrivateJwk(key);
          if (!pk.ok()) return Error(pk.status());
          ir.private_key = std::move(*pk);
        }
        absl::StatusOr<vault::KeyProperties> props = ReadProperties(*body, key);
        if (!props.ok()) return Error(props.status());
        ir.properties = std::move(*props);
        absl::StatusOr<store::KeyVersion> k =
            v.Import(c.ctx.vault, c.Param("name"), std::move(ir));
        if (!k.ok()) return Error(k.status());
        return KeyAnswer(Renderer(v, c).Bundle(*k), *k);
      }));

  RETURN_IF_ERROR(add("GET", "/keys", Operation::kList, "list",
                      [&v](const Call& c) -> Response {
                        absl::StatusOr<PageParams> p = ReadPage(c.req);
                        if (!p.ok()) return Error(p.status());
                        auto page = v.List(c.ctx.vault, p->after, p->limit);
                        if (!page.ok()) return Error(page.status());
                        Renderer r(v, c);
                        json items = json::array();
                        for (const auto& k : page->items)
                          items.push_back(r.Item(k, false));
                        json out = {{"value", items}, {"nextLink", nullptr}};
                        if (page->next)
                          out["nextLink"] =
                              NextLink(c, "/keys", *page->next, p->limit);
                        return Json(out);
                      }));

  RETURN_IF_ERROR(add(
      "GET", "/keys/{name}/versions", Operation::kList, "listversions",
      [&v](const Call& c) -> Response {
        absl::StatusOr<PageParams> p = ReadPage(c.req);
        if (!p.ok()) return Error(p.status());
        auto page =
            v.ListVersions(c.ctx.vault, c.Param("name"), p->after, p->limit);
        if (!page.ok()) return Error(page.status());
        Renderer r(v, c);
        json items = json::array();
        for (const auto& k : page->items) items.push_back(r.Item(k, true));
        json out = {{"value", items}, {"nextLink", nullptr}};
        if (page->next) {
          out["nextLink"] = NextLink(
              c, absl::StrCat("/keys/", Sv(c.Param("name")), "/versions"),
              *page->next, p->limit);
        }
        return Json(out);
      }));

  // --- rotation ------------------------------------------------------------
  RETURN_IF_ERROR(
      add("GET", "/keys/{name}/rotationpolicy", Operation::kGetRotationPolicy,
          "getrotationpolicy", [&v](const Call& c) -> Response {
            absl::StatusOr<std::string> p = v.GetRotationPolicy(
                c.ctx.vault, c.Param("name"),
                absl::StrCat(c.vault_url, "/keys/", Sv(c.Param("name"))));
            if (!p.ok()) return Error(p.status());
            return JsonResponse(200, *p);
          }));
  RETURN_IF_ERROR(add(
      "PUT", "/keys/{name}/rotationpolicy", Operation::kSetRotationPolicy,
      "setrotationpolicy", [&v](const Call& c) -> Response {
        absl::StatusOr<json> body = ParseBody(c.req);
        if (!body.ok()) return Error(body.status());
        // Clients send explicit nulls for unset members.
        if (body->contains("attributes") && (*body)["attributes"].is_object()) {
          json& a = (*body)["attributes"];
          for (auto it = a.begin(); it != a.end();) {
            it = it.value().is_null() ? a.erase(it) : std::next(it);
          }
        }
        absl::StatusOr<std::string> p = v.SetRotationPolicy(
            c.ctx.vault, c.Param("name"), body->dump(),
            absl::StrCat(c.vault_url, "/keys/", Sv(c.Param("name"))));
        if (!p.ok()) return Error(p.status());
        return JsonResponse(200, *p);
      }));
  RETURN_IF_ERROR(add("POST", "/keys/{name}/rotate", Operation::kRotate,
                      "rotate", [&v](const Call& c) -> Response {
                        absl::StatusOr<store::KeyVersion> k =
                            v.Rotate(c.ctx.vault, c.Param("name"));
                        if (!k.ok()) return Error(k.status());
                        return KeyAnswer(Renderer(v, c).Bundle(*k), *k);
                      }));

  // --- backup and restore --------------------------------------------------
  RETURN_IF_ERROR(add("POST", "/keys/{name}/backup", Operation::kBackup,
                      "backup", [&v](const Call& c) -> Response {
                        absl::StatusOr<std::vector<uint8_t>> b =
                            v.Backup(c.ctx.vault, c.Param("name"));
                        if (!b.ok()) return Error(b.status());
                        return Json({{"value", Base64UrlEncode(*b)}});
                      }));
  RETURN_IF_ERROR(add("POST", "/keys/restore", Operation::kRestore, "restore",
                      [&v](const Call& c) -> Response {
                        absl::StatusOr<json> body = ParseBody(c.req);
                        if (!body.ok()) return Error(body.status());
                        absl::StatusOr<std::vector<uint8_t>> b =
                            B64Field(*body, "value", true);
                        if (!b.ok()) return Error(b.status());
                        absl::StatusOr<store::KeyVersion> k =
                            v.Restore(c.ctx.vault, *b);
                        if (!k.ok()) return Error(k.status());
                        return KeyAnswer(Renderer(v, c).Bundle(*k), *k);
                      }));

  // --- cryptographic operations ------------------------------------------
  auto sign = [&v](const Call& c) -> Response {
    absl::StatusOr<json> body = ParseBody(c.req);
    if (!body.ok()) return Error(body.status());
    absl::StatusOr<crypto::SignAlg> alg = SignAlgField(*body);
    if (!alg.ok()) return Error(alg.status());
    absl::StatusOr<std::vector<uint8_t>> digest =
        B64Field(*body, "value", true);
    if (!digest.ok()) return Error(digest.status());
    auto r =
        v.Sign(c.ctx.vault, c.Param("name"), c.Param("version"), *alg, *digest);
    if (!r.ok()) return Error(r.status());
    return KeyAnswer({{"kid", Kid(r->first, c.vault_url)},
                      {"value", Base64UrlEncode(r->second)}},
                     r->first);
  };
  auto verify = [&v](const Call& c) -> Response {
    absl::StatusOr<json> body = ParseBody(c.req);
    if (!body.ok()) return Error(body.status());
    absl::StatusOr<crypto::SignAlg> alg = SignAlgField(*body);
    if (!alg.ok()) return Error(alg.status());
    absl::StatusOr<std::vector<uint8_t>> digest =
        B64Field(*body, "digest", true);
    if (!digest.ok()) return Error(digest.status());
    absl::StatusOr<std::vector<uint8_t>> sig = B64Field(*body, "value", true);
    if (!sig.ok()) return Error(sig.status());
    absl::StatusOr<bool> ok = v.Verify(c.ctx.vault, c.Param("name"),
                                       c.Param("version"), *alg, *digest, *sig);
    if (!ok.ok()) return Error(ok.status());
    return Json({{"value", *ok}});
  };
  auto cipher = [&v](vault::KeyOp op) {
    return [&v, op](const Call& c) -> Response {
      absl::StatusOr<json> body = ParseBody(c.req);
      if (!body.ok()) return Error(body.status());
      absl::StatusOr<custody::CipherInput> in = CipherField(*body);
      if (!in.ok()) return Error(in.status());
      auto r =
          v.Cipher(c.ctx.vault, c.Param("name"), c.Param("version"), op, *in);
      if (!r.ok()) return Error(r.status());
      json out = {{"kid", Kid(r->first, c.vault_url)},
                  {"value", Base64UrlEncode(r->second.value)}};
      if (!r->second.iv.empty()) out["iv"] = Base64UrlEncode(r->second.iv);
      if (!r->second.tag.empty()) out["tag"] = Base64UrlEncode(r->second.tag);
      if (!in->aad.empty()) out["aad"] = Base64UrlEncode(in->aad);
      return KeyAnswer(out, r->first);
    };
  };
  struct CryptoRoute {
    const char* verb;
    Operation op;
    std::function<Response(const Call&)> fn;
  };
  const CryptoRoute crypto_routes[] = {
      {"sign", Operation::kSign, sign},
      {"verify", Operation::kVerify, verify},
      {"encrypt", Operation::kEncrypt, cipher(vault::KeyOp::kEncrypt)},
      {"decrypt", Operation::kDecrypt, cipher(vault::KeyOp::kDecrypt)},
      {"wrapkey", Operation::kWrapKey, cipher(vault::KeyOp::kWrapKey)},
      {"unwrapkey", Operation::kUnwrapKey, cipher(vault::KeyOp::kUnwrapKey)},
  };
  for (const CryptoRoute& r : crypto_routes) {
    RETURN_IF_ERROR(add("POST", absl::StrCat("/keys/{name}/{version}/", r.verb),
                        r.op, r.verb, r.fn));
    // An empty version segment (/keys/k//sign) means the latest version.
    RETURN_IF_ERROR(add("POST", absl::StrCat("/keys/{name}//", r.verb), r.op,
                        r.verb, r.fn));
  }

  // --- get, update, delete -------------------------------------------------
  RETURN_IF_ERROR(add("GET", "/keys/{name}/{version?}", Operation::kGet, "get",
                      [&v](const Call& c) -> Response {
                        absl::StatusOr<store::KeyVersion> k = v.Get(
                            c.ctx.vault, c.Param("name"), c.Param("version"));
                        if (!k.ok()) return Error(k.status());
                        return KeyAnswer(Renderer(v, c).Bundle(*k), *k);
                      }));
  RETURN_IF_ERROR(add("PATCH", "/keys/{name}/{version?}", Operation::kUpdate,
                      "update", [&v](const Call& c) -> Response {
                        absl::StatusOr<json> body = ParseBody(c.req);
                        if (!body.ok()) return Error(body.status());
                        absl::StatusOr<vault::KeyProperties> props =
                            ReadProperties(*body, *body);
                        if (!props.ok()) return Error(props.status());
                        absl::StatusOr<store::KeyVersion> k =
                            v.Update(c.ctx.vault, c.Param("name"),
                                     c.Param("version"), *props);
                        if (!k.ok()) return Error(k.status());
                        return KeyAnswer(Renderer(v, c).Bundle(*k), *k);
                      }));
  RETURN_IF_ERROR(add("DELETE", "/keys/{name}", Operation::kDelete, "delete",
                      [&v](const Call& c) -> Response {
                        absl::StatusOr<vault::DeletedKey> d =
                            v.Delete(c.ctx.vault, c.Param("name"));
                        if (!d.ok()) return Error(d.status());
                        Renderer r(v, c);
                        json out = r.Bundle(d->latest);
                        r.AddDeleted(out, d->name);
                        return Json(out);
                      }));

  // --- deleted keys --------------------------------------------------------
  RETURN_IF_ERROR(add(
      "GET", "/deletedkeys", Operation::kListDeleted, "listdeleted",
      [&v](const Call& c) -> Response {
        absl::StatusOr<PageParams> p = ReadPage(c.req);
        if (!p.ok()) return Error(p.status());
        auto page = v.ListDeleted(c.ctx.vault, p->after, p->limit);
        if (!page.ok()) return Error(page.status());
        Renderer r(v, c);
        json items = json::array();
        for (const auto& [n, k] : page->items) {
          json item = r.Item(k, false);
          r.AddDeleted(item, n);
          items.push_back(item);
        }
        json out = {{"value", items}, {"nextLink", nullptr}};
        if (page->next) {
          out["nextLink"] = NextLink(c, "/deletedkeys", *page->next, p->limit);
        }
        return Json(out);
      }));
  RETURN_IF_ERROR(add("GET", "/deletedkeys/{name}", Operation::kGetDeleted,
                      "getdeleted", [&v](const Call& c) -> Response {
                        absl::StatusOr<vault::DeletedKey> d =
                            v.GetDeleted(c.ctx.vault, c.Param("name"));
                        if (!d.ok()) return Error(d.status());
                        Renderer r(v, c);
                        json out = r.Bundle(d->latest);
                        r.AddDeleted(out, d->name);
                        return Json(out);
                      }));
  RETURN_IF_ERROR(add("POST", "/deletedkeys/{name}/recover",
                      Operation::kRecover, "recover",
                      [&v](const Call& c) -> Response {
                        absl::StatusOr<store::KeyVersion> k =
                            v.Recover(c.ctx.vault, c.Param("name"));
                        if (!k.ok()) return Error(k.status());
                        return KeyAnswer(Renderer(v, c).Bundle(*k), *k);
                      }));
  RETURN_IF_ERROR(add("DELETE", "/deletedkeys/{name}", Operation::kPurge,
                      "purge", [&v](const Call& c) -> Response {
                        absl::Status s = v.Purge(c.ctx.vault, c.Param("name"));
                        if (!s.ok()) return Error(s);
                        Response r;
                        r.status = 204;
                        AddStandardHeaders(r);
                        return r;
                      }));

  // --- random bytes --------------------------------------------------------
  RETURN_IF_ERROR(add(
      "POST", "/rng", Operation::kGetRandom, "rng",
      [](const Call& c) -> Response {
        absl::StatusOr<json> body = ParseBody(c.req);
        if (!body.ok()) return Error(body.status());
        if (!body->contains("count") || !(*body)["count"].is_number_integer()) {
          return BadParameter("The property \"count\" is required.");
        }
        int64_t n = (*body)["count"].get<int64_t>();
        if (n < 1 || n > 128) {
          return BadParameter("count must be from 1 to 128.");
        }
        absl::StatusOr<std::vector<uint8_t>> r =
            crypto::RandomBytes(static_cast<size_t>(n));
        if (!r.ok()) return Error(r.status());
        return Json({{"value", Base64UrlEncode(*r)}});
      }));

  // --- service routes (parent domain) --------------------------------------
  RETURN_IF_ERROR(router_->Add(
      "GET", "/healthz",
      [this](const Request&, const RouteContext&) {
        Health h = options_.health ? options_.health() : Health{};
        json out = {{"status", h.ok ? "ok" : "unavailable"}};
        if (h.details.is_object()) {
          for (auto it = h.details.begin(); it != h.details.end(); ++it) {
            out[it.key()] = it.value();
          }
        }
        return Json(out, h.ok ? 200 : 503);
      },
      RouteScope::kService));
  // ARM's cloud metadata, which `az cloud register
  // --endpoint-resource-manager https://<domain>:<port>/` reads first (as
  // "//metadata/endpoints" because it appends to the trailing '/'). No token.
  for (const char* path : {"/metadata/endpoints", "//metadata/endpoints"}) {
    RETURN_IF_ERROR(router_->Add(
        "GET", path,
        [](const Request&, const RouteContext&) {
          return JsonResponse(
              200,
              R"({"galleryEndpoint":"","graphEndpoint":"https://graph.windows.net/",)"
              R"("portalEndpoint":"","authentication":{"loginEndpoint":)"
              R"("https://login.microsoftonline.com/","audiences":)"
              R"(["https://management.core.windows.net/"]}})");
        },
        RouteScope::kService));
  }
  RETURN_IF_ERROR(router_->Add(
      "GET", "/subscriptions",
      [this](const Request& req, const RouteContext&) -> Response {
        // ARM for `az login --identity`: any unexpired token of ours, for
        // the management resource or for this server.
        const std::string resource = router_->ChallengeResource(req);
        std::optional<std::string_view> authz =
            req.headers.Get("Authorization");
        if (!authz.has_value() || authz->size() < 8) {
          return ChallengeResponse(resource, options_.tenant);
        }
        std::string_view token = authz->substr(7);
        const int64_t now = options_.clock();
        bool ok = false;
        for (std::string_view aud :
             {std::string_view(resource),
              std::string_view("https://management.core.windows.net/"),
              std::string_view("https://management.azure.com/")}) {
          if (auth::VerifyToken(token, token_key_.load(), TokenRules(aud), now)
                  .ok()) {
            ok = true;
            break;
          }
        }
        if (!ok) {
          return AzureError(401, "InvalidAuthenticationToken",
                            "The access token is invalid.");
        }
        return JsonResponse(
            200,
            auth::SubscriptionsBody(options_.tenant, options_.subscription_id));
      },
      RouteScope::kService));
  return absl::OkStatus();
}

absl::StatusOr<std::string> KeysApi::Operator(const Request& req) const {
  std::optional<std::string_view> authz = req.headers.Get("Authorization");
  if (!authz.has_value() || authz->size() < 8 ||
      !EqualsIgnoreCase(authz->substr(0, 7), "Bearer ")) {
    return absl::UnauthenticatedError("a bearer token is required");
  }
  absl::StatusOr<auth::Claims> claims = tokens_.Verify(
      authz->substr(7), token_key_.load(),
      TokenRules(router_->ChallengeResource(req)), options_.clock());
  if (!claims.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the access token was rejected: ", claims.status().message()));
  }
  for (const std::string& vault : options_.vaults) {
    bool officer = false;
    for (const Grant& g : options_.grants) {
      officer |= g.principal == claims->subject &&
                 (g.vault == "*" || g.vault == vault) &&
                 g.role == auth::Role::kCryptoOfficer;
    }
    if (!officer) {
      return absl::PermissionDeniedError(
          absl::StrCat(claims->subject, " is not Crypto Officer on vault ",
                       vault, "; only an officer of every vault may seal"));
    }
  }
  return claims->subject;
}

}  // namespace keyferry::http
