// keyferryd's managed-identity endpoint, in the two styles real clients use
// (shared reference akv-keys-api.md §8), as transport-independent logic:
//   App Service: GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R
//                with header X-IDENTITY-HEADER: <secret>
//   Legacy MSI:  POST {MSI_ENDPOINT} with form body resource=R and
//                header Metadata: true
// Tokens are issued to one configured principal only.
#ifndef KEYFERRY_AUTH_IDENTITY_H_
#define KEYFERRY_AUTH_IDENTITY_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "auth/jwt.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::auth {

struct IdentityConfig {
  std::string issuer;         // e.g. "https://localhost:8443/identity"
  std::string tenant;         // tid claim
  std::string principal;      // the one principal tokens are issued to (oid)
  std::string header_secret;  // required X-IDENTITY-HEADER value
  std::string key_id;         // kid of the signing key
  int64_t lifetime_seconds = 3600;
};

struct IdentityRequest {
  std::string method;                          // "GET" or "POST"
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
};

// IssueIdentityToken checks the request against its style's rules
// (PermissionDenied for a missing or wrong secret header or Metadata
// header, InvalidArgument for a missing resource) and returns the JSON
// response body: {"access_token","token_type":"Bearer","expires_on",
// "expires_in","resource"}. `key` signs (ES256); `now` is Unix seconds.
absl::StatusOr<std::string> IssueIdentityToken(const IdentityConfig& config,
                                               const Es256Signer& sign,
                                               const IdentityRequest& request,
                                               int64_t now);

// SubscriptionsBody is ARM's GET /subscriptions answer that
// `az login --identity` needs.
std::string SubscriptionsBody(std::string_view tenant,
                              std::string_view subscription_id);

// ParseFormBody decodes application/x-www-form-urlencoded text.
absl::StatusOr<std::map<std::string, std::string>> ParseFormBody(
    std::string_view body);

}  // namespace keyferry::auth

#endif  // KEYFERRY_AUTH_IDENTITY_H_
