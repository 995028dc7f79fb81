// The service routes of keyferryd's parent domain (any host): GET /healthz,
// ARM's cloud metadata (GET /metadata/endpoints) and ARM's GET
// /subscriptions for `az login --identity`. The keys API registers them
// after its own routes. Thread-safe once registered.
#ifndef KEYFERRY_HTTP_SERVICE_ROUTES_H_
#define KEYFERRY_HTTP_SERVICE_ROUTES_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "http/router.h"

namespace keyferry::http {

// Health is what GET /healthz reports: {"status":"ok"|"unavailable", and
// the members of `details`}; 503 when not ok (so a load balancer stops
// sending requests), with Azure's error envelope added ("error": {"code":
// "ServiceUnavailable", "message": error_message}).
struct Health {
  bool ok = true;
  nlohmann::json details = nlohmann::json::object();
  std::string error_message;  // when not ok
};

struct ServiceRouteOptions {
  // health (may be empty: always ok) fills GET /healthz; called on every
  // health check.
  std::function<Health()> health;
  std::string tenant;           // tid in the challenge and ARM's answer
  std::string subscription_id;  // for ARM's GET /subscriptions
  // accepts_token tells whether the bearer `token` is valid for `audience`
  // now (signature, issuer, tenant, lifetime). Called concurrently.
  std::function<bool(std::string_view token, std::string_view audience)>
      accepts_token;
};

// AddServiceRoutes registers the service routes on `router` (borrowed: the
// /subscriptions handler asks it for the challenge resource, so it must
// outlive its own routes, which it does by owning them). /subscriptions
// takes any token accepts_token accepts for the challenge resource or for
// ARM's management audiences; 401 otherwise. The other two need no token.
absl::Status AddServiceRoutes(Router& router, ServiceRouteOptions options);

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_SERVICE_ROUTES_H_
