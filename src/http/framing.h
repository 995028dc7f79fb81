// Message framing of an HTTP/1.1 request (RFC 9112 §6): which header fields
// decide where the body ends, and the requests keyferryd refuses because two
// parties could disagree about it (request smuggling). Pure functions, no I/O;
// the server (server.cc, through request_parser.h) and ParseRequestBytes call
// them on every request.
//
// Rules, each refusal closes the connection (the bytes after the header can
// no longer be trusted to start the next request):
//   - Transfer-Encoding: the only transfer coding accepted is `chunked`,
//     exactly once, alone (case-insensitive, OWS around it tolerated, several
//     field lines are one comma-separated list). `chunked` not last (or
//     twice) is 400; an empty or malformed list element is 400; any other
//     coding (`gzip`, `xchunked`, `gzip, chunked`) is 501 NotImplemented.
//     On an HTTP/1.0 request any Transfer-Encoding is 400.
//   - Content-Length together with Transfer-Encoding: 400.
//   - More than one Content-Length field line, even with equal values, or a
//     value that is not 1*DIGIT fitting in 64 bits (a list "5, 5", a sign,
//     empty): 400.
//   - More than one Host field line: 400 (RFC 9112 §3.2).
#ifndef KEYFERRY_HTTP_FRAMING_H_
#define KEYFERRY_HTTP_FRAMING_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace keyferry::http {

// HttpRejection is the answer the server sends, without running any handler,
// to a request it refuses: `status` with Azure's error envelope
// {"error":{"code":`code`,"message":`message`}}. With `close` the server
// answers with "Connection: close" and then closes the connection without
// reading anything more from it. Messages never quote header values.
struct HttpRejection {
  int status = 400;
  std::string code = "BadParameter";
  std::string message;
  bool close = true;

  bool operator==(const HttpRejection&) const = default;
};

// MalformedRequest is the 400 BadParameter rejection, with the message
// "Malformed HTTP request: <what>.", that closes the connection.
HttpRejection MalformedRequest(std::string_view what);

// RejectionResponse is the Response the server sends for `rejection`
// (AzureError with its status, code and message).
Response RejectionResponse(const HttpRejection& rejection);

// CheckFraming applies the rules above to the header fields of one request
// (`headers` as received, every field line kept, in order) of HTTP version
// `version` (10 for HTTP/1.0, 11 for HTTP/1.1). Returns nullopt when the
// request may be read: its body is then framed by a single valid
// Content-Length, by `Transfer-Encoding: chunked`, or is empty (neither
// field). Otherwise returns the rejection, which always has `close` set.
std::optional<HttpRejection> CheckFraming(const Headers& headers, int version);

// RequestLimits are the sizes a request may have; the server takes them from
// ServerOptions (max_body_bytes) and its fixed header limit.
struct RequestLimits {
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = size_t{64} * 1024;  // request line and fields
};

// ParsedRequest is one request ParseRequestBytes accepted.
struct ParsedRequest {
  // method, target, path_segments, query, headers, host, host_port and body
  // as the server hands them to its Handler; the connection fields
  // (remote_address, ...) stay empty.
  Request request;
  bool keep_alive = false;  // the connection would stay open after it
  size_t consumed = 0;      // bytes of the input this request used
};

// ParseOutcome: exactly one of `request` and `rejection` is set, or neither
// when the input ends before the request does (the server would wait for
// more bytes).
struct ParseOutcome {
  std::optional<ParsedRequest> request;
  std::optional<HttpRejection> rejection;
};

// ParseRequestBytes parses the first request in `bytes` as keyferryd's
// server does with the same bytes arriving on a connection: the same Beast
// parser configuration (request_parser.h), the same framing checks
// (CheckFraming, body limit from Content-Length before any body byte, the
// chunked body limit while decoding), and the same conversion to Request
// (ParseTarget, Host). A `rejection` is what the server would answer
// (without running a handler) before closing the connection. Bytes after
// `consumed` would be the next (pipelined) request. Never throws, never
// reads outside `bytes`; safe on any input (meant for fuzzing as well).
ParseOutcome ParseRequestBytes(std::string_view bytes,
                               const RequestLimits& limits);

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_FRAMING_H_
