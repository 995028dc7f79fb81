// Fuzzes release/policy.h, the key release policy keyferryd reads from a
// client's release_policy.data and evaluates over attestation token claims.
// The input is "<policy JSON>\n<claims JSON>" (claims: {} when absent).
// An accepted policy must re-serialise to a text that parses to the same
// text (PolicyJson is a fixed point), and evaluating it never fails.
#include "base/json.h"
#include "fuzz_util.h"
#include "release/policy.h"

using namespace keyferry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::Text(data, size);
  const size_t nl = in.find('\n');
  absl::StatusOr<release::Policy> p = release::ParsePolicy(in.substr(0, nl));
  if (!p.ok()) return 0;
  const std::string stored = release::PolicyJson(*p);
  absl::StatusOr<release::Policy> again = release::ParsePolicy(stored);
  fuzz::CheckOk(again.status(),
                "PolicyJson wrote a policy ParsePolicy refuses");
  fuzz::Check(release::PolicyJson(*again) == stored,
              "PolicyJson is not a fixed point");
  nlohmann::json claims = nlohmann::json::object();
  if (nl != std::string_view::npos) {
    absl::StatusOr<nlohmann::json> c = ParseJson(in.substr(nl + 1));
    if (c.ok()) claims = *std::move(c);
  }
  for (const release::Authority& a : p->any_of) {
    (void)release::Evaluate(*p, a.authority, claims);
  }
  return 0;
}
