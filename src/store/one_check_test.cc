#include "store/one_check.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "gtest/gtest.h"

namespace keyferry::store {
namespace {

// Gate is a one-shot signal on keyferry::Mutex (seen by ThreadSanitizer).
class Gate {
 public:
  void Notify() {
    MutexLock l(&mu_);
    open_ = true;
  }
  void Wait() {
    MutexLock l(&mu_);
    mu_.Await(Condition(&open_));
  }

 private:
  Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
};

// HangingCheck runs `c.Run` on a thread with a check that blocks until
// Finish, and is constructed once that check has started.
struct HangingCheck {
  Gate started, release;
  absl::Status result;
  std::thread thread;
  HangingCheck(OneCheckAtATime& c, absl::Status answer) {
    thread = std::thread([this, &c, answer] {
      result = c.Run([&] {
        started.Notify();
        release.Wait();
        return answer;
      });
    });
    started.Wait();
  }
  void Finish() {
    release.Notify();
    thread.join();
  }
};

TEST(OneCheckAtATimeTest,
     BeforeAnyCheckFinishedAConcurrentCallerIsUnavailable) {
  OneCheckAtATime c;
  HangingCheck first(c, absl::OkStatus());
  std::atomic<int> ran{0};
  std::future<absl::Status> second = std::async(std::launch::async, [&] {
    return c.Run([&] {
      ++ran;
      return absl::OkStatus();
    });
  });
  // It answers while the first check still hangs (60 s: a guard against a
  // hang, not a timing check).
  EXPECT_EQ(second.wait_for(std::chrono::seconds(60)),
            std::future_status::ready)
      << "the caller waited for the running check";
  first.Finish();
  EXPECT_EQ(second.get().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ran.load(), 0);
  EXPECT_TRUE(first.result.ok());
}

TEST(OneCheckAtATimeTest, AConcurrentCallerGetsTheLastFinishedResult) {
  OneCheckAtATime c;
  EXPECT_EQ(
      c.Run([] { return absl::UnavailableError("database down"); }).message(),
      "database down");
  HangingCheck running(c, absl::OkStatus());
  std::atomic<int> ran{0};
  std::future<absl::Status> meanwhile = std::async(std::launch::async, [&] {
    return c.Run([&] {
      ++ran;
      return absl::OkStatus();
    });
  });
  EXPECT_EQ(meanwhile.wait_for(std::chrono::seconds(60)),
            std::future_status::ready)
      << "the caller waited for the running check";
  running.Finish();
  EXPECT_EQ(meanwhile.get().message(), "database down");
  EXPECT_EQ(ran.load(), 0);
  EXPECT_TRUE(running.result.ok());
  // The next caller runs a check of its own again.
  absl::Status next = c.Run([&] {
    ++ran;
    return absl::OkStatus();
  });
  EXPECT_TRUE(next.ok());
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace keyferry::store
