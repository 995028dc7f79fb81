// The ES256 key keyferryd signs its access tokens with. It is held by the
// custody (server/access_token_signer.h); what lives here is what both the
// server and the tools need: the key id, and reading the plain PEM file that
// deployments before that change kept in the data directory, for its
// one-time migration into the custody.
#ifndef KEYFERRY_AUTH_SIGNING_KEY_H_
#define KEYFERRY_AUTH_SIGNING_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::auth {

// AccessTokenKeyId is the "kid" of a token key: the first 16 hex digits of
// SHA-256 of its SubjectPublicKeyInfo. `key` may be public or private.
absl::StatusOr<std::string> AccessTokenKeyId(EVP_PKEY* key);

// LoadLegacySigningKey reads the P-256 private key PEM at `path`. Refuses a
// file that group or others can access (PermissionDenied) or that is not a
// P-256 private key (DataLoss); NotFound when there is no file.
absl::StatusOr<crypto::EvpPkeyPtr> LoadLegacySigningKey(
    const std::string& path);

}  // namespace keyferry::auth

#endif  // KEYFERRY_AUTH_SIGNING_KEY_H_
