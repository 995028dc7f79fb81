// The Key Vault keys REST API over a vault::KeyVault (docs/api.md): routes,
// the bearer-token challenge, RBAC per vault, api-version checks, and the
// JSON shapes of KeyBundle, KeyItem, DeletedKeyBundle and the operation
// results. Every answer is JSON; every error is Azure's envelope.
#ifndef KEYFERRY_HTTP_KEYS_API_H_
#define KEYFERRY_HTTP_KEYS_API_H_

#include <openssl/evp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/jwt.h"
#include "auth/rbac.h"
#include "http/message.h"
#include "http/router.h"
#include "vault/key_vault.h"

namespace keyferry::http {

// Grant gives `principal` a role on one vault, or on every vault when
// `vault` is "*".
struct Grant {
  std::string principal;
  std::string vault;
  auth::Role role;
};

// ParseGrant reads "principal:vault:role" (role as auth::ParseRole takes
// it, e.g. "crypto-officer"); InvalidArgument otherwise.
absl::StatusOr<Grant> ParseGrant(std::string_view text);

// Health is what GET /healthz reports: {"status":"ok"|"unavailable", and
// the members of `details`}; 503 when not ok (so a load balancer stops
// sending requests).
struct Health {
  bool ok = true;
  nlohmann::json details = nlohmann::json::object();
};

struct KeysApiOptions {
  std::string domain = "localhost";
  std::vector<std::string> vaults;
  std::vector<Grant> grants;
  std::string tenant;  // tid in the challenge; every token's tid must match
  // token_key (borrowed) verifies access tokens; null until the custody
  // holding the token key is open (SetTokenKey), and every token is
  // refused meanwhile.
  EVP_PKEY* token_key = nullptr;
  // Every token's iss must equal this (keyferryd's "<resource>/identity").
  std::string token_issuer;
  // The longest lifetime (exp - nbf/iat) a token may have, in seconds.
  int64_t token_max_lifetime = auth::kDefaultMaxTokenLifetime;
  // health (may be empty) fills GET /healthz; called on every health check.
  std::function<Health()> health;
  std::string subscription_id;     // for ARM's GET /subscriptions
  std::function<int64_t()> clock;  // Unix seconds; default system clock
};

// KeysApi answers requests for the vaults it serves.
class KeysApi {
 public:
  // New checks the options: InvalidArgument without a vault, token issuer
  // or tenant, or with a token_max_lifetime below 1 (a null token_key is
  // allowed: while sealed every token is refused).
  static absl::StatusOr<std::unique_ptr<KeysApi>> New(KeysApiOptions options,
                                                      vault::KeyVault* vault);

  // MayBlock tells whether `request` may wait on a durable commit or on key
  // generation: every request that changes the store (PUT, PATCH, DELETE,
  // and POST create, rotate, restore, recover, policy updates). Reads, the
  // key operations (sign, verify, encrypt, decrypt, wrapkey, unwrapkey),
  // backup and rng never do. For http::ServerOptions::blocking.
  static bool MayBlock(const Request& request);

  // SetTokenKey sets the key that verifies access tokens (borrowed; it must
  // outlive the KeysApi). Set once, when the custody first opens.
  void SetTokenKey(EVP_PKEY* key);

  // Handle answers one request (any host: unknown vault hosts get 404).
  // Every bearer token (keys API, ARM's /subscriptions, Operator) must be
  // signed by token_key and name token_issuer, tenant and the audience of
  // its route, and live at most token_max_lifetime seconds.
  Response Handle(const Request& request) const;

  // Operator returns the principal of `request`'s bearer token (audience:
  // the challenge resource of its host, as for the keys API) when that
  // principal is Crypto Officer on every vault served: the right to seal
  // keyferryd. Unauthenticated for a missing or refused token,
  // PermissionDenied for anyone else.
  absl::StatusOr<std::string> Operator(const Request& request) const;

 private:
  KeysApi(KeysApiOptions options, vault::KeyVault* vault);
  absl::Status Register();
  // TokenRules is what a token must say to be accepted for `audience`.
  auth::TokenRequirements TokenRules(std::string_view audience) const;

  KeysApiOptions options_;
  vault::KeyVault* vault_;
  std::unique_ptr<Router> router_;
  mutable auth::VerifiedTokens tokens_;
  std::atomic<EVP_PKEY*> token_key_;
};

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_KEYS_API_H_
