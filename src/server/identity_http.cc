#include "server/identity_http.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "http/azure.h"

namespace keyferry::server {

auth::EndpointRequest ToEndpointRequest(const http::Request& req) {
  auth::EndpointRequest out;
  out.path_segments = req.path_segments;
  auth::IdentityRequest& ir = out.request;
  ir.method = req.method;
  for (const auto& [k, v] : req.query) ir.query[k] = v;
  for (const auto& [k, v] : req.headers.fields()) {
    ir.headers[absl::AsciiStrToLower(k)] = v;
  }
  ir.body = req.body;
  out.connection = {.local_address = req.local_address,
                    .local_port = req.local_port,
                    .remote_address = req.remote_address,
                    .remote_port = req.remote_port};
  return out;
}

http::Response ToHttpResponse(auth::EndpointResponse response) {
  http::Response res =
      http::JsonResponse(response.status, std::move(response.body));
  res.error_code = std::move(response.error_code);
  if (response.audit.has_value()) {
    res.audit.emplace();
    res.audit->operation = std::move(response.audit->operation);
    res.audit->principal = std::move(response.audit->principal);
  }
  return res;
}

http::Response HandleIdentity(const auth::IdentityEndpoint& endpoint,
                              const http::Request& request) {
  return ToHttpResponse(endpoint.Handle(ToEndpointRequest(request)));
}

}  // namespace keyferry::server
