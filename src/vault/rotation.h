// Key rotation policies: ISO 8601 durations and the policy document of
// GET/PUT /keys/{name}/rotationpolicy, with the time a rotation falls due.
#ifndef KEYFERRY_VAULT_ROTATION_H_
#define KEYFERRY_VAULT_ROTATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::vault {

// IsoDuration is an ISO 8601 duration "PnYnMnDTnHnMnS" (or "PnW").
struct IsoDuration {
  int64_t years = 0, months = 0, days = 0, hours = 0, minutes = 0, seconds = 0;
  std::string text;  // as given, echoed back in responses
};

absl::StatusOr<IsoDuration> ParseIsoDuration(std::string_view text);
// AddDuration adds `d` to the Unix time `t` on the UTC calendar (months and
// years clamp the day, so Jan 31 + P1M is Feb 28/29).
int64_t AddDuration(int64_t t, const IsoDuration& d);
// SubtractDuration is AddDuration with every field negated.
int64_t SubtractDuration(int64_t t, const IsoDuration& d);

struct LifetimeAction {
  enum class Type { kRotate, kNotify } type;
  std::optional<IsoDuration> time_after_create;
  std::optional<IsoDuration> time_before_expiry;
};

struct RotationPolicy {
  std::vector<LifetimeAction> actions;
  std::optional<IsoDuration>
      expiry_time;  // attributes.expiryTime for new versions
  int64_t created = 0, updated = 0;
};

// ParseRotationPolicy reads the JSON body of PUT rotationpolicy and applies
// Key Vault's rules: each action has exactly one trigger; Notify only with
// timeBeforeExpiry; at most one Rotate and one Notify; timeAfterCreate and
// timeBeforeExpiry at least P7D; expiryTime at least P28D; timeBeforeExpiry
// needs expiryTime. InvalidArgument names the rule.
absl::StatusOr<RotationPolicy> ParseRotationPolicy(std::string_view json);

// RotationDue returns when the key version created at `created` (expiring at
// `expires`, if set) must be rotated under `policy`, or nullopt when the
// policy has no Rotate action that applies.
std::optional<int64_t> RotationDue(const RotationPolicy& policy,
                                   int64_t created,
                                   std::optional<int64_t> expires);

}  // namespace keyferry::vault

#endif  // KEYFERRY_VAULT_ROTATION_H_
