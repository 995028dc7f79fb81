#include "seal/shamir.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "crypto/random.h"

namespace keyferry::seal {
namespace internal {

uint8_t GfMul(uint8_t a, uint8_t b) {
  uint8_t r = 0;
  for (int i = 0; i < 8; ++i) {
    // Add a when the low bit of b is set, via a mask rather than a branch.
    r ^= static_cast<uint8_t>(a & static_cast<uint8_t>(-(b & 1)));
    // a *= x, reducing by 0x11B when the top bit falls out.
    const uint8_t hi = static_cast<uint8_t>(-(a >> 7));
    a = static_cast<uint8_t>((a << 1) ^ (0x1B & hi));
    b >>= 1;
  }
  return r;
}

uint8_t GfInv(uint8_t a) {
  // a^254 = a^2 * a^4 * ... * a^128, a fixed sequence of operations.
  uint8_t r = 1;
  uint8_t sq = a;
  for (int i = 0; i < 7; ++i) {
    sq = GfMul(sq, sq);
    r = GfMul(r, sq);
  }
  return r;
}

}  // namespace internal

using internal::GfInv;
using internal::GfMul;

absl::StatusOr<std::vector<Share>> Split(const SecretBytes& secret, int shares,
                                         int threshold) {
  if (secret.empty()) {
    return absl::InvalidArgumentError("cannot split an empty secret");
  }
  if (shares < 1 || shares > kMaxShares) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the number of shares must be 1 to ", kMaxShares, ", not ", shares));
  }
  if (threshold < 1 || threshold > shares) {
    return absl::InvalidArgumentError(
        absl::StrCat("the threshold must be 1 to the number of shares (",
                     shares, "), not ", threshold));
  }
  if (threshold == 1 && shares > 1) {
    return absl::InvalidArgumentError(
        "a threshold of 1 with several shares would hand each holder the "
        "whole secret; use a threshold of at least 2");
  }
  const size_t len = secret.size();
  const size_t degree = static_cast<size_t>(threshold - 1);
  // coeffs[b * degree + (j - 1)] is the x^j coefficient for byte b.
  SecretBytes coeffs;
  if (degree > 0) {
    ASSIGN_OR_RETURN(coeffs, crypto::RandomSecret(len * degree));
  }
  std::span<const uint8_t> c = coeffs.data(SecretAccess::Get());
  std::span<const uint8_t> s = secret.data(SecretAccess::Get());

  std::vector<Share> out;
  out.reserve(static_cast<size_t>(shares));
  for (int i = 1; i <= shares; ++i) {
    Share sh;
    sh.x = static_cast<uint8_t>(i);
    sh.y = SecretBytes(len);
    std::span<uint8_t> y = sh.y.mutable_data(SecretAccess::Get());
    for (size_t b = 0; b < len; ++b) {
      // Horner: f(x) = s + x(c1 + x(c2 + ... + x c_degree)).
      uint8_t acc = 0;
      for (size_t j = degree; j >= 1; --j) {
        acc = GfMul(acc, sh.x) ^ c[b * degree + (j - 1)];
      }
      y[b] = static_cast<uint8_t>(GfMul(acc, sh.x) ^ s[b]);
    }
    out.push_back(std::move(sh));
  }
  return out;
}

absl::StatusOr<SecretBytes> Combine(std::span<const Share> shares) {
  return Interpolate(shares, 0);
}

absl::StatusOr<SecretBytes> Interpolate(std::span<const Share> shares,
                                        uint8_t x) {
  if (shares.empty()) {
    return absl::InvalidArgumentError("no shares to combine");
  }
  const size_t len = shares[0].y.size();
  if (len == 0) return absl::InvalidArgumentError("share is empty");
  bool seen[256] = {};
  for (const Share& s : shares) {
    if (s.x == 0) {
      return absl::InvalidArgumentError("share index 0 is not valid");
    }
    if (seen[s.x]) {
      return absl::InvalidArgumentError(
          absl::StrCat("share ", s.x, " appears more than once"));
    }
    seen[s.x] = true;
    if (s.y.size() != len) {
      return absl::InvalidArgumentError("shares have different lengths");
    }
  }
  // Lagrange basis at x: l_i = prod_{j != i} (x - x_j) / (x_i - x_j); in
  // GF(2^8) subtraction is XOR (at x = 0: x_j / (x_j - x_i)). The x are
  // public, but the arithmetic is the same constant-time code anyway.
  std::vector<uint8_t> basis(shares.size());
  for (size_t i = 0; i < shares.size(); ++i) {
    uint8_t num = 1, den = 1;
    for (size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      num = GfMul(num, static_cast<uint8_t>(x ^ shares[j].x));
      den = GfMul(den, static_cast<uint8_t>(shares[j].x ^ shares[i].x));
    }
    basis[i] = GfMul(num, GfInv(den));
  }
  SecretBytes out(len);
  std::span<uint8_t> o = out.mutable_data(SecretAccess::Get());
  for (size_t i = 0; i < shares.size(); ++i) {
    std::span<const uint8_t> y = shares[i].y.data(SecretAccess::Get());
    for (size_t b = 0; b < len; ++b) {
      o[b] ^= GfMul(basis[i], y[b]);
    }
  }
  return out;
}

}  // namespace keyferry::seal
