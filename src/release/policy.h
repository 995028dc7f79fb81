// Key release policies (docs/api.md §Secure Key Release): the grammar Azure
// Key Vault documents for `release_policy.data` (version "1.0.0"), parsed,
// validated, re-serialised as Key Vault stores it, and evaluated over the
// claims of an attestation token that keyferryd already verified
// (release/attestation.h).
//
//   policy    = {"version": "1.0.0", "anyOf": [authority, …]}
//   authority = {"authority": string, "allOf" | "anyOf": [condition, …]}
//   condition = {"claim": "a.b.c", <op>: value} | {"allOf": […]} |
//               {"anyOf": […]}
//   op        = equals | notEquals | less | lessOrEquals | greater |
//               greaterOrEquals | exists
//   value     = string | number | true | false
//
// Pure: no I/O, no clock. Thread-compatible values.
#ifndef KEYFERRY_RELEASE_POLICY_H_
#define KEYFERRY_RELEASE_POLICY_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::release {

enum class ClaimOp {
  kEquals,
  kNotEquals,
  kLess,
  kLessOrEquals,
  kGreater,
  kGreaterOrEquals,
  kExists,
};

// ClaimOpName is the grammar's word for `op` ("equals", …).
std::string_view ClaimOpName(ClaimOp op);

// Condition is one node of an authority's condition tree: a claim condition
// (`claim`, `op`, `value`) or an allOf/anyOf of `children`.
struct Condition {
  enum class Kind { kClaim, kAllOf, kAnyOf };
  Kind kind = Kind::kClaim;
  std::string claim;  // dotted path, kClaim only
  ClaimOp op = ClaimOp::kEquals;
  nlohmann::json value;             // string, number or boolean, kClaim only
  std::vector<Condition> children;  // kAllOf / kAnyOf, never empty
};

// Authority is one member of the policy's anyOf: the issuer a token must
// come from, and the conditions (always kAllOf or kAnyOf) on its claims.
struct Authority {
  std::string authority;
  Condition condition;
};

struct Policy {
  std::string version;  // "1.0.0"
  std::vector<Authority> any_of;
};

// kPolicyContentType is the only content type keyferryd accepts for a
// release policy, and the one it answers when the client gave none.
inline constexpr char kPolicyContentType[] = "application/json; charset=utf-8";

// ParsePolicy reads a policy document (the JSON the client base64url-encoded
// into `release_policy.data`). InvalidArgument naming the first rule broken
// (unknown version, missing anyOf, an authority with both allOf and anyOf,
// a condition with no or two operators, an object/array/null value, an
// ordering operator with a non-number value, an unknown member, …). Never
// throws; nesting is bounded by ParseJson's depth limit.
absl::StatusOr<Policy> ParsePolicy(std::string_view json);

// PolicyJson re-serialises `policy` as Key Vault stores it: "version" first,
// then "anyOf"; in each authority "authority" first, then its allOf/anyOf;
// in each claim condition "claim" first, then the operator. Compact JSON.
std::string PolicyJson(const Policy& policy);

// SameAuthority compares an authority of a policy with a token's `iss`,
// exactly, except that one trailing '/' on either side is ignored.
bool SameAuthority(std::string_view authority, std::string_view issuer);

// Evaluation is the outcome of Evaluate. `why` says, for the audit log and
// the refusal, which authority matched and which condition failed (claim
// names and policy values only: never a claim's value from the token).
struct Evaluation {
  bool allowed = false;
  std::string why;
};

// Evaluate decides whether a token issued by `issuer` whose payload is
// `claims` (a JSON object) satisfies `policy`: some authority of the policy
// names `issuer` (SameAuthority) and its condition holds.
//
// A claim condition holds only when the claim is present (dotted path; a
// member whose own name contains dots is found too) and:
//  - equals / notEquals: the claim's value equals / differs from the policy
//    value. Values of the same JSON type compare as JSON (numbers
//    numerically); a string compares with a boolean or number by the other's
//    JSON text ("true" equals true, "5" equals 5), as Key Vault released a
//    policy "equals":"true" against a boolean claim. An object, array or
//    null claim equals nothing (and notEquals fails on it too).
//  - less … greaterOrEquals: both numbers; anything else does not hold.
//  - exists (ParsePolicy accepts only `true`): the claim is present.
Evaluation Evaluate(const Policy& policy, std::string_view issuer,
                    const nlohmann::json& claims);

// FindClaim walks the dotted `path` in `claims`; nullptr when absent.
const nlohmann::json* FindClaim(const nlohmann::json& claims,
                                std::string_view path);

}  // namespace keyferry::release

#endif  // KEYFERRY_RELEASE_POLICY_H_
