#include "store/postgres_store.h"

// PostgresKeyStore: opening and schema migration, the transaction runner,
// the shared row helpers and the store's metadata. Key rows and listings
// are in postgres_keys.cc; soft delete, restore and due work in
// postgres_deleted.cc.

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "base/strings.h"
#include "store/postgres_impl.h"

namespace keyferry::store {

using pg::Conn;
using pg::Result;

namespace {

// kMigrations[i] takes the schema from version i to i + 1
// (docs/storage.md §6.1, §6.2). Append; never edit a released step.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE schema_version(
  version integer PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE meta(
  k text COLLATE "C" PRIMARY KEY,
  v text NOT NULL);
CREATE TABLE key_names(
  vault text COLLATE "C" NOT NULL,
  name_lc text COLLATE "C" NOT NULL,
  name text NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  deleted_date bigint NOT NULL DEFAULT 0,
  scheduled_purge_date bigint NOT NULL DEFAULT 0,
  recoverable_days integer NOT NULL,
  latest_seq bigint NOT NULL,
  rotation_policy text NOT NULL DEFAULT '',
  next_rotation bigint,
  row_version bigint NOT NULL DEFAULT 1,
  PRIMARY KEY(vault, name_lc));
CREATE INDEX key_names_rotation ON key_names(next_rotation)
  WHERE next_rotation IS NOT NULL AND NOT deleted;
CREATE INDEX key_names_purge ON key_names(scheduled_purge_date) WHERE deleted;
CREATE TABLE key_versions(
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  vault text COLLATE "C" NOT NULL,
  name_lc text COLLATE "C" NOT NULL,
  version text COLLATE "C" NOT NULL,
  kty text NOT NULL,
  bits integer NOT NULL,
  curve text NOT NULL,
  key_ops text NOT NULL,
  public_jwk text NOT NULL,
  sealed bytea NOT NULL,
  enabled boolean NOT NULL,
  nbf bigint,
  exp bigint,
  created bigint NOT NULL,
  updated bigint NOT NULL,
  exportable boolean NOT NULL,
  tags text NOT NULL,
  managed boolean NOT NULL,
  attest bytea NOT NULL DEFAULT '\x',
  UNIQUE(vault, name_lc, version),
  FOREIGN KEY(vault, name_lc) REFERENCES key_names ON DELETE CASCADE);
CREATE INDEX key_versions_name ON key_versions(vault, name_lc, seq);
CREATE TABLE changes(
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  vault text COLLATE "C" NOT NULL,
  name_lc text COLLATE "C" NOT NULL,
  op text NOT NULL,
  at timestamptz NOT NULL DEFAULT now());
)sql",
    // 1 -> 2: release policies (Secure Key Release, docs/storage.md §6.1).
    R"sql(
ALTER TABLE key_versions ADD COLUMN release_policy text NOT NULL DEFAULT '';
)sql",
};
static_assert(std::size(kMigrations) == PostgresKeyStore::kSchemaVersion);

// The advisory lock Open holds while it reads and migrates the schema.
constexpr int64_t kMigrationLock = 0x6b66'7374'6f72'6531;  // "kfstore1"

bool Retryable(const absl::Status& st) {
  return absl::IsUnavailable(st) || absl::IsAborted(st);
}

// Migrate brings the schema of the database `c` is in a transaction on to
// kSchemaVersion (making it only when `create`); sets `*created` when it
// made the schema.
absl::Status Migrate(Conn& c, bool create, bool* created) {
  RETURN_IF_ERROR(c.Run("schema lock", "SELECT pg_advisory_xact_lock($1)",
                        {kMigrationLock}));
  ASSIGN_OR_RETURN(Result t, c.Exec("schema",
                                    "SELECT to_regclass('schema_version') IS "
                                    "NOT NULL, to_regclass('key_names') IS NOT "
                                    "NULL OR to_regclass('meta') IS NOT NULL"));
  int64_t version = 0;
  if (t.Bool(0, 0)) {
    ASSIGN_OR_RETURN(Result v, c.Exec("schema",
                                      "SELECT coalesce(max(version), "
                                      "0) FROM schema_version"));
    version = v.Int(0, 0);
    if (version < 1) {
      return absl::DataLossError("store: schema_version table is empty");
    }
  } else if (t.Bool(0, 1)) {
    return absl::DataLossError(
        "store: the database holds keyferry tables but no schema_version: a "
        "damaged store");
  }
  if (version > PostgresKeyStore::kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("store: database schema version ", version,
                     " is newer than this keyferryd understands (",
                     PostgresKeyStore::kSchemaVersion, "): upgrade keyferryd"));
  }
  *created = version == 0;
  if (*created && !create) {
    return absl::NotFoundError(
        "store: the PostgreSQL database holds no keyferry store");
  }
  for (int64_t v = version; v < PostgresKeyStore::kSchemaVersion; ++v) {
    RETURN_IF_ERROR(c.Script("schema migration", kMigrations[v]));
    RETURN_IF_ERROR(c.Run("schema migration",
                          "INSERT INTO schema_version(version) VALUES ($1)",
                          {v + 1}));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PostgresKeyStore::Impl::Write(
    const std::function<absl::Status(Conn&)>& body) {
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(pg::Pool::Lease c, pool->Borrow());
    absl::Status st = c->Script("begin", "BEGIN");
    if (st.ok()) st = body(*c);
    if (st.ok()) {
      st = c->Script("commit", "COMMIT");
      if (st.ok()) return st;
      if (!c->ok()) {
        return absl::UnavailableError(absl::StrCat(
            st.message(), "; whether the change was committed is unknown"));
      }
    }
    if (c->ok() && !c->idle()) (void)c->Script("rollback", "ROLLBACK");
    if (attempt >= 3 || !Retryable(st)) return st;
  }
}

absl::Status PostgresKeyStore::Impl::Read(
    const std::function<absl::Status(Conn&)>& body) {
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(pg::Pool::Lease c, pool->Borrow());
    absl::Status st = body(*c);
    if (st.ok() || attempt >= 2 || c->ok()) return st;
  }
}

namespace pg {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(Sv(s)); }

std::string JoinOps(const std::vector<std::string>& ops) {
  return absl::StrJoin(ops, ",");
}

KeyVersion ReadVersion(const Result& r, int row) {
  KeyVersion k;
  k.name = r.Text(row, 1);
  k.version = r.Text(row, 2);
  k.kty = r.Text(row, 3);
  k.bits = static_cast<int>(r.Int(row, 4));
  k.curve = r.Text(row, 5);
  const std::string ops = r.Text(row, 6);
  if (!ops.empty()) k.key_ops = absl::StrSplit(ops, ',');
  k.public_jwk = r.Text(row, 7);
  k.blob = r.Bytes(row, 8);
  k.enabled = r.Bool(row, 9);
  k.not_before = r.OptInt(row, 10);
  k.expires = r.OptInt(row, 11);
  k.created = r.Int(row, 12);
  k.updated = r.Int(row, 13);
  k.exportable = r.Bool(row, 14);
  k.tags_json = r.Text(row, 15);
  k.managed = r.Bool(row, 16);
  k.vault = r.Text(row, 17);
  k.attest = r.Bytes(row, 18);
  k.release_policy = r.Text(row, 19);
  return k;
}

KeyName ReadName(const Result& r, int row, int base) {
  KeyName n;
  n.vault = r.Text(row, base + 0);
  n.name = r.Text(row, base + 1);
  n.deleted = r.Bool(row, base + 2);
  n.deleted_date = r.Int(row, base + 3);
  n.scheduled_purge_date = r.Int(row, base + 4);
  n.recoverable_days = static_cast<int>(r.Int(row, base + 5));
  n.rotation_policy_json = r.Text(row, base + 6);
  n.next_rotation = r.OptInt(row, base + 7);
  return n;
}

absl::StatusOr<int64_t> InsertVersion(Conn& c, const KeyVersion& k) {
  const std::string ops = JoinOps(k.key_ops);
  ASSIGN_OR_RETURN(
      Result r,
      c.Exec("insert version",
             "INSERT INTO key_versions(vault, name_lc, version, kty, bits, "
             "curve, key_ops, public_jwk, sealed, enabled, nbf, exp, created, "
             "updated, exportable, tags, managed, attest, release_policy) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
             "$14, $15, $16, $17, $18, $19) RETURNING seq",
             {k.vault, Lower(k.name), k.version, k.kty, k.bits, k.curve, ops,
              k.public_jwk, Param::Bytes(k.blob), k.enabled, k.not_before,
              k.expires, k.created, k.updated, k.exportable, k.tags_json,
              k.managed, Param::Bytes(k.attest), k.release_policy}));
  if (r.rows() != 1)
    return absl::InternalError("store: insert returned no seq");
  return r.Int(0, 0);
}

absl::StatusOr<std::optional<bool>> LockName(Conn& c, std::string_view vault,
                                             std::string_view name_lc) {
  ASSIGN_OR_RETURN(Result r, c.Exec("lock key",
                                    "SELECT deleted FROM key_names WHERE "
                                    "vault=$1 AND name_lc=$2 FOR UPDATE",
                                    {vault, name_lc}));
  if (r.rows() == 0) return std::optional<bool>();
  return std::optional<bool>(r.Bool(0, 0));
}

absl::StatusOr<std::optional<bool>> NameDeleted(Conn& c, std::string_view vault,
                                                std::string_view name_lc) {
  ASSIGN_OR_RETURN(Result r, c.Exec("read key",
                                    "SELECT deleted FROM key_names WHERE "
                                    "vault=$1 AND name_lc=$2",
                                    {vault, name_lc}));
  if (r.rows() == 0) return std::optional<bool>();
  return std::optional<bool>(r.Bool(0, 0));
}

absl::Status Changed(Conn& c, std::string_view vault, std::string_view name_lc,
                     std::string_view op) {
  return c.Run("record change",
               "INSERT INTO changes(vault, name_lc, op) VALUES ($1, $2, $3)",
               {vault, name_lc, op});
}

absl::Status KeyNotFound(std::string_view name) {
  return absl::NotFoundError(absl::StrCat("key ", Sv(name), " not found"));
}

absl::Status ExpectOne(const absl::StatusOr<Result>& r, std::string_view name) {
  if (!r.ok()) return r.status();
  return r->affected() == 1 ? absl::OkStatus() : KeyNotFound(name);
}

}  // namespace pg

PostgresKeyStore::PostgresKeyStore(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
PostgresKeyStore::~PostgresKeyStore() = default;

absl::StatusOr<std::unique_ptr<PostgresKeyStore>> PostgresKeyStore::Open(
    const PostgresOptions& options) {
  ASSIGN_OR_RETURN(pg::ConnInfo info, pg::ConnInfo::Parse(options.url));
  auto impl = std::make_unique<Impl>();
  impl->pool = std::make_unique<pg::Pool>(std::move(info), options.pool_size);
  impl->coalesce_reads = options.coalesce_reads;
  bool created = false;
  RETURN_IF_ERROR(impl->Write(
      [&](Conn& c) { return Migrate(c, options.create, &created); }));
  impl->created = created;
  return std::unique_ptr<PostgresKeyStore>(
      new PostgresKeyStore(std::move(impl)));
}

absl::StatusOr<bool> PostgresUrlHasPassword(std::string_view url) {
  ASSIGN_OR_RETURN(pg::ConnInfo info, pg::ConnInfo::Parse(url));
  return !info.password.empty();
}

int PostgresKeyStore::pool_open() { return impl_->pool->open(); }

bool PostgresKeyStore::created() const { return impl_->created; }

absl::StatusOr<int64_t> PostgresKeyStore::CountKeys(std::string_view vault) {
  int64_t n = 0;
  RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
    ASSIGN_OR_RETURN(Result r, c.Exec("count keys",
                                      "SELECT count(*) FROM key_names WHERE "
                                      "vault=$1",
                                      {vault}));
    n = r.Int(0, 0);
    return absl::OkStatus();
  }));
  return n;
}

absl::StatusOr<std::optional<std::string>> PostgresKeyStore::GetMeta(
    std::string_view key) {
  std::optional<std::string> v;
  RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        Result r, c.Exec("read meta", "SELECT v FROM meta WHERE k=$1", {key}));
    v = r.rows() == 1 ? std::optional<std::string>(r.Text(0, 0)) : std::nullopt;
    return absl::OkStatus();
  }));
  return v;
}

absl::StatusOr<std::string> PostgresKeyStore::SetMetaIfAbsent(
    std::string_view key, std::string_view value) {
  std::string stored;
  RETURN_IF_ERROR(impl_->Write([&](Conn& c) -> absl::Status {
    ASSIGN_OR_RETURN(Result ins,
                     c.Exec("write meta",
                            "INSERT INTO meta(k, v) VALUES ($1, $2) ON "
                            "CONFLICT (k) DO NOTHING",
                            {key, value}));
    ASSIGN_OR_RETURN(
        Result r, c.Exec("read meta", "SELECT v FROM meta WHERE k=$1", {key}));
    if (r.rows() != 1) return absl::InternalError("store: meta row vanished");
    stored = r.Text(0, 0);
    if (ins.affected() == 1) {
      RETURN_IF_ERROR(pg::Changed(c, "", "", absl::StrCat("meta ", Sv(key))));
    }
    return absl::OkStatus();
  }));
  return stored;
}

void PostgresKeyStore::WatchPurges(std::function<void()> on_purge) {
  impl_->listener.reset();  // joins its thread
  if (!on_purge) return;
  impl_->listener = std::make_unique<pg::PurgeListener>(&impl_->pool->info(),
                                                        std::move(on_purge));
}

absl::Status PostgresKeyStore::Ping() {
  keyferry::MutexLock l(&impl_->ping_mu);
  std::unique_ptr<Conn>& c = impl_->ping_conn;
  if (c == nullptr || !c->ok()) {
    c.reset();
    ASSIGN_OR_RETURN(c, Conn::Open(impl_->pool->info(),
                                   /*connect_timeout_seconds=*/2));
  }
  absl::Status st = c->Run("ping", "SELECT 1");
  if (!st.ok()) c.reset();  // the next check connects afresh
  return st;
}

absl::StatusOr<bool> PostgresKeyStore::HasVersions() {
  bool has = false;
  RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        Result r,
        c.Exec("count versions", "SELECT EXISTS(SELECT 1 FROM key_versions)"));
    has = r.Bool(0, 0);
    return absl::OkStatus();
  }));
  return has;
}

absl::StatusOr<int64_t> PostgresKeyStore::AuthenticateVersions(
    const std::function<
        absl::StatusOr<std::vector<uint8_t>>(const KeyVersion&)>& attest) {
  int64_t done = 0;
  RETURN_IF_ERROR(impl_->Write([&](Conn& c) -> absl::Status {
    done = 0;
    // Every name is locked, so no version is added meanwhile.
    RETURN_IF_ERROR(c.Run("lock keys",
                          "SELECT 1 FROM key_names ORDER BY vault, name_lc "
                          "FOR UPDATE"));
    ASSIGN_OR_RETURN(
        Result todo,
        c.Exec("read versions",
               absl::StrCat("SELECT ", pg::kVersionColumns,
                            " FROM key_versions v JOIN key_names n ON v.vault "
                            "= n.vault AND v.name_lc = n.name_lc WHERE "
                            "length(v.attest) = 0 ORDER BY v.seq")
                   .c_str()));
    ASSIGN_OR_RETURN(Result legacy,
                     c.Exec("read meta", "SELECT 1 FROM meta WHERE k=$1",
                            {kLegacyUnauthenticatedMeta}));
    if (todo.rows() > 0 && legacy.rows() == 0) {
      return absl::DataLossError(absl::StrCat(
          "store: ", todo.rows(),
          " key versions have no authentication tag, but the store was not "
          "upgraded from schema 1: the database was altered outside "
          "keyferryd"));
    }
    for (int i = 0; i < todo.rows(); ++i) {
      KeyVersion k = pg::ReadVersion(todo, i);
      ASSIGN_OR_RETURN(k.attest, attest(k));
      const std::string name_lc = pg::Lower(k.name);
      RETURN_IF_ERROR(pg::ExpectOne(
          c.Exec("authenticate version",
                 "UPDATE key_versions SET attest=$1 WHERE vault=$2 AND "
                 "name_lc=$3 AND version=$4",
                 {pg::Param::Bytes(k.attest), k.vault, name_lc, k.version}),
          k.name));
      RETURN_IF_ERROR(pg::Changed(c, k.vault, name_lc, "authenticate"));
      ++done;
    }
    return c.Run("write meta", "DELETE FROM meta WHERE k=$1",
                 {kLegacyUnauthenticatedMeta});
  }));
  return done;
}

}  // namespace keyferry::store
