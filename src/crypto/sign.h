// JOSE signatures over precomputed digests, as the Key Vault sign/verify
// API defines them: RS*/PS* (PSS salt = hash length) and ES* with the raw
// r || s encoding.
#ifndef KEYFERRY_CRYPTO_SIGN_H_
#define KEYFERRY_CRYPTO_SIGN_H_

#include <openssl/evp.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::crypto {

enum class SignAlg {
  kRs256,
  kRs384,
  kRs512,
  kPs256,
  kPs384,
  kPs512,
  kEs256,
  kEs384,
  kEs512,
  kEs256k
};

// ParseSignAlg reads a JOSE name ("RS256", "ES256K", …).
absl::StatusOr<SignAlg> ParseSignAlg(std::string_view name);
std::string_view SignAlgName(SignAlg alg);
// DigestBytes is the digest length `alg` signs: 32, 48 or 64.
size_t DigestBytes(SignAlg alg);
// DigestFor hashes `data` with the hash `alg` signs (SHA-256/384/512): the
// digest SignDigest and VerifyDigest take for a message.
std::vector<uint8_t> DigestFor(SignAlg alg, std::span<const uint8_t> data);

// SignDigest signs `digest` (exactly DigestBytes long) with private key
// `key` (borrowed). InvalidArgument when the key does not fit `alg` (an EC
// key on another curve, a non-RSA key for RS/PS) or the digest length is
// wrong.
absl::StatusOr<std::vector<uint8_t>> SignDigest(
    EVP_PKEY* key, SignAlg alg, std::span<const uint8_t> digest);

// VerifyDigest returns true for a valid signature and false for any other
// signature; errors only for a key that does not fit `alg` or a digest of
// the wrong length.
absl::StatusOr<bool> VerifyDigest(EVP_PKEY* key, SignAlg alg,
                                  std::span<const uint8_t> digest,
                                  std::span<const uint8_t> signature);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_SIGN_H_
