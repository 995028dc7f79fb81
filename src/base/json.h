// Bounded JSON parsing. Every JSON text keyferry reads from outside (request
// bodies, tokens, .byok blobs, backups, share files, audit lines) goes
// through ParseJson, which refuses nesting deeper than a small limit before
// anything walks the tree: nlohmann's dump(), copies and comparisons recurse
// once per level, so a body of 100,000 nested arrays would otherwise
// overflow the stack of whichever thread touches it.
//
// nlohmann's parser itself is iterative (explicit stacks), and so is its
// destructor (3.10 and later), so parsing such a text and throwing it away
// is safe; only what comes after is not.
#ifndef KEYFERRY_BASE_JSON_H_
#define KEYFERRY_BASE_JSON_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace keyferry {

// kMaxJsonDepth is the deepest nesting of arrays and objects keyferry
// accepts. Key Vault's bodies need at most 4 (a rotation policy:
// body / lifetimeActions / action / trigger).
inline constexpr int kMaxJsonDepth = 16;

// ParseJson parses `text` as one JSON value of type `Json` (nlohmann::json
// or nlohmann::ordered_json). InvalidArgument "not valid JSON" when it does
// not parse, and InvalidArgument "nested more than N levels" when arrays
// and objects nest deeper than `max_depth` (the top-level value is level
// 1); in that case no deep value is ever built. Never throws.
template <typename Json = nlohmann::json>
absl::StatusOr<Json> ParseJson(std::string_view text,
                               int max_depth = kMaxJsonDepth) noexcept {
  bool too_deep = false;
  // `depth` counts the containers already open around the event.
  auto limit = [&](int depth, typename Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start ||
         event == Json::parse_event_t::array_start) &&
        depth >= max_depth) {
      too_deep = true;
    }
    return !too_deep;  // discard everything once the limit is passed
  };
  try {
    Json j = Json::parse(text.begin(), text.end(), limit,
                         /*allow_exceptions=*/false);
    if (too_deep) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the JSON value is nested more than ", max_depth, " levels deep"));
    }
    if (j.is_discarded()) {
      return absl::InvalidArgumentError("the text is not valid JSON");
    }
    return j;
  } catch (...) {  // firewall: allocation failure or a library error
    return absl::InvalidArgumentError("the text is not valid JSON");
  }
}

}  // namespace keyferry

#endif  // KEYFERRY_BASE_JSON_H_
