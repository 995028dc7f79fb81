// IdentityService: keyferryd's managed-identity endpoint, /msi/token on the
// loopback identity listener (docs/api.md §5). The styles and their rules
// are auth/identity.h's; this layer adds the transport's part:
//   - the legacy MSI style (POST, no secret) is refused unless
//     IdentityConfig::legacy_uids names uids, and then the uid owning the
//     client's TCP socket (sock_diag, base/socket_owner.h) must be one of
//     them; the lookup runs for legacy requests only;
//   - every answered token request, minted or refused, carries an audit
//     note (recorded before the answer is sent): operation
//     "identity-token:<style>"
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
#ifndef KEYFERRY_SERVER_IDENTITY_SERVICE_H_
#define KEYFERRY_SERVER_IDENTITY_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "auth/identity.h"
#include "auth/jwt.h"
#include "http/message.h"

namespace keyferry::server {

// TokenKey is the key tokens are signed with: its id and a signer (which
// runs in the custody).
struct TokenKey {
  std::string key_id;
  auth::Es256Signer sign;
};

struct IdentityServiceOptions {
  auth::IdentityConfig config;  // config.key_id is taken from token_key
  // token_key returns the token key, or Unavailable while keyferryd is
  // sealed (the request is then answered 503 and audited).
  std::function<absl::StatusOr<TokenKey>()> token_key;
  std::function<int64_t()> clock;  // Unix seconds; default the system clock
  // peer_uid returns the uid owning the client's socket; default
  // PeerSocketOwner. Called only for legacy-style requests while
  // config.legacy_uids is not empty.
  std::function<absl::StatusOr<uint32_t>(const http::Request&)> peer_uid;
};

// PeerSocketOwner returns the uid owning the client's end of the
// connection `request` came on (TcpSocketOwner of the swapped 4-tuple);
// NotFound when that socket is gone or closed, InvalidArgument when the
// request does not carry its connection's addresses.
absl::StatusOr<uint32_t> PeerSocketOwner(const http::Request& request);

class IdentityService {
 public:
  // The constructor logs a warning naming the uids when the secretless
  // legacy style is enabled (config.legacy_uids not empty).
  explicit IdentityService(IdentityServiceOptions options);

  // Handle answers one request to the identity listener.
  http::Response Handle(const http::Request& request) const;

 private:
  // Issue signs a token for `request` with the current token key.
  absl::StatusOr<std::string> Issue(auth::IdentityConfig config,
                                    const auth::IdentityRequest& request) const;

  IdentityServiceOptions options_;
};

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_IDENTITY_SERVICE_H_
