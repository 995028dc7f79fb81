// Status helpers for keyferry. Errors travel as absl::Status values; these
// macros propagate them. Debian 12's Abseil (20220623) lacks them, so they
// live here.
#ifndef KEYFERRY_BASE_STATUS_H_
#define KEYFERRY_BASE_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KF_CONCAT_INNER_(a, b) a##b
#define KF_CONCAT_(a, b) KF_CONCAT_INNER_(a, b)

// RETURN_IF_ERROR(expr) returns the status of `expr` from the enclosing
// function when it is not OK. `expr` may be an absl::Status or StatusOr.
#define RETURN_IF_ERROR(expr)                                 \
  do {                                                        \
    auto kf_status_ = ::keyferry::internal::AsStatus((expr)); \
    if (!kf_status_.ok()) return kf_status_;                  \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr) evaluates the StatusOr `expr`; on error it
// returns the status, otherwise it moves the value into `lhs` (which may be a
// declaration such as `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  KF_ASSIGN_OR_RETURN_IMPL_(KF_CONCAT_(kf_statusor_, __LINE__), lhs, expr)
// NOLINTBEGIN(bugprone-macro-parentheses): `tmp` is a name, `lhs` a decl.
#define KF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
namespace keyferry::internal {

inline absl::Status AsStatus(absl::Status s) { return s; }
template <typename T>
absl::Status AsStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace keyferry::internal

#endif  // KEYFERRY_BASE_STATUS_H_
