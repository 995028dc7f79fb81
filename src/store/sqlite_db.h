// Internal to the SQLite store (sqlite_*.cc): the connection, statement and
// transaction wrappers, and the row helpers every SqliteKeyStore call shares.
// Not part of the store's interface; include key_store.h / sqlite_store.h.
//
// Not thread-safe: a Connection and its statements are used by one thread at
// a time (the writer under SqliteKeyStore::Impl's lock, a reader while it is
// borrowed from the pool).
#ifndef KEYFERRY_STORE_SQLITE_DB_H_
#define KEYFERRY_STORE_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/status.h"
#include "store/key_store.h"

namespace keyferry::store::sqlite {

// The columns ReadVersion reads, in its order; queries that select more put
// them after these (kVersionColumnCount onwards).
inline constexpr const char* kVersionColumns =
    "v.seq, n.name, v.version, v.kty, v.bits, v.curve, v.key_ops, "
    "v.public_jwk, v.sealed, v.enabled, v.nbf, v.exp, v.created, v.updated, "
    "v.exportable, v.tags, v.managed, v.vault, v.attest, v.release_policy";
inline constexpr int kVersionColumnCount = 20;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Lower returns `s` in ASCII lower case (the stored name_lc).
std::string Lower(std::string_view s);

// DbError maps the last error of `db` to a Status: Unavailable for a full
// disk, an I/O error or a busy database; AlreadyExists for a constraint;
// Internal otherwise. The message names `what` and SQLite's message.
absl::Status DbError(sqlite3* db, std::string_view what);

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
  // Open opens `path` (created only when `writer`) with foreign keys on,
  // synchronous=FULL and, for the writer, the WAL journal. Unavailable when
  // the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, bool writer);

  // Exec runs `sql` (any number of statements). Internal on failure.
  absl::Status Exec(const char* sql);

  // Prepare returns `sql` prepared, from the cache when it was prepared
  // before on this connection.
  absl::StatusOr<std::unique_ptr<Stmt>> Prepare(const std::string& sql);

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
// ReadVersion reads the kVersionColumns of the current row.
KeyVersion ReadVersion(const Stmt& s);

// kNameColumns are the columns ReadName reads, from column `base` on.
inline constexpr const char* kNameColumns =
    "n.vault, n.name, n.deleted, n.deleted_date, n.scheduled_purge_date, "
    "n.recoverable_days, n.rotation_policy, n.next_rotation";
KeyName ReadName(const Stmt& s, int base);

// JoinOps encodes key_ops for the key_ops column.
std::string JoinOps(const std::vector<std::string>& ops);

// InsertVersion inserts `k` into key_versions and sets `*seq_out` to its
// seq. AlreadyExists when the version exists.
absl::Status InsertVersion(Connection& c, const KeyVersion& k,
                           int64_t* seq_out);

// InsertName creates the key_names row of `k.name` in `k.vault`, active,
// with `recoverable_days` and `latest_seq`. AlreadyExists when the name
// exists. The one place a key_names row is made.
absl::Status InsertName(Connection& c, const KeyVersion& k,
                        int recoverable_days, int64_t latest_seq);

// NameDeleted returns nullopt when the name is unknown, else whether it is
// deleted.
absl::StatusOr<std::optional<bool>> NameDeleted(Connection& c,
                                                std::string_view vault,
                                                std::string_view name_lc);

// KeyNotFound is the NotFound answer for key `name`.
absl::Status KeyNotFound(std::string_view name);

// RunOne runs a statement that must change exactly one row of key `name`;
// NotFound otherwise.
absl::Status RunOne(Connection& c, Stmt& s, std::string_view name);

}  // namespace keyferry::store::sqlite

#endif  // KEYFERRY_STORE_SQLITE_DB_H_
