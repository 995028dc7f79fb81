// keyferryd's access tokens: JWTs (RFC 7519) signed with ES256 (RFC 7518
// §3.4), issued by keyferryd's identity endpoints and verified on every call.
// Only ES256 is accepted; "none" and every other alg are refused.
#ifndef KEYFERRY_AUTH_JWT_H_
#define KEYFERRY_AUTH_JWT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::auth {

struct Claims {
  std::string issuer;      // iss
  std::string subject;     // sub: the principal's object id
  std::string audience;    // aud: the resource, e.g. "https://localhost:8443"
  std::string tenant;      // tid
  int64_t issued_at = 0;   // iat, Unix seconds
  int64_t not_before = 0;  // nbf
  int64_t expires = 0;     // exp
};

// Es256Signer signs a 32-byte SHA-256 digest with the P-256 token key and
// returns the JOSE signature r || s (64 bytes): keyferryd's signer runs in
// the custody, so the private key is never in keyferryd's memory.
using Es256Signer = std::function<absl::StatusOr<std::vector<uint8_t>>(
    std::span<const uint8_t> digest)>;

// IssueToken signs `claims` with `sign`; `key_id` goes into the header's
// "kid".
absl::StatusOr<std::string> IssueToken(const Es256Signer& sign,
                                       std::string_view key_id,
                                       const Claims& claims);
// IssueToken with a P-256 private key in memory (`key`, borrowed): tests.
absl::StatusOr<std::string> IssueToken(EVP_PKEY* key, std::string_view key_id,
                                       const Claims& claims);

// VerifyToken checks the compact JWS `token`: exactly three base64url parts,
// header alg ES256, a valid signature under `key`, `aud` equal to
// `audience` (a single trailing '/' ignored on either side), and
// nbf - skew <= now < exp + skew. Unauthenticated with a message that says
// which check failed (never the token itself).
absl::StatusOr<Claims> VerifyToken(std::string_view token, EVP_PKEY* key,
                                   std::string_view audience, int64_t now,
                                   int64_t skew_seconds = 60);

// VerifiedTokens remembers the tokens VerifyToken accepted, so a client
// that reuses its token (every SDK does, for about an hour) pays for the
// ES256 verification once. A hit is only for the same token and audience
// under the same `key` (one VerifiedTokens per signing key), and the
// time window (nbf, exp with skew) is checked again on every call; an
// expired entry is dropped and the token verified afresh (and refused).
// Holds at most `capacity` tokens; when full, the oldest is forgotten.
// Thread-safe.
class VerifiedTokens {
 public:
  explicit VerifiedTokens(size_t capacity = 10000) : capacity_(capacity) {}
  VerifiedTokens(const VerifiedTokens&) = delete;
  VerifiedTokens& operator=(const VerifiedTokens&) = delete;

  // Verify is VerifyToken with the cache in front.
  absl::StatusOr<Claims> Verify(std::string_view token, EVP_PKEY* key,
                                std::string_view audience, int64_t now,
                                int64_t skew_seconds = 60);

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, Claims> claims_;  // guarded by mu_
  std::deque<std::string> order_;                   // insertion order
};

}  // namespace keyferry::auth

#endif  // KEYFERRY_AUTH_JWT_H_
