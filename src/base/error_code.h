// Service error codes carried inside an absl::Status: the Azure-style `code`
// and optional inner code an API error answer should use, attached as a
// payload so layers below the HTTP layer can say "KeyDisabled" without
// knowing about HTTP.
#ifndef KEYFERRY_BASE_ERROR_CODE_H_
#define KEYFERRY_BASE_ERROR_CODE_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"

namespace keyferry {

struct ErrorCode {
  std::string code;        // e.g. "Forbidden"
  std::string inner_code;  // e.g. "KeyDisabled"; may be empty
};

// WithErrorCode returns `status` with `code` (and `inner_code`) attached.
// OK statuses are returned unchanged.
absl::Status WithErrorCode(absl::Status status, std::string_view code,
                           std::string_view inner_code = "");

// GetErrorCode returns the codes attached by WithErrorCode, if any.
std::optional<ErrorCode> GetErrorCode(const absl::Status& status);

}  // namespace keyferry

#endif  // KEYFERRY_BASE_ERROR_CODE_H_
