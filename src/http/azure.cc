#include "http/azure.h"

#include <cstdint>
#include <cstdio>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "base/error_code.h"
#include "base/log.h"
#include "base/strings.h"

#ifndef KEYFERRY_VERSION
#define KEYFERRY_VERSION "0"
#endif

namespace keyferry::http {

std::string NewRequestId() {
  thread_local absl::BitGen gen;
  uint64_t hi = absl::Uniform<uint64_t>(gen);
  uint64_t lo = absl::Uniform<uint64_t>(gen);
  hi = (hi & ~0xF000ULL) | 0x4000ULL;        // version 4
  lo = (lo & ~(3ULL << 62)) | (2ULL << 62);  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF),
                static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

void AddStandardHeaders(Response& response) {
  if (!response.headers.Has("x-ms-request-id")) {
    response.headers.Add("x-ms-request-id", NewRequestId());
  }
  if (!response.headers.Has("x-ms-keyvault-service-version")) {
    response.headers.Add("x-ms-keyvault-service-version", KEYFERRY_VERSION);
  }
  if (!response.headers.Has("x-ms-keyvault-region")) {
    response.headers.Add("x-ms-keyvault-region", "local");
  }
}

Response JsonResponse(int status, std::string json) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", kJsonContentType);
  r.body = std::move(json);
  AddStandardHeaders(r);
  return r;
}

Response AzureError(int status, std::string_view code, std::string_view message,
                    std::string_view inner_code) {
  std::string body = "{\"error\":{\"code\":" + JsonEscape(code) +
                     ",\"message\":" + JsonEscape(message);
  if (!inner_code.empty()) {
    body += ",\"innererror\":{\"code\":" + JsonEscape(inner_code) + "}";
  }
  body += "}}";
  Response r = JsonResponse(status, std::move(body));
  r.error_code = std::string(code);
  return r;
}

Response ChallengeResponse(std::string_view resource, std::string_view tenant) {
  Response r =
      AzureError(401, "Unauthorized",
                 "AKV10000: Request is missing a Bearer or PoP token.");
  r.headers.Set(
      "WWW-Authenticate",
      absl::StrCat("Bearer authorization=\"https://"
                   "login.microsoftonline.com/",
                   Sv(tenant), "\", resource=\"", Sv(resource), "\""));
  return r;
}

absl::StatusOr<ApiVersion> ParseApiVersion(std::string_view text) {
  ApiVersion v;
  v.text = std::string(text);
  if (text == "2016-10-01") {
    v.level = ApiLevel::k2016_10_01;
    return v;
  }
  if (text == "2025-07-01") {
    v.level = ApiLevel::k2025_07_01;
    return v;
  }
  // "7.N", "7.N-preview", "7.N-preview.M" with N in 0..6 and M digits.
  std::string_view rest = text;
  if (rest.size() >= 3 && rest[0] == '7' && rest[1] == '.' && rest[2] >= '0' &&
      rest[2] <= '6') {
    int minor = rest[2] - '0';
    rest.remove_prefix(3);
    bool ok = rest.empty();
    if (!ok && rest.starts_with("-preview")) {
      rest.remove_prefix(8);
      ok = rest.empty();
      if (!ok && rest.size() > 1 && rest[0] == '.') {
        ok = rest.substr(1).find_first_not_of("0123456789") ==
             std::string_view::npos;
      }
      v.preview = true;
    }
    if (ok) {
      v.level = static_cast<ApiLevel>(static_cast<int>(ApiLevel::k7_0) + minor);
      return v;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("The specified version (", Sv(text),
                   ") is not recognized. Consider using the latest supported "
                   "version (",
                   Sv(kLatestApiVersion), ")."));
}

absl::StatusOr<ApiVersion> RequestApiVersion(const Request& request) {
  std::optional<std::string_view> v = request.QueryParam("api-version");
  if (!v.has_value()) {
    return absl::InvalidArgumentError(
        "The 'api-version' query parameter is missing.");
  }
  return ParseApiVersion(*v);
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnimplemented:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

std::string AzureCodeFor(const absl::Status& status) {
  switch (HttpStatusFor(status)) {
    case 200:
      return "OK";
    case 400:
      return "BadParameter";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "KeyNotFound";
    case 409:
      return "Conflict";
    case 429:
      return "Throttled";
    case 503:
      return "ServiceUnavailable";
    default:
      return "InternalServerError";
  }
}

Response StatusResponse(const absl::Status& status, std::string_view code,
                        std::string_view inner_code) {
  std::string c = code.empty() ? AzureCodeFor(status) : std::string(code);
  std::string inner(inner_code);
  if (code.empty()) {
    if (std::optional<ErrorCode> attached = GetErrorCode(status)) {
      c = attached->code;
      if (inner.empty()) inner = attached->inner_code;
    }
  }
  return AzureError(HttpStatusFor(status), c, StdSv(status.message()), inner);
}

}  // namespace keyferry::http
