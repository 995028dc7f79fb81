#include "auth/identity_endpoint.h"

#include <chrono>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/socket_owner.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::auth {
namespace {

bool IsTokenPath(const std::vector<std::string>& p) {
  return p.size() >= 2 && p[0] == "msi" && p[1] == "token" &&
         (p.size() == 2 || (p.size() == 3 && p[2].empty()));
}

EndpointResponse ErrorResponse(int status, std::string_view code,
                               std::string_view message) {
  EndpointResponse res;
  res.status = status;
  res.body = absl::StrCat("{\"error\":", JsonEscape(code),
                          ",\"error_description\":", JsonEscape(message), "}");
  return res;
}

int64_t SystemClock() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<uint32_t> PeerSocketOwner(const Connection& c) {
  if (c.remote_address.empty() || c.local_address.empty() ||
      c.remote_port == 0 || c.local_port == 0) {
    return absl::InvalidArgumentError(
        "the request does not name its connection's addresses");
  }
  return TcpSocketOwner({.local_address = c.remote_address,
                         .local_port = c.remote_port,
                         .remote_address = c.local_address,
                         .remote_port = c.local_port});
}

IdentityEndpoint::IdentityEndpoint(IdentityEndpointOptions options)
    : options_(std::move(options)) {
  if (!options_.clock) options_.clock = SystemClock;
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

absl::StatusOr<std::string> IdentityEndpoint::Issue(
    IdentityConfig config, const IdentityRequest& request) const {
  ASSIGN_OR_RETURN(AccessTokenKey key, options_.token_key());
  config.key_id = key.key_id;
  return IssueIdentityToken(config, key.sign, request, options_.clock());
}

EndpointResponse IdentityEndpoint::Handle(EndpointRequest req) const {
  if (!IsTokenPath(req.path_segments)) {
    return ErrorResponse(404, "not_found", "use /msi/token");
  }
  const IdentityConfig& config = options_.config;
  IdentityRequest& ir = req.request;
  const IdentityStyle style = IdentityStyleOf(ir);
  std::string principal = config.principal;
  if (style == IdentityStyle::kLegacyMsi && !config.legacy_uids.empty()) {
    absl::StatusOr<uint32_t> uid = options_.peer_uid(req.connection);
    if (uid.ok()) {
      ir.peer_uid = *uid;
      absl::StrAppend(&principal, " (uid ", *uid, ")");
    } else {
      absl::StrAppend(&principal, " (uid unknown)");
      Log(LogLevel::kWarning, "identity_peer_uid_unknown",
          {{"remote", absl::StrCat(req.connection.remote_address, ":",
                                   req.connection.remote_port)},
           {"error", std::string(uid.status().message())}});
    }
  }
  const std::string operation =
      style == IdentityStyle::kUnknown
          ? std::string("identity-token")
          : absl::StrCat("identity-token:", Sv(IdentityStyleName(style)));

  absl::StatusOr<std::string> body = Issue(config, ir);
  EndpointResponse res;
  if (body.ok()) {
    res.status = 200;
    res.body = std::move(*body);
    Log(LogLevel::kInfo, "identity_token_issued",
        {{"principal", principal},
         {"style", std::string(IdentityStyleName(style))}});
  } else {
    const absl::StatusCode c = body.status().code();
    // Refused callers 401, bad requests 400, a sealed or failing custody
    // 503 (worth a retry); anything else is ours: 500.
    const int status = c == absl::StatusCode::kPermissionDenied  ? 401
                       : c == absl::StatusCode::kInvalidArgument ? 400
                       : c == absl::StatusCode::kUnavailable     ? 503
                                                                 : 500;
    const std::string_view code = status == 401   ? "unauthorized"
                                  : status == 400 ? "invalid_request"
                                  : status == 503 ? "temporarily_unavailable"
                                                  : "server_error";
    res = ErrorResponse(status, code, StdSv(body.status().message()));
    res.error_code = std::string(code);
    Log(LogLevel::kWarning, "identity_refused",
        {{"principal", principal},
         {"style", std::string(IdentityStyleName(style))},
         {"reason", std::string(body.status().message())}});
  }
  res.audit = EndpointAudit{.operation = operation, .principal = principal};
  return res;
}

}  // namespace keyferry::auth
