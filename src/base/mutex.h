// Mutex, MutexLock, ReaderMutexLock and CondVar: the locks of keyferry,
// with the capability annotations of absl/base/thread_annotations.h, so a
// clang build with -Wthread-safety checks every ABSL_GUARDED_BY member.
//
// Why not absl::Mutex: Debian's Abseil is a prebuilt library, not compiled
// with ThreadSanitizer, so TSan would not see its locking and would report
// every access it guards as a race. These wrap the standard library's
// pthread-based locks, which TSan intercepts. The interface is the subset of
// absl::Mutex that keyferry uses, with the same names.
#ifndef KEYFERRY_BASE_MUTEX_H_
#define KEYFERRY_BASE_MUTEX_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <shared_mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace keyferry {

// Condition is a predicate over state guarded by the Mutex it is awaited
// on: a bool flag, or a member function of an object.
class Condition {
 public:
  explicit Condition(const bool* flag) : eval_([flag] { return *flag; }) {}
  template <typename T>
  Condition(T* object, bool (T::*method)())
      : eval_([object, method] { return (object->*method)(); }) {}
  template <typename T>
  Condition(const T* object, bool (T::*method)() const)
      : eval_([object, method] { return (object->*method)(); }) {}
  bool Eval() const { return eval_(); }

 private:
  std::function<bool()> eval_;
};

// Mutex is a reader-writer lock (std::shared_mutex). Not recursive.
// Await waits, with the lock held exclusively, until a Condition holds: an
// exclusive unlock wakes awaiters (only when there are any).
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    // Read under the lock: an awaiter counts itself before it waits.
    const bool wake = awaiting_.load(std::memory_order_relaxed) > 0;
    mu_.unlock();
    if (wake) changed_.notify_all();
  }
  // TryLock takes the lock exclusively when it is free, without waiting.
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return mu_.try_lock();
  }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock_shared(); }
  // AssertHeld tells the analysis the caller holds the lock (no check at
  // run time).
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

  // Await returns once `cond` holds; the lock is released while waiting.
  void Await(const Condition& cond) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    while (!cond.Eval()) WaitForChange(std::chrono::nanoseconds::max());
  }
  // AwaitWithTimeout returns whether `cond` holds, waiting at most
  // `timeout` for it.
  bool AwaitWithTimeout(const Condition& cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    while (!cond.Eval()) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds::zero()) return false;
      WaitForChange(left);
    }
    return true;
  }

  // BasicLockable, for std::condition_variable_any (CondVar).
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { Lock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { Unlock(); }

 private:
  // The BasicLockable the awaiters' condition variable releases: the raw
  // lock, so that releasing it to wait does not wake other awaiters.
  struct Raw {
    std::shared_mutex* mu;
    void lock() { mu->lock(); }
    void unlock() { mu->unlock(); }
  };
  template <typename D>
  void WaitForChange(D left) {
    awaiting_.fetch_add(1, std::memory_order_relaxed);
    Raw raw{&mu_};
    if (left == D::max()) {
      changed_.wait(raw);
    } else {
      changed_.wait_for(raw, left);
    }
    awaiting_.fetch_sub(1, std::memory_order_relaxed);
  }

  std::shared_mutex mu_;
  std::atomic<int> awaiting_{0};
  std::condition_variable_any changed_;
};

// MutexLock holds `mu` exclusively for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// ReaderMutexLock holds `mu` shared for its scope.
class ABSL_SCOPED_LOCKABLE ReaderMutexLock {
 public:
  explicit ReaderMutexLock(Mutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ~ReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// CondVar waits on a Mutex held exclusively by the caller; the lock is
// released while waiting and held again on return. Spurious wake-ups
// happen: wait in a loop over the condition.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { cv_.wait(*mu); }
  // WaitWithTimeout returns true when `timeout` passed (the absl meaning).
  bool WaitWithTimeout(Mutex* mu, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return cv_.wait_for(*mu, absl::ToChronoNanoseconds(timeout)) ==
           std::cv_status::timeout;
  }
  // WaitWithDeadline returns true when `deadline` passed.
  bool WaitWithDeadline(Mutex* mu, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return WaitWithTimeout(mu, deadline - absl::Now());
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable_any cv_;
};

}  // namespace keyferry

#endif  // KEYFERRY_BASE_MUTEX_H_
