// Bridges between std::string_view and Abseil. Debian 12's Abseil is built
// with ABSL_OPTION_USE_STD_STRING_VIEW 0, so absl::string_view is its own
// type and absl::StrCat, absl::Status and absl::StartsWith do not take a
// std::string_view. Wrap such arguments in Sv().
#ifndef KEYFERRY_BASE_STRINGS_H_
#define KEYFERRY_BASE_STRINGS_H_

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace keyferry {

// Sv views `s` as an absl::string_view.
inline absl::string_view Sv(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
// StdSv views `s` as a std::string_view.
inline std::string_view StdSv(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace keyferry

#endif  // KEYFERRY_BASE_STRINGS_H_
