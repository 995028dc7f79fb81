#include "server/due_work.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "base/testing.h"
#include "server/access_token_key_slot.h"

namespace keyferry::server {
namespace {

TEST(PeriodicTaskTest, TicksUntilStopped) {
  std::atomic<int> ticks{0};
  absl::Notification twice;
  PeriodicTask task(
      [&] {
        if (++ticks == 2) twice.Notify();
      },
      absl::Milliseconds(5));
  ASSERT_TRUE(twice.WaitForNotificationWithTimeout(absl::Seconds(10)));
  task.Stop();
  const int after_stop = ticks.load();
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(ticks.load(), after_stop);
  task.Stop();  // again: nothing to do
}

// Stop does not wait for the period to pass.
TEST(PeriodicTaskTest, StopWakesTheWait) {
  PeriodicTask task([] {}, absl::Hours(1));
  const absl::Time start = absl::Now();
  task.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(AccessTokenKeySlotTest, FailureEmptyIsSealed) {
  AccessTokenKeySlot slot;
  EXPECT_EQ(slot.Get(), nullptr);
  EXPECT_THAT(slot.AccessTokenKey(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(slot.AccessTokenKey(), StatusHasMessage("keyferryd is sealed"));
}

}  // namespace
}  // namespace keyferry::server
