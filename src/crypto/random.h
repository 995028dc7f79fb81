// Random bytes from OpenSSL's DRBG.
#ifndef KEYFERRY_CRYPTO_RANDOM_H_
#define KEYFERRY_CRYPTO_RANDOM_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry::crypto {

// RandomSecret returns `n` random bytes in a zeroizing buffer.
absl::StatusOr<SecretBytes> RandomSecret(size_t n);
// RandomBytes returns `n` random bytes that are not secret (ids, nonces).
absl::StatusOr<std::vector<uint8_t>> RandomBytes(size_t n);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_RANDOM_H_
