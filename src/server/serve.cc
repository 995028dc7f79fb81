#include "server/serve.h"

#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "auth/identity_endpoint.h"
#include "base/encoding.h"
#include "base/log.h"
#include "base/status.h"
#include "custody/software_custody.h"
#include "http/azure.h"
#include "http/console_files.h"
#include "http/keys_api.h"
#include "http/server.h"
#include "http/tls_certs.h"
#include "server/access_token_key_slot.h"
#include "server/audit_hooks.h"
#include "server/config.h"
#include "server/console_audit.h"
#include "server/custody_setup.h"
#include "server/deployment.h"
#include "server/due_work.h"
#include "server/identity_http.h"
#include "server/preload.h"
#include "server/process.h"
#include "server/release_setup.h"
#include "server/seal_service.h"
#include "server/tls_setup.h"
#include "store/key_store.h"
#include "vault/key_vault.h"

namespace keyferry::server {
namespace {

// Node is a running keyferryd: its parts in the order the start steps make
// them (and destroy them, in reverse). Each step fills the next part and
// may read the ones before it. The servers' handlers borrow the parts
// above them.
struct Node {
  Config config;
  Deployment deployment;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<store::KeyStore> store;
  CustodySetup custody;
  // Stops the store's purge watch (which calls into the custody) before
  // the custody goes.
  struct PurgeWatch {
    store::KeyStore* store = nullptr;
    PurgeWatch() = default;
    PurgeWatch(const PurgeWatch&) = delete;
    PurgeWatch& operator=(const PurgeWatch&) = delete;
    ~PurgeWatch() {
      if (store != nullptr) store->WatchPurges(nullptr);
    }
  } purge_watch;
  AccessTokenKeySlot token_key;
  ServerTls tls;
  // The checked entries of `preload = FILE`, read before anything is
  // written; applied (and emptied) once the vault is made.
  std::vector<PreloadEntry> preload;
  std::unique_ptr<vault::KeyVault> vault;
  std::unique_ptr<http::KeysApi> api;
  std::unique_ptr<SealService> seal;  // null unless sealed with key shares
  std::unique_ptr<http::Server> keys_server;
  std::shared_ptr<const auth::IdentityEndpoint> identity;
  std::unique_ptr<http::Server> identity_server;
};

LogLevel ParseLevel(const std::string& s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "warning") return LogLevel::kWarning;
  if (s == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

// LoadServeConfig reads the configuration (with the vaults added by
// `keyferryd vault add`), sets the log level, and restricts core dumps
// (logging the outcome) before the first secret is read.
absl::StatusOr<Config> LoadServeConfig(const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(Config c, LoadConfig(args));
  ASSIGN_OR_RETURN(c, WithAddedVaults(std::move(c)));
  SetLogLevel(ParseLevel(c.log_level));
  RETURN_IF_ERROR(RestrictCoreDumps(c.allow_core_dumps, /*log_outcome=*/true));
  return c;
}

// OpenAudit opens the hash-chained audit log every request that reaches
// the keys API, and every seal/unseal, is appended to (docs/audit.md).
absl::StatusOr<std::unique_ptr<audit::AuditLog>> OpenAudit(const Config& c) {
  audit::AuditLogOptions options;
  options.durability = c.audit_durability == "write"
                           ? audit::AuditDurability::kWrite
                           : audit::AuditDurability::kSync;
  return audit::AuditLog::Open(c.audit_log, options);
}

// OpenStoreAndCustody opens the store first (whether it already belongs to
// a master key decides whether a new one may be made: never for a store
// that has keys), then the custody, and logs which custody runs (a
// warning for an unsealed software custody). Needs node.audit.
absl::Status OpenStoreAndCustody(Node& node) {
  const Config& c = node.config;
  ASSIGN_OR_RETURN(node.store, OpenStore(c, node.audit->last_seq()));
  ASSIGN_OR_RETURN(custody::MasterKeyPolicy master_keys,
                   MasterKeysFor(*node.store));
  ASSIGN_OR_RETURN(node.custody, OpenCustody(c, master_keys));
  const bool dev_key =
      c.custody == "software" && node.custody.sealed == nullptr;
  Log(dev_key ? LogLevel::kWarning : LogLevel::kInfo, "custody",
      {{"kind", node.custody.custody->Kind()},
       {"summary", node.custody.summary}});
  // A purge on another node of the database drops this node's cached
  // copies of private keys too (docs/storage.md §6.5).
  custody::Custody* custody = node.custody.custody.get();
  node.store->WatchPurges([custody] { custody->ForgetCachedKeys(); });
  node.purge_watch.store = node.store.get();
  return absl::OkStatus();
}

// LoadAccessTokenKeyAtStart binds an unsealed custody to the store and loads
// the token signing key into node.token_key; a sealed custody does both at its
// first unseal (MakeSealService).
absl::Status LoadAccessTokenKeyAtStart(Node& node) {
  if (node.custody.sealed != nullptr) return absl::OkStatus();
  custody::Custody& custody = *node.custody.custody;
  ASSIGN_OR_RETURN(bool bound, BindCustody(node.config, *node.store, custody));
  ASSIGN_OR_RETURN(std::unique_ptr<AccessTokenSigner> signer,
                   LoadSigner(node.config, *node.store, custody, bound));
  node.token_key.Set(std::move(signer));
  return absl::OkStatus();
}

// MakeVault makes the key vault over the store and the custody.
std::unique_ptr<vault::KeyVault> MakeVault(const Node& node) {
  const int days = node.config.recoverable_days;
  return std::make_unique<vault::KeyVault>(
      node.store.get(), node.custody.custody.get(), vault::SystemClock,
      vault::VaultOptions{
          .recoverable_days = days,
          .recovery_level = days < 90 ? "CustomizedRecoverable+Purgeable"
                                      : "Recoverable+Purgeable"});
}

// HealthOf is /healthz: unavailable while the audit log cannot be written
// or the store does not answer (a node that lost its database; it recovers
// by itself when the database is back); background work waiting for a
// retry is listed (it does not make the node unavailable: one key's failed
// rotation is no reason to stop serving).
std::function<http::Health()> HealthOf(audit::AuditLog* audit,
                                       store::KeyStore* store,
                                       vault::KeyVault* vault) {
  return [audit, store, vault]() {
    http::Health h;
    const bool audit_ok = audit->healthy();
    h.details["audit_log"] = audit_ok ? "ok" : "cannot be written";
    const absl::Status ping = store->Ping();
    h.details["store"] = ping.ok() ? "ok" : "unreachable";
    h.ok = audit_ok && ping.ok();
    if (!h.ok) {
      h.error_message = !audit_ok ? "The audit log cannot be written."
                                  : "The key store does not answer.";
    }
    std::vector<vault::DueWorkFailure> failing = vault->DueWorkFailures();
    nlohmann::json items = nlohmann::json::array();
    for (const vault::DueWorkFailure& f : failing) {
      if (items.size() == 20) break;
      items.push_back({{"work", f.work},
                       {"vault", f.vault},
                       {"key", f.name},
                       {"failures", f.failures},
                       {"next_attempt", f.next_attempt},
                       {"error", f.error}});
    }
    h.details["background"] = {{"failing", failing.size()},
                               {"items", std::move(items)}};
    return h;
  };
}

// BuildKeysApi makes the keys API: the vaults, the tenant, the token key
// (none yet while sealed), the role grants (default: the identity
// principal is Crypto Officer everywhere) and /healthz. InvalidArgument
// for a bad grant. Needs node.vault.
absl::StatusOr<std::unique_ptr<http::KeysApi>> BuildKeysApi(const Node& node) {
  const Config& c = node.config;
  http::KeysApiOptions o;
  o.domain = c.domain;
  o.vaults = c.vaults;
  o.vault_aliases = c.vault_aliases;
  o.tenant = node.deployment.tenant;
  const AccessTokenSigner* signer = node.token_key.Get();
  o.token_key = signer != nullptr ? signer->public_key() : nullptr;
  o.token_issuer = Issuer(c);
  o.token_max_lifetime = c.token_max_lifetime;
  o.subscription_id = node.deployment.tenant;
  std::vector<std::string> grants = c.grants;
  if (grants.empty()) {
    grants.push_back(absl::StrCat(c.identity_principal, ":*:crypto-officer"));
  }
  for (const std::string& g : grants) {
    ASSIGN_OR_RETURN(http::Grant grant, http::ParseGrant(g));
    o.grants.push_back(grant);
  }
  o.health = HealthOf(node.audit.get(), node.store.get(), node.vault.get());
  o.audit_recent = [path = c.audit_log](int limit) {
    return RecentAudit(path, limit);
  };
  ASSIGN_OR_RETURN(o.release_authorities, LoadReleaseAuthorities(c));
  ASSIGN_OR_RETURN(o.release_signer, LoadReleaseSigner(node.tls));
  return http::KeysApi::New(std::move(o), node.vault.get());
}

// MakeSealService makes the /sys seal service of a custody sealed with key
// shares (null otherwise). Its unseal binds the rebuilt master key's
// custody to the store; the first unseal also loads the token key into
// node.token_key and hands it to the keys API. Needs node.api.
std::unique_ptr<SealService> MakeSealService(Node& node) {
  if (node.custody.sealed == nullptr) return nullptr;
  SealServiceOptions o;
  o.info = *node.custody.seal_info;
  o.custody = node.custody.sealed;
  const Config* c = &node.config;
  store::KeyStore* store = node.store.get();
  // Whether the store named this custody before the first unseal (set by
  // `open`, read by `on_unsealed`; both run under the seal service's lock,
  // one after the other).
  auto bound_before = std::make_shared<bool>(false);
  o.open = [c, store, bound_before](SecretBytes master)
      -> absl::StatusOr<std::unique_ptr<custody::Custody>> {
    ASSIGN_OR_RETURN(std::unique_ptr<custody::SoftwareCustody> sw,
                     custody::SoftwareCustody::New(std::move(master)));
    // The shares rebuilt seal.json's key; it must also be the store's (a
    // mismatch is the server's state, not the submitter's fault).
    absl::StatusOr<bool> bound = BindCustody(*c, *store, *sw);
    if (!bound.ok()) {
      return absl::InternalError(absl::StrCat(
          "the key shares open seal.json, but: ", bound.status().message()));
    }
    *bound_before = *bound;
    return std::unique_ptr<custody::Custody>(std::move(sw));
  };
  // The first unseal loads the token key; later ones find it loaded.
  o.on_unsealed = [c, store, slot = &node.token_key, api = node.api.get(),
                   bound_before,
                   sealed = node.custody.sealed]() -> absl::Status {
    if (slot->Get() != nullptr) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::unique_ptr<AccessTokenSigner> signer,
                     LoadSigner(*c, *store, *sealed, *bound_before));
    api->SetAccessTokenKey(signer->public_key());
    slot->Set(std::move(signer));
    return absl::OkStatus();
  };
  o.authorize_seal = [api = node.api.get()](const http::Request& r) {
    return api->Operator(r);
  };
  o.save_info = [path = DataPath(*c, "seal.json")](const seal::SealInfo& info) {
    return seal::WriteSealInfo(path, info);
  };
  return std::make_unique<SealService>(std::move(o));
}

// NewKeysServer makes (does not start) the vault listener: /console/ files
// are the embedded console (every answer under /console has its headers), /sys
// goes to the seal service, everything else to the keys API (503 while sealed);
// nothing runs while the audit log cannot be written (/healthz still answers,
// and says so). Needs node.audit and node.tls; reads node.api and node.seal at
// each request (they are made after the listener is bound, and before it
// starts).
absl::StatusOr<std::unique_ptr<http::Server>> NewKeysServer(const Node& node) {
  const Config& c = node.config;
  http::ServerOptions so;
  so.listen_address = c.listen_address;
  so.port = c.port;
  so.cert_pem_path = node.tls.cert;
  so.key_pem_path = node.tls.key;
  so.threads = c.threads;
  so.blocking = [](const http::Request& r) {
    return SealService::IsSysPath(r) || http::KeysApi::MayBlock(r);
  };
  audit::AuditLog* audit = node.audit.get();
  so.finish = AuditFinish(audit);
  auto answer = [n = &node, sealed = node.custody.sealed,
                 audit](const http::Request& r) {
    const http::KeysApi* api = n->api.get();
    SealService* seal = n->seal.get();
    if (!audit->healthy() && !IsHealthCheck(r)) {
      audit->NoteRefused();
      return AuditUnavailable();
    }
    // The console's files need no token and no custody: they are served
    // while sealed too (the seal page is how an operator sees that).
    if (http::IsConsoleFilePath(r)) {
      return http::ServeConsoleFile(http::EmbeddedConsoleFiles(), r);
    }
    if (SealService::IsSysPath(r)) {
      if (seal == nullptr) {
        return http::AzureError(
            404, "NotFound",
            "this keyferryd is not sealed with key shares (see "
            "`keyferryd init`)");
      }
      return seal->Handle(r);
    }
    if (sealed != nullptr && sealed->sealed()) {
      return SealService::SealedResponse();
    }
    return api->Handle(r);
  };
  // Every answer under /console, whoever made it (the 503s above, the
  // router's 404 and 405), carries the console's headers.
  return http::Server::New(so, [answer](const http::Request& r) {
    return http::WithConsolePolicy(r, answer(r));
  });
}

// NewIdentityServer makes the identity endpoint and (does not start) its
// loopback listener. Every identity request may wait (on the audit record,
// on a custody signing the token), so all run off the single I/O thread;
// none runs while the audit log cannot be written. Needs node.token_key
// (read at each request: empty while sealed).
absl::Status NewIdentityServer(Node& node) {
  const Config& c = node.config;
  auth::IdentityConfig idc;
  idc.issuer = Issuer(c);
  idc.tenant = node.deployment.tenant;
  idc.principal = c.identity_principal;
  idc.header_secret = node.deployment.identity_secret;
  idc.legacy_uids = c.identity_legacy_uids;
  const AccessTokenKeySlot* slot = &node.token_key;
  node.identity = std::make_shared<const auth::IdentityEndpoint>(
      auth::IdentityEndpointOptions{
          .config = idc,
          .token_key = [slot] { return slot->AccessTokenKey(); },
          .clock = vault::SystemClock,
          .peer_uid = auth::PeerSocketOwner});
  http::ServerOptions io;
  io.listen_address = c.identity_address;
  io.port = c.identity_port;
  io.cert_pem_path = node.tls.cert;
  io.key_pem_path = node.tls.key;
  io.threads = 1;
  io.blocking = [](const http::Request&) { return true; };
  io.blocking_threads = 8;
  audit::AuditLog* audit = node.audit.get();
  io.finish = AuditFinish(audit);
  ASSIGN_OR_RETURN(node.identity_server,
                   http::Server::New(io, [identity = node.identity,
                                          audit](const http::Request& r) {
                     if (!audit->healthy()) {
                       audit->NoteRefused();
                       return AuditUnavailable();
                     }
                     return HandleIdentity(*identity, r);
                   }));
  return absl::OkStatus();
}

// PreloadTargetOf is what preload entries are checked against.
PreloadTarget PreloadTargetOf(const Config& c) {
  PreloadTarget target;
  target.vaults = c.vaults;
  target.domain = c.domain;
  target.port = c.public_port != 0 ? c.public_port : c.port;
  return target;
}

// PreloadKeys imports the keys of `preload = FILE` (docs/preload.md) that
// LoadPreload read into node.preload, each one done audited with principal
// "preload". FailedPrecondition when the custody is sealed (keys cannot be
// imported before an unseal). Needs node.vault and node.audit; runs before
// the listeners start.
absl::Status PreloadKeys(Node& node) {
  const Config& c = node.config;
  if (c.preload.empty()) return absl::OkStatus();
  if (node.custody.sealed != nullptr && node.custody.sealed->sealed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("preload ", c.preload,
                     ": preload needs a custody that is unsealed at start"));
  }
  audit::AuditLog* audit = node.audit.get();
  PreloadTarget target = PreloadTargetOf(c);
  target.version_key = SecretBytes(AsBytes(node.deployment.identity_secret));
  return RunPreload(c.preload, std::move(node.preload), *node.vault, target,
                    [audit](audit::Record r) {
                      return audit->AppendAndWait(std::move(r));
                    })
      .status();
}

// OpenNode runs the start steps up to two listeners made but not started.
absl::Status OpenNode(const std::vector<std::string>& args, Node& node) {
  ASSIGN_OR_RETURN(node.config, LoadServeConfig(args));
  // A bad preload file refuses the start before anything is written.
  if (!node.config.preload.empty()) {
    ASSIGN_OR_RETURN(node.preload, LoadPreload(node.config.preload,
                                               PreloadTargetOf(node.config)));
  }
  RETURN_IF_ERROR(EnsureDataDir(node.config.data_dir));
  ASSIGN_OR_RETURN(node.audit, OpenAudit(node.config));
  RETURN_IF_ERROR(OpenStoreAndCustody(node));
  RETURN_IF_ERROR(LoadAccessTokenKeyAtStart(node));
  // After the custody check: a node with the wrong master key writes none.
  ASSIGN_OR_RETURN(node.deployment, OpenDeployment(node.config, *node.store));
  ASSIGN_OR_RETURN(node.tls, PrepareTls(node.config));
  // Bound now, so that with `listen = …:0` the port it got is the one the
  // token issuer and audience name (Resource), as clients see it.
  ASSIGN_OR_RETURN(node.keys_server, NewKeysServer(node));
  RETURN_IF_ERROR(node.keys_server->Bind());
  if (node.config.port == 0 && node.config.public_port == 0) {
    node.config.port = node.keys_server->port();
  }
  node.vault = MakeVault(node);
  RETURN_IF_ERROR(PreloadKeys(node));
  ASSIGN_OR_RETURN(node.api, BuildKeysApi(node));
  node.seal = MakeSealService(node);
  return NewIdentityServer(node);
}

// StartServers starts both listeners and makes SIGINT/SIGTERM stop the
// vault listener (Unavailable when a port cannot be bound).
absl::Status StartServers(Node& node) {
  RETURN_IF_ERROR(node.keys_server->Start());
  RETURN_IF_ERROR(node.identity_server->Start());
  return node.keys_server->StopOnSignals();
}

// LogReady logs "ready" with the vault URLs and where the identity
// endpoint and its secret are, and prints the same for the operator.
void LogReady(const Node& node) {
  const Config& c = node.config;
  const uint16_t port = node.keys_server->port();
  const uint16_t identity_port = node.identity_server->port();
  std::vector<std::string> urls;
  for (const std::string& v : c.vaults) {
    urls.push_back(absl::StrCat("https://", v, ".", c.domain, ":", port));
  }
  std::vector<std::string> aliases;  // "https://host:port=vault"
  for (const auto& [host, vault] : c.vault_aliases) {
    aliases.push_back(absl::StrCat("https://", host, ":", port, "=", vault));
  }
  const custody::SealedCustody* sealed = node.custody.sealed;
  Log(LogLevel::kInfo, "ready",
      {{"vaults", absl::StrJoin(urls, " ")},
       {"vault_aliases", absl::StrJoin(aliases, " ")},
       {"port", std::to_string(port)},
       {"resource", Resource(c)},
       {"ca", node.tls.ca.empty() ? "(operator certificate)" : node.tls.ca},
       {"tls_names", absl::StrJoin(node.tls.names, " ")},
       {"identity_endpoint", absl::StrCat("https://", c.identity_address, ":",
                                          identity_port, "/msi/token")},
       {"identity_header_file", DataPath(c, "identity-header")},
       {"identity_principal", c.identity_principal},
       {"data_dir", c.data_dir},
       {"audit_log", c.audit_log},
       {"sealed", sealed != nullptr && sealed->sealed() ? "true" : "false"}});
  std::string trust =
      node.tls.ca.empty()
          ? std::string("(the operator's certificate, tls-cert)")
          : absl::StrCat(node.tls.ca, " (`keyferryd ca --ca-bundle FILE` adds ",
                         "the system CAs)\n  certificate names: ",
                         absl::StrJoin(node.tls.names, " "));
  std::fprintf(stderr,
               "keyferryd ready: %s\n  trust the CA: %s\n"
               "  identity endpoint: https://%s:%u/msi/token (header secret "
               "in %s)\n",
               absl::StrJoin(urls, " ").c_str(), trust.c_str(),
               c.identity_address.c_str(), identity_port,
               DataPath(c, "identity-header").c_str());
  if (!aliases.empty()) {
    std::fprintf(stderr, "  vault aliases: %s\n",
                 absl::StrJoin(aliases, " ").c_str());
  }
}

// WaitAndShutdown waits for the vault listener to stop (a signal), then
// stops the identity listener and the background work, in that order.
void WaitAndShutdown(Node& node, PeriodicTask& due_work) {
  node.keys_server->Wait();
  node.identity_server->Shutdown();
  node.identity_server->Wait();
  due_work.Stop();
  Log(LogLevel::kInfo, "stopped");
}

}  // namespace

absl::Status Serve(const std::vector<std::string>& args) {
  Node node;
  RETURN_IF_ERROR(OpenNode(args, node));
  RETURN_IF_ERROR(StartServers(node));
  // Due work (policy rotations, purges past their date) runs in the
  // background; a failure is logged and retried on the next tick.
  PeriodicTask due_work(
      [&node] {
        RunDueWorkOnce(*node.vault, *node.audit, node.custody.sealed);
      },
      absl::Seconds(1));
  LogReady(node);
  WaitAndShutdown(node, due_work);
  return absl::OkStatus();
}

}  // namespace keyferry::server
