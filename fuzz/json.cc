// Fuzzes base/json.h ParseJson, the bounded parser every JSON text from
// outside goes through: it must never crash, never accept a value nested
// deeper than kMaxJsonDepth, and what it accepts must survive the
// recursive operations (dump, copy, compare) the rest of the code applies.
#include "base/json.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "fuzz_util.h"

namespace {

// Depth is the nesting of `j` (a scalar is 0, [] is 1).
template <typename Json>
int Depth(const Json& j) {
  int deepest = 0;
  if (j.is_array() || j.is_object()) {
    for (const auto& e : j) deepest = std::max(deepest, Depth(e));
    return deepest + 1;
  }
  return 0;
}

template <typename Json>
void Run(std::string_view text) {
  absl::StatusOr<Json> j = keyferry::ParseJson<Json>(text);
  if (!j.ok()) return;
  if (Depth(*j) > keyferry::kMaxJsonDepth) {
    keyferry::fuzz::Mismatch("ParseJson accepted a value nested too deep");
  }
  std::string dumped = j->dump();
  absl::StatusOr<Json> again = keyferry::ParseJson<Json>(dumped);
  if (!again.ok() || *again != *j) {
    keyferry::fuzz::Mismatch("dump() of a parsed value does not parse back");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = keyferry::fuzz::Text(data, size);
  Run<nlohmann::json>(text);
  Run<nlohmann::ordered_json>(text);
  return 0;
}
