// keyferryd's managed-identity endpoint, in the styles real clients use
// (shared reference akv-keys-api.md §8), as transport-independent logic:
//   App Service 2019-08-01: GET {IDENTITY_ENDPOINT}?api-version=2019-08-01
//       &resource=R with header X-IDENTITY-HEADER: <secret>
//       (azure-identity's ManagedIdentityCredential, Python and JS)
//   App Service 2017-09-01: GET {MSI_ENDPOINT}/?resource=R
//       &api-version=2017-09-01 with header secret: <secret>
//       (msrestazure get_msi_token_webapp: Debian's az 2.45 when
//       APPSETTING_WEBSITE_SITE_NAME and MSI_SECRET are set)
//   Legacy MSI: POST {MSI_ENDPOINT} with form body resource=R and header
//       Metadata: true, and no secret. Refused unless the operator named
//       the local uids allowed it (IdentityConfig::legacy_uids), and then
//       only for a client whose socket one of them owns.
// Both App Service styles take the same secret (<data-dir>/identity-header).
// Tokens are issued to one configured principal only.
#ifndef KEYFERRY_AUTH_IDENTITY_H_
#define KEYFERRY_AUTH_IDENTITY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/jwt.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::auth {

struct IdentityConfig {
  std::string issuer;     // e.g. "https://localhost:8443/identity"
  std::string tenant;     // tid claim
  std::string principal;  // the one principal tokens are issued to (oid)
  // The secret both App Service styles require (X-IDENTITY-HEADER or
  // secret); an empty one refuses every request.
  std::string header_secret;
  std::string key_id;  // kid of the signing key
  int64_t lifetime_seconds = 3600;
  // The local uids whose processes may use the secretless legacy MSI
  // style. Empty (the default): that style is refused.
  std::vector<uint32_t> legacy_uids;
};

struct IdentityRequest {
  std::string method;                          // "GET" or "POST"
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  // The uid owning the client's socket, when the transport found it. Only
  // the legacy MSI style reads it.
  std::optional<uint32_t> peer_uid;
};

// IdentityStyle is the protocol a request follows (see the top of this
// file).
enum class IdentityStyle {
  kAppService2019,  // GET, any api-version but 2017-09-01
  kAppService2017,  // GET with api-version=2017-09-01
  kLegacyMsi,       // POST
  kUnknown,         // any other method
};

// IdentityStyleOf classifies `request` by its method and api-version.
IdentityStyle IdentityStyleOf(const IdentityRequest& request);

// IdentityStyleName names `style` for logs and audit records:
// "app-service-2019", "app-service-2017", "legacy-msi" or "unknown".
std::string_view IdentityStyleName(IdentityStyle style);

// IssueIdentityToken checks the request against its style's rules and
// returns the JSON response body: {"access_token","token_type":"Bearer",
// "expires_on","expires_in","resource"}. PermissionDenied for a missing or
// wrong secret header (App Service styles, compared in constant time), and
// for the legacy style when it is disabled (the message says how to get a
// token instead), without 'Metadata: true', or when `peer_uid` is unknown
// or not in `legacy_uids`; InvalidArgument for a missing resource, a bad
// form body or another method. `key` signs (ES256); `now` is Unix seconds.
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
