#include "base/mutex.h"

#include <atomic>
#include <thread>

#include "base/testing.h"

namespace keyferry {
namespace {

class Counter {
 public:
  void Add() {
    MutexLock l(&mu_);
    ++n_;
    cv_.SignalAll();
  }
  // WaitFor waits until the count reaches `want`; false on timeout.
  bool WaitFor(int want, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    MutexLock l(&mu_);
    while (n_ < want) {
      if (cv_.WaitWithDeadline(&mu_, deadline) && n_ < want) return false;
    }
    return true;
  }
  int Read() {
    MutexLock l(&mu_);
    return n_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int n_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(MutexTest, ThreadsCountUnderTheLockAndWakeTheWaiter) {
  Counter c;
  std::thread a([&] {
    for (int i = 0; i < 1000; ++i) c.Add();
  });
  std::thread b([&] {
    for (int i = 0; i < 1000; ++i) c.Add();
  });
  EXPECT_TRUE(c.WaitFor(2000, absl::Minutes(5)));
  a.join();
  b.join();
  EXPECT_EQ(c.Read(), 2000);
}

TEST(MutexTest, WaitWithTimeoutReportsTheTimeout) {
  Counter c;
  EXPECT_FALSE(c.WaitFor(1, absl::Milliseconds(1)));
}

TEST(MutexTest, AwaitReturnsWhenTheConditionHolds) {
  Mutex mu;
  bool ready = false;  // guarded by mu
  std::thread t([&] {
    MutexLock l(&mu);
    ready = true;
  });
  {
    MutexLock l(&mu);
    mu.Await(Condition(&ready));
    EXPECT_TRUE(ready);
  }
  t.join();
  MutexLock l(&mu);
  EXPECT_TRUE(mu.AwaitWithTimeout(Condition(&ready), absl::Milliseconds(1)));
  bool never = false;
  EXPECT_FALSE(mu.AwaitWithTimeout(Condition(&never), absl::Milliseconds(1)));
}

// Two readers hold a SharedMutex at once: the second reader gets in while
// the first still holds it (it waits for the second before letting go); a
// writer's updates are all seen by readers after it.
TEST(SharedMutexTest, ReadersShareAndWritersExclude) {
  SharedMutex mu;
  std::atomic<int> inside{0};
  int value = 0;  // guarded by mu
  auto reader = [&] {
    ReaderMutexLock l(&mu);
    inside.fetch_add(1);
    while (inside.load() < 2) std::this_thread::yield();
    EXPECT_GE(value, 0);
  };
  std::thread r1(reader);
  std::thread r2(reader);
  r1.join();
  r2.join();
  EXPECT_EQ(inside.load(), 2);
  std::thread w([&] {
    for (int i = 0; i < 1000; ++i) {
      MutexLock l(&mu);
      ++value;
    }
  });
  for (int i = 0; i < 1000; ++i) {
    MutexLock l(&mu);
    ++value;
  }
  w.join();
  ReaderMutexLock l(&mu);
  EXPECT_EQ(value, 2000);
}

}  // namespace
}  // namespace keyferry
