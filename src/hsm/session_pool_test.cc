#include "hsm/session_pool.h"

#include <atomic>
#include <memory>
#include <thread>

#include "base/testing.h"
#include "hsm/errors.h"
#include "hsm/pkcs11.h"

namespace keyferry::hsm {
namespace {

// FakeSession stands in for a token session: alive until told otherwise.
struct FakeSession {
  explicit FakeSession(int id) : id(id) {}
  bool IsAlive() const { return alive; }
  int id;
  bool alive = true;
};

using Pool = BasicSessionPool<FakeSession>;

struct Harness {
  std::atomic<int> opened{0}, lost{0};
  absl::Status open_error = absl::OkStatus();
  std::unique_ptr<Pool> pool;

  explicit Harness(size_t max) {
    pool = std::make_unique<Pool>(
        [this]() -> absl::StatusOr<std::unique_ptr<FakeSession>> {
          if (!open_error.ok()) return open_error;
          return std::make_unique<FakeSession>(++opened);
        },
        max,
        [this] {
          ++lost;
          pool->DropIdle();
        });
  }
};

TEST(SessionPoolTest, ReturnedSessionIsLentAgain) {
  Harness h(4);
  int first = 0;
  {
    ASSERT_OK_AND_ASSIGN(Pool::Lease l, h.pool->Borrow());
    first = l->id;
    EXPECT_EQ(h.pool->open_sessions(), 1u);
    EXPECT_EQ(h.pool->idle_sessions(), 0u);
  }
  EXPECT_EQ(h.pool->idle_sessions(), 1u);
  ASSERT_OK_AND_ASSIGN(Pool::Lease again, h.pool->Borrow());
  EXPECT_EQ(again->id, first);
  EXPECT_EQ(h.opened, 1);
}

TEST(SessionPoolTest, OpensUpToTheLimitThenWaits) {
  Harness h(2);
  ASSERT_OK_AND_ASSIGN(Pool::Lease a, h.pool->Borrow());
  std::optional<Pool::Lease> b;
  {
    ASSERT_OK_AND_ASSIGN(Pool::Lease got, h.pool->Borrow());
    b.emplace(std::move(got));
  }
  EXPECT_EQ(h.pool->open_sessions(), 2u);
  std::atomic<bool> lent{false};
  std::thread waiter([&] {
    absl::StatusOr<Pool::Lease> c = h.pool->Borrow();
    EXPECT_TRUE(c.ok());
    lent = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(lent);
  b.reset();  // returns one session: the waiter gets it
  waiter.join();
  EXPECT_TRUE(lent);
  EXPECT_EQ(h.opened, 2);
}

TEST(SessionPoolTest, FailureToOpenFreesTheSlot) {
  Harness h(1);
  h.open_error = absl::UnavailableError("no token");
  EXPECT_EQ(h.pool->Borrow().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(h.pool->open_sessions(), 0u);
  h.open_error = absl::OkStatus();
  EXPECT_OK(h.pool->Borrow().status());
}

TEST(SessionPoolTest, DiscardClosesInsteadOfReturning) {
  Harness h(2);
  {
    ASSERT_OK_AND_ASSIGN(Pool::Lease l, h.pool->Borrow());
    l.Discard();
  }
  EXPECT_EQ(h.pool->open_sessions(), 0u);
  EXPECT_EQ(h.pool->idle_sessions(), 0u);
}

TEST(SessionPoolTest, CheckedBorrowReplacesADeadSessionAndReportsTheLoss) {
  Harness h(2);
  {
    ASSERT_OK_AND_ASSIGN(Pool::Lease l, h.pool->Borrow());
    l->alive = false;  // the token was reset while the session sat idle
  }
  {
    // Unchecked: the dead session is lent as it is.
    ASSERT_OK_AND_ASSIGN(Pool::Lease l, h.pool->Borrow());
    EXPECT_FALSE(l->alive);
  }
  ASSERT_OK_AND_ASSIGN(Pool::Lease fresh, h.pool->Borrow(/*check=*/true));
  EXPECT_TRUE(fresh->alive);
  EXPECT_EQ(fresh->id, 2);
  EXPECT_EQ(h.lost, 1);
  EXPECT_EQ(h.pool->open_sessions(), 1u);
}

TEST(SessionPoolTest, RunRetriesOnceOnAStaleHandle) {
  Harness h(2);
  int calls = 0;
  absl::StatusOr<int> r = h.pool->Run<int>([&](FakeSession& s) {
    ++calls;
    if (calls == 1) {
      return absl::StatusOr<int>(
          CkrToStatus(CKR_SESSION_HANDLE_INVALID, "C_Sign"));
    }
    return absl::StatusOr<int>(s.id);
  });
  ASSERT_OK(r.status());
  EXPECT_EQ(*r, 2);  // a fresh session: the stale one was closed
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(h.lost, 1);
}

TEST(SessionPoolTest, RunGivesUpAfterTheSecondStaleAnswer) {
  Harness h(2);
  int calls = 0;
  absl::StatusOr<int> r = h.pool->Run<int>([&](FakeSession&) {
    ++calls;
    return absl::StatusOr<int>(
        CkrToStatus(CKR_OBJECT_HANDLE_INVALID, "C_Sign"));
  });
  EXPECT_TRUE(IsStaleHandle(r.status()));
  EXPECT_EQ(calls, 2);
}

TEST(SessionPoolTest, RunDoesNotRetryOtherFailures) {
  Harness h(2);
  int calls = 0;
  absl::StatusOr<int> r = h.pool->Run<int>([&](FakeSession&) {
    ++calls;
    return absl::StatusOr<int>(absl::InvalidArgumentError("bad input"));
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(h.lost, 0);
}

TEST(SessionPoolTest, DropIdleClosesIdleSessionsOnly) {
  Harness h(3);
  ASSERT_OK_AND_ASSIGN(Pool::Lease out, h.pool->Borrow());
  { ASSERT_OK_AND_ASSIGN(Pool::Lease idle, h.pool->Borrow()); }
  EXPECT_EQ(h.pool->open_sessions(), 2u);
  h.pool->DropIdle();
  EXPECT_EQ(h.pool->open_sessions(), 1u);
  EXPECT_EQ(h.pool->idle_sessions(), 0u);
}

}  // namespace
}  // namespace keyferry::hsm
