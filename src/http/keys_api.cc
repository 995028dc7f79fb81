#include "http/keys_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "auth/jwt.h"
#include "base/error_code.h"
#include "base/status.h"
#include "base/strings.h"
#include "http/azure.h"
#include "http/console_api.h"
#include "http/keys_handlers.h"
#include "http/keys_render.h"

namespace keyferry::http {

using auth::Operation;

// Route is one row of the keys API's route table.
struct KeysApi::Route {
  std::string_view method;
  std::string_view pattern;
  Operation op;
  std::string_view name;  // the audit note's operation
  keys::Handler handler;
};

namespace {

// BearerToken is the token of an "Authorization: Bearer <token>" header.
std::optional<std::string_view> BearerToken(const Request& req) {
  std::optional<std::string_view> authz = req.headers.Get("Authorization");
  if (!authz.has_value() || authz->size() < 8 ||
      !EqualsIgnoreCase(authz->substr(0, 7), "Bearer ")) {
    return std::nullopt;
  }
  return authz->substr(7);
}

// Refusal renders an admission refusal: a 401 carries the challenge.
Response Refusal(const absl::Status& s, std::string_view resource,
                 std::string_view tenant) {
  if (s.code() != absl::StatusCode::kUnauthenticated) {
    return keys::ErrorResponse(s);
  }
  Response r = ChallengeResponse(resource, tenant);
  r.body = keys::ErrorResponse(s).body;
  return r;
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

bool GrantsAllow(const std::vector<Grant>& grants, std::string_view principal,
                 std::string_view vault, Operation op) {
  return std::any_of(grants.begin(), grants.end(), [&](const Grant& g) {
    return g.principal == principal && (g.vault == "*" || g.vault == vault) &&
           auth::Allows(g.role, op);
  });
}

absl::Status CheckRole(const std::vector<Grant>& grants,
                       std::string_view principal, std::string_view vault,
                       std::string_view key, Operation op) {
  if (GrantsAllow(grants, principal, vault, op)) return absl::OkStatus();
  return WithErrorCode(
      absl::PermissionDeniedError(absl::StrCat(
          "Caller is not authorized to perform action on resource.\r\nIf role "
          "assignments, deny assignments or role definitions were changed "
          "recently, please observe propagation time.\r\nCaller: oid=",
          Sv(principal), "\r\nAction: '", Sv(auth::DataAction(op)),
          "'\r\nResource: '/vaults/", Sv(vault), key.empty() ? "" : "/keys/",
          Sv(key), "'\r\nAssignment: (not found)\r\nVault: ", Sv(vault),
          ";location=local\r\n")),
      "Forbidden", "ForbiddenByRbac");
}

KeysApi::KeysApi(KeysApiOptions options, vault::KeyVault* vault)
    : options_(std::move(options)),
      vault_(vault),
      token_key_(options_.token_key) {}

void KeysApi::SetAccessTokenKey(EVP_PKEY* key) { token_key_.store(key); }

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
    // The console's audit page reads and verifies the log file.
    return IsConsoleAuditPath(r);
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

auth::AccessTokenRequirements KeysApi::AccessTokenRules(
    std::string_view audience) const {
  return {.issuer = options_.token_issuer,
          .tenant = options_.tenant,
          .audience = audience,
          .max_lifetime_seconds = options_.token_max_lifetime};
}

Response KeysApi::Handle(const Request& request) const {
  return router_->Handle(request);
}

absl::Status KeysApi::Register() {
  // kRoutes is the keys API, in matching order (the router takes the first
  // route matching the path and method, and lists the methods of the others
  // in a 405's Allow header). An empty version segment (/keys/k//sign) means
  // the latest version.
  static constexpr Route kRoutes[] = {
      {"POST", "/keys/{name}/create", Operation::kCreate, "create",
       keys::CreateKey},
      {"PUT", "/keys/{name}", Operation::kImport, "import", keys::ImportKey},
      {"GET", "/keys", Operation::kList, "list", keys::ListKeys},
      {"GET", "/keys/{name}/versions", Operation::kList, "listversions",
       keys::ListKeyVersions},
      {"GET", "/keys/{name}/rotationpolicy", Operation::kGetRotationPolicy,
       "getrotationpolicy", keys::GetRotationPolicy},
      {"PUT", "/keys/{name}/rotationpolicy", Operation::kSetRotationPolicy,
       "setrotationpolicy", keys::SetRotationPolicy},
      {"POST", "/keys/{name}/rotate", Operation::kRotate, "rotate",
       keys::RotateKey},
      {"POST", "/keys/{name}/backup", Operation::kBackup, "backup",
       keys::BackupKey},
      {"POST", "/keys/restore", Operation::kRestore, "restore",
       keys::RestoreKey},
      {"POST", "/keys/{name}/{version}/sign", Operation::kSign, "sign",
       keys::Sign},
      {"POST", "/keys/{name}//sign", Operation::kSign, "sign", keys::Sign},
      {"POST", "/keys/{name}/{version}/verify", Operation::kVerify, "verify",
       keys::Verify},
      {"POST", "/keys/{name}//verify", Operation::kVerify, "verify",
       keys::Verify},
      {"POST", "/keys/{name}/{version}/encrypt", Operation::kEncrypt, "encrypt",
       keys::Encrypt},
      {"POST", "/keys/{name}//encrypt", Operation::kEncrypt, "encrypt",
       keys::Encrypt},
      {"POST", "/keys/{name}/{version}/decrypt", Operation::kDecrypt, "decrypt",
       keys::Decrypt},
      {"POST", "/keys/{name}//decrypt", Operation::kDecrypt, "decrypt",
       keys::Decrypt},
      {"POST", "/keys/{name}/{version}/wrapkey", Operation::kWrapKey, "wrapkey",
       keys::WrapKey},
      {"POST", "/keys/{name}//wrapkey", Operation::kWrapKey, "wrapkey",
       keys::WrapKey},
      {"POST", "/keys/{name}/{version}/unwrapkey", Operation::kUnwrapKey,
       "unwrapkey", keys::UnwrapKey},
      {"POST", "/keys/{name}//unwrapkey", Operation::kUnwrapKey, "unwrapkey",
       keys::UnwrapKey},
      {"GET", "/keys/{name}/{version?}", Operation::kGet, "get", keys::GetKey},
      {"PATCH", "/keys/{name}/{version?}", Operation::kUpdate, "update",
       keys::UpdateKey},
      {"DELETE", "/keys/{name}", Operation::kDelete, "delete", keys::DeleteKey},
      {"GET", "/deletedkeys", Operation::kListDeleted, "listdeleted",
       keys::ListDeletedKeys},
      {"GET", "/deletedkeys/{name}", Operation::kGetDeleted, "getdeleted",
       keys::GetDeletedKey},
      {"POST", "/deletedkeys/{name}/recover", Operation::kRecover, "recover",
       keys::RecoverKey},
      {"DELETE", "/deletedkeys/{name}", Operation::kPurge, "purge",
       keys::PurgeKey},
      {"POST", "/rng", Operation::kGetRandom, "rng", keys::GetRandom},
  };
  std::vector<std::string> vaults = options_.vaults;
  router_ = std::make_unique<Router>(RouterOptions{
      .domain = options_.domain,
      .vault_exists =
          [vaults](std::string_view v) {
            return std::find(vaults.begin(), vaults.end(), v) != vaults.end();
          },
      .aliases = options_.vault_aliases,
  });
  for (const Route& route : kRoutes) {
    RETURN_IF_ERROR(router_->Add(
        route.method, route.pattern,
        [this, &route](const Request& req, const RouteContext& ctx) {
          return Run(route, req, ctx);
        }));
  }
  RETURN_IF_ERROR(AddConsoleApiRoutes(*router_, *this));
  return AddServiceRoutes(
      *router_, {.health = options_.health,
                 .tenant = options_.tenant,
                 .subscription_id = options_.subscription_id,
                 .accepts_token = [this](std::string_view token,
                                         std::string_view audience) {
                   return auth::VerifyAccessToken(token, token_key_.load(),
                                                  AccessTokenRules(audience),
                                                  options_.clock())
                       .ok();
                 }});
}

KeysApi::Admission KeysApi::Admit(const Request& req, const RouteContext& ctx,
                                  Operation op) const {
  absl::StatusOr<std::string> principal = Principal(req);
  if (!principal.ok()) return {"", principal.status()};
  return {*principal, CheckRole(options_.grants, *principal, ctx.vault,
                                ctx.Param("name"), op)};
}

absl::StatusOr<std::string> KeysApi::Principal(const Request& req) const {
  std::optional<std::string_view> token = BearerToken(req);
  if (!token.has_value()) {
    return absl::UnauthenticatedError(
        "AKV10000: Request is missing a Bearer or PoP token.");
  }
  absl::StatusOr<auth::Claims> claims = tokens_.Verify(
      *token, token_key_.load(),
      AccessTokenRules(router_->ChallengeResource(req)), options_.clock());
  if (!claims.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("AKV10032: the access token was rejected: ",
                     claims.status().message()));
  }
  return claims->subject;
}

Response KeysApi::Run(const Route& route, const Request& req,
                      const RouteContext& ctx) const {
  Admission a = Admit(req, ctx, route.op);
  Response r =
      a.status.ok()
          ? Serve(route, req, ctx, a.principal)
          : Refusal(a.status, router_->ChallengeResource(req), options_.tenant);
  // Every routed answer carries its audit note; a handler may have named
  // the key and version it acted on (the version created, the latest one
  // used).
  AuditNote note = r.audit.value_or(AuditNote{});
  note.vault = ctx.vault;
  note.principal = std::move(a.principal);
  note.operation = std::string(route.name);
  if (note.key.empty()) note.key = std::string(ctx.Param("name"));
  if (note.version.empty()) note.version = std::string(ctx.Param("version"));
  r.audit = std::move(note);
  return r;
}

Response KeysApi::Serve(const Route& route, const Request& req,
                        const RouteContext& ctx, std::string principal) const {
  absl::StatusOr<ApiVersion> api = RequestApiVersion(req);
  if (!api.ok()) return keys::ErrorResponse(api.status());
  keys::Call call{req, ctx, std::move(principal),
                  keys::View{*vault_, *api, keys::VaultUrl(req)}};
  // The readers (keys_request.h) check every member's type and never
  // throw; this catch is the firewall should a nlohmann accessor still do.
  try {
    return keys::Render(route.handler(*vault_, call));
  } catch (const nlohmann::json::exception&) {
    return keys::ErrorResponse(absl::InvalidArgumentError(
        "The request body has a member of the wrong type."));
  }
}

absl::StatusOr<std::string> KeysApi::Operator(const Request& req) const {
  std::optional<std::string_view> token = BearerToken(req);
  if (!token.has_value()) {
    return absl::UnauthenticatedError("a bearer token is required");
  }
  absl::StatusOr<auth::Claims> claims = tokens_.Verify(
      *token, token_key_.load(),
      AccessTokenRules(router_->ChallengeResource(req)), options_.clock());
  if (!claims.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the access token was rejected: ", claims.status().message()));
  }
  for (const std::string& vault : options_.vaults) {
    bool officer = std::any_of(options_.grants.begin(), options_.grants.end(),
                               [&](const Grant& g) {
                                 return g.principal == claims->subject &&
                                        (g.vault == "*" || g.vault == vault) &&
                                        g.role == auth::Role::kCryptoOfficer;
                               });
    if (!officer) {
      return absl::PermissionDeniedError(
          absl::StrCat(claims->subject, " is not Crypto Officer on vault ",
                       vault, "; only an officer of every vault may seal"));
    }
  }
  return claims->subject;
}

}  // namespace keyferry::http
