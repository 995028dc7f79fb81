// CK_RV -> absl::Status. The return value travels as a payload so callers can
// branch on it (as kmsp11 does), and messages name it.
#ifndef KEYFERRY_HSM_ERRORS_H_
#define KEYFERRY_HSM_ERRORS_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace keyferry::hsm {

// CkrName returns "CKR_PIN_INCORRECT" for 0xA0, "CKR_0x…" for unknown values.
std::string CkrName(unsigned long rv);

// CkrToStatus returns OK for CKR_OK, else a Status whose message is
// "`what`: CKR_NAME (0xHEX)" and whose payload carries `rv`.
absl::Status CkrToStatus(unsigned long rv, std::string_view what);

// GetCkr returns the CK_RV carried by `status`, if any.
std::optional<unsigned long> GetCkr(const absl::Status& status);

// IsStaleHandle tells whether `status` means the token no longer knows the
// session or object handles used (it was reset, or every session was
// closed: CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID,
// CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN),
// or that the session is as good as lost (CKR_OPERATION_ACTIVE: an
// operation a token would not end, hsm/two_call.h), rather than anything
// about the request.
bool IsStaleHandle(const absl::Status& status);

// IsAttributeReadOnly tells whether `status` carries
// CKR_ATTRIBUTE_READ_ONLY: the token refused to let the template set an
// attribute at that step (SoftHSM 2.6.1 refuses CKA_MODIFIABLE=FALSE in a
// C_UnwrapKey template).
bool IsAttributeReadOnly(const absl::Status& status);

// IsTokenFault tells whether a failed token call is the token's or the
// caller's own fault (a stale handle, a device or memory error, a missing
// token, ...), which a client must not be told is its own. A Status without
// a CK_RV is a token fault unless it is InvalidArgument. Anything else a
// C_UnwrapKey or C_Decrypt of client data returns (SoftHSM answers
// CKR_GENERAL_ERROR to a ciphertext that does not decrypt) is about the data.
bool IsTokenFault(const absl::Status& status);

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_ERRORS_H_
