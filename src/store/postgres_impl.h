// Internal to the PostgreSQL store: PostgresKeyStore::Impl (the pool and
// the transaction runner) and the row helpers the postgres_*.cc files
// share. Not part of the store's interface.
#ifndef KEYFERRY_STORE_POSTGRES_IMPL_H_
#define KEYFERRY_STORE_POSTGRES_IMPL_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/pg_db.h"
#include "store/postgres_listen.h"
#include "store/postgres_store.h"
#include "store/read_coalescer.h"

namespace keyferry::store {

struct PostgresKeyStore::Impl {
  std::unique_ptr<pg::Pool> pool;  // set by Open; constant afterwards
  bool created = false;            // set by Open; constant afterwards
  // Ping's own connection (opened on demand, replaced when broken): a
  // health check must not queue behind requests holding every pooled
  // connection (writers waiting on a row lock), or a busy node that reaches
  // its database would look down.
  // A reconnect gives up after 2 s (libpq's least connect_timeout), so a
  // probe of an unreachable database holds its I/O thread for about that.
  keyferry::Mutex ping_mu;
  std::unique_ptr<pg::Conn> ping_conn ABSL_GUARDED_BY(ping_mu);
  // GetVersion's concurrent reads of one version share a statement that
  // began after each of them arrived (read_coalescer.h).
  ReadCoalescer<KeyVersion> version_reads;
  bool coalesce_reads = true;  // set by Open; constant afterwards
  // Set by WatchPurges; last, so it stops before the pool goes.
  std::unique_ptr<pg::PurgeListener> listener;

  // Write runs `body` inside BEGIN … COMMIT on one pooled connection and
  // returns once COMMIT returned, or `body` failed and the transaction was
  // rolled back. A transaction that failed before COMMIT because the
  // connection was lost or with a deadlock / serialization failure is run
  // again (at most 3 runs in all), so `body` must set its outputs afresh
  // on every run. A connection lost during COMMIT is Unavailable: the
  // outcome is unknown.
  absl::Status Write(const std::function<absl::Status(pg::Conn&)>& body);

  // Read runs `body` on a pooled connection, once more on a fresh one when
  // the connection turned out to be lost.
  absl::Status Read(const std::function<absl::Status(pg::Conn&)>& body);
};

namespace pg {

// The columns ReadVersion reads, in its order (aliases v: key_versions,
// n: key_names); queries that select more put them after these.
inline constexpr const char* kVersionColumns =
    "v.seq, n.name, v.version, v.kty, v.bits, v.curve, v.key_ops, "
    "v.public_jwk, v.sealed, v.enabled, v.nbf, v.exp, v.created, v.updated, "
    "v.exportable, v.tags, v.managed, v.vault, v.attest, v.release_policy";
inline constexpr int kVersionColumnCount = 20;
KeyVersion ReadVersion(const Result& r, int row);

// kNameColumns are the columns ReadName reads, from column `base` on.
inline constexpr const char* kNameColumns =
    "n.vault, n.name, n.deleted, n.deleted_date, n.scheduled_purge_date, "
    "n.recoverable_days, n.rotation_policy, n.next_rotation";
KeyName ReadName(const Result& r, int row, int base);

// Lower returns `s` in ASCII lower case (name_lc), as the SQLite store.
std::string Lower(std::string_view s);
std::string JoinOps(const std::vector<std::string>& ops);

// InsertVersion inserts `k` and returns its seq. AlreadyExists when the
// version exists. The key_names row must exist (foreign key).
absl::StatusOr<int64_t> InsertVersion(Conn& c, const KeyVersion& k);

// LockName locks the key_names row (FOR UPDATE) and returns whether it is
// deleted; nullopt when the name is unknown.
absl::StatusOr<std::optional<bool>> LockName(Conn& c, std::string_view vault,
                                             std::string_view name_lc);

// NameDeleted is LockName without the lock.
absl::StatusOr<std::optional<bool>> NameDeleted(Conn& c, std::string_view vault,
                                                std::string_view name_lc);

// Changed appends a row to the changes table (docs/storage.md §6.1), in
// the caller's transaction.
absl::Status Changed(Conn& c, std::string_view vault, std::string_view name_lc,
                     std::string_view op);

// KeyNotFound is the NotFound answer for key `name`.
absl::Status KeyNotFound(std::string_view name);

// ExpectOne is NotFound for `name` unless `r` changed exactly one row.
absl::Status ExpectOne(const absl::StatusOr<Result>& r, std::string_view name);

}  // namespace pg
}  // namespace keyferry::store

#endif  // KEYFERRY_STORE_POSTGRES_IMPL_H_
