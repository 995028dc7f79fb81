// HttpsCall: one blocking HTTPS/1.1 request, for the keyferry CLI's calls to
// keyferryd (`vault unseal`, `vault seal`, `vault status`). TLS 1.2+ with
// the server certificate verified against `ca_file` (or the system store)
// and the URL's host name; nothing else is accepted.
#ifndef KEYFERRY_HTTP_CLIENT_H_
#define KEYFERRY_HTTP_CLIENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::http {

struct CallOptions {
  std::string method = "GET";
  std::string url;      // https://host[:port]/path?query
  std::string body;     // sent with Content-Type: application/json if set
  std::string ca_file;  // empty: the system's trusted CAs
  std::vector<std::pair<std::string, std::string>> headers;
  // connect_address, when set, is the IP address to connect to instead of
  // resolving the URL's host (as curl --resolve); the certificate is still
  // checked against the URL's host.
  std::string connect_address;
  int timeout_seconds = 30;
};

struct CallResult {
  int status = 0;
  std::string body;
};

// HttpsCall sends the request and reads the whole answer. InvalidArgument
// for a URL that is not https://host[:port]/…; Unavailable when the host
// cannot be reached; PermissionDenied when the certificate does not verify.
absl::StatusOr<CallResult> HttpsCall(const CallOptions& options);

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_CLIENT_H_
