// keyferryd's access tokens: JWTs (RFC 7519) signed with ES256 (RFC 7518
// §3.4), issued by keyferryd's identity endpoints and verified on every call.
// Only ES256 is accepted; "none" and every other alg are refused.
#ifndef KEYFERRY_AUTH_JWT_H_
#define KEYFERRY_AUTH_JWT_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/lru_cache.h"
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

// kDefaultMaxAccessTokenLifetime is the longest a token may live (exp minus the
// earlier of nbf and iat) unless the deployment configures another maximum:
// 24 hours.
inline constexpr int64_t kDefaultMaxAccessTokenLifetime = int64_t{24} * 3600;

// AccessTokenLifetime is how long `claims` make a token live: exp minus the
// earlier of nbf and iat. An absent nbf or iat counts as 0, so a token lacking
// either lives "since 1970" and exceeds any maximum.
int64_t AccessTokenLifetime(const Claims& claims);

// AccessTokenRequirements is what a token must say to be accepted by one call.
// The views are borrowed for the duration of that call.
struct AccessTokenRequirements {
  std::string_view issuer;    // iss must equal this exactly
  std::string_view tenant;    // tid must equal this exactly
  std::string_view audience;  // aud, a single trailing '/' ignored each side
  // AccessTokenLifetime(claims) must not exceed this.
  int64_t max_lifetime_seconds = kDefaultMaxAccessTokenLifetime;
  // nbf - skew <= now < exp + skew.
  int64_t skew_seconds = 60;
};

// Es256Signer signs a 32-byte SHA-256 digest with the P-256 token key and
// returns the JOSE signature r || s (64 bytes): keyferryd's signer runs in
// the custody, so the private key is never in keyferryd's memory.
using Es256Signer = std::function<absl::StatusOr<std::vector<uint8_t>>(
    std::span<const uint8_t> digest)>;

// IssueAccessToken signs `claims` with `sign`; `key_id` goes into the header's
// "kid".
absl::StatusOr<std::string> IssueAccessToken(const Es256Signer& sign,
                                             std::string_view key_id,
                                             const Claims& claims);
// IssueAccessToken with a P-256 private key in memory (`key`, borrowed): tests.
absl::StatusOr<std::string> IssueAccessToken(EVP_PKEY* key,
                                             std::string_view key_id,
                                             const Claims& claims);

// VerifyAccessToken checks the compact JWS `token`: exactly three base64url
// parts, header alg ES256, a valid signature under `key`, a subject (oid or
// sub), then every claim against `want` (CheckClaims). Unauthenticated with a
// message that says which check failed (never the token itself).
absl::StatusOr<Claims> VerifyAccessToken(std::string_view token, EVP_PKEY* key,
                                         const AccessTokenRequirements& want,
                                         int64_t now);

// CheckClaims checks already verified `claims` against `want`: iss, tid,
// aud, the lifetime and the time window at `now`. Unauthenticated naming the
// failed check.
absl::Status CheckClaims(const Claims& claims,
                         const AccessTokenRequirements& want, int64_t now);

// VerifiedAccessTokens remembers the tokens whose signature VerifyAccessToken
// accepted, so a client that reuses its token (every SDK does, for about an
// hour) pays for the ES256 verification once. An entry stands for "this token
// carries these claims, signed by `key`" (one VerifiedAccessTokens per signing
// key), so a hit skips the signature and nothing else: CheckClaims runs on
// every call against that call's AccessTokenRequirements, and a hit with
// another issuer, tenant, audience or maximum lifetime is refused exactly as a
// miss would be. Who invalidates an entry: a call that finds it past exp + skew
// drops it (the token is then verified afresh, and refused); when `capacity`
// tokens are held, the least recently used is forgotten (base/lru_cache.h).
// Thread-safe.
class VerifiedAccessTokens {
 public:
  explicit VerifiedAccessTokens(size_t capacity = 10000) : claims_(capacity) {}
  VerifiedAccessTokens(const VerifiedAccessTokens&) = delete;
  VerifiedAccessTokens& operator=(const VerifiedAccessTokens&) = delete;

  // Verify is VerifyAccessToken with the cache in front.
  absl::StatusOr<Claims> Verify(std::string_view token, EVP_PKEY* key,
                                const AccessTokenRequirements& want,
                                int64_t now);

 private:
  LruCache<Claims> claims_;  // by the whole token text
};

}  // namespace keyferry::auth

#endif  // KEYFERRY_AUTH_JWT_H_
