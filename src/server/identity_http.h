// The identity listener's transport: http::Request and http::Response
// adapted to the transport-neutral auth::IdentityEndpoint
// (auth/identity_endpoint.h), which answers /msi/token.
#ifndef KEYFERRY_SERVER_IDENTITY_HTTP_H_
#define KEYFERRY_SERVER_IDENTITY_HTTP_H_

#include "auth/identity_endpoint.h"
#include "http/message.h"

namespace keyferry::server {

// ToEndpointRequest copies what the endpoint reads of `request`: path
// segments, method, query (later values of a repeated name win), headers
// (names lower-cased), body and the connection's addresses.
auth::EndpointRequest ToEndpointRequest(const http::Request& request);

// ToHttpResponse makes the JSON answer of `response`, with its error code
// and, for a token request, its audit note (operation and principal).
http::Response ToHttpResponse(auth::EndpointResponse response);

// HandleIdentity answers `request` with `endpoint`.
http::Response HandleIdentity(const auth::IdentityEndpoint& endpoint,
                              const http::Request& request);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_IDENTITY_HTTP_H_
