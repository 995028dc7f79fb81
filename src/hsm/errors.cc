#include "hsm/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "hsm/pkcs11.h"

namespace keyferry::hsm {
namespace {

constexpr char kCkrPayload[] = "keyferry/ckr";

struct Named {
  unsigned long rv;
  const char* name;
  absl::StatusCode code;
};

constexpr Named kNames[] = {
    {CKR_CANCEL, "CKR_CANCEL", absl::StatusCode::kCancelled},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", absl::StatusCode::kResourceExhausted},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", absl::StatusCode::kNotFound},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", absl::StatusCode::kInternal},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", absl::StatusCode::kInternal},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD",
     absl::StatusCode::kInvalidArgument},
    {CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY",
     absl::StatusCode::kInvalidArgument},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE",
     absl::StatusCode::kPermissionDenied},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID",
     absl::StatusCode::kInvalidArgument},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID",
     absl::StatusCode::kInvalidArgument},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID", absl::StatusCode::kInvalidArgument},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE",
     absl::StatusCode::kInvalidArgument},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", absl::StatusCode::kInternal},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY",
     absl::StatusCode::kResourceExhausted},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", absl::StatusCode::kUnavailable},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID",
     absl::StatusCode::kInvalidArgument},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE",
     absl::StatusCode::kInvalidArgument},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED",
     absl::StatusCode::kUnimplemented},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID",
     absl::StatusCode::kNotFound},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE",
     absl::StatusCode::kInvalidArgument},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT",
     absl::StatusCode::kInvalidArgument},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED",
     absl::StatusCode::kFailedPrecondition},
    {CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE",
     absl::StatusCode::kFailedPrecondition},
    {CKR_KEY_UNEXTRACTABLE, "CKR_KEY_UNEXTRACTABLE",
     absl::StatusCode::kFailedPrecondition},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID",
     absl::StatusCode::kUnimplemented},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID",
     absl::StatusCode::kInvalidArgument},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID",
     absl::StatusCode::kNotFound},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE",
     absl::StatusCode::kFailedPrecondition},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT",
     absl::StatusCode::kUnauthenticated},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID", absl::StatusCode::kInvalidArgument},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE",
     absl::StatusCode::kInvalidArgument},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED", absl::StatusCode::kPermissionDenied},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID",
     absl::StatusCode::kInternal},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY",
     absl::StatusCode::kFailedPrecondition},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE",
     absl::StatusCode::kInvalidArgument},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT",
     absl::StatusCode::kInvalidArgument},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT",
     absl::StatusCode::kNotFound},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED",
     absl::StatusCode::kNotFound},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN",
     absl::StatusCode::kFailedPrecondition},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN",
     absl::StatusCode::kUnauthenticated},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED",
     absl::StatusCode::kFailedPrecondition},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID",
     absl::StatusCode::kInvalidArgument},
    {CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID",
     absl::StatusCode::kInvalidArgument},
    {CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE",
     absl::StatusCode::kInvalidArgument},
    {CKR_WRAPPING_KEY_HANDLE_INVALID, "CKR_WRAPPING_KEY_HANDLE_INVALID",
     absl::StatusCode::kNotFound},
    {CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "CKR_WRAPPING_KEY_TYPE_INCONSISTENT",
     absl::StatusCode::kInvalidArgument},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", absl::StatusCode::kInternal},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED",
     absl::StatusCode::kInternal},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED",
     absl::StatusCode::kInternal},
    {CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID",
     absl::StatusCode::kInvalidArgument},
    {CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED",
     absl::StatusCode::kUnimplemented},
};

}  // namespace

std::string CkrName(unsigned long rv) {
  for (const auto& n : kNames) {
    if (n.rv == rv) return n.name;
  }
  if (rv == CKR_OK) return "CKR_OK";
  return absl::StrCat("CKR_0x", absl::Hex(rv));
}

absl::Status CkrToStatus(unsigned long rv, std::string_view what) {
  if (rv == CKR_OK) return absl::OkStatus();
  absl::StatusCode code = absl::StatusCode::kInternal;
  for (const auto& n : kNames) {
    if (n.rv == rv) code = n.code;
  }
  absl::Status st(code, absl::StrCat(Sv(what), ": ", CkrName(rv), " (0x",
                                     absl::Hex(rv, absl::kZeroPad2), ")"));
  st.SetPayload(kCkrPayload, absl::Cord(absl::StrCat(rv)));
  return st;
}

std::optional<unsigned long> GetCkr(const absl::Status& status) {
  auto p = status.GetPayload(kCkrPayload);
  if (!p.has_value()) return std::nullopt;
  unsigned long rv;
  if (!absl::SimpleAtoi(std::string(*p), &rv)) return std::nullopt;
  return rv;
}

bool IsAttributeReadOnly(const absl::Status& status) {
  const std::optional<unsigned long> ckr = GetCkr(status);
  return ckr && *ckr == CKR_ATTRIBUTE_READ_ONLY;
}

bool IsStaleHandle(const absl::Status& status) {
  const std::optional<unsigned long> ckr = GetCkr(status);
  return ckr &&
         (*ckr == CKR_OBJECT_HANDLE_INVALID || *ckr == CKR_KEY_HANDLE_INVALID ||
          *ckr == CKR_SESSION_HANDLE_INVALID || *ckr == CKR_SESSION_CLOSED ||
          *ckr == CKR_USER_NOT_LOGGED_IN || *ckr == CKR_OPERATION_ACTIVE);
}

bool IsTokenFault(const absl::Status& status) {
  const std::optional<unsigned long> ckr = GetCkr(status);
  if (!ckr) return status.code() != absl::StatusCode::kInvalidArgument;
  if (IsStaleHandle(status)) return true;
  switch (*ckr) {
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_COUNT:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_FUNCTION_CANCELED:
    case CKR_OPERATION_ACTIVE:
    case CKR_BUFFER_TOO_SMALL:
      return true;
    default:
      return false;
  }
}

}  // namespace keyferry::hsm
