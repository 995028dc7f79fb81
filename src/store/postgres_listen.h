// Internal to the PostgreSQL store: PurgeListener, the connection on which
// a node hears of purges made by other nodes (LISTEN keyferry_purge;
// docs/storage.md §6.5). Not part of the store's interface.
#ifndef KEYFERRY_STORE_POSTGRES_LISTEN_H_
#define KEYFERRY_STORE_POSTGRES_LISTEN_H_

#include <atomic>
#include <functional>
#include <thread>

#include "store/pg_db.h"

namespace keyferry::store::pg {

// kPurgeChannel is the channel every purge notifies in its transaction
// (delivered at commit, to every listening session of the database).
inline constexpr char kPurgeChannel[] = "keyferry_purge";

// PurgeListener runs one thread with its own connection that LISTENs on
// kPurgeChannel and calls `on_purge` for each notification. News can be
// missed only while the connection is down, so `on_purge` is also called
// each time the connection is (re)established: a full flush stands in for
// a replay. A lost connection is retried every `retry` (starting at once).
// `on_purge` runs on the listener's thread; it must be thread-safe and
// quick. The destructor stops the thread and closes the connection.
class PurgeListener {
 public:
  PurgeListener(const ConnInfo* info, std::function<void()> on_purge,
                int retry_ms = 1000);
  ~PurgeListener();
  PurgeListener(const PurgeListener&) = delete;
  PurgeListener& operator=(const PurgeListener&) = delete;

  // flushes counts the calls of `on_purge` so far (for tests).
  int flushes() const { return flushes_.load(); }
  // listening tells whether the LISTEN is in force now (for tests).
  bool listening() const { return listening_.load(); }

 private:
  void Loop();
  // Listen serves one connection until it is lost or Stop; false on stop.
  bool Listen(PGconn* c);
  // Probe asks the server for a round trip and waits for the answer (at
  // most 10 s), watching the stop pipe.
  enum class ProbeResult { kAnswered, kLost, kStopping };
  ProbeResult Probe(PGconn* c);
  // Wait waits up to `ms` for the stop pipe; true when stopping.
  bool Wait(int ms);
  void Flush();

  const ConnInfo* info_;  // the store's; outlives this
  std::function<void()> on_purge_;
  const int retry_ms_;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<int> flushes_{0};
  std::atomic<bool> listening_{false};
  std::thread thread_;
};

}  // namespace keyferry::store::pg

#endif  // KEYFERRY_STORE_POSTGRES_LISTEN_H_
