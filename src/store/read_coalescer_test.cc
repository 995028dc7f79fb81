#include "store/read_coalescer.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "gtest/gtest.h"

namespace keyferry::store {
namespace {

using Coalescer = ReadCoalescer<std::string>;

// Gate is a one-shot signal (keyferry::Mutex, which ThreadSanitizer sees;
// Debian's absl::Notification is not instrumented).
class Gate {
 public:
  void Notify() {
    MutexLock l(&mu_);
    open_ = true;
  }
  void WaitForNotification() {
    MutexLock l(&mu_);
    mu_.Await(Condition(&open_));
  }
  // WaitAWhile is WaitForNotification giving up after 60 s: a guard that
  // turns a call that wrongly blocks into a failure instead of a hang, not
  // a timing check.
  bool WaitAWhile() {
    MutexLock l(&mu_);
    return mu_.AwaitWithTimeout(Condition(&open_), absl::Seconds(60));
  }

 private:
  Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
};
using Begin = absl::FunctionRef<void()>;

// WaitForFollowers returns once `n` callers wait on the open read of `key`.
// A guard against a hang, not a timing check: it gives up after 60 s.
bool WaitForFollowers(Coalescer& c, const std::string& key, int n) {
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (c.Followers(key) < n) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(ReadCoalescerTest, CallersArrivingBeforeTheStatementBeganShareIt) {
  Coalescer c;
  std::atomic<int> fetches{0};
  Gate release;
  absl::StatusOr<std::string> leader_got;
  std::thread leader([&] {
    leader_got = c.Run("k", [&](Begin begin) -> absl::StatusOr<std::string> {
      ++fetches;
      release.WaitForNotification();  // waiting for a connection
      begin();
      return std::string("row");
    });
  });
  absl::StatusOr<std::string> f1, f2;
  auto follow = [&](absl::StatusOr<std::string>* out) {
    *out = c.Run("k", [&](Begin begin) -> absl::StatusOr<std::string> {
      ++fetches;
      begin();
      return std::string("own statement");
    });
  };
  // The leader is admitted first (it counts its fetch before anything else).
  while (fetches.load() == 0) std::this_thread::yield();
  std::thread t1(follow, &f1);
  std::thread t2(follow, &f2);
  ASSERT_TRUE(WaitForFollowers(c, "k", 2));
  release.Notify();
  leader.join();
  t1.join();
  t2.join();
  EXPECT_EQ(fetches.load(), 1);
  ASSERT_TRUE(leader_got.ok());
  EXPECT_EQ(*leader_got, "row");
  ASSERT_TRUE(f1.ok());
  EXPECT_EQ(*f1, "row");
  ASSERT_TRUE(f2.ok());
  EXPECT_EQ(*f2, "row");
  EXPECT_EQ(c.Followers("k"), 0);
}

TEST(ReadCoalescerTest, ACallerArrivingAfterTheStatementBeganRunsItsOwn) {
  Coalescer c;
  Gate begun, release, late_done;
  absl::StatusOr<std::string> leader_got;
  std::thread leader([&] {
    leader_got = c.Run("k", [&](Begin begin) -> absl::StatusOr<std::string> {
      begin();
      begun.Notify();
      release.WaitForNotification();  // the statement is under way
      return std::string("snapshot before the change");
    });
  });
  begun.WaitForNotification();
  // Arrives after the leader's statement began: it must not get that
  // statement's (possibly older) answer, nor wait for it.
  absl::StatusOr<std::string> late;
  std::thread late_caller([&] {
    late = c.Run("k", [&](Begin begin) -> absl::StatusOr<std::string> {
      begin();
      return std::string("snapshot after the change");
    });
    late_done.Notify();
  });
  EXPECT_TRUE(late_done.WaitAWhile()) << "the late caller waited for the "
                                         "statement that began before it";
  release.Notify();
  leader.join();
  late_caller.join();
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(*late, "snapshot after the change");
  ASSERT_TRUE(leader_got.ok());
  EXPECT_EQ(*leader_got, "snapshot before the change");
}

TEST(ReadCoalescerTest, FollowersGetTheLeadersError) {
  Coalescer c;
  std::atomic<bool> admitted{false};
  Gate release;
  absl::StatusOr<std::string> leader_got;
  std::thread leader([&] {
    leader_got = c.Run("k", [&](Begin begin) -> absl::StatusOr<std::string> {
      admitted = true;
      release.WaitForNotification();
      begin();
      return absl::NotFoundError("no such key");
    });
  });
  while (!admitted.load()) std::this_thread::yield();
  absl::StatusOr<std::string> f;
  std::thread t([&] {
    f = c.Run("k", [&](Begin) -> absl::StatusOr<std::string> {
      return std::string("must not run");
    });
  });
  ASSERT_TRUE(WaitForFollowers(c, "k", 1));
  release.Notify();
  leader.join();
  t.join();
  EXPECT_EQ(leader_got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(f.status().message(), "no such key");
}

// A leader that could not get a connection never began a statement: its
// failure is not handed to the callers that joined it; they read afresh.
TEST(ReadCoalescerTest, AFailureBeforeTheStatementBeganIsNotHandedOn) {
  Coalescer c;
  std::atomic<bool> admitted{false};
  Gate release;
  absl::StatusOr<std::string> leader_got;
  std::thread leader([&] {
    leader_got = c.Run("k", [&](Begin) -> absl::StatusOr<std::string> {
      admitted = true;
      release.WaitForNotification();
      return absl::UnavailableError("no connection");
    });
  });
  while (!admitted.load()) std::this_thread::yield();
  std::atomic<int> own_reads{0};
  absl::StatusOr<std::string> f;
  std::thread follower([&] {
    f = c.Run("k", [&](Begin begin) -> absl::StatusOr<std::string> {
      ++own_reads;
      begin();
      return std::string("fresh");
    });
  });
  ASSERT_TRUE(WaitForFollowers(c, "k", 1));
  release.Notify();
  leader.join();
  follower.join();
  EXPECT_EQ(leader_got.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(*f, "fresh");
  EXPECT_EQ(own_reads.load(), 1);
}

TEST(ReadCoalescerTest, AReadThatFailedBeforeBeginningIsClosed) {
  Coalescer c;
  // No connection to be had: the fetch fails without calling begin.
  absl::StatusOr<std::string> first =
      c.Run("k", [](Begin) -> absl::StatusOr<std::string> {
        return absl::UnavailableError("no connection");
      });
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c.Followers("k"), 0);
  absl::StatusOr<std::string> next =
      c.Run("k", [](Begin begin) -> absl::StatusOr<std::string> {
        begin();
        return std::string("fresh");
      });
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, "fresh");
}

TEST(ReadCoalescerTest, ReadsOfOtherKeysDoNotJoin) {
  Coalescer c;
  std::atomic<bool> admitted{false};
  Gate release, b_done;
  std::thread leader([&] {
    (void)c.Run("a", [&](Begin begin) -> absl::StatusOr<std::string> {
      admitted = true;
      release.WaitForNotification();
      begin();
      return std::string("a");
    });
  });
  while (!admitted.load()) std::this_thread::yield();
  // Runs at once although the read of "a" has not begun.
  absl::StatusOr<std::string> b;
  std::thread other([&] {
    b = c.Run("b", [](Begin begin) -> absl::StatusOr<std::string> {
      begin();
      return std::string("b");
    });
    b_done.Notify();
  });
  EXPECT_TRUE(b_done.WaitAWhile()) << "the read of b waited for a's";
  release.Notify();
  leader.join();
  other.join();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "b");
}

}  // namespace
}  // namespace keyferry::store
