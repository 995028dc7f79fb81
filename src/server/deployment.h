// A keyferryd deployment's data directory (docs/storage.md): the files every
// subcommand reads (tenant id, identity secret, added vaults), the store and
// its binding to the custody, and the names the deployment answers to.
// Functions only; none keeps state.
#ifndef KEYFERRY_SERVER_DEPLOYMENT_H_
#define KEYFERRY_SERVER_DEPLOYMENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "custody/custody.h"
#include "custody/master_key.h"
#include "server/access_token_signer.h"
#include "server/config.h"
#include "store/key_store.h"

namespace keyferry::server {

// DataPath returns <data-dir>/<file>.
std::string DataPath(const Config& config, std::string_view file);

// EnsureDataDir creates `dir` (and its parents) if needed and makes it
// mode 0700. Unavailable, naming `dir`, when it cannot be created.
absl::Status EnsureDataDir(const std::string& dir);

// Resource is the audience of the deployment's tokens:
// https://<domain>[:<port>] (public_port when set; no port for 443).
std::string Resource(const Config& config);

// Issuer is the iss of every token this keyferryd mints and accepts:
// Resource + "/identity".
std::string Issuer(const Config& config);

// Deployment holds what every node of one deployment shares besides the
// keys and the token signing key (docs/storage.md §6.6): kept in the
// store's metadata, so every node of one database answers with the same
// tenant id and accepts the same identity header secret.
struct Deployment {
  std::string tenant;           // meta kTenantMeta, a random UUID
  std::string identity_secret;  // meta kIdentitySecretMeta, 48 hex digits
};

// The store metadata keys of the deployment's shared values; an added
// vault is under kAddedVaultMeta + its index (0, 1, ...).
inline constexpr char kTenantMeta[] = "deployment_tenant";
inline constexpr char kIdentitySecretMeta[] = "deployment_identity_secret";
inline constexpr char kAddedVaultMeta[] = "deployment_vault_";

// OpenDeployment makes the data directory if needed and returns the
// deployment's shared values from the store's metadata. The first start of
// a deployment makes each at random, or adopts the one an older
// deployment's data directory holds (<data-dir>/tenant-id,
// <data-dir>/identity-header, <data-dir>/vaults); SetMetaIfAbsent makes
// nodes starting together agree. Where a node's file disagrees, the
// store's value wins: the file is rewritten and the warning
// deployment_file_replaced names it (never the value). Each value is
// mirrored into its file (mode 0600): local clients of the identity
// endpoint read <data-dir>/identity-header. The added vaults are merged
// into config.vaults (configured ones first, no duplicates). Call it after
// BindCustody, so that a node with the wrong master key writes nothing.
// Fails when the store or a file cannot be read or written.
absl::StatusOr<Deployment> OpenDeployment(Config& config,
                                          store::KeyStore& store);

// OpenStore opens the configured store: <data-dir>/keys.db (store =
// sqlite) or the PostgreSQL database at postgres-url (store = postgres). A
// store that is fresh (its file was missing or empty; the database had no
// keyferry schema) while the audit log already holds records
// (`audit_records` > 0), or while the software custody's master key
// (master.key, or seal.json: `keyferryd init` makes the store too) exists,
// is refused with FailedPrecondition: that deployment's store was lost, and
// starting empty would hide it. Nothing stays made: the fresh SQLite file
// is removed again, and in PostgreSQL no schema is created, so the next
// start refuses too.
absl::StatusOr<std::unique_ptr<store::KeyStore>> OpenStore(
    const Config& config, uint64_t audit_records);

// OpenToolStore opens the configured store for a keyferryd subcommand.
// `must_exist`: FailedPrecondition "start keyferryd once first" when there
// is no store yet (and none is made); else an empty one is made.
absl::StatusOr<std::unique_ptr<store::KeyStore>> OpenToolStore(
    const Config& config, bool must_exist);

// MasterKeysFor says what the custody may do about its master key, from
// the store: a fresh store needs a new one, a store without keys or check
// value may make one, any other needs the one it was made with.
absl::StatusOr<custody::MasterKeyPolicy> MasterKeysFor(store::KeyStore& store);

// BindCustody ties an open custody to the store
// (vault::BindStoreToCustody): at start, or at unseal before the custody is
// put to work; logs store_upgraded when config.upgrade_store authenticated
// schema-1 versions. Returns whether the store named this custody before.
absl::StatusOr<bool> BindCustody(const Config& config, store::KeyStore& store,
                                 custody::Custody& custody);

// LoadSigner loads the token signing key the custody holds; for a store
// not bound before (`bound_before` false) it makes it (or takes over an
// older deployment's plain PEM) and then records the custody check value,
// so a start interrupted in between starts the same way again.
absl::StatusOr<std::unique_ptr<AccessTokenSigner>> LoadSigner(
    const Config& config, store::KeyStore& store, custody::Custody& custody,
    bool bound_before);

// LegacyAddedVaults reads the vaults an older keyferryd's `vault add` kept
// in <data-dir>/vaults, one name per line (none when the file is missing).
// OpenDeployment adopts them into the store.
absl::StatusOr<std::vector<std::string>> LegacyAddedVaults(
    const Config& config);

// WithAddedVaults returns `config` with the vaults of <data-dir>/vaults
// merged into config.vaults (configured ones first, no duplicates); the
// store's list is merged by OpenDeployment.
absl::StatusOr<Config> WithAddedVaults(Config config);

// AddedVaults returns the vaults added with `keyferryd vault add` that the
// store holds, in the order they were added.
absl::StatusOr<std::vector<std::string>> AddedVaults(store::KeyStore& store);

// AddVault records `name` as an added vault of the deployment unless the
// store holds it already, and returns whether it added it. Concurrent
// callers (several nodes) each take the next free index with
// SetMetaIfAbsent, so none loses another's name. `name` must be a valid
// vault name (LoadConfig's check).
absl::StatusOr<bool> AddVault(store::KeyStore& store, std::string_view name);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_DEPLOYMENT_H_
