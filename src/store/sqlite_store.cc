#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::store {
namespace {

// Schema version 2 (docs/storage.md §2). Version 1 lacked
// key_versions.attest; Open adds it (kUpgradeFrom1).
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
  UNIQUE(vault, name_lc, version)
);
CREATE INDEX IF NOT EXISTS key_versions_name ON key_versions(vault, name_lc, seq);
)sql";

constexpr const char* kUpgradeFrom1 =
    "ALTER TABLE key_versions ADD COLUMN attest BLOB NOT NULL DEFAULT x''";

// The columns ReadVersion reads, in its order; queries that select more put
// them after these (kVersionColumnCount onwards).
constexpr const char* kVersionColumns =
    "v.seq, n.name, v.version, v.kty, v.bits, v.curve, v.key_ops, "
    "v.public_jwk, v.sealed, v.enabled, v.nbf, v.exp, v.created, v.updated, "
    "v.exportable, v.tags, v.managed, v.vault, v.attest";
constexpr int kVersionColumnCount = 19;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

absl::Status DbError(sqlite3* db, std::string_view what) {
  int code = sqlite3_extended_errcode(db);
  std::string msg = absl::StrCat("store: ", Sv(what), ": ", sqlite3_errmsg(db),
                                 " (", code, ")");
  if ((code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR) {
    return absl::UnavailableError(msg);
  }
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
    return absl::UnavailableError(msg);
  }
  if ((code & 0xff) == SQLITE_CONSTRAINT) {
    return absl::AlreadyExistsError(msg);
  }
  return absl::InternalError(msg);
}

// Stmt is a prepared statement bound and stepped in one scope; it resets
// itself so cached statements are reusable.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Bind(int i, std::optional<int64_t> v) {
    if (v.has_value()) {
      sqlite3_bind_int64(s_, i, *v);
    } else {
      sqlite3_bind_null(s_, i);
    }
    return *this;
  }
  // BindBlob binds `v`; an empty one as a zero-length blob (SQLite would
  // read a null data pointer as NULL).
  Stmt& BindBlob(int i, const std::vector<uint8_t>& v) {
    if (v.empty()) {
      sqlite3_bind_zeroblob(s_, i, 0);
    } else {
      sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()),
                        SQLITE_TRANSIENT);
    }
    return *this;
  }
  // Step returns true for a row, false when done.
  absl::StatusOr<bool> Step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return DbError(db_, "step");
  }
  absl::Status Run() {
    ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    return absl::OkStatus();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const {
    return sqlite3_column_type(s_, col) == SQLITE_NULL;
  }
  std::optional<int64_t> OptInt(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Int(col);
  }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(s_, col);
    int n = sqlite3_column_bytes(s_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), n) : "";
  }
  std::vector<uint8_t> Blob(int col) const {
    const uint8_t* b =
        static_cast<const uint8_t*>(sqlite3_column_blob(s_, col));
    int n = sqlite3_column_bytes(s_, col);
    return b ? std::vector<uint8_t>(b, b + n) : std::vector<uint8_t>();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

// Connection owns one sqlite3 handle and its statement cache.
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, bool writer) {
    sqlite3* raw = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                (writer ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    DbPtr db(raw);
    if (rc != SQLITE_OK) {
      return absl::UnavailableError(
          absl::StrCat("store: cannot open ", path, ": ",
                       raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(db.get(), 1);
    sqlite3_busy_timeout(db.get(), 10'000);
    auto c = std::unique_ptr<Connection>(new Connection(std::move(db)));
    RETURN_IF_ERROR(c->Exec("PRAGMA foreign_keys=ON"));
    RETURN_IF_ERROR(c->Exec("PRAGMA synchronous=FULL"));
    if (writer) {
      RETURN_IF_ERROR(c->Exec("PRAGMA journal_mode=WAL"));
    }
    return c;
  }

  absl::Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      return absl::InternalError(absl::StrCat("store: ", msg));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Stmt>> Prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v3(db_.get(), sql.c_str(), -1,
                             SQLITE_PREPARE_PERSISTENT, &s,
                             nullptr) != SQLITE_OK) {
        return DbError(db_.get(), "prepare");
      }
      it = cache_.emplace(sql, StmtPtr(s)).first;
    }
    return std::make_unique<Stmt>(db_.get(), it->second.get());
  }

  int64_t Changes() const { return sqlite3_changes64(db_.get()); }

 private:
  explicit Connection(DbPtr db) : db_(std::move(db)) {}
  // Statements are finalized before the handle closes (member order).
  DbPtr db_;
  std::map<std::string, StmtPtr> cache_;
};

// Transaction runs BEGIN IMMEDIATE … COMMIT, rolling back on destruction
// unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) {}
  absl::Status Begin() {
    RETURN_IF_ERROR(c_.Exec("BEGIN IMMEDIATE"));
    open_ = true;
    return absl::OkStatus();
  }
  absl::Status Commit() {
    RETURN_IF_ERROR(c_.Exec("COMMIT"));
    open_ = false;
    return absl::OkStatus();
  }
  ~Transaction() {
    if (open_) (void)c_.Exec("ROLLBACK");
  }

 private:
  Connection& c_;
  bool open_ = false;
};

std::string JoinOps(const std::vector<std::string>& ops) {
  return absl::StrJoin(ops, ",");
}

std::vector<std::string> SplitOps(const std::string& s) {
  if (s.empty()) return {};
  return absl::StrSplit(s, ',');
}

KeyVersion ReadVersion(const Stmt& s) {
  KeyVersion k;
  k.name = s.Text(1);
  k.version = s.Text(2);
  k.kty = s.Text(3);
  k.bits = static_cast<int>(s.Int(4));
  k.curve = s.Text(5);
  k.key_ops = SplitOps(s.Text(6));
  k.public_jwk = s.Text(7);
  k.sealed = s.Blob(8);
  k.enabled = s.Int(9) != 0;
  k.not_before = s.OptInt(10);
  k.expires = s.OptInt(11);
  k.created = s.Int(12);
  k.updated = s.Int(13);
  k.exportable = s.Int(14) != 0;
  k.tags_json = s.Text(15);
  k.managed = s.Int(16) != 0;
  k.vault = s.Text(17);
  k.attest = s.Blob(18);
  return k;
}

constexpr const char* kNameColumns =
    "n.vault, n.name, n.deleted, n.deleted_date, n.scheduled_purge_date, "
    "n.recoverable_days, n.rotation_policy, n.next_rotation";

KeyName ReadName(const Stmt& s, int base) {
  KeyName n;
  n.vault = s.Text(base + 0);
  n.name = s.Text(base + 1);
  n.deleted = s.Int(base + 2) != 0;
  n.deleted_date = s.Int(base + 3);
  n.scheduled_purge_date = s.Int(base + 4);
  n.recoverable_days = static_cast<int>(s.Int(base + 5));
  n.rotation_policy_json = s.Text(base + 6);
  n.next_rotation = s.OptInt(base + 7);
  return n;
}

absl::Status InsertVersion(Connection& c, const KeyVersion& k,
                           int64_t* seq_out) {
  ASSIGN_OR_RETURN(
      auto s,
      c.Prepare("INSERT INTO key_versions(vault, name_lc, version, kty, bits, "
                "curve, key_ops, public_jwk, sealed, enabled, nbf, exp, "
                "created, updated, exportable, tags, managed, attest) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING seq"));
  s->Bind(1, k.vault)
      .Bind(2, Lower(k.name))
      .Bind(3, k.version)
      .Bind(4, k.kty)
      .Bind(5, int64_t{k.bits})
      .Bind(6, k.curve)
      .Bind(7, JoinOps(k.key_ops))
      .Bind(8, k.public_jwk)
      .BindBlob(9, k.sealed)
      .Bind(10, int64_t{k.enabled})
      .Bind(11, k.not_before)
      .Bind(12, k.expires)
      .Bind(13, k.created)
      .Bind(14, k.updated)
      .Bind(15, int64_t{k.exportable})
      .Bind(16, k.tags_json)
      .Bind(17, int64_t{k.managed})
      .BindBlob(18, k.attest);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::InternalError("store: insert returned no seq");
  *seq_out = s->Int(0);
  return absl::OkStatus();
}

// NameState reads (exists, deleted) for a name inside a transaction.
absl::StatusOr<std::optional<bool>> NameDeleted(Connection& c,
                                                std::string_view vault,
                                                std::string_view name_lc) {
  ASSIGN_OR_RETURN(auto s,
                   c.Prepare("SELECT deleted FROM key_names WHERE vault=? AND "
                             "name_lc=?"));
  s->Bind(1, vault).Bind(2, name_lc);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<bool>();
  return std::optional<bool>(s->Int(0) != 0);
}

absl::Status KeyNotFound(std::string_view name) {
  return absl::NotFoundError(absl::StrCat("key ", Sv(name), " not found"));
}

// RunOne runs a statement that must change exactly one row of key `name`;
// NotFound otherwise.
absl::Status RunOne(Connection& c, Stmt& s, std::string_view name) {
  RETURN_IF_ERROR(s.Run());
  if (c.Changes() != 1) return KeyNotFound(name);
  return absl::OkStatus();
}

}  // namespace

struct SqliteKeyStore::Impl {
  std::string path;
  bool created = false;  // set by Open; constant afterwards
  std::mutex write_mu;
  std::unique_ptr<Connection> writer;  // guarded by write_mu

  // The reader pool: at most max_readers connections exist; idle ones wait
  // in `readers`, a read borrows one (or opens one while fewer than
  // max_readers exist) and returns it when done; beyond that, reads wait on
  // pool_cv for a returned connection.
  std::mutex pool_mu;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<Connection>> readers;  // idle; guarded by pool_mu
  int max_readers = 4;
  int open_readers = 0;  // idle + borrowed + being opened; guarded by pool_mu
  int waiting_readers = 0;                     // guarded by pool_mu
  std::function<void(ReaderEvent)> on_reader;  // test hook, may be empty

  // Reader is a connection borrowed from the pool for one read call.
  class Reader {
   public:
    Reader(Impl* impl, std::unique_ptr<Connection> c)
        : impl_(impl), c_(std::move(c)) {}
    ~Reader() {
      {
        std::lock_guard<std::mutex> l(impl_->pool_mu);
        impl_->readers.push_back(std::move(c_));
      }
      impl_->pool_cv.notify_one();
    }
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Impl* impl_;
    std::unique_ptr<Connection> c_;
  };

  // Write runs `body` in a BEGIN IMMEDIATE transaction on the writer
  // connection and returns once that transaction has committed (durably:
  // synchronous=FULL) or `body` failed and its changes were undone.
  //
  // Group commit (docs/storage.md §5): writers queue their bodies; whoever
  // finds no commit under way becomes the leader, takes every queued body,
  // runs each inside its own SAVEPOINT of one transaction (a failing body
  // is rolled back to its savepoint and gets its own error; the others are
  // unaffected), commits once, and hands each writer its result. Writers
  // that arrive meanwhile form the next batch. So under load one fsync
  // covers many writes, and no writer returns before its write is durable.
  absl::Status Write(const std::function<absl::Status(Connection&)>& body) {
    PendingWrite me{&body, absl::OkStatus(), false};
    std::unique_lock<std::mutex> l(queue_mu);
    queue.push_back(&me);
    while (!me.done) {
      if (committing) {
        queue_cv.wait(l);
        continue;
      }
      committing = true;
      std::vector<PendingWrite*> batch;
      batch.swap(queue);
      l.unlock();
      RunBatch(batch);
      l.lock();
      for (PendingWrite* p : batch) p->done = true;
      committing = false;
      queue_cv.notify_all();
    }
    return me.result;
  }

  struct PendingWrite {
    const std::function<absl::Status(Connection&)>* body;
    absl::Status result;
    bool done = false;  // guarded by queue_mu
  };

  // RunBatch runs `batch` in one transaction and sets each result.
  void RunBatch(const std::vector<PendingWrite*>& batch) {
    std::lock_guard<std::mutex> w(write_mu);
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

  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::vector<PendingWrite*> queue;  // guarded by queue_mu
  bool committing = false;           // guarded by queue_mu

  // Read borrows a reader connection: an idle one, a new one while fewer
  // than max_readers exist, or else the next one returned.
  absl::StatusOr<std::unique_ptr<Reader>> Read() {
    std::unique_ptr<Connection> c;
    {
      std::unique_lock<std::mutex> l(pool_mu);
      auto available = [&] {
        return !readers.empty() || open_readers < max_readers;
      };
      if (!available()) {
        ++waiting_readers;
        if (on_reader) {
          l.unlock();
          on_reader(ReaderEvent::kWaiting);
          l.lock();
        }
        pool_cv.wait(l, available);
        --waiting_readers;
      }
      if (!readers.empty()) {
        c = std::move(readers.back());
        readers.pop_back();
      } else {
        ++open_readers;  // reserved while it is opened below
      }
    }
    if (c == nullptr) {
      absl::StatusOr<std::unique_ptr<Connection>> opened =
          Connection::Open(path, /*writer=*/false);
      if (!opened.ok()) {
        {
          std::lock_guard<std::mutex> l(pool_mu);
          --open_readers;
        }
        pool_cv.notify_one();
        return opened.status();
      }
      c = std::move(opened).value();
    }
    auto reader = std::make_unique<Reader>(this, std::move(c));
    if (on_reader) on_reader(ReaderEvent::kBorrowed);
    return reader;
  }
};

SqliteKeyStore::SqliteKeyStore(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
SqliteKeyStore::~SqliteKeyStore() = default;

ReaderPoolState SqliteKeyStore::reader_pool_state() {
  std::lock_guard<std::mutex> l(impl_->pool_mu);
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
  ASSIGN_OR_RETURN(impl->writer, Connection::Open(options.path, true));
  Connection& w = *impl->writer;
  {
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

absl::Status SqliteKeyStore::AddVersion(const KeyVersion& key,
                                        int recoverable_days) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    const std::string name_lc = Lower(key.name);
    ASSIGN_OR_RETURN(std::optional<bool> deleted,
                     NameDeleted(c, key.vault, name_lc));
    if (deleted.has_value() && *deleted) {
      return absl::FailedPreconditionError("deleted");
    }
    int64_t seq = 0;
    RETURN_IF_ERROR(InsertVersion(c, key, &seq));
    if (deleted.has_value()) {
      ASSIGN_OR_RETURN(auto s, c.Prepare("UPDATE key_names SET latest_seq=? "
                                         "WHERE vault=? AND name_lc=?"));
      s->Bind(1, seq).Bind(2, key.vault).Bind(3, name_lc);
      RETURN_IF_ERROR(s->Run());
    } else {
      ASSIGN_OR_RETURN(auto s,
                       c.Prepare("INSERT INTO key_names(vault, name_lc, name, "
                                 "recoverable_days, latest_seq) VALUES "
                                 "(?,?,?,?,?)"));
      s->Bind(1, key.vault)
          .Bind(2, name_lc)
          .Bind(3, key.name)
          .Bind(4, int64_t{recoverable_days})
          .Bind(5, seq);
      RETURN_IF_ERROR(s->Run());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<KeyVersion> SqliteKeyStore::GetVersion(
    std::string_view vault, std::string_view name, std::string_view version) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  const std::string name_lc = Lower(name);
  std::unique_ptr<Stmt> s;
  if (version.empty()) {
    ASSIGN_OR_RETURN(
        s, (*r)->Prepare(absl::StrCat(
               "SELECT ", kVersionColumns,
               " FROM key_names n JOIN key_versions v ON v.seq = n.latest_seq "
               "WHERE n.vault=? AND n.name_lc=? AND n.deleted=0")));
    s->Bind(1, vault).Bind(2, name_lc);
  } else {
    ASSIGN_OR_RETURN(
        s, (*r)->Prepare(absl::StrCat(
               "SELECT ", kVersionColumns,
               " FROM key_names n JOIN key_versions v ON v.vault = n.vault AND "
               "v.name_lc = n.name_lc WHERE n.vault=? AND n.name_lc=? AND "
               "n.deleted=0 AND v.version=?")));
    s->Bind(1, vault).Bind(2, name_lc).Bind(3, Lower(version));
  }
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return KeyNotFound(name);
  return ReadVersion(*s);
}

absl::Status SqliteKeyStore::UpdateVersion(const KeyVersion& key) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    const std::string name_lc = Lower(key.name);
    ASSIGN_OR_RETURN(std::optional<bool> deleted,
                     NameDeleted(c, key.vault, name_lc));
    if (!deleted.has_value() || *deleted) return KeyNotFound(key.name);
    ASSIGN_OR_RETURN(
        auto s, c.Prepare("UPDATE key_versions SET enabled=?, nbf=?, exp=?, "
                          "updated=?, tags=?, key_ops=?, attest=? WHERE "
                          "vault=? AND name_lc=? AND version=?"));
    s->Bind(1, int64_t{key.enabled})
        .Bind(2, key.not_before)
        .Bind(3, key.expires)
        .Bind(4, key.updated)
        .Bind(5, key.tags_json)
        .Bind(6, JoinOps(key.key_ops))
        .BindBlob(7, key.attest)
        .Bind(8, key.vault)
        .Bind(9, name_lc)
        .Bind(10, key.version);
    RETURN_IF_ERROR(RunOne(c, *s, key.name));
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<KeyVersion>> SqliteKeyStore::ListLatest(
    std::string_view vault, std::string_view after, int limit) {
  limit = std::max(1, limit);
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(
      auto s,
      (*r)->Prepare(absl::StrCat(
          "SELECT ", kVersionColumns, ", n.name_lc",
          " FROM key_names n JOIN key_versions v ON v.seq = n.latest_seq "
          "WHERE n.vault=? AND n.deleted=0 AND n.name_lc > ? "
          "ORDER BY n.name_lc LIMIT ?")));
  s->Bind(1, vault).Bind(2, Lower(after)).Bind(3, int64_t{limit} + 1);
  Page<KeyVersion> page;
  std::string last;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = last;
      break;
    }
    page.items.push_back(ReadVersion(*s));
    last = s->Text(kVersionColumnCount);
  }
  return page;
}

absl::StatusOr<Page<KeyVersion>> SqliteKeyStore::ListVersions(
    std::string_view vault, std::string_view name, std::string_view after,
    int limit) {
  limit = std::max(1, limit);
  int64_t after_seq = 0;
  if (!after.empty() && !absl::SimpleAtoi(Sv(after), &after_seq)) {
    return absl::InvalidArgumentError("store: bad page cursor");
  }
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  const std::string name_lc = Lower(name);
  ASSIGN_OR_RETURN(std::optional<bool> deleted,
                   NameDeleted(**r, vault, name_lc));
  if (!deleted.has_value() || *deleted) return KeyNotFound(name);
  ASSIGN_OR_RETURN(
      auto s, (*r)->Prepare(absl::StrCat(
                  "SELECT ", kVersionColumns,
                  " FROM key_versions v JOIN key_names n ON v.vault = n.vault "
                  "AND v.name_lc = n.name_lc WHERE v.vault=? AND v.name_lc=? "
                  "AND v.seq > ? ORDER BY v.seq LIMIT ?")));
  s->Bind(1, vault)
      .Bind(2, name_lc)
      .Bind(3, after_seq)
      .Bind(4, int64_t{limit} + 1);
  Page<KeyVersion> page;
  int64_t last = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = std::to_string(last);
      break;
    }
    page.items.push_back(ReadVersion(*s));
    last = s->Int(0);
  }
  return page;
}

absl::StatusOr<std::vector<KeyVersion>> SqliteKeyStore::AllVersions(
    std::string_view vault, std::string_view name) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(
      auto s, (*r)->Prepare(absl::StrCat(
                  "SELECT ", kVersionColumns,
                  " FROM key_versions v JOIN key_names n ON v.vault = n.vault "
                  "AND v.name_lc = n.name_lc WHERE v.vault=? AND v.name_lc=? "
                  "ORDER BY v.seq")));
  s->Bind(1, vault).Bind(2, Lower(name));
  std::vector<KeyVersion> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadVersion(*s));
  }
  if (out.empty()) return KeyNotFound(name);
  return out;
}

absl::StatusOr<KeyName> SqliteKeyStore::GetName(std::string_view vault,
                                                std::string_view name) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(auto s, (*r)->Prepare(absl::StrCat(
                               "SELECT ", kNameColumns,
                               " FROM key_names n WHERE n.vault=? AND "
                               "n.name_lc=?")));
  s->Bind(1, vault).Bind(2, Lower(name));
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return KeyNotFound(name);
  return ReadName(*s, 0);
}

absl::Status SqliteKeyStore::MarkDeleted(std::string_view vault,
                                         std::string_view name,
                                         int64_t deleted_date,
                                         int64_t scheduled_purge_date) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        auto s, c.Prepare("UPDATE key_names SET deleted=1, deleted_date=?, "
                          "scheduled_purge_date=? WHERE vault=? AND name_lc=? "
                          "AND deleted=0"));
    s->Bind(1, deleted_date)
        .Bind(2, scheduled_purge_date)
        .Bind(3, vault)
        .Bind(4, Lower(name));
    RETURN_IF_ERROR(RunOne(c, *s, name));
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<std::pair<KeyName, KeyVersion>>>
SqliteKeyStore::ListDeleted(std::string_view vault, std::string_view after,
                            int limit) {
  limit = std::max(1, limit);
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(
      auto s,
      (*r)->Prepare(absl::StrCat(
          "SELECT ", kVersionColumns, ", n.name_lc, ", kNameColumns,
          " FROM key_names n JOIN key_versions v ON v.seq = n.latest_seq "
          "WHERE n.vault=? AND n.deleted=1 AND n.name_lc > ? "
          "ORDER BY n.name_lc LIMIT ?")));
  s->Bind(1, vault).Bind(2, Lower(after)).Bind(3, int64_t{limit} + 1);
  Page<std::pair<KeyName, KeyVersion>> page;
  std::string last;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = last;
      break;
    }
    page.items.emplace_back(ReadName(*s, kVersionColumnCount + 1),
                            ReadVersion(*s));
    last = s->Text(kVersionColumnCount);
  }
  return page;
}

absl::Status SqliteKeyStore::Recover(std::string_view vault,
                                     std::string_view name) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        auto s, c.Prepare("UPDATE key_names SET deleted=0, deleted_date=0, "
                          "scheduled_purge_date=0 WHERE vault=? AND name_lc=? "
                          "AND deleted=1"));
    s->Bind(1, vault).Bind(2, Lower(name));
    RETURN_IF_ERROR(RunOne(c, *s, name));
    return absl::OkStatus();
  });
}

absl::Status SqliteKeyStore::Purge(std::string_view vault,
                                   std::string_view name) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    const std::string name_lc = Lower(name);
    ASSIGN_OR_RETURN(auto s,
                     c.Prepare("DELETE FROM key_names WHERE vault=? AND "
                               "name_lc=? AND deleted=1"));
    s->Bind(1, vault).Bind(2, name_lc);
    RETURN_IF_ERROR(RunOne(c, *s, name));
    ASSIGN_OR_RETURN(auto d, c.Prepare("DELETE FROM key_versions WHERE vault=? "
                                       "AND name_lc=?"));
    d->Bind(1, vault).Bind(2, name_lc);
    RETURN_IF_ERROR(d->Run());
    return absl::OkStatus();
  });
}

absl::Status SqliteKeyStore::Restore(const std::vector<KeyVersion>& versions,
                                     int recoverable_days) {
  if (versions.empty()) {
    return absl::InvalidArgumentError("store: nothing to restore");
  }
  const KeyVersion& first = versions.front();
  const std::string name_lc = Lower(first.name);
  for (const KeyVersion& v : versions) {
    if (v.vault != first.vault || Lower(v.name) != name_lc) {
      return absl::InvalidArgumentError(
          "store: a restore holds versions of one key only");
    }
  }
  return impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<bool> deleted,
                     NameDeleted(c, first.vault, name_lc));
    if (deleted.has_value()) {
      return absl::AlreadyExistsError(
          absl::StrCat("key ", first.name, " already exists"));
    }
    int64_t seq = 0;
    for (const KeyVersion& v : versions) {
      RETURN_IF_ERROR(InsertVersion(c, v, &seq));
    }
    ASSIGN_OR_RETURN(auto s,
                     c.Prepare("INSERT INTO key_names(vault, name_lc, name, "
                               "recoverable_days, latest_seq) VALUES "
                               "(?,?,?,?,?)"));
    s->Bind(1, first.vault)
        .Bind(2, name_lc)
        .Bind(3, first.name)
        .Bind(4, int64_t{recoverable_days})
        .Bind(5, seq);
    RETURN_IF_ERROR(s->Run());
    return absl::OkStatus();
  });
}

absl::Status SqliteKeyStore::SetRotationPolicy(std::string_view vault,
                                               std::string_view name,
                                               std::string_view policy_json,
                                               std::optional<int64_t> next) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        auto s, c.Prepare("UPDATE key_names SET rotation_policy=?, "
                          "next_rotation=? WHERE vault=? AND name_lc=? AND "
                          "deleted=0"));
    s->Bind(1, policy_json).Bind(2, next).Bind(3, vault).Bind(4, Lower(name));
    RETURN_IF_ERROR(RunOne(c, *s, name));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
SqliteKeyStore::DueNames(const char* sql, int64_t now, int limit) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(auto s, (*r)->Prepare(sql));
  s->Bind(1, now).Bind(2, int64_t{limit});
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.emplace_back(s->Text(0), s->Text(1));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
SqliteKeyStore::DueRotations(int64_t now, int limit) {
  return DueNames(
      "SELECT vault, name FROM key_names WHERE next_rotation IS NOT NULL AND "
      "deleted = 0 AND next_rotation <= ? ORDER BY next_rotation LIMIT ?",
      now, limit);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
SqliteKeyStore::DuePurges(int64_t now, int limit) {
  return DueNames(
      "SELECT vault, name FROM key_names WHERE deleted = 1 AND "
      "scheduled_purge_date <= ? ORDER BY scheduled_purge_date LIMIT ?",
      now, limit);
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
