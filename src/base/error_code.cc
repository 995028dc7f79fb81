#include "base/error_code.h"

#include "absl/strings/cord.h"
#include "base/strings.h"

namespace keyferry {
namespace {
constexpr std::string_view kPayloadUrl = "keyferry.dev/error-code";
}  // namespace

absl::Status WithErrorCode(absl::Status status, std::string_view code,
                           std::string_view inner_code) {
  if (status.ok()) return status;
  std::string v(code);
  v.push_back('\n');
  v.append(inner_code);
  status.SetPayload(Sv(kPayloadUrl), absl::Cord(v));
  return status;
}

std::optional<ErrorCode> GetErrorCode(const absl::Status& status) {
  auto p = status.GetPayload(Sv(kPayloadUrl));
  if (!p.has_value()) return std::nullopt;
  std::string v(*p);
  size_t nl = v.find('\n');
  if (nl == std::string::npos) return ErrorCode{v, ""};
  return ErrorCode{v.substr(0, nl), v.substr(nl + 1)};
}

}  // namespace keyferry
