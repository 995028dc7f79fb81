// OneCheckAtATime: a health check that never queues. A caller that arrives
// while a check is running does not wait for it: it gets the result of the
// last check that finished (Unavailable before the first one has). So
// however many probes arrive, at most one thread at a time is held by a
// check, and for no longer than that check takes (PostgresKeyStore::Ping:
// a reconnect to an unreachable database can take its connect_timeout).
//
// Thread safety: Run may be called from any number of threads.
#ifndef KEYFERRY_STORE_ONE_CHECK_H_
#define KEYFERRY_STORE_ONE_CHECK_H_

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "base/mutex.h"

namespace keyferry::store {

class OneCheckAtATime {
 public:
  absl::Status Run(absl::FunctionRef<absl::Status()> check) {
    {
      MutexLock l(&mu_);
      if (running_) return last_;
      running_ = true;
    }
    absl::Status result = check();
    MutexLock l(&mu_);
    running_ = false;
    last_ = result;
    return result;
  }

 private:
  Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_ ABSL_GUARDED_BY(mu_) = absl::UnavailableError(
      "store: the first health check of the database has not finished yet");
};

}  // namespace keyferry::store

#endif  // KEYFERRY_STORE_ONE_CHECK_H_
