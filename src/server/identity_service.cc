#include "server/identity_service.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/socket_owner.h"
#include "base/status.h"
#include "base/strings.h"
#include "http/azure.h"
#include "vault/key_vault.h"

namespace keyferry::server {
namespace {

bool IsTokenPath(const http::Request& req) {
  const std::vector<std::string>& p = req.path_segments;
  return p.size() >= 2 && p[0] == "msi" && p[1] == "token" &&
         (p.size() == 2 || (p.size() == 3 && p[2].empty()));
}

http::Response ErrorResponse(int status, std::string_view code,
                             std::string_view message) {
  return http::JsonResponse(
      status,
      absl::StrCat("{\"error\":", JsonEscape(code),
                   ",\"error_description\":", JsonEscape(message), "}"));
}

auth::IdentityRequest ToIdentityRequest(const http::Request& req) {
  auth::IdentityRequest ir;
  ir.method = req.method;
  for (const auto& [k, v] : req.query) ir.query[k] = v;
  for (const auto& [k, v] : req.headers.fields()) {
    ir.headers[absl::AsciiStrToLower(k)] = v;
  }
  ir.body = req.body;
  return ir;
}

}  // namespace

absl::StatusOr<uint32_t> PeerSocketOwner(const http::Request& req) {
  if (req.remote_address.empty() || req.local_address.empty() ||
      req.remote_port == 0 || req.local_port == 0) {
    return absl::InvalidArgumentError(
        "the request does not name its connection's addresses");
  }
  return TcpSocketOwner({.local_address = req.remote_address,
                         .local_port = req.remote_port,
                         .remote_address = req.local_address,
                         .remote_port = req.local_port});
}

IdentityService::IdentityService(IdentityServiceOptions options)
    : options_(std::move(options)) {
  if (!options_.clock) options_.clock = vault::SystemClock;
  if (!options_.peer_uid) options_.peer_uid = PeerSocketOwner;
  if (!options_.config.legacy_uids.empty()) {
    Log(LogLevel::kWarning, "identity_legacy_style_enabled",
        {{"uids", absl::StrJoin(options_.config.legacy_uids, ",")},
         {"principal", options_.config.principal},
         {"risk", absl::StrCat("any process running as one of these uids "
                               "gets a token for ",
                               options_.config.principal,
                               " without the identity secret")}});
  }
}

absl::StatusOr<std::string> IdentityService::Issue(
    auth::IdentityConfig config, const auth::IdentityRequest& request) const {
  ASSIGN_OR_RETURN(TokenKey key, options_.token_key());
  config.key_id = key.key_id;
  return auth::IssueIdentityToken(config, key.sign, request, options_.clock());
}

http::Response IdentityService::Handle(const http::Request& req) const {
  if (!IsTokenPath(req))
    return ErrorResponse(404, "not_found", "use /msi/token");
  const auth::IdentityConfig& config = options_.config;
  auth::IdentityRequest ir = ToIdentityRequest(req);
  const auth::IdentityStyle style = auth::IdentityStyleOf(ir);
  std::string principal = config.principal;
  if (style == auth::IdentityStyle::kLegacyMsi && !config.legacy_uids.empty()) {
    absl::StatusOr<uint32_t> uid = options_.peer_uid(req);
    if (uid.ok()) {
      ir.peer_uid = *uid;
      absl::StrAppend(&principal, " (uid ", *uid, ")");
    } else {
      absl::StrAppend(&principal, " (uid unknown)");
      Log(LogLevel::kWarning, "identity_peer_uid_unknown",
          {{"remote", absl::StrCat(req.remote_address, ":", req.remote_port)},
           {"error", std::string(uid.status().message())}});
    }
  }
  const std::string operation =
      style == auth::IdentityStyle::kUnknown
          ? std::string("identity-token")
          : absl::StrCat("identity-token:", Sv(auth::IdentityStyleName(style)));

  absl::StatusOr<std::string> body = Issue(config, ir);
  http::Response res;
  std::string_view code;
  if (body.ok()) {
    res = http::JsonResponse(200, *body);
    Log(LogLevel::kInfo, "identity_token_issued",
        {{"principal", principal},
         {"style", std::string(auth::IdentityStyleName(style))}});
  } else {
    const absl::StatusCode c = body.status().code();
    // Refused callers 401, bad requests 400, a sealed or failing custody
    // 503 (worth a retry); anything else is ours: 500.
    const int status = c == absl::StatusCode::kPermissionDenied  ? 401
                       : c == absl::StatusCode::kInvalidArgument ? 400
                       : c == absl::StatusCode::kUnavailable     ? 503
                                                                 : 500;
    code = status == 401   ? "unauthorized"
           : status == 400 ? "invalid_request"
           : status == 503 ? "temporarily_unavailable"
                           : "server_error";
    res = ErrorResponse(status, code, StdSv(body.status().message()));
    Log(LogLevel::kWarning, "identity_refused",
        {{"principal", principal},
         {"style", std::string(auth::IdentityStyleName(style))},
         {"reason", std::string(body.status().message())}});
  }
  res.audit.emplace();
  res.audit->operation = operation;
  res.audit->principal = principal;
  res.error_code = std::string(code);
  return res;
}

}  // namespace keyferry::server
