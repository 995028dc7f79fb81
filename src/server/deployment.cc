#include "server/deployment.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/random.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "vault/attest.h"
#include "vault/key_vault.h"

namespace keyferry::server {
namespace {

// SharedValue returns the store's value under `meta`: on the deployment's
// first start, the one in `path` (an older deployment's file, adopted) or
// else `make()`, whichever SetMetaIfAbsent kept. Mirrors it into `path`
// (mode 0600), replacing a disagreeing file with a warning.
absl::StatusOr<std::string> SharedValue(
    store::KeyStore& store, std::string_view meta, const std::string& path,
    const std::function<absl::StatusOr<std::string>()>& make) {
  std::optional<std::string> file;
  if (std::filesystem::exists(path)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    file = std::string(absl::StripAsciiWhitespace(text));
    if (file->empty()) file.reset();
  }
  ASSIGN_OR_RETURN(std::optional<std::string> value, store.GetMeta(meta));
  if (!value.has_value()) {
    std::string candidate;
    if (file.has_value()) {
      candidate = *file;
    } else {
      ASSIGN_OR_RETURN(candidate, make());
    }
    ASSIGN_OR_RETURN(value, store.SetMetaIfAbsent(meta, candidate));
    if (file.has_value() && *value == *file) {
      Log(LogLevel::kInfo, "deployment_file_adopted", {{"file", path}});
    }
  }
  if (file == value) return *value;
  if (file.has_value()) {
    Log(LogLevel::kWarning, "deployment_file_replaced",
        {{"file", path},
         {"note",
          "the store's value wins: every node of one database shares it "
          "(docs/storage.md 6.6)"}});
  }
  const std::string line = *value + "\n";
  RETURN_IF_ERROR(WriteFileAtomic(path, AsBytes(line), 0600));
  return *value;
}

std::string AddedVaultKey(size_t index) {
  return absl::StrCat(kAddedVaultMeta, index);
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

}  // namespace

std::string DataPath(const Config& c, std::string_view file) {
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

std::string Resource(const Config& c) {
  const uint16_t port = c.public_port != 0 ? c.public_port : c.port;
  return port == 443 ? absl::StrCat("https://", c.domain)
                     : absl::StrCat("https://", c.domain, ":", port);
}

std::string Issuer(const Config& c) {
  return absl::StrCat(Resource(c), "/identity");
}

absl::StatusOr<Deployment> OpenDeployment(Config& c, store::KeyStore& store) {
  RETURN_IF_ERROR(EnsureDataDir(c.data_dir));
  Deployment d;
  ASSIGN_OR_RETURN(d.tenant, SharedValue(store, kTenantMeta,
                                         DataPath(c, "tenant-id"), NewUuid));
  ASSIGN_OR_RETURN(
      d.identity_secret,
      SharedValue(store, kIdentitySecretMeta, DataPath(c, "identity-header"),
                  [] { return RandomHex(24); }));
  ASSIGN_OR_RETURN(std::vector<std::string> legacy, LegacyAddedVaults(c));
  for (const std::string& v : legacy) {
    ASSIGN_OR_RETURN(bool added, AddVault(store, v));
    if (added) {
      Log(LogLevel::kInfo, "deployment_file_adopted",
          {{"file", DataPath(c, "vaults")}, {"vault", v}});
    }
  }
  ASSIGN_OR_RETURN(std::vector<std::string> added, AddedVaults(store));
  bool merged = false;
  for (const std::string& v : added) {
    if (std::find(c.vaults.begin(), c.vaults.end(), v) == c.vaults.end()) {
      c.vaults.push_back(v);
      merged = true;
    }
  }
  if (merged) {
    const std::string joined = absl::StrJoin(c.vaults, ",");
    RETURN_IF_ERROR(ApplyFlag("vaults", joined, c));
  }
  return d;
}

absl::StatusOr<std::vector<std::string>> AddedVaults(store::KeyStore& store) {
  std::vector<std::string> out;
  for (size_t i = 0;; ++i) {
    ASSIGN_OR_RETURN(std::optional<std::string> v,
                     store.GetMeta(AddedVaultKey(i)));
    if (!v.has_value()) return out;
    if (std::find(out.begin(), out.end(), *v) == out.end()) {
      out.push_back(*std::move(v));
    }
  }
}

absl::StatusOr<bool> AddVault(store::KeyStore& store, std::string_view name) {
  ASSIGN_OR_RETURN(std::vector<std::string> added, AddedVaults(store));
  if (std::find(added.begin(), added.end(), name) != added.end()) return false;
  // Another node may take an index first: then try the next one, until
  // ours is stored (or someone stored the same name).
  for (size_t i = added.size(); i < added.size() + 10000; ++i) {
    ASSIGN_OR_RETURN(std::string stored,
                     store.SetMetaIfAbsent(AddedVaultKey(i), name));
    if (stored == name) return true;
  }
  return absl::AbortedError("vault add: no free index in the store's list");
}

namespace {

// LostBecause says why a fresh store would mean a lost one ("" when it
// would not): the audit log holds records, or the software custody's
// master key exists.
std::string LostBecause(const Config& c, uint64_t audit_records) {
  if (audit_records > 0) {
    return absl::StrCat("the audit log ", c.audit_log, " holds ", audit_records,
                        " records");
  }
  for (const char* f : {"seal.json", "master.key"}) {
    if (c.custody == "software" && std::filesystem::exists(DataPath(c, f))) {
      return absl::StrCat(DataPath(c, f), " exists");
    }
  }
  return "";
}

// IoThreads is the number of I/O threads keyferryd serves (and reads the
// store) with: `threads`, or one per core (http::ServerOptions::threads).
int IoThreads(const Config& c) {
  if (c.threads > 0) return c.threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

absl::StatusOr<std::unique_ptr<store::KeyStore>> OpenPostgres(const Config& c,
                                                              bool create) {
  ASSIGN_OR_RETURN(std::unique_ptr<store::PostgresKeyStore> s,
                   store::PostgresKeyStore::Open(
                       {.url = c.postgres_url,
                        .pool_size = c.postgres_pool,
                        .coalesce_reads = IoThreads(c) > c.postgres_pool,
                        .create = create}));
  return std::unique_ptr<store::KeyStore>(std::move(s));
}

}  // namespace

absl::StatusOr<std::unique_ptr<store::KeyStore>> OpenStore(
    const Config& c, uint64_t audit_records) {
  const std::string lost = LostBecause(c, audit_records);
  if (c.store == "postgres") {
    absl::StatusOr<std::unique_ptr<store::KeyStore>> s =
        OpenPostgres(c, /*create=*/lost.empty());
    if (!absl::IsNotFound(s.status())) return s;
    return absl::FailedPreconditionError(absl::StrCat(
        "the PostgreSQL database of postgres-url holds no keyferry store, but ",
        lost,
        ": this deployment's store is lost. Restore the database from your "
        "backup; for a new deployment use a new database and data "
        "directory"));
  }
  ASSIGN_OR_RETURN(
      std::unique_ptr<store::SqliteKeyStore> store,
      store::SqliteKeyStore::Open({.path = DataPath(c, "keys.db")}));
  if (!store->created() || lost.empty()) return store;
  store.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(DataPath(c, absl::StrCat("keys.db", suffix)));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      DataPath(c, "keys.db"), " is missing or empty, but ", lost,
      ": this deployment's store is lost. Restore keys.db from your backup; "
      "for a new deployment use a new data directory"));
}

absl::StatusOr<std::unique_ptr<store::KeyStore>> OpenToolStore(
    const Config& c, bool must_exist) {
  if (c.store == "postgres") {
    absl::StatusOr<std::unique_ptr<store::KeyStore>> s =
        OpenPostgres(c, /*create=*/!must_exist);
    if (!absl::IsNotFound(s.status())) return s;
    return absl::FailedPreconditionError(
        "the PostgreSQL database of postgres-url holds no keyferry store: "
        "start keyferryd once first");
  }
  if (must_exist && !std::filesystem::exists(DataPath(c, "keys.db"))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no store in ", c.data_dir, ": start keyferryd once first"));
  }
  ASSIGN_OR_RETURN(
      std::unique_ptr<store::SqliteKeyStore> store,
      store::SqliteKeyStore::Open({.path = DataPath(c, "keys.db")}));
  return std::unique_ptr<store::KeyStore>(std::move(store));
}

absl::StatusOr<custody::MasterKeyPolicy> MasterKeysFor(store::KeyStore& store) {
  if (store.created()) return custody::MasterKeyPolicy::kMustBeNew;
  ASSIGN_OR_RETURN(std::optional<std::string> check,
                   store.GetMeta(vault::kCustodyCheckMeta));
  if (check.has_value()) return custody::MasterKeyPolicy::kMustExist;
  ASSIGN_OR_RETURN(bool has_versions, store.HasVersions());
  return has_versions ? custody::MasterKeyPolicy::kMustExist
                      : custody::MasterKeyPolicy::kFindOrCreate;
}

absl::StatusOr<bool> BindCustody(const Config& c, store::KeyStore& store,
                                 custody::Custody& custody) {
  absl::StatusOr<vault::StoreBinding> bound =
      vault::BindStoreToCustody(store, custody, c.upgrade_store);
  if (!bound.ok() && c.store == "postgres") {
    // The vault's message names the SQLite file; name the database.
    return absl::Status(bound.status().code(),
                        absl::StrReplaceAll(bound.status().message(),
                                            {{"keys.db belongs",
                                              "the PostgreSQL store "
                                              "(postgres-url) belongs"}}));
  }
  ASSIGN_OR_RETURN(vault::StoreBinding b, std::move(bound));
  if (b.authenticated > 0) {
    Log(LogLevel::kWarning, "store_upgraded",
        {{"authenticated_versions", std::to_string(b.authenticated)},
         {"note",
          "schema-1 key versions were authenticated as they are now "
          "(upgrade-store)"}});
  }
  return b.bound_before;
}

absl::StatusOr<std::unique_ptr<AccessTokenSigner>> LoadSigner(
    const Config& c, store::KeyStore& store, custody::Custody& custody,
    bool bound_before) {
  ASSIGN_OR_RETURN(std::unique_ptr<AccessTokenSigner> signer,
                   AccessTokenSigner::LoadOrCreate(
                       store, custody, DataPath(c, "token-signing-key.pem"),
                       /*may_create=*/!bound_before));
  if (!bound_before) RETURN_IF_ERROR(vault::RecordCustodyCheck(store, custody));
  return signer;
}

absl::StatusOr<std::vector<std::string>> LegacyAddedVaults(const Config& c) {
  std::string path = DataPath(c, "vaults");
  if (!std::filesystem::exists(path)) return std::vector<std::string>();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<std::string> out;
  for (absl::string_view line :
       absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(line));
  }
  return out;
}

absl::StatusOr<Config> WithAddedVaults(Config c) {
  ASSIGN_OR_RETURN(std::vector<std::string> added, LegacyAddedVaults(c));
  for (const std::string& v : added) {
    if (std::find(c.vaults.begin(), c.vaults.end(), v) == c.vaults.end()) {
      c.vaults.push_back(v);
    }
  }
  std::string joined = absl::StrJoin(c.vaults, ",");
  RETURN_IF_ERROR(ApplyFlag("vaults", joined, c));
  return c;
}

}  // namespace keyferry::server
