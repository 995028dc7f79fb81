// Shamir secret sharing (Shamir 1979) of a byte string, byte-wise over
// GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11B).
// Used to split the software custody's master key among operators
// (docs/sealing.md). Any `threshold` shares reconstruct the secret; fewer
// reveal nothing about it.
#ifndef KEYFERRY_SEAL_SHAMIR_H_
#define KEYFERRY_SEAL_SHAMIR_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry::seal {

inline constexpr int kMaxShares = 255;

// Share is one point of every byte's polynomial: y[i] = f_i(x). `y` has the
// length of the secret.
struct Share {
  uint8_t x = 0;  // 1..255; never 0 (f(0) is the secret)
  SecretBytes y;
};

// Split draws, for each secret byte, a random polynomial of degree
// `threshold - 1` whose constant term is that byte, and evaluates it at
// x = 1..`shares`. Requires a non-empty secret and
// 1 <= threshold <= shares <= 255, with threshold >= 2 unless shares == 1.
// InvalidArgument otherwise.
absl::StatusOr<std::vector<Share>> Split(const SecretBytes& secret, int shares,
                                         int threshold);

// Combine interpolates the shares' polynomials at 0 (Lagrange). It cannot
// tell whether enough shares were given: fewer than the threshold yield an
// unrelated value, so callers check the result (see seal::KeyCheckValue).
// InvalidArgument when `shares` is empty, holds x == 0, a duplicate x or
// shares of different lengths.
absl::StatusOr<SecretBytes> Combine(std::span<const Share> shares);

// Interpolate evaluates the shares' polynomials at `x` (Lagrange); x = 0 is
// Combine. Given `threshold` shares of a split, Interpolate(shares, i) is
// share i's y. Same errors as Combine.
absl::StatusOr<SecretBytes> Interpolate(std::span<const Share> shares,
                                        uint8_t x);

namespace internal {
// Constant-time GF(2^8) arithmetic (no secret-indexed tables or branches).
uint8_t GfMul(uint8_t a, uint8_t b);
// GfInv returns a^254, the inverse of a != 0; GfInv(0) == 0.
uint8_t GfInv(uint8_t a);
}  // namespace internal

}  // namespace keyferry::seal

#endif  // KEYFERRY_SEAL_SHAMIR_H_
