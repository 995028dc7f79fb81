// Fuzzes the request parsing of keyferryd's HTTPS server: ParseRequestBytes
// (http/framing.h) runs the server's Beast parser configuration, its framing
// checks (CheckFraming: the request-smuggling rules of RFC 9112) and its
// conversion to http::Request on raw bytes, request after request as a
// keep-alive connection would. Invariants checked on every input:
//   - never both a request and a rejection; a rejection always closes;
//   - a request consumes at least one byte and never more than it was given;
//   - an accepted request's body fits the limit, and a request framed by
//     Content-Length has exactly that many body bytes;
//   - parsing stops at the first rejection or at a request that closes.
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/strings/numbers.h"
#include "fuzz_util.h"
#include "http/framing.h"

namespace {

using keyferry::fuzz::Mismatch;

void CheckRequest(const keyferry::http::ParsedRequest& p, size_t available,
                  const keyferry::http::RequestLimits& limits) {
  if (p.consumed == 0 || p.consumed > available) {
    Mismatch("a request consumed no byte or more than the input");
  }
  if (p.request.body.size() > limits.max_body_bytes) {
    Mismatch("an accepted body is larger than the limit");
  }
  if (p.request.headers.Has("Transfer-Encoding")) return;
  std::optional<std::string_view> length =
      p.request.headers.Get("Content-Length");
  uint64_t n = 0;
  if (length.has_value() &&
      (!absl::SimpleAtoi(absl::string_view(length->data(), length->size()),
                         &n) ||
       n != p.request.body.size())) {
    Mismatch("a Content-Length request's body is not Content-Length bytes");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest = keyferry::fuzz::Text(data, size);
  // Small limits, so that the fuzzer reaches them.
  keyferry::http::RequestLimits limits;
  limits.max_body_bytes = 4096;
  limits.max_header_bytes = 2048;
  for (int i = 0; i < 64 && !rest.empty(); ++i) {
    keyferry::http::ParseOutcome out =
        keyferry::http::ParseRequestBytes(rest, limits);
    if (out.request.has_value() && out.rejection.has_value()) {
      Mismatch("both a request and a rejection");
    }
    if (out.rejection.has_value()) {
      if (!out.rejection->close) Mismatch("a rejection that keeps the connection");
      if (out.rejection->status < 400 || out.rejection->status > 599) {
        Mismatch("a rejection that is not a 4xx/5xx answer");
      }
      return 0;
    }
    if (!out.request.has_value()) return 0;  // needs more bytes
    CheckRequest(*out.request, rest.size(), limits);
    if (!out.request->keep_alive) return 0;
    rest.remove_prefix(out.request->consumed);
  }
  return 0;
}
