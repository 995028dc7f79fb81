// Internal to the PostgreSQL store (postgres_*.cc): owner types for libpq's
// handles (PGconn, PGresult), statement parameters, result reading, the
// SQLSTATE -> Status mapping with the password scrubbed from every message,
// and the connection pool (docs/storage.md §6.4). Not part of the store's
// interface; include key_store.h / postgres_store.h.
//
// Thread safety: a Conn and its Results are used by one thread at a time
// (while borrowed from the Pool); the Pool itself is thread-safe.
#ifndef KEYFERRY_STORE_PG_DB_H_
#define KEYFERRY_STORE_PG_DB_H_

#include <libpq-fe.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"

namespace keyferry::store::pg {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;

struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

// ConnInfo is a parsed, validated conninfo: the string libpq connects with,
// the password it holds (to scrub from messages; empty when none) and a
// description of the target that is safe to print (host, port, dbname).
struct ConnInfo {
  std::string conninfo;
  std::string password;
  std::string target;

  // Parse checks `conninfo` (a libpq key=value string or postgresql:// URI)
  // with PQconninfoParse. InvalidArgument when libpq refuses it; the message
  // never quotes the string (libpq's own does, and it may hold the
  // password).
  static absl::StatusOr<ConnInfo> Parse(std::string_view conninfo);

  // Scrub returns `msg` with the password (and the conninfo itself)
  // replaced by "***".
  std::string Scrub(std::string_view msg) const;
};

// Param is one statement parameter: text (sent in text format), bytes
// (bytea, sent in binary format) or NULL. It borrows string data: the
// referenced string must outlive the Exec call.
class Param {
 public:
  Param(std::string_view s) : view_(s) {}    // NOLINT: implicit by design
  Param(const std::string& s) : view_(s) {}  // NOLINT
  Param(const char* s) : view_(s) {}         // NOLINT
  Param(int64_t v) : owned_(std::to_string(v)), own_(true) {}  // NOLINT
  Param(int v) : Param(int64_t{v}) {}                          // NOLINT
  Param(bool v) : view_(v ? "t" : "f") {}                      // NOLINT
  Param(std::optional<int64_t> v)                              // NOLINT
      : owned_(v ? std::to_string(*v) : ""), own_(true), null_(!v) {}
  // Bytes is a bytea parameter.
  static Param Bytes(const std::vector<uint8_t>& b) {
    // An empty vector's data() may be null, which libpq reads as NULL.
    Param p{b.empty() ? std::string_view("")
                      : std::string_view(
                            reinterpret_cast<const char*>(b.data()), b.size())};
    p.binary_ = true;
    return p;
  }

  const char* data() const {
    if (null_) return nullptr;
    return own_ ? owned_.data() : view_.data();
  }
  int size() const {
    return static_cast<int>(own_ ? owned_.size() : view_.size());
  }
  bool binary() const { return binary_; }

 private:
  std::string_view view_;
  std::string owned_;
  bool own_ = false;
  bool null_ = false;
  bool binary_ = false;
};

// Result is one statement's result rows (text format).
class Result {
 public:
  explicit Result(ResultPtr r) : r_(std::move(r)) {}
  int rows() const { return PQntuples(r_.get()); }
  // affected is the number of rows an INSERT/UPDATE/DELETE changed.
  int64_t affected() const;
  bool IsNull(int row, int col) const {
    return PQgetisnull(r_.get(), row, col) != 0;
  }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       PQgetlength(r_.get(), row, col));
  }
  int64_t Int(int row, int col) const;
  std::optional<int64_t> OptInt(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Int(row, col);
  }
  bool Bool(int row, int col) const {
    return *PQgetvalue(r_.get(), row, col) == 't';
  }
  // Bytes decodes a bytea column ("\x" hex text format).
  std::vector<uint8_t> Bytes(int row, int col) const;

 private:
  ResultPtr r_;
};

// Conn owns one libpq connection.
class Conn {
 public:
  // Open connects (connect_timeout 10 s unless the conninfo sets one;
  // `connect_timeout_seconds` > 0 overrides both) and turns
  // synchronous_commit on when the server's default is off. Unavailable
  // naming info.target, the message scrubbed.
  static absl::StatusOr<std::unique_ptr<Conn>> Open(
      const ConnInfo& info, int connect_timeout_seconds = 0);

  // Exec runs `sql` with `params` ($1, $2, … ; never spliced into the SQL)
  // and returns its rows. On failure the Status names `what` and carries
  // the server's message and SQLSTATE (see sqlstate()): AlreadyExists for a
  // unique violation (23505), Unavailable for a lost connection or a
  // server going away (08*, 53*, 57P0*), Aborted for a deadlock or a
  // serialization failure (40P01, 40001), Internal otherwise.
  //
  // `sql` is one statement, and it runs as a named prepared statement of
  // this connection: the first Exec of a given SQL text prepares it
  // (PQprepare, one extra round trip; parameter types inferred by the
  // server as for an unprepared statement), later ones only execute it
  // (PQexecPrepared: no parsing or planning on the server). A statement
  // that fails to prepare is not remembered. The names live as long as the
  // server session: Reset forgets them, and should the server have lost
  // them (SQLSTATE 26000, e.g. DISCARD ALL, or a transaction-mode pooler
  // in between) Exec forgets them all and, outside a transaction, prepares
  // and runs the statement once more. After kMaxPrepared distinct texts,
  // further new texts run unprepared (PQexecParams), so SQL built per call
  // cannot grow the server's memory without bound.
  absl::StatusOr<Result> Exec(std::string_view what, const char* sql,
                              std::initializer_list<Param> params = {});
  // Run is Exec without the rows.
  absl::Status Run(std::string_view what, const char* sql,
                   std::initializer_list<Param> params = {});

  // Statement is one statement of a Batch: its SQL and parameters (both
  // borrowed for the call).
  struct Statement {
    const char* sql;
    std::initializer_list<Param> params;
  };
  // Batch runs `statements` in order, as Exec would one after the other,
  // but in one round trip (libpq pipeline mode: every statement sent, then
  // one Sync): each still runs as its own statement (its own snapshot under
  // READ COMMITTED, its own prepared statement). Returns one Result per
  // statement, or the Status of the first that failed (errors as for
  // Exec); the ones after a failure did not run. Inside a transaction a
  // failure aborts it, as with Exec; outside one the batch is one implicit
  // transaction (the protocol's, up to the Sync): all or nothing.
  // Statements not prepared yet are prepared first (one round trip each,
  // once per connection).
  absl::StatusOr<std::vector<Result>> Batch(
      std::string_view what, std::initializer_list<Statement> statements);

  // Script runs `sql`, any number of statements without parameters (the
  // schema, BEGIN, COMMIT) with the simple query protocol; never prepared.
  // Errors as for Exec.
  absl::Status Script(std::string_view what, const char* sql);

  // kMaxPrepared bounds the prepared statements one connection keeps.
  static constexpr size_t kMaxPrepared = 256;
  // prepared is the number of statements this connection has prepared
  // (and the server holds, as far as this side knows).
  size_t prepared() const { return prepared_.size(); }

  // sqlstate is the SQLSTATE of the last failed Exec ("" if none, or the
  // connection was lost before the server answered).
  const std::string& sqlstate() const { return sqlstate_; }
  // ok tells whether the connection is usable (PQstatus CONNECTION_OK).
  bool ok() const { return PQstatus(c_.get()) == CONNECTION_OK; }
  // idle tells whether no transaction is open on it.
  bool idle() const { return PQtransactionStatus(c_.get()) == PQTRANS_IDLE; }
  // Reset reconnects a broken connection (PQreset) and forgets its
  // prepared statements (a new server session has none); true when it is
  // usable.
  bool Reset();
  // backend_pid is the server process serving this connection.
  int backend_pid() const { return PQbackendPID(c_.get()); }
  // Option is the value libpq connected with for conninfo `keyword` (empty
  // when unset).
  std::string Option(std::string_view keyword) const;

 private:
  Conn(ConnPtr c, const ConnInfo* info) : c_(std::move(c)), info_(info) {}
  absl::Status Error(std::string_view what, const PGresult* r);
  // Prepared returns the name `sql` is prepared under on this
  // connection, preparing it first when needed; "" (and OK) when the cache
  // is full and `sql` is to run unprepared.
  absl::StatusOr<std::string> Prepared(std::string_view what, const char* sql);
  // SendPrepared queues statement `name` with `params` (pipeline mode).
  bool SendPrepared(const std::string& name,
                    std::initializer_list<Param> params);
  // Run1 is one attempt of Exec; `*lost` tells whether the server did not
  // know the prepared statement (26000).
  absl::StatusOr<Result> Run1(std::string_view what, const char* sql,
                              std::initializer_list<Param> params, bool* lost);

  ConnPtr c_;
  const ConnInfo* info_;  // owned by the Pool, outlives this
  std::string sqlstate_;
  // SQL text -> statement name ("kf1", "kf2", …) on the current session.
  absl::flat_hash_map<std::string, std::string> prepared_;
  int64_t next_statement_ = 0;  // never reused, even after a Reset
};

// Pool keeps at most `size` connections to one database, opened on demand
// and kept for reuse.
class Pool {
 public:
  Pool(ConnInfo info, int size);

  // Lease is a connection borrowed for one call; it goes back to the pool
  // when destroyed, or is closed then when it is broken or was left inside
  // a transaction.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Conn> c)
        : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Conn& operator*() { return *c_; }
    Conn* operator->() { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> c_;
  };

  // Borrow returns an idle connection (reset first when it is broken), a new
  // one while fewer than `size` exist, or else waits for one to come back.
  // Unavailable when a connection cannot be opened.
  absl::StatusOr<Lease> Borrow() ABSL_LOCKS_EXCLUDED(mu_);

  const ConnInfo& info() const { return info_; }
  // open is the number of connections that exist (idle or borrowed).
  int open() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Return(std::unique_ptr<Conn> c) ABSL_LOCKS_EXCLUDED(mu_);

  const ConnInfo info_;
  const int size_;
  keyferry::Mutex mu_;
  keyferry::CondVar cv_;
  std::vector<std::unique_ptr<Conn>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + borrowed + opening
};

}  // namespace keyferry::store::pg

#endif  // KEYFERRY_STORE_PG_DB_H_
