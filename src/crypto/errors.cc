#include "crypto/errors.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"
#include "base/strings.h"

namespace keyferry::crypto {

absl::Status SslError(absl::StatusCode code, std::string_view what) {
  unsigned long e = ERR_get_error();
  std::string reason;
  if (e != 0) {
    const char* r = ERR_reason_error_string(e);
    reason = r != nullptr ? r : absl::StrCat("error 0x", absl::Hex(e));
  }
  ERR_clear_error();
  if (reason.empty()) return absl::Status(code, Sv(what));
  return absl::Status(code, absl::StrCat(Sv(what), ": ", reason));
}

}  // namespace keyferry::crypto
