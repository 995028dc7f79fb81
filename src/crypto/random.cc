#include "crypto/random.h"

#include <openssl/rand.h>

#include "crypto/errors.h"

namespace keyferry::crypto {

absl::StatusOr<SecretBytes> RandomSecret(size_t n) {
  SecretBytes out(n);
  if (n > 0 && RAND_bytes(out.mutable_data(SecretAccess::Get()).data(),
                          static_cast<int>(n)) != 1) {
    return SslError(absl::StatusCode::kInternal, "RAND_bytes");
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> RandomBytes(size_t n) {
  std::vector<uint8_t> out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    return SslError(absl::StatusCode::kInternal, "RAND_bytes");
  }
  return out;
}

}  // namespace keyferry::crypto
