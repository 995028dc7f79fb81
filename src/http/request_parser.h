// The steps of reading one request with Boost.Beast's request_parser, shared
// by the server's sessions (server.cc, which reads from a TLS stream) and
// ParseRequestBytes (framing.h, which reads from memory), so both parse the
// same bytes the same way. Internal to src/http.
//
// Order, for each request on a connection:
//   1. ConfigureParser on a fresh parser; read the header (eager off).
//   2. AcceptHeader: framing (CheckFraming), Beast's own framing decision
//      cross-checked, the body limit from Content-Length, target and Host
//      parsed into the Request; arms the body limit for chunked bodies.
//   3. Read the body (eager on); FinishRequest moves it into the Request.
// A read error at 1 or 3 goes to RejectReadError. A rejection is answered
// with RejectionResponse and the connection closed (HttpRejection::close).
#ifndef KEYFERRY_HTTP_REQUEST_PARSER_H_
#define KEYFERRY_HTTP_REQUEST_PARSER_H_

// Boost 1.74's asio/awaitable.hpp needs <utility> first (see server.cc).
#include <utility>
// clang-format off
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
// clang-format on
#include <optional>

#include "http/framing.h"
#include "http/message.h"

namespace keyferry::http {

using BeastRequestParser =
    boost::beast::http::request_parser<boost::beast::http::string_body>;

// ConfigureParser sets `parser` (fresh, nothing parsed) up for step 1: the
// header limit, and no body limit yet (Beast 1.74 would otherwise answer
// 413 from Content-Length before the framing checks ran).
void ConfigureParser(BeastRequestParser& parser, const RequestLimits& limits);

// AcceptHeader runs step 2 once parser.is_header_done(). Fills `request`'s
// method, target, path_segments, query, headers, host and host_port.
// Returns nullopt when the body may be read, or the rejection: the framing
// rules (framing.h), 413 RequestEntityTooLarge when Content-Length exceeds
// max_body_bytes, 400 for a target that is not origin-form or has a bad
// escape, a bad Host, or no Host on HTTP/1.1.
std::optional<HttpRejection> AcceptHeader(BeastRequestParser& parser,
                                          const RequestLimits& limits,
                                          Request& request);

// FinishRequest runs step 3 once parser.is_done(): moves the body into
// `request` and returns whether the connection may stay open after the
// answer (HTTP/1.1 without "Connection: close", or HTTP/1.0 with
// "Connection: keep-alive").
bool FinishRequest(BeastRequestParser& parser, Request& request);

// RejectReadError maps an error of reading a request (step 1 or 3) to the
// answer: 413 for a chunked body over the limit, 431 for a header over it,
// 505 for a well-formed request line whose version is not HTTP/1.0 or
// HTTP/1.1 (2.0, 0.9, 1.2; `unread`: the bytes not yet consumed, where the
// refused line starts), 400 "Malformed HTTP request: <Beast's message>." for
// every other parse error (bad request line, field, Content-Length,
// Transfer-Encoding or chunk); nullopt when there is nobody to answer: the peer
// closed (end_of_stream, partial_message), a transport error, a timeout, or
// need_more (the input ended).
std::optional<HttpRejection> RejectReadError(
    const boost::system::error_code& ec, const RequestLimits& limits,
    std::string_view unread);

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_REQUEST_PARSER_H_
