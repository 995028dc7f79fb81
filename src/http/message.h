// HTTP request and response values shared by the server, the router and the
// Azure helpers. Plain data; thread-compatible.
#ifndef KEYFERRY_HTTP_MESSAGE_H_
#define KEYFERRY_HTTP_MESSAGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace keyferry::http {

// Headers is an ordered list of header fields with case-insensitive name
// lookup (RFC 9110 §5.1). Names keep the spelling they were added with.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // Add appends a field, keeping any earlier field of the same name.
  void Add(std::string_view name, std::string_view value);
  // Set replaces every field named `name` with one field.
  void Set(std::string_view name, std::string_view value);
  // Remove deletes every field named `name`.
  void Remove(std::string_view name);
  // Get returns the value of the first field named `name`, or nullopt. The
  // view is valid until the Headers is modified.
  std::optional<std::string_view> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }

  const std::vector<Field>& fields() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

// Request is one parsed HTTP request as handed to a Handler.
struct Request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // raw request target, e.g. "/keys/k/?api%2Dversion=7.4"
  // path_segments are the '/'-separated parts of the path after the leading
  // '/', each percent-decoded after splitting (so "%2F" stays inside its
  // segment). "/" gives {""}, "/keys/k/" gives {"keys", "k", ""}.
  std::vector<std::string> path_segments;
  // query holds the query parameters in order; names and values are
  // percent-decoded and '+' is read as a space.
  std::vector<std::pair<std::string, std::string>> query;
  Headers headers;
  std::string host;                   // Host header without port, lower case
  std::optional<uint16_t> host_port;  // port from the Host header, if any
  std::string body;
  // The connection's two ends as numeric IP literals and ports (the server
  // fills them from the accepted socket; empty/0 when unknown). The peer's
  // socket has them swapped: its local end is remote_address:remote_port.
  std::string remote_address;  // peer IP address
  uint16_t remote_port = 0;
  std::string local_address;  // the address the server accepted on
  uint16_t local_port = 0;

  // QueryParam returns the first value of the query parameter `name`
  // (names compare case-insensitively, as Azure does), or nullopt.
  std::optional<std::string_view> QueryParam(std::string_view name) const;
};

// AuditNote is what the audit log records of an answered request, set by
// the handler that made the answer (the keys API, the seal service, the
// identity endpoint). It never carries key material: names, the principal
// and the outcome only. The server's finish hook (ServerOptions::finish)
// adds the status, error code and request id.
struct AuditNote {
  std::string vault;
  std::string principal;  // empty when the token was missing or refused
  std::string operation;  // e.g. "sign", "create", "unseal"
  std::string key;        // key name; may be empty
  std::string version;    // key version (the one created, for create,
                          // import, rotate and restore); may be empty
};

// Response is what a Handler returns. The server adds Content-Length and the
// standard Azure headers (see azure.h) when they are missing.
struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // error_code is the Azure error code of an error answer (AzureError sets
  // it, with the body), so nothing needs to parse the body to find it.
  std::string error_code;
  // audit is set on answers the audit log must record before they are sent.
  std::optional<AuditNote> audit;
};

// PercentDecode decodes %XX escapes; with `plus_is_space`, '+' becomes ' '
// (form encoding, used for query strings). InvalidArgument for a truncated or
// non-hex escape.
absl::StatusOr<std::string> PercentDecode(std::string_view s,
                                          bool plus_is_space);

// ParseTarget splits an origin-form request target ("/path?query") into
// `path_segments` and `query` of `req`. InvalidArgument when the target does
// not start with '/' or holds a bad escape; `req` may then be partly filled.
absl::Status ParseTarget(std::string_view target, Request& req);

// ParseHost splits a Host header value ("name", "name:port", "[v6]:port")
// into a lower-case host and an optional port. InvalidArgument for an empty
// host, a bad port or an unterminated IPv6 literal.
absl::Status ParseHost(std::string_view value, std::string& host,
                       std::optional<uint16_t>& port);

// EqualsIgnoreCase compares ASCII strings case-insensitively.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_MESSAGE_H_
