// Azure Key Vault conventions on top of plain HTTP responses: the error
// envelope, the standard response headers, the 401 challenge, api-version
// parsing and the mapping from absl::Status to HTTP status and error code.
// See docs/http-server.md and /work/shared/reference/akv-keys-api.md §4, §5,
// §7. All functions are thread-safe.
#ifndef KEYFERRY_HTTP_AZURE_H_
#define KEYFERRY_HTTP_AZURE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "http/message.h"

namespace keyferry::http {

// kLatestApiVersion is the newest api-version keyferryd serves.
inline constexpr std::string_view kLatestApiVersion = "2025-07-01";
// kJsonContentType is the Content-Type of every JSON response.
inline constexpr std::string_view kJsonContentType =
    "application/json; charset=utf-8";

// AddStandardHeaders sets `x-ms-request-id` (a random UUID),
// `x-ms-keyvault-service-version` and `x-ms-keyvault-region: local` on
// `response` unless it already has them.
void AddStandardHeaders(Response& response);

// NewRequestId returns a random version-4 UUID in lower-case hex
// ("8-4-4-4-12").
std::string NewRequestId();

// JsonResponse returns `status` with body `json` (already serialized), the
// JSON Content-Type and the standard headers.
Response JsonResponse(int status, std::string json);

// AzureError returns `status` with the body
// {"error":{"code":`code`,"message":`message`}} and, when `inner_code` is not
// empty, "innererror":{"code":`inner_code`} after "message". Content-Type and
// standard headers as JsonResponse.
Response AzureError(int status, std::string_view code, std::string_view message,
                    std::string_view inner_code = "");

// ChallengeResponse returns the 401 that starts challenge authentication:
// code Unauthorized, message "AKV10000: Request is missing a Bearer or PoP
// token." and the header
//   WWW-Authenticate: Bearer
//   authorization="https://login.microsoftonline.com/<tenant>",
//   resource="<resource>"
// `resource` must be the vault host's parent, e.g. "https://localhost:8443"
// (Router::ChallengeResource computes it).
Response ChallengeResponse(std::string_view resource,
                           std::string_view tenant = "common");

// ApiLevel orders the api-versions keyferryd accepts, oldest first.
enum class ApiLevel {
  k2016_10_01,  // Azure Stack
  k7_0,
  k7_1,
  k7_2,
  k7_3,
  k7_4,
  k7_5,
  k7_6,
  k2025_07_01,
};

// ApiVersion is a parsed `api-version` query value.
struct ApiVersion {
  ApiLevel level = ApiLevel::k7_0;
  bool preview = false;  // "7.4-preview.1"
  std::string text;      // as sent
};

// ParseApiVersion accepts "7.0" … "7.6", their previews ("7.4-preview",
// "7.4-preview.1"), "2016-10-01" and "2025-07-01". Anything else is
// InvalidArgument with Azure's message: "The specified version (X) is not
// recognized. Consider using the latest supported version (2025-07-01)."
absl::StatusOr<ApiVersion> ParseApiVersion(std::string_view text);

// RequestApiVersion parses the `api-version` query parameter of `request`
// (whose name may have arrived percent-encoded). InvalidArgument when it is
// missing or unknown.
absl::StatusOr<ApiVersion> RequestApiVersion(const Request& request);

// HttpStatusFor maps a non-OK status code to the HTTP status Azure would use:
// InvalidArgument, OutOfRange, Unimplemented 400; Unauthenticated 401;
// PermissionDenied 403; NotFound 404; AlreadyExists, FailedPrecondition,
// Aborted 409; ResourceExhausted 429; Unavailable, DeadlineExceeded 503;
// everything else (Internal, Unknown, DataLoss, Cancelled) 500. OK gives 200.
int HttpStatusFor(const absl::Status& status);

// AzureCodeFor gives the envelope `code` for the same mapping: BadParameter,
// Unauthorized, Forbidden, KeyNotFound, Conflict, Throttled,
// ServiceUnavailable, InternalServerError.
std::string AzureCodeFor(const absl::Status& status);

// StatusResponse turns a non-OK `status` into an AzureError, using
// HttpStatusFor, `code` (or AzureCodeFor when empty) and the status message.
Response StatusResponse(const absl::Status& status, std::string_view code = "",
                        std::string_view inner_code = "");

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_AZURE_H_
