#include "base/testing.h"

#include <gtest/gtest-spi.h>

#include "absl/status/statusor.h"

namespace keyferry {
namespace {

int calls = 0;  // how often Fail ran

absl::Status Fail() {
  ++calls;
  return absl::InternalError("boom");
}

absl::StatusOr<int> FailOr() {
  ++calls;
  return absl::NotFoundError("none");
}

// A failing EXPECT_OK runs its expression once (a second run would repeat
// its side effects and could print another status) and names it.
TEST(ExpectOkTest, EvaluatesOnceAndShowsTheStatus) {
  calls = 0;
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(Fail()), "Fail() gave INTERNAL: boom");
  EXPECT_EQ(calls, 1);
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(FailOr()), "FailOr() gave NOT_FOUND: none");
  EXPECT_EQ(calls, 2);
  EXPECT_OK(absl::OkStatus());
  EXPECT_OK(absl::StatusOr<int>(3));
}

}  // namespace
}  // namespace keyferry
