// Internal to the SQLite store: SqliteKeyStore::Impl, the writer connection
// with its group commit and the reader pool (docs/storage.md §1). Shared by
// the sqlite_*.cc files that implement SqliteKeyStore's calls.
//
// Thread-safe: the writer connection is used under write_mu only, the pool
// under pool_mu, the commit queue under queue_mu.
#ifndef KEYFERRY_STORE_SQLITE_IMPL_H_
#define KEYFERRY_STORE_SQLITE_IMPL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "store/sqlite_db.h"
#include "store/sqlite_store.h"

namespace keyferry::store {

struct SqliteKeyStore::Impl {
  using Connection = sqlite::Connection;

  std::string path;      // set by Open; constant afterwards
  bool created = false;  // set by Open; constant afterwards
  int max_readers = 4;   // set by Open; constant afterwards
  std::function<void(ReaderEvent)> on_reader;  // test hook, may be empty

  keyferry::Mutex write_mu;
  std::unique_ptr<Connection> writer ABSL_GUARDED_BY(write_mu);

  // The reader pool: at most max_readers connections exist; idle ones wait
  // in `readers`, a read borrows one (or opens one while fewer than
  // max_readers exist) and returns it when done; beyond that, reads wait on
  // pool_cv for a returned connection.
  keyferry::Mutex pool_mu;
  keyferry::CondVar pool_cv;
  std::vector<std::unique_ptr<Connection>> readers
      ABSL_GUARDED_BY(pool_mu);                   // idle
  int open_readers ABSL_GUARDED_BY(pool_mu) = 0;  // idle + borrowed + opening
  int waiting_readers ABSL_GUARDED_BY(pool_mu) = 0;

  // Reader is a connection borrowed from the pool for one read call; it
  // goes back to the pool when destroyed.
  class Reader {
   public:
    Reader(Impl* impl, std::unique_ptr<Connection> c)
        : impl_(impl), c_(std::move(c)) {}
    ~Reader();
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
  // Group commit (docs/storage.md §1): writers queue their bodies; whoever
  // finds no commit under way becomes the leader, takes every queued body,
  // runs each inside its own SAVEPOINT of one transaction (a failing body
  // is rolled back to its savepoint and gets its own error; the others are
  // unaffected), commits once, and hands each writer its result. Writers
  // that arrive meanwhile form the next batch. So under load one fsync
  // covers many writes, and no writer returns before its write is durable.
  absl::Status Write(const std::function<absl::Status(Connection&)>& body)
      ABSL_LOCKS_EXCLUDED(queue_mu, write_mu);

  struct PendingWrite {
    const std::function<absl::Status(Connection&)>* body;
    absl::Status result;
    bool done = false;  // guarded by queue_mu
  };

  // RunBatch runs `batch` in one transaction and sets each result.
  void RunBatch(const std::vector<PendingWrite*>& batch)
      ABSL_LOCKS_EXCLUDED(write_mu);

  keyferry::Mutex queue_mu;
  keyferry::CondVar queue_cv;
  std::vector<PendingWrite*> queue ABSL_GUARDED_BY(queue_mu);
  bool committing ABSL_GUARDED_BY(queue_mu) = false;

  // Read borrows a reader connection: an idle one, a new one while fewer
  // than max_readers exist, or else the next one returned.
  absl::StatusOr<std::unique_ptr<Reader>> Read() ABSL_LOCKS_EXCLUDED(pool_mu);

  bool ReaderAvailable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool_mu) {
    return !readers.empty() || open_readers < max_readers;
  }
};

}  // namespace keyferry::store

#endif  // KEYFERRY_STORE_SQLITE_IMPL_H_
