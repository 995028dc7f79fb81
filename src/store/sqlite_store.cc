#include "store/sqlite_store.h"

// SqliteKeyStore: opening and schema migration, the writer's group commit
// and the reader pool, and the store's metadata. Key rows and listings are
// in sqlite_keys.cc, soft delete, restore and due work in sqlite_deleted.cc.

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "store/sqlite_db.h"
#include "store/sqlite_impl.h"

namespace keyferry::store {

using sqlite::Connection;
using sqlite::kVersionColumns;
using sqlite::Lower;
using sqlite::ReadVersion;
using sqlite::RunOne;
using sqlite::Transaction;

namespace {

// Schema version 3 (docs/storage.md §2). Version 1 lacked
// key_versions.attest, version 2 key_versions.release_policy; Open adds
// them (kUpgradeFrom1, kUpgradeFrom2), forward only.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  k TEXT PRIMARY KEY,
  v TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS key_names(
  vault TEXT NOT NULL,
  name_lc TEXT NOT NULL,
  name TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  deleted_date INTEGER NOT NULL DEFAULT 0,
  scheduled_purge_date INTEGER NOT NULL DEFAULT 0,
  recoverable_days INTEGER NOT NULL,
  latest_seq INTEGER NOT NULL,
  rotation_policy TEXT NOT NULL DEFAULT '',
  next_rotation INTEGER,
  PRIMARY KEY(vault, name_lc)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS key_names_rotation ON key_names(next_rotation)
  WHERE next_rotation IS NOT NULL AND deleted = 0;
CREATE INDEX IF NOT EXISTS key_names_purge ON key_names(scheduled_purge_date)
  WHERE deleted = 1;
CREATE TABLE IF NOT EXISTS key_versions(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  vault TEXT NOT NULL,
  name_lc TEXT NOT NULL,
  version TEXT NOT NULL,
  kty TEXT NOT NULL,
  bits INTEGER NOT NULL,
  curve TEXT NOT NULL,
  key_ops TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  sealed BLOB NOT NULL,
  enabled INTEGER NOT NULL,
  nbf INTEGER,
  exp INTEGER,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  exportable INTEGER NOT NULL,
  tags TEXT NOT NULL,
  managed INTEGER NOT NULL,
  attest BLOB NOT NULL DEFAULT x'',
  release_policy TEXT NOT NULL DEFAULT '',
  UNIQUE(vault, name_lc, version)
);
CREATE INDEX IF NOT EXISTS key_versions_name ON key_versions(vault, name_lc, seq);
)sql";

constexpr const char* kUpgradeFrom1 =
    "ALTER TABLE key_versions ADD COLUMN attest BLOB NOT NULL DEFAULT x''";
constexpr const char* kUpgradeFrom2 =
    "ALTER TABLE key_versions ADD COLUMN release_policy TEXT NOT NULL "
    "DEFAULT ''";
}  // namespace

SqliteKeyStore::Impl::Reader::~Reader() {
  {
    keyferry::MutexLock l(&impl_->pool_mu);
    impl_->readers.push_back(std::move(c_));
  }
  impl_->pool_cv.Signal();
}

absl::Status SqliteKeyStore::Impl::Write(
    const std::function<absl::Status(Connection&)>& body) {
  PendingWrite me{&body, absl::OkStatus(), false};
  queue_mu.Lock();
  queue.push_back(&me);
  while (!me.done) {
    if (committing) {
      queue_cv.Wait(&queue_mu);
      continue;
    }
    committing = true;
    std::vector<PendingWrite*> batch;
    batch.swap(queue);
    queue_mu.Unlock();
    RunBatch(batch);
    queue_mu.Lock();
    for (PendingWrite* p : batch) p->done = true;
    committing = false;
    queue_cv.SignalAll();
  }
  queue_mu.Unlock();
  return me.result;
}

void SqliteKeyStore::Impl::RunBatch(const std::vector<PendingWrite*>& batch) {
  keyferry::MutexLock w(&write_mu);
  Transaction tx(*writer);
  absl::Status begun = tx.Begin();
  if (!begun.ok()) {
    for (PendingWrite* p : batch) p->result = begun;
    return;
  }
  if (batch.size() == 1) {
    PendingWrite* p = batch[0];
    p->result = (*p->body)(*writer);
    if (p->result.ok()) p->result = tx.Commit();
    return;  // on error, ~Transaction rolls back
  }
  bool any = false;
  for (PendingWrite* p : batch) {
    absl::Status sp = writer->Exec("SAVEPOINT kf_write");
    p->result = sp.ok() ? (*p->body)(*writer) : sp;
    if (p->result.ok()) {
      p->result = writer->Exec("RELEASE kf_write");
    } else if (sp.ok()) {
      (void)writer->Exec("ROLLBACK TO kf_write");
      (void)writer->Exec("RELEASE kf_write");
    }
    any = any || p->result.ok();
  }
  if (!any) return;  // nothing to keep: ~Transaction rolls back
  absl::Status committed = tx.Commit();
  if (!committed.ok()) {
    for (PendingWrite* p : batch) {
      if (p->result.ok()) p->result = committed;
    }
  }
}

absl::StatusOr<std::unique_ptr<SqliteKeyStore::Impl::Reader>>
SqliteKeyStore::Impl::Read() {
  std::unique_ptr<Connection> c;
  pool_mu.Lock();
  if (!ReaderAvailable()) {
    ++waiting_readers;
    if (on_reader) {
      pool_mu.Unlock();
      on_reader(ReaderEvent::kWaiting);
      pool_mu.Lock();
    }
    while (!ReaderAvailable()) pool_cv.Wait(&pool_mu);
    --waiting_readers;
  }
  if (!readers.empty()) {
    c = std::move(readers.back());
    readers.pop_back();
  } else {
    ++open_readers;  // reserved while it is opened below
  }
  pool_mu.Unlock();
  if (c == nullptr) {
    absl::StatusOr<std::unique_ptr<Connection>> opened =
        Connection::Open(path, /*writer=*/false);
    if (!opened.ok()) {
      {
        keyferry::MutexLock l(&pool_mu);
        --open_readers;
      }
      pool_cv.Signal();
      return opened.status();
    }
    c = std::move(opened).value();
  }
  auto reader = std::make_unique<Reader>(this, std::move(c));
  if (on_reader) on_reader(ReaderEvent::kBorrowed);
  return reader;
}

SqliteKeyStore::SqliteKeyStore(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
SqliteKeyStore::~SqliteKeyStore() = default;

ReaderPoolState SqliteKeyStore::reader_pool_state() {
  keyferry::MutexLock l(&impl_->pool_mu);
  const int idle = static_cast<int>(impl_->readers.size());
  return {.open = impl_->open_readers,
          .in_use = impl_->open_readers - idle,
          .waiting = impl_->waiting_readers};
}

absl::StatusOr<std::unique_ptr<SqliteKeyStore>> SqliteKeyStore::Open(
    const SqliteOptions& options) {
  if (options.path.empty() || options.path == ":memory:") {
    return absl::InvalidArgumentError("store: a database file path is needed");
  }
  // SQLite's allocation statistics take one process-wide mutex on every
  // malloc; nothing here reads them. Must precede SQLite's initialization,
  // so it is set once before the first store opens (a later call would be
  // refused with SQLITE_MISUSE and change nothing).
  static std::once_flag sqlite_config;
  std::call_once(sqlite_config,
                 [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  // A store is new when neither the file nor its WAL holds anything yet;
  // one that does but has no schema_version is not taken for new.
  auto has_bytes = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && st.st_size > 0;
  };
  const bool existed =
      has_bytes(options.path) || has_bytes(options.path + "-wal");
  // Create the file 0600 before SQLite does, so it never exists wider.
  int fd = ::open(options.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("store: cannot create ", options.path));
  }
  ::fchmod(fd, 0600);
  ::close(fd);

  auto impl = std::make_unique<Impl>();
  impl->path = options.path;
  impl->max_readers = std::max(1, options.readers);
  impl->on_reader = options.on_reader_for_test;
  {
    keyferry::MutexLock l(&impl->write_mu);
    ASSIGN_OR_RETURN(impl->writer, Connection::Open(options.path, true));
    Connection& w = *impl->writer;
    Transaction tx(w);
    RETURN_IF_ERROR(tx.Begin());
    RETURN_IF_ERROR(w.Exec(kSchema));
    ASSIGN_OR_RETURN(auto s,
                     w.Prepare("SELECT v FROM meta WHERE k='schema_version'"));
    ASSIGN_OR_RETURN(bool row, s->Step());
    int version = 0;
    if (row) {
      if (!absl::SimpleAtoi(s->Text(0), &version) || version < 1) {
        return absl::DataLossError("store: unreadable schema_version");
      }
      if (version > kSchemaVersion) {
        return absl::FailedPreconditionError(
            absl::StrCat("store: database schema version ", version,
                         " is newer than this keyferryd understands (",
                         kSchemaVersion, ")"));
      }
    } else if (existed) {
      return absl::DataLossError(absl::StrCat(
          "store: ", options.path,
          " holds data but no schema_version: not a keyferry store, or a "
          "damaged one"));
    } else {
      impl->created = true;  // an empty database: the schema was just made
    }
    s.reset();
    if (version == 1) {
      // Versions of schema 1 carry no tag; the marker lets them (and only
      // them) be authenticated once, by the operator's upgrade-store.
      RETURN_IF_ERROR(w.Exec(kUpgradeFrom1));
      RETURN_IF_ERROR(
          w.Exec(absl::StrCat("INSERT OR REPLACE INTO meta(k, v) VALUES ('",
                              kLegacyUnauthenticatedMeta, "', '1')")
                     .c_str()));
    }
    if (version == 1 || version == 2) {
      RETURN_IF_ERROR(w.Exec(kUpgradeFrom2));
    }
    if (version != kSchemaVersion) {
      ASSIGN_OR_RETURN(auto put, w.Prepare("INSERT OR REPLACE INTO meta(k, v) "
                                           "VALUES ('schema_version', ?)"));
      put->Bind(1, std::to_string(kSchemaVersion));
      RETURN_IF_ERROR(put->Run());
    }
    RETURN_IF_ERROR(tx.Commit());
  }
  for (const char* f : {"-wal", "-shm"}) {
    ::chmod((options.path + f).c_str(), 0600);
  }
  return std::unique_ptr<SqliteKeyStore>(new SqliteKeyStore(std::move(impl)));
}

absl::StatusOr<int64_t> SqliteKeyStore::CountKeys(std::string_view vault) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(auto s, (*r)->Prepare("SELECT count(*) FROM key_names "
                                         "WHERE vault=?"));
  s->Bind(1, vault);
  ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->Int(0) : 0;
}

bool SqliteKeyStore::created() const { return impl_->created; }

absl::StatusOr<std::optional<std::string>> SqliteKeyStore::GetMeta(
    std::string_view key) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(auto s, (*r)->Prepare("SELECT v FROM meta WHERE k=?"));
  s->Bind(1, key);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s->Text(0));
}

absl::StatusOr<std::string> SqliteKeyStore::SetMetaIfAbsent(
    std::string_view key, std::string_view value) {
  std::string stored;
  RETURN_IF_ERROR(impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(auto ins, c.Prepare("INSERT OR IGNORE INTO meta(k, v) "
                                         "VALUES (?, ?)"));
    ins->Bind(1, key).Bind(2, value);
    RETURN_IF_ERROR(ins->Run());
    ASSIGN_OR_RETURN(auto s, c.Prepare("SELECT v FROM meta WHERE k=?"));
    s->Bind(1, key);
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return absl::InternalError("store: meta row vanished");
    stored = s->Text(0);
    return absl::OkStatus();
  }));
  return stored;
}

absl::Status SqliteKeyStore::Ping() {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(auto s, (*r)->Prepare("SELECT 1"));
  return s->Step().status();
}

absl::StatusOr<bool> SqliteKeyStore::HasVersions() {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(auto s,
                   (*r)->Prepare("SELECT EXISTS(SELECT 1 FROM key_versions)"));
  ASSIGN_OR_RETURN(bool row, s->Step());
  return row && s->Int(0) != 0;
}

absl::StatusOr<int64_t> SqliteKeyStore::AuthenticateVersions(
    const std::function<
        absl::StatusOr<std::vector<uint8_t>>(const KeyVersion&)>& attest) {
  int64_t done = 0;
  RETURN_IF_ERROR(impl_->Write([&](Connection& c) -> absl::Status {
    done = 0;
    ASSIGN_OR_RETURN(
        auto s, c.Prepare(absl::StrCat(
                    "SELECT ", kVersionColumns,
                    " FROM key_versions v JOIN key_names n ON v.vault = "
                    "n.vault AND v.name_lc = n.name_lc WHERE length(v.attest) "
                    "= 0 ORDER BY v.seq")));
    std::vector<KeyVersion> todo;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      todo.push_back(ReadVersion(*s));
    }
    s.reset();
    ASSIGN_OR_RETURN(auto m, c.Prepare("SELECT 1 FROM meta WHERE k=?"));
    m->Bind(1, std::string_view(kLegacyUnauthenticatedMeta));
    ASSIGN_OR_RETURN(bool legacy, m->Step());
    m.reset();
    if (!todo.empty() && !legacy) {
      return absl::DataLossError(absl::StrCat(
          "store: ", todo.size(),
          " key versions have no authentication tag, but the store was not "
          "upgraded from schema 1: the database was altered outside "
          "keyferryd"));
    }
    for (KeyVersion& k : todo) {
      ASSIGN_OR_RETURN(k.attest, attest(k));
      ASSIGN_OR_RETURN(auto u, c.Prepare("UPDATE key_versions SET attest=? "
                                         "WHERE vault=? AND name_lc=? AND "
                                         "version=?"));
      u->BindBlob(1, k.attest)
          .Bind(2, k.vault)
          .Bind(3, Lower(k.name))
          .Bind(4, k.version);
      RETURN_IF_ERROR(RunOne(c, *u, k.name));
      ++done;
    }
    ASSIGN_OR_RETURN(auto d, c.Prepare("DELETE FROM meta WHERE k=?"));
    d->Bind(1, std::string_view(kLegacyUnauthenticatedMeta));
    RETURN_IF_ERROR(d->Run());
    return absl::OkStatus();
  }));
  return done;
}

}  // namespace keyferry::store
