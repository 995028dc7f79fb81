#include "http/console_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"
#include "http/azure.h"
#include "http/console_files.h"
#include "http/keys_api.h"
#include "http/keys_render.h"

namespace keyferry::http {
namespace {

using json = nlohmann::json;
using auth::Operation;

constexpr Operation kAllOperations[] = {
    Operation::kGet,
    Operation::kList,
    Operation::kListDeleted,
    Operation::kGetDeleted,
    Operation::kCreate,
    Operation::kImport,
    Operation::kUpdate,
    Operation::kDelete,
    Operation::kRecover,
    Operation::kPurge,
    Operation::kBackup,
    Operation::kRestore,
    Operation::kSign,
    Operation::kVerify,
    Operation::kEncrypt,
    Operation::kDecrypt,
    Operation::kWrapKey,
    Operation::kUnwrapKey,
    Operation::kRotate,
    Operation::kGetRotationPolicy,
    Operation::kSetRotationPolicy,
    Operation::kGetRandom,
};

constexpr auth::Role kAllRoles[] = {
    auth::Role::kCryptoOfficer, auth::Role::kCryptoUser,
    auth::Role::kCryptoServiceEncryptionUser, auth::Role::kReader};

// ConsoleJson is a JSON answer with the console's headers, never cached.
Response ConsoleJson(Response r) {
  AddConsoleSecurityHeaders(r);
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

// Refused renders a failed token check or role check.
Response Refused(const Router& router, const KeysApi& api, const Request& req,
                 const absl::Status& s) {
  if (s.code() == absl::StatusCode::kUnauthenticated) {
    Response r =
        ChallengeResponse(router.ChallengeResource(req), api.options().tenant);
    r.body = keys::ErrorResponse(s).body;
    return ConsoleJson(std::move(r));
  }
  return ConsoleJson(AzureError(403, "Forbidden", StdSv(s.message())));
}

// VaultJson is one entry of whoami's "vaults".
json VaultJson(const KeysApiOptions& o, const Request& req,
               std::string_view principal, const std::string& vault) {
  json roles = json::array();
  for (auth::Role role : kAllRoles) {
    bool granted =
        std::any_of(o.grants.begin(), o.grants.end(), [&](const Grant& g) {
          return g.principal == principal &&
                 (g.vault == "*" || g.vault == vault) && g.role == role;
        });
    if (granted) roles.push_back(std::string(auth::RoleName(role)));
  }
  json allowed = json::array();
  for (Operation op : kAllOperations) {
    if (GrantsAllow(o.grants, principal, vault, op)) {
      allowed.push_back(std::string(OperationName(op)));
    }
  }
  std::string url = absl::StrCat("https://", vault, ".", o.domain);
  if (req.host_port.has_value()) absl::StrAppend(&url, ":", *req.host_port);
  return {{"name", vault},
          {"url", url},
          {"roles", std::move(roles)},
          {"allowed", std::move(allowed)}};
}

Response WhoAmI(const Router& router, const KeysApi& api, const Request& req) {
  absl::StatusOr<std::string> principal = api.Principal(req);
  if (!principal.ok()) return Refused(router, api, req, principal.status());
  const KeysApiOptions& o = api.options();
  std::optional<std::string> host_vault = router.VaultOf(req);
  std::string vault;
  if (host_vault.has_value() && std::find(o.vaults.begin(), o.vaults.end(),
                                          *host_vault) != o.vaults.end()) {
    vault = *host_vault;
  }
  json vaults = json::array();
  for (const std::string& v : o.vaults) {
    vaults.push_back(VaultJson(o, req, *principal, v));
  }
  json out = {{"principal", *principal},
              {"vault", vault},
              {"operator", api.Operator(req).ok()},
              {"vaults", std::move(vaults)}};
  return ConsoleJson(JsonResponse(200, out.dump()));
}

Response Audit(const Router& router, const KeysApi& api, const Request& req) {
  absl::StatusOr<std::string> officer = api.Operator(req);
  Response r;
  if (!officer.ok()) {
    absl::Status s = officer.status();
    if (s.code() == absl::StatusCode::kUnauthenticated) {
      // The keys API's message for the same token (AKV10000 / AKV10032).
      s = api.Principal(req).status();
      if (s.ok()) s = officer.status();
    }
    r = Refused(router, api, req, s);
  } else if (!api.options().audit_recent) {
    r = ConsoleJson(AzureError(404, "NotFound",
                               "This keyferryd serves no audit log reader."));
  } else {
    int limit = 50;
    std::optional<std::string_view> text = req.QueryParam("limit");
    if (text.has_value() &&
        (!absl::SimpleAtoi(Sv(*text), &limit) || limit < 1 || limit > 500)) {
      r = ConsoleJson(AzureError(400, "BadParameter",
                                 "limit must be an integer from 1 to 500."));
    } else {
      absl::StatusOr<json> recent = api.options().audit_recent(limit);
      r = recent.ok() ? ConsoleJson(JsonResponse(
                            200, recent->dump(-1, ' ', false,
                                              json::error_handler_t::replace)))
                      : ConsoleJson(keys::ErrorResponse(recent.status()));
    }
  }
  AuditNote note;
  note.principal = officer.ok() ? *officer : "";
  note.operation = "readaudit";
  r.audit = std::move(note);
  return r;
}

}  // namespace

bool IsConsoleAuditPath(const Request& r) {
  return r.path_segments.size() == 3 && r.path_segments[0] == "console" &&
         r.path_segments[1] == "api" && r.path_segments[2] == "audit";
}

std::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kGet:
      return "get";
    case Operation::kList:
      return "list";
    case Operation::kListDeleted:
      return "listdeleted";
    case Operation::kGetDeleted:
      return "getdeleted";
    case Operation::kCreate:
      return "create";
    case Operation::kImport:
      return "import";
    case Operation::kUpdate:
      return "update";
    case Operation::kDelete:
      return "delete";
    case Operation::kRecover:
      return "recover";
    case Operation::kPurge:
      return "purge";
    case Operation::kBackup:
      return "backup";
    case Operation::kRestore:
      return "restore";
    case Operation::kSign:
      return "sign";
    case Operation::kVerify:
      return "verify";
    case Operation::kEncrypt:
      return "encrypt";
    case Operation::kDecrypt:
      return "decrypt";
    case Operation::kWrapKey:
      return "wrapkey";
    case Operation::kUnwrapKey:
      return "unwrapkey";
    case Operation::kRotate:
      return "rotate";
    case Operation::kGetRotationPolicy:
      return "getrotationpolicy";
    case Operation::kSetRotationPolicy:
      return "setrotationpolicy";
    case Operation::kGetRandom:
      return "rng";
  }
  return "unknown";
}

absl::Status AddConsoleApiRoutes(Router& router, const KeysApi& api) {
  RETURN_IF_ERROR(router.Add(
      "GET", "/console/api/whoami",
      [&router, &api](const Request& req, const RouteContext&) {
        return WhoAmI(router, api, req);
      },
      RouteScope::kService));
  return router.Add(
      "GET", "/console/api/audit",
      [&router, &api](const Request& req, const RouteContext&) {
        return Audit(router, api, req);
      },
      RouteScope::kService);
}

}  // namespace keyferry::http
