// ReadCoalescer: concurrent reads of the same row share one database query,
// without ever answering a caller from a query that began before the caller
// asked (docs/storage.md §6.5).
//
// A read of key K goes through Run(K, fetch). When an earlier caller's read
// of K has been admitted but has not yet begun its query (it is still
// waiting for a pooled connection), the new caller joins it and receives its
// result; otherwise the new caller becomes the leader of a new read and runs
// `fetch` itself. `fetch` calls `begin()` once it holds its connection, right
// before it sends the statement: from then on no caller joins that read,
// so every caller's answer comes from a statement that started after the
// caller arrived. Under READ COMMITTED a statement sees every transaction
// committed before it started, so a change acknowledged before a request
// arrived is in force for that request, exactly as without coalescing. A
// read that fails before its statement began (no connection could be had)
// does not answer the callers that joined it: they read afresh, once.
//
// Nothing is cached: a read's result is handed to the callers that joined it
// and then dropped.
//
// Thread safety: Run may be called from any number of threads.
#ifndef KEYFERRY_STORE_READ_COALESCER_H_
#define KEYFERRY_STORE_READ_COALESCER_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"

namespace keyferry::store {

template <typename T>
class ReadCoalescer {
 public:
  // Fetch runs the query; it must call `begin` right before sending it (at
  // most once; a retry after a lost connection may run a second statement
  // later still, which is just as fresh).
  using Fetch = absl::FunctionRef<absl::StatusOr<T>(absl::FunctionRef<void()>)>;

  absl::StatusOr<T> Run(const std::string& key, Fetch fetch) {
    for (int attempt = 1;; ++attempt) {
      std::shared_ptr<Flight> flight;
      bool lead = false;
      {
        MutexLock l(&mu_);
        auto it = open_.find(key);
        if (it == open_.end()) {
          flight = std::make_shared<Flight>();
          open_.emplace(key, flight);
          lead = true;
        } else {
          flight = it->second;  // keeps `done` alive while waiting
          ++flight->followers;
          while (!flight->finished) flight->done.Wait(&mu_);
        }
      }
      if (lead) return Lead(key, *flight, fetch);
      // Joined and finished: `began` and `outcome` no longer change, and
      // the row is copied outside the lock.
      if (flight->began || attempt >= 2) return *flight->outcome;
      // The read joined failed before its statement began (no connection
      // could be had). That failure came from before this caller's request
      // could be served: read once more, and answer a second such failure.
    }
  }

  // Followers is the number of callers waiting on the read of `key` that has
  // not begun yet (0 when there is none). For tests.
  int Followers(const std::string& key) {
    MutexLock l(&mu_);
    auto it = open_.find(key);
    return it == open_.end() ? 0 : it->second->followers;
  }

 private:
  // One read and the callers that joined it. followers, closed and finished
  // are guarded by the coalescer's mu_; began and outcome are set under it
  // together with finished, and are constant from then on.
  struct Flight {
    int followers = 0;
    bool closed = false;    // no longer joinable
    bool finished = false;  // began and outcome are set
    bool began = false;     // the leader's statement was sent
    std::shared_ptr<const absl::StatusOr<T>> outcome;
    CondVar done;
  };

  // Lead runs `fetch` for `flight` and hands its result to the callers that
  // joined before its statement began.
  absl::StatusOr<T> Lead(const std::string& key, Flight& flight, Fetch fetch) {
    bool began = false;
    absl::StatusOr<T> result = fetch([&] {
      MutexLock l(&mu_);
      began = true;
      Close(key, flight);
    });
    int followers = 0;
    {
      MutexLock l(&mu_);
      Close(key, flight);            // when `fetch` failed before it began
      followers = flight.followers;  // final: nobody joins a closed read
    }
    if (followers == 0) return result;
    auto outcome = std::make_shared<const absl::StatusOr<T>>(result);
    MutexLock l(&mu_);
    flight.began = began;
    flight.outcome = std::move(outcome);
    flight.finished = true;
    flight.done.SignalAll();
    return result;
  }

  // Close makes `flight` (the open read of `key`) unjoinable.
  void Close(const std::string& key, Flight& flight)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (flight.closed) return;
    flight.closed = true;
    auto it = open_.find(key);
    if (it != open_.end() && it->second.get() == &flight) open_.erase(it);
  }

  Mutex mu_;
  // Reads admitted that have not begun their statement yet.
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> open_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace keyferry::store

#endif  // KEYFERRY_STORE_READ_COALESCER_H_
