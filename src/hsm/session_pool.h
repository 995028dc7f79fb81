// SessionPool: sessions opened on one token and shared by the threads of a
// custody. A borrowed session (a Lease) goes back to the pool when the lease
// ends; at most `max_sessions` are open at once, and a borrower waits for
// one to come back when all are out. The token may be reset under the pool
// (every session and session object gone): a borrower that asks for a
// liveness check finds out before use, and Run retries an operation once on
// a fresh session when the token answers with a stale handle.
//
// Thread safety: every method may be called from any thread. The pool must
// outlive its leases.
//
// The pool is a template over the session type so that its rules are unit
// tested with a fake session (session_pool_test.cc); keyferry uses
// SessionPool = BasicSessionPool<Session>. S needs `bool IsAlive()`.
#ifndef KEYFERRY_HSM_SESSION_POOL_H_
#define KEYFERRY_HSM_SESSION_POOL_H_

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "hsm/errors.h"
#include "hsm/session.h"

namespace keyferry::hsm {

template <typename S>
class BasicSessionPool {
 public:
  // Opener opens one new session (logged in); its error is what Borrow
  // returns.
  using Opener = std::function<absl::StatusOr<std::unique_ptr<S>>()>;
  // OnLost is called, without any pool lock held, when the token was found
  // to have lost its sessions (a dead idle session, a stale handle in Run).
  // It typically drops caches of session objects and calls DropIdle.
  using OnLost = std::function<void()>;

  // `max_sessions` is raised to at least 1.
  BasicSessionPool(Opener open, size_t max_sessions, OnLost on_lost)
      : opener_(std::move(open)),
        on_lost_(std::move(on_lost)),
        max_(std::max<size_t>(max_sessions, 1)) {}
  // Closes the idle sessions; every lease must have ended.
  ~BasicSessionPool() = default;
  BasicSessionPool(const BasicSessionPool&) = delete;
  BasicSessionPool& operator=(const BasicSessionPool&) = delete;

  // Lease is a borrowed session: returned to the pool when the lease ends,
  // or closed by Discard.
  class Lease {
   public:
    Lease(Lease&& o) noexcept : pool_(o.pool_), s_(std::move(o.s_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (s_) pool_->Return(std::move(s_));
    }
    S& operator*() const { return *s_; }
    S* operator->() const { return s_.get(); }
    // Discard closes the session instead of returning it (it is dead).
    void Discard() {
      if (!s_) return;
      s_.reset();
      pool_->Closed();
    }

   private:
    friend class BasicSessionPool;
    Lease(BasicSessionPool* pool, std::unique_ptr<S> s)
        : pool_(pool), s_(std::move(s)) {}
    BasicSessionPool* pool_;
    std::unique_ptr<S> s_;
  };

  // Borrow lends an idle session, or opens one when fewer than
  // max_sessions are open, or waits for one to come back. With `check`, an
  // idle session is first asked whether it is still alive; a dead one means
  // the token was reset: it is closed, OnLost runs, and a fresh session is
  // lent (for callers that do not retry). Fails only with the opener's
  // error.
  absl::StatusOr<Lease> Borrow(bool check = false) ABSL_LOCKS_EXCLUDED(mu_) {
    std::unique_ptr<S> s;
    {
      keyferry::MutexLock lock(&mu_);
      mu_.Await(keyferry::Condition(this, &BasicSessionPool::CanLend));
      if (!idle_.empty()) {
        s = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
      }
    }
    if (s) {
      if (!check || s->IsAlive()) return Lease(this, std::move(s));
      s.reset();
      Closed();
      on_lost_();
      return Borrow(false);
    }
    absl::StatusOr<std::unique_ptr<S>> opened = opener_();
    if (!opened.ok()) {
      Closed();
      return opened.status();
    }
    return Lease(this, std::move(*opened));
  }

  // Run runs `op` on a borrowed session. When it fails with a stale handle
  // (IsStaleHandle) the session is closed, OnLost runs, and `op` runs once
  // more on a fresh session; that second answer is final.
  template <typename T>
  absl::StatusOr<T> Run(const std::function<absl::StatusOr<T>(S&)>& op)
      ABSL_LOCKS_EXCLUDED(mu_) {
    for (int attempt = 0;; ++attempt) {
      absl::StatusOr<Lease> lease = Borrow();
      if (!lease.ok()) return lease.status();
      absl::StatusOr<T> r = op(**lease);
      if (r.ok() || attempt > 0 || !IsStaleHandle(r.status())) return r;
      lease->Discard();
      on_lost_();
    }
  }

  // DropIdle closes every idle session (the token lost them); sessions out
  // on lease come back as they are and fail with a stale handle when used.
  void DropIdle() ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::unique_ptr<S>> dropped;
    keyferry::MutexLock lock(&mu_);
    open_ -= idle_.size();
    dropped.swap(idle_);
  }

  // open_sessions counts sessions open, idle or on lease.
  size_t open_sessions() const ABSL_LOCKS_EXCLUDED(mu_) {
    keyferry::MutexLock lock(&mu_);
    return open_;
  }
  // idle_sessions counts sessions waiting in the pool.
  size_t idle_sessions() const ABSL_LOCKS_EXCLUDED(mu_) {
    keyferry::MutexLock lock(&mu_);
    return idle_.size();
  }

 private:
  bool CanLend() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || open_ < max_;
  }
  void Return(std::unique_ptr<S> s) ABSL_LOCKS_EXCLUDED(mu_) {
    keyferry::MutexLock lock(&mu_);
    idle_.push_back(std::move(s));
  }
  void Closed() ABSL_LOCKS_EXCLUDED(mu_) {
    keyferry::MutexLock lock(&mu_);
    --open_;
  }

  const Opener opener_;
  const OnLost on_lost_;
  const size_t max_;
  mutable keyferry::Mutex mu_;
  std::vector<std::unique_ptr<S>> idle_ ABSL_GUARDED_BY(mu_);
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;  // idle and on lease
};

using SessionPool = BasicSessionPool<Session>;

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_SESSION_POOL_H_
