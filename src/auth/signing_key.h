// The ES256 key keyferryd signs its access tokens with: a P-256 private key
// in a 0600 PEM file in the data directory, made on first start.
#ifndef KEYFERRY_AUTH_SIGNING_KEY_H_
#define KEYFERRY_AUTH_SIGNING_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::auth {

struct SigningKey {
  crypto::EvpPkeyPtr key;
  std::string key_id;  // first 16 hex digits of SHA-256(SubjectPublicKeyInfo)
};

// LoadOrCreateSigningKey reads the PEM at `path` or creates it (mode 0600).
// Refuses a file that group or others can access, or that is not a P-256
// private key.
absl::StatusOr<SigningKey> LoadOrCreateSigningKey(const std::string& path);

}  // namespace keyferry::auth

#endif  // KEYFERRY_AUTH_SIGNING_KEY_H_
