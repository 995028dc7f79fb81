#include "http/service_routes.h"

#include <memory>
#include <optional>
#include <utility>

#include "auth/identity.h"
#include "base/status.h"
#include "http/azure.h"

namespace keyferry::http {
namespace {

using json = nlohmann::json;

Response HealthAnswer(const ServiceRouteOptions& o) {
  Health h = o.health ? o.health() : Health{};
  json out = {{"status", h.ok ? "ok" : "unavailable"}};
  if (h.details.is_object()) {
    for (auto it = h.details.begin(); it != h.details.end(); ++it) {
      out[it.key()] = it.value();
    }
  }
  if (!h.ok) {
    out["error"] = {{"code", "ServiceUnavailable"},
                    {"message", h.error_message.empty()
                                    ? "The service is unavailable."
                                    : h.error_message}};
  }
  return JsonResponse(h.ok ? 200 : 503, out.dump());
}

// ArmMetadata is ARM's cloud metadata, which `az cloud register
// --endpoint-resource-manager https://<domain>:<port>/` reads first.
Response ArmMetadata() {
  return JsonResponse(
      200,
      R"({"galleryEndpoint":"","graphEndpoint":"https://graph.windows.net/",)"
      R"("portalEndpoint":"","authentication":{"loginEndpoint":)"
      R"("https://login.microsoftonline.com/","audiences":)"
      R"(["https://management.core.windows.net/"]}})");
}

// Subscriptions is ARM for `az login --identity`: any unexpired token of
// ours, for the management resource or for this server.
Response Subscriptions(const Router& router, const ServiceRouteOptions& o,
                       const Request& req) {
  const std::string resource = router.ChallengeResource(req);
  std::optional<std::string_view> authz = req.headers.Get("Authorization");
  if (!authz.has_value() || authz->size() < 8) {
    return ChallengeResponse(resource, o.tenant);
  }
  std::string_view token = authz->substr(7);
  bool ok = false;
  for (std::string_view aud :
       {std::string_view(resource),
        std::string_view("https://management.core.windows.net/"),
        std::string_view("https://management.azure.com/")}) {
    if (o.accepts_token(token, aud)) {
      ok = true;
      break;
    }
  }
  if (!ok) {
    return AzureError(401, "InvalidAuthenticationToken",
                      "The access token is invalid.");
  }
  return JsonResponse(200,
                      auth::SubscriptionsBody(o.tenant, o.subscription_id));
}

}  // namespace

absl::Status AddServiceRoutes(Router& router, ServiceRouteOptions options) {
  auto o = std::make_shared<const ServiceRouteOptions>(std::move(options));
  RETURN_IF_ERROR(router.Add(
      "GET", "/healthz",
      [o](const Request&, const RouteContext&) { return HealthAnswer(*o); },
      RouteScope::kService));
  // `az` asks for "//metadata/endpoints": it appends to the trailing '/'.
  for (const char* path : {"/metadata/endpoints", "//metadata/endpoints"}) {
    RETURN_IF_ERROR(router.Add(
        "GET", path,
        [](const Request&, const RouteContext&) { return ArmMetadata(); },
        RouteScope::kService));
  }
  return router.Add(
      "GET", "/subscriptions",
      [o, &router](const Request& req, const RouteContext&) {
        return Subscriptions(router, *o, req);
      },
      RouteScope::kService);
}

}  // namespace keyferry::http
