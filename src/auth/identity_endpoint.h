// IdentityEndpoint: keyferryd's managed-identity endpoint, /msi/token on the
// loopback identity listener (docs/api.md §5), independent of the transport
// (server/identity_http.h adapts http::Request and http::Response to it).
// The styles and their rules are auth/identity.h's; this layer adds:
//   - the legacy MSI style (POST, no secret) is refused unless
//     IdentityConfig::legacy_uids names uids, and then the uid owning the
//     client's TCP socket (sock_diag, base/socket_owner.h) must be one of
//     them; the lookup runs for legacy requests only;
//   - every answered token request, minted or refused, carries an audit
//     note (the transport records it before the answer is sent):
//     operation "identity-token:<style>"
//     (app-service-2019, app-service-2017, legacy-msi; "identity-token"
//     for a method that is no style), principal = the identity principal
//     (" (uid N)" appended when the peer's uid was looked up, " (uid
//     unknown)" when the lookup failed), the HTTP status and the error
//     code. Requests for other paths (404) are not token requests and are
//     not reported.
// Answers: 200 with the token body; 401 "unauthorized" for a refused
// credential (PermissionDenied); 400 "invalid_request" for a malformed
// request; 503 "temporarily_unavailable" while sealed or when the custody
// is unavailable (Unavailable); 500 "server_error" for any other failure;
// always {"error","error_description"} as the App Service endpoint does.
// Thread-safe (Handle only reads).
#ifndef KEYFERRY_AUTH_IDENTITY_ENDPOINT_H_
#define KEYFERRY_AUTH_IDENTITY_ENDPOINT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/identity.h"
#include "auth/jwt.h"

namespace keyferry::auth {

// AccessTokenKey is the key tokens are signed with: its id and a signer (which
// runs in the custody).
struct AccessTokenKey {
  std::string key_id;
  Es256Signer sign;
};

// Connection names the two ends of the TCP connection a request came on,
// as the server saw them (local = the listener's end).
struct Connection {
  std::string local_address;
  uint16_t local_port = 0;
  std::string remote_address;
  uint16_t remote_port = 0;
};

// EndpointRequest is what the endpoint reads of one request: its decoded
// path segments ("/msi/token/" is {"msi","token",""}), the request as
// auth/identity.h reads it (method, decoded query, lower-case header
// names, body; peer_uid is set by the endpoint), and its connection.
struct EndpointRequest {
  std::vector<std::string> path_segments;
  IdentityRequest request;
  Connection connection;
};

// EndpointAudit is the audit note of a token request's answer.
struct EndpointAudit {
  std::string operation;  // "identity-token:<style>" or "identity-token"
  std::string principal;  // the identity principal, with " (uid …)"
};

// EndpointResponse is the answer: an HTTP status, its JSON body, the error
// code ("" for 200) and, for token requests, the audit note.
struct EndpointResponse {
  int status = 200;
  std::string body;
  std::string error_code;
  std::optional<EndpointAudit> audit;
};

struct IdentityEndpointOptions {
  IdentityConfig config;  // config.key_id is taken from token_key
  // token_key returns the token key, or Unavailable while keyferryd is
  // sealed (the request is then answered 503 and audited).
  std::function<absl::StatusOr<AccessTokenKey>()> token_key;
  std::function<int64_t()> clock;  // Unix seconds; default the system clock
  // peer_uid returns the uid owning the client's socket; default
  // PeerSocketOwner. Called only for legacy-style requests while
  // config.legacy_uids is not empty.
  std::function<absl::StatusOr<uint32_t>(const Connection&)> peer_uid;
};

// PeerSocketOwner returns the uid owning the client's end of `connection`
// (TcpSocketOwner of the swapped 4-tuple); NotFound when that socket is
// gone or closed, InvalidArgument when an address or port is missing.
absl::StatusOr<uint32_t> PeerSocketOwner(const Connection& connection);

class IdentityEndpoint {
 public:
  // The constructor logs a warning naming the uids when the secretless
  // legacy style is enabled (config.legacy_uids not empty).
  explicit IdentityEndpoint(IdentityEndpointOptions options);

  // Handle answers one request to the identity listener.
  EndpointResponse Handle(EndpointRequest request) const;

 private:
  // Issue signs a token for `request` with the current token key.
  absl::StatusOr<std::string> Issue(IdentityConfig config,
                                    const IdentityRequest& request) const;

  IdentityEndpointOptions options_;
};

}  // namespace keyferry::auth

#endif  // KEYFERRY_AUTH_IDENTITY_ENDPOINT_H_
