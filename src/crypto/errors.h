// OpenSSL error queue -> absl::Status.
#ifndef KEYFERRY_CRYPTO_ERRORS_H_
#define KEYFERRY_CRYPTO_ERRORS_H_

#include <string_view>

#include "absl/status/status.h"

namespace keyferry::crypto {

// SslError returns a Status of `code` with message "what: <first OpenSSL
// reason>" and clears the error queue. It never includes data bytes.
absl::Status SslError(absl::StatusCode code, std::string_view what);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_ERRORS_H_
