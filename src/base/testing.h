// Test macros for absl::Status, for gtest-based unit tests only.
#ifndef KEYFERRY_BASE_TESTING_H_
#define KEYFERRY_BASE_TESTING_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/status.h"

namespace keyferry::internal {
// IsOkFormat is EXPECT_OK's predicate: `expr` is evaluated once, and a
// failure shows its text and the status it gave.
template <typename T>
::testing::AssertionResult IsOkFormat(const char* text, const T& value) {
  const absl::Status status = AsStatus(value);
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text << " gave " << status;
}
}  // namespace keyferry::internal

#define EXPECT_OK(expr) \
  EXPECT_PRED_FORMAT1(::keyferry::internal::IsOkFormat, expr)
#define ASSERT_OK(expr)                                   \
  do {                                                    \
    auto kf_st_ = ::keyferry::internal::AsStatus((expr)); \
    ASSERT_TRUE(kf_st_.ok()) << kf_st_;                   \
  } while (0)
// NOLINTBEGIN(bugprone-macro-parentheses): `tmp` is a name, `lhs` a decl.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                       \
  KF_ASSERT_OK_AND_ASSIGN_IMPL_(KF_CONCAT_(kf_test_statusor_, __LINE__), lhs, \
                                expr)
#define KF_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  ASSERT_TRUE(tmp.ok()) << tmp.status();              \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
// StatusIs(code) matches an absl::Status or StatusOr whose code is `code`.
MATCHER_P(StatusIs, code, "") {
  return ::keyferry::internal::AsStatus(arg).code() == code;
}
// StatusHasMessage(substr) matches when the status message contains `substr`.
MATCHER_P(StatusHasMessage, substr, "") {
  return std::string(::keyferry::internal::AsStatus(arg).message())
             .find(substr) != std::string::npos;
}

#endif  // KEYFERRY_BASE_TESTING_H_
