#include "http/request_parser.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace keyferry::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }

HttpRejection TooLarge(const RequestLimits& limits) {
  return HttpRejection{
      .status = 413,
      .code = "RequestEntityTooLarge",
      .message = absl::StrCat("The request body is larger than ",
                              limits.max_body_bytes, " bytes."),
      .close = true};
}

}  // namespace

namespace {

// UnsupportedVersion: whether `unread` starts with a request line
// "method SP target SP HTTP/d.d CRLF" whose version is well formed but
// neither 1.0 nor 1.1. Beast refuses both that and a malformed line with
// bad_version; only the first is 505.
bool UnsupportedVersion(std::string_view unread) {
  const size_t eol = unread.find("\r\n");
  if (eol == std::string_view::npos) return false;
  const std::string_view line = unread.substr(0, eol);
  const size_t space = line.rfind(' ');
  if (space == std::string_view::npos) return false;
  const std::string_view v = line.substr(space + 1);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !digit(v[5]) ||
      v[6] != '.' || !digit(v[7])) {
    return false;
  }
  return v != "HTTP/1.0" && v != "HTTP/1.1";
}

}  // namespace

void ConfigureParser(BeastRequestParser& parser, const RequestLimits& limits) {
  parser.header_limit(static_cast<std::uint32_t>(std::min<size_t>(
      limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  // Not boost::none: Beast 1.74 compares `len > body_limit_` on the
  // optional, which is true against none.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
}

std::optional<HttpRejection> AcceptHeader(BeastRequestParser& parser,
                                          const RequestLimits& limits,
                                          Request& request) {
  const auto& msg = parser.get();
  request.method = std::string(Std(msg.method_string()));
  request.target = std::string(Std(msg.target()));
  for (const auto& field : msg) {
    request.headers.Add(Std(field.name_string()), Std(field.value()));
  }
  if (auto refused =
          CheckFraming(request.headers, static_cast<int>(msg.version()))) {
    return refused;
  }
  // CheckFraming admits Transfer-Encoding only as "chunked" alone; Beast
  // must have framed the body the same way.
  if (parser.chunked() != request.headers.Has("Transfer-Encoding")) {
    return MalformedRequest("inconsistent message framing");
  }
  if (const auto length = parser.content_length();
      length.has_value() && *length > limits.max_body_bytes) {
    return TooLarge(limits);
  }
  if (absl::Status s = ParseTarget(request.target, request); !s.ok()) {
    return MalformedRequest(StdSv(s.message()));
  }
  if (std::optional<std::string_view> host = request.headers.Get("Host")) {
    if (absl::Status s = ParseHost(*host, request.host, request.host_port);
        !s.ok()) {
      return MalformedRequest(StdSv(s.message()));
    }
  } else if (msg.version() >= 11) {
    return MalformedRequest("missing Host header");
  }
  // Before any body byte: counts the decoded chunks of a chunked body.
  parser.body_limit(limits.max_body_bytes);
  return std::nullopt;
}

bool FinishRequest(BeastRequestParser& parser, Request& request) {
  const bool keep_alive = parser.get().keep_alive();
  request.body = std::move(parser.get().body());
  return keep_alive;
}

std::optional<HttpRejection> RejectReadError(
    const boost::system::error_code& ec, const RequestLimits& limits,
    std::string_view unread) {
  if (ec == bhttp::error::body_limit) return TooLarge(limits);
  if (ec == bhttp::error::header_limit) {
    return HttpRejection{.status = 431,
                         .code = "BadParameter",
                         .message = "The request headers are too large.",
                         .close = true};
  }
  if (ec == bhttp::error::bad_version && UnsupportedVersion(unread)) {
    // RFC 9110 §15.6.6.
    return HttpRejection{
        .status = 505,
        .code = "HttpVersionNotSupported",
        .message =
            "The HTTP version of the request is not supported; "
            "keyferryd speaks HTTP/1.0 and HTTP/1.1.",
        .close = true};
  }
  if (ec.category() !=
          bhttp::make_error_code(bhttp::error::bad_method).category() ||
      ec == bhttp::error::end_of_stream ||
      ec == bhttp::error::partial_message || ec == bhttp::error::need_more) {
    return std::nullopt;
  }
  return MalformedRequest(ec.message());
}

ParseOutcome ParseRequestBytes(std::string_view bytes,
                               const RequestLimits& limits) {
  ParseOutcome out;
  BeastRequestParser parser;
  ConfigureParser(parser, limits);
  size_t used = 0;
  Request request;
  // Feeds the rest of `bytes` until `done`, as beast::http::read does from
  // a stream; false when the input ended first or the parse failed.
  auto feed = [&](bool eager, auto done) {
    parser.eager(eager);
    while (!done()) {
      beast::error_code ec;
      const size_t n = parser.put(
          asio::const_buffer(bytes.data() + used, bytes.size() - used), ec);
      used += n;
      if (ec) {
        out.rejection = RejectReadError(ec, limits, bytes.substr(used));
        return false;
      }
      if (n == 0) return false;  // no progress without an error: stop
    }
    return true;
  };
  if (!feed(false, [&] { return parser.is_header_done(); })) return out;
  out.rejection = AcceptHeader(parser, limits, request);
  if (out.rejection.has_value()) return out;
  if (!feed(true, [&] { return parser.is_done(); })) return out;
  ParsedRequest parsed;
  parsed.keep_alive = FinishRequest(parser, request);
  parsed.request = std::move(request);
  parsed.consumed = used;
  out.request = std::move(parsed);
  return out;
}

}  // namespace keyferry::http
