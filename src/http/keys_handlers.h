// The keys API's operations, one named handler each (docs/api.md). A
// handler reads its request (keys_request.h), asks the vault, and returns
// the Answer (keys_render.h) or the vault's error status; KeysApi's route
// table has already authenticated the caller, checked its role and the
// api-version, and renders the result. Handlers keep no state: thread-safe
// as far as the vault is.
#ifndef KEYFERRY_HTTP_KEYS_HANDLERS_H_
#define KEYFERRY_HTTP_KEYS_HANDLERS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "http/keys_render.h"
#include "http/message.h"
#include "http/router.h"
#include "release/attestation.h"
#include "release/result.h"
#include "vault/key_vault.h"

namespace keyferry::http::keys {

// ReleaseContext is what Secure Key Release needs beyond the vault: the
// attestation authorities the operator trusts and the signer of results
// (the vault's TLS certificate). Borrowed; either may be null, and a
// release is then refused.
struct ReleaseContext {
  const release::TrustedAuthorities* authorities = nullptr;
  const release::ReleaseSigner* signer = nullptr;
};

// Call is one authenticated, authorized, version-checked request.
struct Call {
  const Request& req;
  const RouteContext& ctx;
  std::string principal;
  View view;
  const ReleaseContext* release = nullptr;
  std::string_view vault() const { return ctx.vault; }
  std::string_view Param(std::string_view n) const { return ctx.Param(n); }
};

// Handler is the shape of every operation below.
using Handler = absl::StatusOr<Answer> (*)(vault::KeyVault& vault,
                                           const Call& call);

// Keys and versions.
absl::StatusOr<Answer> CreateKey(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> ImportKey(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> ListKeys(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> ListKeyVersions(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> GetKey(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> UpdateKey(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> DeleteKey(vault::KeyVault& v, const Call& c);

// Rotation.
absl::StatusOr<Answer> GetRotationPolicy(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> SetRotationPolicy(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> RotateKey(vault::KeyVault& v, const Call& c);

// Backup and restore.
absl::StatusOr<Answer> BackupKey(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> RestoreKey(vault::KeyVault& v, const Call& c);

// Cryptographic operations (the version may be empty: the latest).
absl::StatusOr<Answer> Sign(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> Verify(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> Encrypt(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> Decrypt(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> WrapKey(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> UnwrapKey(vault::KeyVault& v, const Call& c);

// Deleted keys.
absl::StatusOr<Answer> ListDeletedKeys(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> GetDeletedKey(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> RecoverKey(vault::KeyVault& v, const Call& c);
absl::StatusOr<Answer> PurgeKey(vault::KeyVault& v, const Call& c);

// Secure Key Release (api-version 7.3 and later; the version may be empty:
// the latest): {"value": JWS signed by ReleaseContext::signer} whose payload
// is {"request":{"api-version","enc","kid","nonce"?},"response":{"key":
// KeyBundle with key.key_hsm}} (docs/api.md §Secure Key Release).
absl::StatusOr<Answer> ReleaseKey(vault::KeyVault& v, const Call& c);
// Random bytes (the vault is not consulted).
absl::StatusOr<Answer> GetRandom(vault::KeyVault& v, const Call& c);

}  // namespace keyferry::http::keys

#endif  // KEYFERRY_HTTP_KEYS_HANDLERS_H_
