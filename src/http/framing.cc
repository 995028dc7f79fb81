#include "http/framing.h"

#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "http/azure.h"

namespace keyferry::http {
namespace {

// IsTchar: RFC 9110 §5.6.2 token characters.
bool IsTchar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// ValidContentLength: 1*DIGIT, no sign, no list, at most 2^64 - 1.
bool ValidContentLength(std::string_view v) {
  if (v.empty()) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return false;
    n = n * 10 + d;
  }
  return true;
}

// CheckTransferCodings checks the comma-separated list of every
// Transfer-Encoding field line: exactly one element, `chunked`.
std::optional<HttpRejection> CheckTransferCodings(
    const std::vector<std::string_view>& values) {
  std::vector<std::string_view> codings;
  for (std::string_view value : values) {
    size_t start = 0;
    while (true) {
      const size_t comma = value.find(',', start);
      codings.push_back(TrimOws(value.substr(start, comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  size_t chunked = 0;  // how many times chunked appears
  for (std::string_view c : codings) {
    if (c.empty()) {
      return MalformedRequest("empty element in Transfer-Encoding");
    }
    for (char ch : c) {
      if (!IsTchar(ch)) return MalformedRequest("invalid Transfer-Encoding");
    }
    if (EqualsIgnoreCase(c, "chunked")) ++chunked;
  }
  if (codings.size() == 1 && chunked == 1) return std::nullopt;
  const bool chunked_last = EqualsIgnoreCase(codings.back(), "chunked");
  if (chunked > 1 || (chunked == 1 && !chunked_last)) {
    // RFC 9112 §6.1: chunked not final (or applied twice) leaves the body
    // length unknown: 400, then close.
    return MalformedRequest(
        "chunked must be the final transfer coding, and appear once");
  }
  // No chunked, or other codings before it: a coding keyferryd does not
  // implement (RFC 9112 §6.1: 501).
  return HttpRejection{
      .status = 501,
      .code = "NotImplemented",
      .message =
          "The transfer coding of the request is not implemented; "
          "only Transfer-Encoding: chunked is supported.",
      .close = true};
}

}  // namespace

HttpRejection MalformedRequest(std::string_view what) {
  return HttpRejection{
      .status = 400,
      .code = "BadParameter",
      .message = absl::StrCat("Malformed HTTP request: ", Sv(what), "."),
      .close = true};
}

Response RejectionResponse(const HttpRejection& rejection) {
  return AzureError(rejection.status, rejection.code, rejection.message);
}

std::optional<HttpRejection> CheckFraming(const Headers& headers, int version) {
  std::vector<std::string_view> transfer_encoding;
  std::vector<std::string_view> content_length;
  int hosts = 0;
  for (const auto& [name, value] : headers.fields()) {
    if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      transfer_encoding.push_back(value);
    } else if (EqualsIgnoreCase(name, "Content-Length")) {
      content_length.push_back(value);
    } else if (EqualsIgnoreCase(name, "Host")) {
      ++hosts;
    }
  }
  if (!transfer_encoding.empty()) {
    if (!content_length.empty()) {
      return MalformedRequest("Content-Length together with Transfer-Encoding");
    }
    if (version < 11) {
      return MalformedRequest("Transfer-Encoding on an HTTP/1.0 request");
    }
    if (auto refused = CheckTransferCodings(transfer_encoding)) return refused;
  }
  if (content_length.size() > 1) {
    return MalformedRequest("more than one Content-Length");
  }
  if (content_length.size() == 1 &&
      !ValidContentLength(TrimOws(content_length[0]))) {
    return MalformedRequest("invalid Content-Length");
  }
  if (hosts > 1) return MalformedRequest("more than one Host");
  return std::nullopt;
}

}  // namespace keyferry::http
