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

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_ERRORS_H_
