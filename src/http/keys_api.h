// The Key Vault keys REST API over a vault::KeyVault (docs/api.md): the
// route table, and the one admission step every keys route runs before its
// handler (bearer token, principal, role for the route's operation), then
// the api-version check. The handlers are in keys_handlers.h, request
// readers in keys_request.h, JSON shapes and the error mapping in
// keys_render.h, /healthz and ARM's routes in service_routes.h. Every answer
// is JSON; every error is Azure's envelope with Response::error_code set.
#ifndef KEYFERRY_HTTP_KEYS_API_H_
#define KEYFERRY_HTTP_KEYS_API_H_

#include <openssl/evp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/jwt.h"
#include "auth/rbac.h"
#include "http/message.h"
#include "http/router.h"
#include "http/service_routes.h"
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

// GrantsAllow tells whether `grants` give `principal` a role on `vault`
// that allows `op` (auth::Allows).
bool GrantsAllow(const std::vector<Grant>& grants, std::string_view principal,
                 std::string_view vault, auth::Operation op);

// CheckRole is GrantsAllow as a status: OK, or PermissionDenied carrying
// Azure's code Forbidden / ForbiddenByRbac and message (naming the data
// action and the resource: the vault, and key `key` when not empty).
absl::Status CheckRole(const std::vector<Grant>& grants,
                       std::string_view principal, std::string_view vault,
                       std::string_view key, auth::Operation op);

struct KeysApiOptions {
  std::string domain = "localhost";
  std::vector<std::string> vaults;
  // Other host names of vaults, {host, vault} (RouterOptions::aliases).
  std::vector<std::pair<std::string, std::string>> vault_aliases;
  std::vector<Grant> grants;
  std::string tenant;  // tid in the challenge; every token's tid must match
  // token_key (borrowed) verifies access tokens; null until the custody
  // holding the token key is open (SetAccessTokenKey), and every token is
  // refused meanwhile.
  EVP_PKEY* token_key = nullptr;
  // Every token's iss must equal this (keyferryd's "<resource>/identity").
  std::string token_issuer;
  // The longest lifetime (exp - nbf/iat) a token may have, in seconds.
  int64_t token_max_lifetime = auth::kDefaultMaxAccessTokenLifetime;
  // health (may be empty) fills GET /healthz; called on every health check.
  std::function<Health()> health;
  std::string subscription_id;     // for ARM's GET /subscriptions
  std::function<int64_t()> clock;  // Unix seconds; default system clock
  // audit_recent (may be empty: the console's audit page then answers 404)
  // serves GET /console/api/audit (console_api.h): the `limit` most recent
  // audit records and whether the chain verifies. Called concurrently.
  std::function<absl::StatusOr<nlohmann::json>(int limit)> audit_recent;
};

// KeysApi answers requests for the vaults it serves.
// Thread-safe once built (New): the router only reads, the token cache
// locks itself and the token key is atomic.
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

  // SetAccessTokenKey sets the key that verifies access tokens (borrowed; it
  // must outlive the KeysApi). Set once, when the custody first opens.
  void SetAccessTokenKey(EVP_PKEY* key);

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

  // Principal returns the principal of `request`'s bearer token (checked
  // as for the keys API), whatever its roles. Unauthenticated for a
  // missing or refused token, with Azure's AKV10000 / AKV10032 message.
  absl::StatusOr<std::string> Principal(const Request& request) const;

  // options returns what the API was built with (the vaults, grants and
  // domain the console's whoami reports).
  const KeysApiOptions& options() const { return options_; }

 private:
  struct Route;
  // Admission is the outcome of Admit: the principal the token names
  // (empty when the token is missing or refused) and OK, or the refusal.
  struct Admission {
    std::string principal;
    absl::Status status;
  };

  KeysApi(KeysApiOptions options, vault::KeyVault* vault);
  // Register builds the route table: the keys routes, then the service
  // routes.
  absl::Status Register();
  // Admit is the admission step of every keys route: a bearer token signed
  // by token_key that names the issuer, tenant and this host's resource
  // (else Unauthenticated, with Azure's AKV10000 or AKV10032 message), and
  // a grant of a role allowing `op` on the vault (else CheckRole's
  // PermissionDenied).
  Admission Admit(const Request& request, const RouteContext& ctx,
                  auth::Operation op) const;
  // Run answers `request` on `route`: Admit, the api-version, the handler,
  // the rendering, and the audit note every keys answer carries.
  Response Run(const Route& route, const Request& request,
               const RouteContext& ctx) const;
  // Serve runs the handler of `route` for an admitted `principal`.
  Response Serve(const Route& route, const Request& request,
                 const RouteContext& ctx, std::string principal) const;
  // AccessTokenRules is what a token must say to be accepted for `audience`.
  auth::AccessTokenRequirements AccessTokenRules(
      std::string_view audience) const;

  KeysApiOptions options_;
  vault::KeyVault* vault_;
  std::unique_ptr<Router> router_;
  mutable auth::VerifiedAccessTokens tokens_;  // locks itself
  std::atomic<EVP_PKEY*> token_key_;
};

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_KEYS_API_H_
