// keyferryd: the self-hosted key vault. Wiring only: configuration, the
// data directory, custody, store, the keys API and the identity endpoint
// (docs/security-model.md, docs/api.md, docs/storage.md).
//
//   keyferryd [serve] [--config FILE] [--flag value …]   run the vault
//   keyferryd token --principal P [--resource R] [--lifetime S] [flags]
//                                                      mint an access token
//   keyferryd vault add NAME | vault list [flags]      vaults kept in the
//                                                      data directory
//   keyferryd init --shares N --threshold K --share-dir DIR
//                  [--passphrase-file F …] [flags]     seal the master key
//   keyferryd --help | --version
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "audit/audit_log.h"
#include "auth/identity.h"
#include "auth/jwt.h"
#include "auth/signing_key.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/random.h"
#include "custody/software_custody.h"
#include "http/azure.h"
#include "http/keys_api.h"
#include "http/server.h"
#include "http/tls_certs.h"
#include "server/config.h"
#include "server/custody_setup.h"
#include "server/identity_http.h"
#include "server/process.h"
#include "server/seal_service.h"
#include "server/token_signer.h"
#include "store/sqlite_store.h"
#include "vault/attest.h"
#include "vault/key_vault.h"

namespace keyferry::server {
namespace {

constexpr char kUsage[] =
    "usage: keyferryd [serve] [--config FILE] [--key value ...]\n"
    "       keyferryd token --principal NAME [--resource URL] "
    "[--lifetime SECONDS] [--key value ...]\n"
    "       keyferryd vault add NAME | vault list [--key value ...]\n"
    "       keyferryd init --shares N --threshold K --share-dir DIR\n"
    "                      [--passphrase-file FILE ...] [--key value ...]\n"
    "       keyferryd --help | --version\n";

// Fail prints one line and returns the exit code for `s`.
int Fail(const absl::Status& s) {
  std::fprintf(stderr, "keyferryd: %s\n", std::string(s.message()).c_str());
  return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

std::string Path(const Config& c, std::string_view file) {
  return absl::StrCat(c.data_dir, "/", Sv(file));
}

absl::Status EnsureDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create data directory ", dir, ": ", ec.message()));
  }
  ::chmod(dir.c_str(), 0700);
  return absl::OkStatus();
}

// LoadOrCreateText returns the text in `path`, or writes `make()` there
// (mode 0600) on first start.
absl::StatusOr<std::string> LoadOrCreateText(
    const std::string& path,
    const std::function<absl::StatusOr<std::string>()>& make) {
  if (std::filesystem::exists(path)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    return std::string(absl::StripAsciiWhitespace(text));
  }
  ASSIGN_OR_RETURN(std::string text, make());
  std::string line = text + "\n";
  RETURN_IF_ERROR(WriteFileAtomic(path, AsBytes(line), 0600));
  return text;
}

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> r, crypto::RandomBytes(bytes));
  return HexEncode(r);
}

absl::StatusOr<std::string> NewUuid() {
  ASSIGN_OR_RETURN(std::vector<uint8_t> r, crypto::RandomBytes(16));
  r[6] = (r[6] & 0x0f) | 0x40;
  r[8] = (r[8] & 0x3f) | 0x80;
  std::string h = HexEncode(r);
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4),
                      "-", h.substr(16, 4), "-", h.substr(20));
}

std::string Resource(const Config& c) {
  return c.port == 443 ? absl::StrCat("https://", c.domain)
                       : absl::StrCat("https://", c.domain, ":", c.port);
}

// Issuer is the iss of every token this keyferryd mints and accepts.
std::string Issuer(const Config& c) {
  return absl::StrCat(Resource(c), "/identity");
}

LogLevel ParseLevel(const std::string& s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "warning") return LogLevel::kWarning;
  if (s == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

// Deployment holds what every subcommand reads from the data directory.
struct Deployment {
  std::string tenant;
  std::string identity_secret;
};

absl::StatusOr<Deployment> OpenDeployment(const Config& c) {
  RETURN_IF_ERROR(EnsureDataDir(c.data_dir));
  Deployment d;
  ASSIGN_OR_RETURN(d.tenant, LoadOrCreateText(Path(c, "tenant-id"), NewUuid));
  ASSIGN_OR_RETURN(d.identity_secret,
                   LoadOrCreateText(Path(c, "identity-header"),
                                    [] { return RandomHex(24); }));
  return d;
}

// OpenStore opens <data-dir>/keys.db. A store that is fresh (its file was
// missing or empty) while the audit log already holds records, or while
// the software custody's master key (master.key, or seal.json: `keyferryd
// init` makes the store too) exists, is refused: that deployment's store
// was lost, and starting empty would hide it. The fresh file this start
// made is removed again, so the next start refuses too.
absl::StatusOr<std::unique_ptr<store::SqliteKeyStore>> OpenStore(
    const Config& c, uint64_t audit_records) {
  ASSIGN_OR_RETURN(std::unique_ptr<store::SqliteKeyStore> store,
                   store::SqliteKeyStore::Open({.path = Path(c, "keys.db")}));
  if (!store->created()) return store;
  std::string lost;
  if (audit_records > 0) {
    lost = absl::StrCat("the audit log ", c.audit_log, " holds ", audit_records,
                        " records");
  } else if (c.custody == "software" &&
             std::filesystem::exists(Path(c, "seal.json"))) {
    lost = absl::StrCat(Path(c, "seal.json"), " exists");
  } else if (c.custody == "software" &&
             std::filesystem::exists(Path(c, "master.key"))) {
    lost = absl::StrCat(Path(c, "master.key"), " exists");
  }
  if (lost.empty()) return store;
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(Path(c, absl::StrCat("keys.db", suffix)));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      Path(c, "keys.db"), " is missing or empty, but ", lost,
      ": this deployment's store is lost. Restore keys.db from your backup; "
      "for a new deployment use a new data directory"));
}

// MasterKeysFor says what the custody may do about its master key, from
// the store: a fresh store needs a new one, a store without keys or check
// value may make one, any other needs the one it was made with.
absl::StatusOr<custody::MasterKeyPolicy> MasterKeysFor(store::KeyStore& store) {
  if (store.created()) return custody::MasterKeyPolicy::kMustBeNew;
  ASSIGN_OR_RETURN(std::optional<std::string> check,
                   store.GetMeta(vault::kCustodyCheckMeta));
  if (check.has_value()) return custody::MasterKeyPolicy::kMustExist;
  ASSIGN_OR_RETURN(bool has_versions, store.HasVersions());
  return has_versions ? custody::MasterKeyPolicy::kMustExist
                      : custody::MasterKeyPolicy::kFindOrCreate;
}

// BindCustody ties an open custody to the store
// (vault::BindStoreToCustody): at start, or at unseal before the custody is
// put to work. Returns whether the store named this custody before.
absl::StatusOr<bool> BindCustody(const Config& c, store::KeyStore& store,
                                 custody::Custody& custody) {
  ASSIGN_OR_RETURN(vault::StoreBinding b,
                   vault::BindStoreToCustody(store, custody, c.upgrade_store));
  if (b.authenticated > 0) {
    Log(LogLevel::kWarning, "store_upgraded",
        {{"authenticated_versions", std::to_string(b.authenticated)},
         {"note",
          "schema-1 key versions were authenticated as they are now "
          "(upgrade-store)"}});
  }
  return b.bound_before;
}

// LoadSigner loads the token signing key the custody holds; for a store
// not bound before (`bound_before` false) it makes it (or takes over an
// older deployment's plain PEM) and then records the custody check value,
// so a start interrupted in between starts the same way again.
absl::StatusOr<std::unique_ptr<TokenSigner>> LoadSigner(
    const Config& c, store::KeyStore& store, custody::Custody& custody,
    bool bound_before) {
  ASSIGN_OR_RETURN(std::unique_ptr<TokenSigner> signer,
                   TokenSigner::LoadOrCreate(store, custody,
                                             Path(c, "token-signing-key.pem"),
                                             /*may_create=*/!bound_before));
  if (!bound_before) RETURN_IF_ERROR(vault::RecordCustodyCheck(store, custody));
  return signer;
}

// AddedVaults reads the vaults created with `keyferryd vault add`, one name
// per line in <data-dir>/vaults.
absl::StatusOr<std::vector<std::string>> AddedVaults(const Config& c) {
  std::string path = Path(c, "vaults");
  if (!std::filesystem::exists(path)) return std::vector<std::string>();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> out;
  for (absl::string_view line :
       absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(line));
  }
  return out;
}

// WithAddedVaults returns `c` with the added vaults merged into c.vaults
// (`vault add` validated each name before writing it).
absl::StatusOr<Config> WithAddedVaults(Config c) {
  ASSIGN_OR_RETURN(std::vector<std::string> added, AddedVaults(c));
  for (const std::string& v : added) {
    if (std::find(c.vaults.begin(), c.vaults.end(), v) == c.vaults.end()) {
      c.vaults.push_back(v);
    }
  }
  std::string joined = absl::StrJoin(c.vaults, ",");
  RETURN_IF_ERROR(ApplyFlag("vaults", joined, c));
  return c;
}

int VaultCommand(const std::vector<std::string>& args) {
  if (args.empty() || (args[0] != "add" && args[0] != "list")) {
    return Fail(absl::InvalidArgumentError("vault add NAME | vault list"));
  }
  bool add = args[0] == "add";
  std::vector<std::string> rest(args.begin() + (add ? 2 : 1), args.end());
  if (add && args.size() < 2) {
    return Fail(absl::InvalidArgumentError("vault add needs a name"));
  }
  absl::StatusOr<Config> c = LoadConfig(rest);
  if (!c.ok()) return Fail(c.status());
  if (absl::Status s = EnsureDataDir(c->data_dir); !s.ok()) return Fail(s);
  absl::StatusOr<std::vector<std::string>> added = AddedVaults(*c);
  if (!added.ok()) return Fail(added.status());
  if (!add) {
    for (const std::string& v : c->vaults)
      std::printf("%s (configured)\n", v.c_str());
    for (const std::string& v : *added) std::printf("%s\n", v.c_str());
    return 0;
  }
  const std::string name = args[1];
  absl::StatusOr<Config> checked =
      LoadConfig({"--vaults", name, "--data-dir", c->data_dir});
  if (!checked.ok()) return Fail(checked.status());
  if (std::find(added->begin(), added->end(), name) != added->end() ||
      std::find(c->vaults.begin(), c->vaults.end(), name) != c->vaults.end()) {
    std::printf("vault %s exists\n", name.c_str());
    return 0;
  }
  added->push_back(name);
  std::string text = absl::StrJoin(*added, "\n") + "\n";
  if (absl::Status s = WriteFileAtomic(Path(*c, "vaults"), AsBytes(text), 0600);
      !s.ok()) {
    return Fail(s);
  }
  std::printf(
      "vault %s added: https://%s.%s:%u (serving after the next start)\n",
      name.c_str(), name.c_str(), c->domain.c_str(), c->port);
  return 0;
}

int Token(const std::vector<std::string>& args) {
  std::string principal, resource;
  int64_t lifetime = 3600;
  std::vector<std::string> rest, shares, passphrases;
  for (size_t i = 0; i < args.size(); ++i) {
    auto take = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string lt;
    if (args[i] == "--principal") {
      if (!take(principal))
        return Fail(absl::InvalidArgumentError("--principal needs a value"));
    } else if (args[i] == "--resource") {
      if (!take(resource))
        return Fail(absl::InvalidArgumentError("--resource needs a value"));
    } else if (args[i] == "--lifetime") {
      if (!take(lt) || !absl::SimpleAtoi(lt, &lifetime)) {
        return Fail(absl::InvalidArgumentError("--lifetime needs seconds"));
      }
    } else if (args[i] == "--share" || args[i] == "--passphrase-file") {
      const std::string flag = args[i];
      std::string file;
      if (!take(file)) {
        return Fail(absl::InvalidArgumentError(flag + " needs a file"));
      }
      (flag == "--share" ? shares : passphrases).push_back(file);
    } else {
      rest.push_back(args[i]);
    }
  }
  if (principal.empty()) {
    return Fail(absl::InvalidArgumentError("token needs --principal"));
  }
  absl::StatusOr<Config> c = LoadConfig(rest);
  if (!c.ok()) return Fail(c.status());
  // Secrets are read below (PIN, master key, shares), as in Serve.
  if (absl::Status s =
          RestrictCoreDumps(c->allow_core_dumps, /*log_outcome=*/false);
      !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = CheckTokenLifetime(*c, lifetime); !s.ok()) {
    return Fail(s);
  }
  absl::StatusOr<Deployment> d = OpenDeployment(*c);
  if (!d.ok()) return Fail(d.status());
  // The token key is held by the custody: minting needs what using a key
  // needs (the master key file, K key shares, or the token's PIN).
  if (!std::filesystem::exists(Path(*c, "keys.db"))) {
    return Fail(absl::FailedPreconditionError(absl::StrCat(
        "no store in ", c->data_dir, ": start keyferryd once first")));
  }
  absl::StatusOr<std::unique_ptr<custody::Custody>> custody =
      OpenCustodyForTool(*c, shares, passphrases);
  if (!custody.ok()) return Fail(custody.status());
  absl::StatusOr<std::unique_ptr<store::SqliteKeyStore>> store =
      store::SqliteKeyStore::Open({.path = Path(*c, "keys.db")});
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<bool> bound = BindCustody(*c, **store, **custody);
  if (!bound.ok()) return Fail(bound.status());
  absl::StatusOr<std::unique_ptr<TokenSigner>> signer =
      LoadSigner(*c, **store, **custody, *bound);
  if (!signer.ok()) return Fail(signer.status());
  const int64_t now = vault::SystemClock();
  auth::Claims claims;
  claims.issuer = Issuer(*c);
  claims.subject = principal;
  claims.audience = resource.empty() ? Resource(*c) : resource;
  claims.tenant = d->tenant;
  claims.issued_at = now;
  // exp - nbf is the lifetime asked for (a negative one, for tests, makes
  // an expired token valid for the second before exp).
  claims.not_before = std::min(now, now + lifetime - 1);
  claims.expires = now + lifetime;
  absl::StatusOr<std::string> token = (*signer)->Issue(claims);
  if (!token.ok()) return Fail(token.status());
  std::printf("%s\n", token->c_str());
  return 0;
}

int InitCommand(const std::vector<std::string>& args) {
  InitOptions o;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    const std::string& a = args[i];
    if (a == "--shares" || a == "--threshold") {
      std::optional<std::string> v = value();
      int n = 0;
      if (!v || !absl::SimpleAtoi(*v, &n)) {
        return Fail(absl::InvalidArgumentError(a + " needs a number"));
      }
      (a == "--shares" ? o.shares : o.threshold) = n;
    } else if (a == "--share-dir") {
      std::optional<std::string> v = value();
      if (!v)
        return Fail(
            absl::InvalidArgumentError("--share-dir needs a directory"));
      o.share_dir = *v;
    } else if (a == "--passphrase-file") {
      std::optional<std::string> v = value();
      if (!v)
        return Fail(
            absl::InvalidArgumentError("--passphrase-file needs a file"));
      o.passphrase_files.push_back(*v);
    } else {
      rest.push_back(a);
    }
  }
  if (o.shares == 0 || o.threshold == 0 || o.share_dir.empty()) {
    return Fail(absl::InvalidArgumentError(
        "init needs --shares N --threshold K --share-dir DIR"));
  }
  absl::StatusOr<Config> c = LoadConfig(rest);
  if (!c.ok()) return Fail(c.status());
  // Init holds the master key and the shares in memory, as Serve.
  if (absl::Status s =
          RestrictCoreDumps(c->allow_core_dumps, /*log_outcome=*/false);
      !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = EnsureDataDir(c->data_dir); !s.ok()) return Fail(s);
  // Init splits master.key, or makes a master key for a new deployment:
  // never a new one for a store that already has keys. It makes the store
  // too (empty), so that a store missing later is known to be lost.
  {
    const bool had_key = std::filesystem::exists(Path(*c, "master.key"));
    absl::StatusOr<std::unique_ptr<store::SqliteKeyStore>> store =
        store::SqliteKeyStore::Open({.path = Path(*c, "keys.db")});
    if (!store.ok()) return Fail(store.status());
    absl::StatusOr<custody::MasterKeyPolicy> policy = MasterKeysFor(**store);
    if (!policy.ok()) return Fail(policy.status());
    if (*policy == custody::MasterKeyPolicy::kMustExist && !had_key) {
      return Fail(absl::FailedPreconditionError(
          "the store holds keys but master.key is missing: restore master.key "
          "before `keyferryd init` splits it (a new master key would orphan "
          "the keys)"));
    }
  }
  absl::StatusOr<std::vector<std::string>> paths = Init(*c, o);
  if (!paths.ok()) return Fail(paths.status());
  std::printf(
      "keyferryd initialized: the master key is split into %d key shares, "
      "any %d of which unseal it.\n",
      o.shares, o.threshold);
  for (const std::string& p : *paths) std::printf("  %s\n", p.c_str());
  std::printf(
      "Hand each share to its own operator and remove it from this machine. "
      "keyferryd now starts sealed: unseal with `keyferry vault unseal "
      "--share FILE`.\n");
  return 0;
}

// IsHealthCheck tells whether `r` is GET /healthz.
bool IsHealthCheck(const http::Request& r) {
  return r.path_segments.size() == 1 && r.path_segments[0] == "healthz";
}

// AuditUnavailable is the answer to every request while the audit log
// cannot be written: nothing is done that would go unrecorded.
http::Response AuditUnavailable() {
  return http::AzureError(
      503, "ServiceUnavailable",
      "keyferryd cannot write its audit log (the disk may be full); no "
      "request is served until it can");
}

// AuditFinish is the servers' finish hook (http::ServerOptions::finish):
// an answer with an audit note is sent only once its record is durable,
// and becomes a 503 when the record cannot be written. Answers without a
// note (health, metadata, transport errors) go at once.
std::function<void(const http::Request&, http::Response,
                   std::function<void(http::Response)>)>
AuditFinish(audit::AuditLog* audit) {
  return [audit](const http::Request&, http::Response res,
                 std::function<void(http::Response)> send) {
    if (!res.audit.has_value()) return send(std::move(res));
    audit::Record rec;
    rec.principal = res.audit->principal;
    rec.vault = res.audit->vault;
    rec.operation = res.audit->operation;
    rec.key = res.audit->key;
    rec.version = res.audit->version;
    rec.status = res.status;
    rec.error_code = res.error_code;
    rec.request_id = std::string(
        res.headers.Get("x-ms-request-id").value_or(std::string_view()));
    // One line per request at debug level (the audit log is the record of
    // every request); server errors always.
    const LogLevel level =
        res.status >= 500 ? LogLevel::kError : LogLevel::kDebug;
    if (LogEnabled(level)) {
      Log(level, "request",
          {{"vault", rec.vault},
           {"principal", rec.principal},
           {"op", rec.operation},
           {"key", rec.key},
           {"status", std::to_string(rec.status)},
           {"code", rec.error_code}});
    }
    audit->AppendDurable(
        std::move(rec), [res = std::move(res),
                         send = std::move(send)](absl::Status written) mutable {
          if (written.ok()) return send(std::move(res));
          // The operation ran and its record stays queued (written, with the
          // operation's own status, once the log recovers): the 503 keeps
          // the request id the record carries, so the two can be matched.
          http::Response refused = AuditUnavailable();
          if (auto id = res.headers.Get("x-ms-request-id")) {
            refused.headers.Set("x-ms-request-id", *id);
          }
          send(std::move(refused));
        });
  };
}

int Serve(const std::vector<std::string>& args) {
  absl::StatusOr<Config> config = LoadConfig(args);
  if (!config.ok()) return Fail(config.status());
  config = WithAddedVaults(*config);
  if (!config.ok()) return Fail(config.status());
  const Config& c = *config;
  SetLogLevel(ParseLevel(c.log_level));
  // Before the first secret is read (signing key, PIN, master key).
  if (absl::Status s =
          RestrictCoreDumps(c.allow_core_dumps, /*log_outcome=*/true);
      !s.ok()) {
    return Fail(s);
  }

  absl::StatusOr<Deployment> d = OpenDeployment(c);
  if (!d.ok()) return Fail(d.status());

  // Every request that reaches the keys API, and every seal/unseal, is
  // appended to the hash-chained audit log (docs/audit.md).
  audit::AuditLogOptions audit_options;
  audit_options.durability = c.audit_durability == "write"
                                 ? audit::AuditDurability::kWrite
                                 : audit::AuditDurability::kSync;
  absl::StatusOr<std::unique_ptr<audit::AuditLog>> audit_log =
      audit::AuditLog::Open(c.audit_log, audit_options);
  if (!audit_log.ok()) return Fail(audit_log.status());
  audit::AuditLog* audit = audit_log->get();

  // The store first: whether it already belongs to a master key decides
  // whether a new one may be made (never for a store that has keys).
  absl::StatusOr<std::unique_ptr<store::SqliteKeyStore>> store =
      OpenStore(c, audit->last_seq());
  if (!store.ok()) return Fail(store.status());
  absl::StatusOr<custody::MasterKeyPolicy> master_keys = MasterKeysFor(**store);
  if (!master_keys.ok()) return Fail(master_keys.status());

  absl::StatusOr<CustodySetup> custody = OpenCustody(c, *master_keys);
  if (!custody.ok()) return Fail(custody.status());
  const bool dev_key = c.custody == "software" && custody->sealed == nullptr;
  Log(dev_key ? LogLevel::kWarning : LogLevel::kInfo, "custody",
      {{"kind", custody->custody->Kind()}, {"summary", custody->summary}});

  // The token signing key lives in the custody: loaded now, or at the
  // first unseal. Set once and kept until exit (readers see it through
  // `signer`).
  std::unique_ptr<TokenSigner> signer_owner;
  std::atomic<const TokenSigner*> signer{nullptr};
  if (custody->sealed == nullptr) {
    absl::StatusOr<bool> bound = BindCustody(c, **store, *custody->custody);
    if (!bound.ok()) return Fail(bound.status());
    absl::StatusOr<std::unique_ptr<TokenSigner>> s =
        LoadSigner(c, **store, *custody->custody, *bound);
    if (!s.ok()) return Fail(s.status());
    signer_owner = std::move(*s);
    signer = signer_owner.get();
  }

  std::string cert = c.tls_cert, key = c.tls_key, ca;
  if (cert.empty()) {
    http::TlsCertOptions tls;
    tls.dir = Path(c, "tls");
    for (const std::string& v : c.vaults) {
      tls.vault_hosts.push_back(absl::StrCat(v, ".", c.domain));
    }
    tls.extra_names.push_back(c.domain);
    absl::StatusOr<http::TlsFiles> files = http::EnsureTlsCertificates(tls);
    if (!files.ok()) return Fail(files.status());
    cert = files->server_pem;
    key = files->server_key_pem;
    ca = files->ca_pem;
  } else if (absl::Status s = http::CheckPrivateKeyFile(key); !s.ok()) {
    return Fail(s);  // the operator's tls-key, as for master.key
  }

  vault::KeyVault vault(
      store->get(), custody->custody.get(), vault::SystemClock,
      {.recoverable_days = c.recoverable_days,
       .recovery_level = c.recoverable_days < 90
                             ? "CustomizedRecoverable+Purgeable"
                             : "Recoverable+Purgeable"});

  http::KeysApiOptions api_options;
  api_options.domain = c.domain;
  api_options.vaults = c.vaults;
  api_options.tenant = d->tenant;
  api_options.token_key = signer_owner ? signer_owner->public_key() : nullptr;
  api_options.token_issuer = Issuer(c);
  api_options.token_max_lifetime = c.token_max_lifetime;
  api_options.subscription_id = d->tenant;
  std::vector<std::string> grants = c.grants;
  if (grants.empty()) {
    grants.push_back(absl::StrCat(c.identity_principal, ":*:crypto-officer"));
  }
  for (const std::string& g : grants) {
    absl::StatusOr<http::Grant> grant = http::ParseGrant(g);
    if (!grant.ok()) return Fail(grant.status());
    api_options.grants.push_back(*grant);
  }
  // /healthz: unavailable while the audit log cannot be written; background
  // work waiting for a retry is listed (it does not make the node
  // unavailable: one key's failed rotation is no reason to stop serving).
  api_options.health = [audit, &vault]() {
    http::Health h;
    h.ok = audit->healthy();
    h.details["audit_log"] = h.ok ? "ok" : "cannot be written";
    std::vector<vault::DueWorkFailure> failing = vault.DueWorkFailures();
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
  absl::StatusOr<std::unique_ptr<http::KeysApi>> api =
      http::KeysApi::New(std::move(api_options), &vault);
  if (!api.ok()) return Fail(api.status());

  http::ServerOptions so;
  so.listen_address = c.listen_address;
  so.port = c.port;
  so.cert_pem_path = cert;
  so.key_pem_path = key;
  so.threads = c.threads;
  http::KeysApi* api_ptr = api->get();
  // A sealed custody answers /sys only; everything else waits for unseal.
  std::unique_ptr<SealService> seal_service;
  if (custody->sealed != nullptr) {
    SealServiceOptions seal_options;
    seal_options.info = *custody->seal_info;
    seal_options.custody = custody->sealed;
    store::KeyStore* store_ptr = store->get();
    // Whether the store named this custody before the first unseal (set by
    // `open`, read by `on_unsealed`; both run under the seal service's
    // lock, one after the other).
    auto bound_before = std::make_shared<bool>(false);
    seal_options.open = [&c, store_ptr, bound_before](SecretBytes master)
        -> absl::StatusOr<std::unique_ptr<custody::Custody>> {
      ASSIGN_OR_RETURN(std::unique_ptr<custody::SoftwareCustody> sw,
                       custody::SoftwareCustody::New(std::move(master)));
      // The shares rebuilt seal.json's key; it must also be the store's
      // (a mismatch is the server's state, not the submitter's fault).
      absl::StatusOr<bool> bound = BindCustody(c, *store_ptr, *sw);
      if (!bound.ok()) {
        return absl::InternalError(absl::StrCat(
            "the key shares open seal.json, but: ", bound.status().message()));
      }
      *bound_before = *bound;
      return std::unique_ptr<custody::Custody>(std::move(sw));
    };
    // The first unseal loads the token key; later ones find it loaded.
    seal_options.on_unsealed =
        [&c, store_ptr, &signer_owner, &signer, api_ptr, bound_before,
         sealed_custody = custody->sealed]() -> absl::Status {
      if (signer.load() != nullptr) return absl::OkStatus();
      ASSIGN_OR_RETURN(signer_owner, LoadSigner(c, *store_ptr, *sealed_custody,
                                                *bound_before));
      api_ptr->SetTokenKey(signer_owner->public_key());
      signer = signer_owner.get();
      return absl::OkStatus();
    };
    seal_options.authorize_seal = [api_ptr](const http::Request& r) {
      return api_ptr->Operator(r);
    };
    seal_options.save_info =
        [path = Path(c, "seal.json")](const seal::SealInfo& info) {
          return seal::WriteSealInfo(path, info);
        };
    seal_service = std::make_unique<SealService>(std::move(seal_options));
  }
  SealService* seal_ptr = seal_service.get();
  custody::SealedCustody* sealed = custody->sealed;
  so.blocking = [](const http::Request& r) {
    return SealService::IsSysPath(r) || http::KeysApi::MayBlock(r);
  };
  so.finish = AuditFinish(audit);
  absl::StatusOr<std::unique_ptr<http::Server>> server = http::Server::New(
      so, [api_ptr, seal_ptr, sealed, audit](const http::Request& r) {
        // Fail closed: while the audit log cannot be written nothing runs
        // (/healthz still answers, and says so).
        if (!audit->healthy() && !IsHealthCheck(r)) {
          audit->NoteRefused();
          return AuditUnavailable();
        }
        if (SealService::IsSysPath(r)) {
          if (seal_ptr == nullptr) {
            return http::AzureError(
                404, "NotFound",
                "this keyferryd is not sealed with key shares (see "
                "`keyferryd init`)");
          }
          return seal_ptr->Handle(r);
        }
        if (sealed != nullptr && sealed->sealed()) {
          return SealService::SealedResponse();
        }
        return api_ptr->Handle(r);
      });
  if (!server.ok()) return Fail(server.status());

  auth::IdentityConfig idc;
  idc.issuer = Issuer(c);
  idc.tenant = d->tenant;
  idc.principal = c.identity_principal;
  idc.header_secret = d->identity_secret;
  idc.legacy_uids = c.identity_legacy_uids;
  std::atomic<const TokenSigner*>* signer_ptr = &signer;
  auto identity_service = std::make_shared<const auth::IdentityEndpoint>(
      auth::IdentityEndpointOptions{
          .config = idc,
          .token_key = [signer_ptr]() -> absl::StatusOr<auth::TokenKey> {
            const TokenSigner* s = signer_ptr->load();
            if (s == nullptr) {
              return absl::UnavailableError(
                  "keyferryd is sealed: no token can be issued until it is "
                  "unsealed");
            }
            return auth::TokenKey{s->key_id(), s->signer()};
          },
          .clock = vault::SystemClock,
          .peer_uid = auth::PeerSocketOwner});
  http::ServerOptions io;
  io.listen_address = c.identity_address;
  io.port = c.identity_port;
  io.cert_pem_path = cert;
  io.key_pem_path = key;
  io.threads = 1;
  // Every identity request may wait: on the audit record, on a custody
  // (token signing by the HSM). Off the single I/O thread.
  io.blocking = [](const http::Request&) { return true; };
  io.blocking_threads = 8;
  io.finish = AuditFinish(audit);
  absl::StatusOr<std::unique_ptr<http::Server>> identity =
      http::Server::New(io, [identity_service, audit](const http::Request& r) {
        if (!audit->healthy()) {
          audit->NoteRefused();
          return AuditUnavailable();
        }
        return HandleIdentity(*identity_service, r);
      });
  if (!identity.ok()) return Fail(identity.status());

  if (absl::Status s = (*server)->Start(); !s.ok()) return Fail(s);
  if (absl::Status s = (*identity)->Start(); !s.ok()) return Fail(s);
  if (absl::Status s = (*server)->StopOnSignals(); !s.ok()) return Fail(s);

  // Due work (policy rotations, purges past their date) runs in the
  // background; a failure is logged and retried on the next tick.
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread worker([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (
        !cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; })) {
      if (sealed != nullptr && sealed->sealed()) continue;  // nothing to do
      if (!audit->healthy()) continue;  // nothing unrecorded, as requests
      lock.unlock();
      // Rotations and purges keyferryd makes on its own are audited like
      // requests (principal "keyferryd"), and written before the next.
      absl::StatusOr<std::pair<int, int>> done = vault.RunDueWork(
          [audit](const vault::DueWorkEvent& e) -> absl::Status {
            audit::Record rec;
            rec.principal = "keyferryd";
            rec.vault = e.vault;
            rec.operation =
                e.work == "rotate" ? "rotate (policy)" : "purge (scheduled)";
            rec.key = e.name;
            rec.version = e.version;
            rec.status = http::HttpStatusFor(e.status);
            if (!e.status.ok()) rec.error_code = http::AzureCodeFor(e.status);
            // A record that cannot be written stops the run: no more
            // work is done unrecorded until the audit log is back.
            return audit->AppendAndWait(std::move(rec));
          });
      if (!done.ok()) {
        Log(LogLevel::kError, "due_work_stopped",
            {{"error", std::string(done.status().message())}});
      } else if (done->first + done->second > 0) {
        Log(LogLevel::kInfo, "due_work",
            {{"rotated", std::to_string(done->first)},
             {"purged", std::to_string(done->second)}});
      }
      lock.lock();
    }
  });

  const uint16_t port = (*server)->port();
  std::vector<std::string> urls;
  for (const std::string& v : c.vaults) {
    urls.push_back(absl::StrCat("https://", v, ".", c.domain, ":", port));
  }
  Log(LogLevel::kInfo, "ready",
      {{"vaults", absl::StrJoin(urls, " ")},
       {"port", std::to_string(port)},
       {"resource", Resource(c)},
       {"ca", ca.empty() ? "(operator certificate)" : ca},
       {"identity_endpoint", absl::StrCat("https://", c.identity_address, ":",
                                          (*identity)->port(), "/msi/token")},
       {"identity_header_file", Path(c, "identity-header")},
       {"identity_principal", c.identity_principal},
       {"data_dir", c.data_dir},
       {"audit_log", c.audit_log},
       {"sealed", sealed != nullptr && sealed->sealed() ? "true" : "false"}});
  std::fprintf(stderr,
               "keyferryd ready: %s\n  trust the CA: %s\n"
               "  identity endpoint: https://%s:%u/msi/token (header secret "
               "in %s)\n",
               absl::StrJoin(urls, " ").c_str(), ca.c_str(),
               c.identity_address.c_str(), (*identity)->port(),
               Path(c, "identity-header").c_str());

  (*server)->Wait();
  (*identity)->Shutdown();
  (*identity)->Wait();
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
  }
  cv.notify_all();
  worker.join();
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() &&
      (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::printf("%s\n%s", kUsage, HelpText().c_str());
    return 0;
  }
  if (!args.empty() && args[0] == "--version") {
    std::printf("keyferryd %s\n", KEYFERRY_VERSION);
    return 0;
  }
  if (!args.empty() && args[0] == "token") {
    return Token(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "vault") {
    return VaultCommand(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "init") {
    return InitCommand(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!args.empty() && args[0] == "serve") args.erase(args.begin());
  return Serve(args);
}

}  // namespace
}  // namespace keyferry::server

int main(int argc, char** argv) { return keyferry::server::Main(argc, argv); }
