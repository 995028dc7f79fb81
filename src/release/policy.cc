#include "release/policy.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::release {
namespace {

using Json = nlohmann::json;

constexpr std::pair<ClaimOp, std::string_view> kOps[] = {
    {ClaimOp::kEquals, "equals"},
    {ClaimOp::kNotEquals, "notEquals"},
    {ClaimOp::kLess, "less"},
    {ClaimOp::kLessOrEquals, "lessOrEquals"},
    {ClaimOp::kGreater, "greater"},
    {ClaimOp::kGreaterOrEquals, "greaterOrEquals"},
    {ClaimOp::kExists, "exists"},
};

bool IsOrdering(ClaimOp op) {
  return op == ClaimOp::kLess || op == ClaimOp::kLessOrEquals ||
         op == ClaimOp::kGreater || op == ClaimOp::kGreaterOrEquals;
}

absl::Status Bad(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("release policy: ", where, ": ", what));
}

absl::StatusOr<Condition> ParseCondition(const Json& j, const std::string& at);

absl::StatusOr<std::vector<Condition>> ParseList(const Json& j,
                                                 const std::string& at) {
  if (!j.is_array() || j.empty()) return Bad(at, "must be a non-empty array");
  std::vector<Condition> out;
  for (size_t i = 0; i < j.size(); ++i) {
    ASSIGN_OR_RETURN(Condition c,
                     ParseCondition(j[i], absl::StrCat(at, "[", i, "]")));
    out.push_back(std::move(c));
  }
  return out;
}

// ParseGroup reads the allOf or anyOf of `j` (exactly one of them, and no
// member outside `allowed`) into `c`.
absl::Status ParseGroup(const Json& j, const std::string& at,
                        std::initializer_list<std::string_view> allowed,
                        Condition& c) {
  for (const auto& [k, v] : j.items()) {
    bool ok = k == "allOf" || k == "anyOf";
    for (std::string_view a : allowed) ok = ok || k == a;
    if (!ok) return Bad(at, absl::StrCat("unknown member \"", k, "\""));
  }
  const bool all = j.contains("allOf"), any = j.contains("anyOf");
  if (all == any) {
    return Bad(at, "needs exactly one of \"allOf\" and \"anyOf\"");
  }
  c.kind = all ? Condition::Kind::kAllOf : Condition::Kind::kAnyOf;
  const char* word = all ? "allOf" : "anyOf";
  ASSIGN_OR_RETURN(c.children,
                   ParseList(j.at(word), absl::StrCat(at, ".", word)));
  return absl::OkStatus();
}

absl::StatusOr<Condition> ParseCondition(const Json& j, const std::string& at) {
  if (!j.is_object()) return Bad(at, "a condition must be an object");
  Condition c;
  if (!j.contains("claim")) {
    RETURN_IF_ERROR(ParseGroup(j, at, {}, c));
    return c;
  }
  const Json& claim = j.at("claim");
  if (!claim.is_string() || claim.get<std::string>().empty()) {
    return Bad(at, "\"claim\" must be a non-empty string");
  }
  c.claim = claim.get<std::string>();
  int ops = 0;
  for (const auto& [k, v] : j.items()) {
    if (k == "claim") continue;
    bool known = false;
    for (const auto& [op, name] : kOps) {
      if (k != name) continue;
      known = true;
      c.op = op;
      c.value = v;
    }
    if (!known) return Bad(at, absl::StrCat("unknown member \"", k, "\""));
    ++ops;
  }
  if (ops != 1) return Bad(at, "a claim condition needs exactly one operator");
  if (!c.value.is_string() && !c.value.is_number() && !c.value.is_boolean()) {
    return Bad(at, "a value must be a string, a number, true or false");
  }
  if (IsOrdering(c.op) && !c.value.is_number()) {
    return Bad(at,
               absl::StrCat("\"", Sv(ClaimOpName(c.op)), "\" needs a number"));
  }
  if (c.op == ClaimOp::kExists && c.value != Json(true)) {
    return Bad(at, "\"exists\" takes true");
  }
  return c;
}

absl::StatusOr<Authority> ParseAuthority(const Json& j, const std::string& at) {
  if (!j.is_object()) return Bad(at, "an authority must be an object");
  auto it = j.find("authority");
  if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Bad(at, "\"authority\" must be a non-empty string");
  }
  Authority a;
  a.authority = it->get<std::string>();
  RETURN_IF_ERROR(ParseGroup(j, at, {"authority"}, a.condition));
  return a;
}

nlohmann::ordered_json OrderedConditionJson(const Condition& c) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (c.kind == Condition::Kind::kClaim) {
    j["claim"] = c.claim;
    // The value is a scalar (ParsePolicy), so this parse cannot fail.
    j[std::string(ClaimOpName(c.op))] =
        nlohmann::ordered_json::parse(c.value.dump(), nullptr, false);
    return j;
  }
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Condition& child : c.children) {
    list.push_back(OrderedConditionJson(child));
  }
  j[c.kind == Condition::Kind::kAllOf ? "allOf" : "anyOf"] = std::move(list);
  return j;
}

// TextOf is the JSON text of a scalar, strings without quotes.
std::string TextOf(const Json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

bool ValuesEqual(const Json& claim, const Json& want) {
  if (claim.is_object() || claim.is_array() || claim.is_null()) return false;
  if (claim.is_number() && want.is_number()) {
    return claim.get<double>() == want.get<double>();
  }
  if (claim.type() == want.type()) return claim == want;
  if (claim.is_string() || want.is_string()) {
    return TextOf(claim) == TextOf(want);
  }
  return false;
}

bool Holds(const Condition& c, const Json& claims, std::string* why);

bool HoldsClaim(const Condition& c, const Json& claims, std::string* why) {
  const Json* v = FindClaim(claims, c.claim);
  auto fail = [&](absl::string_view what) {
    *why = absl::StrCat("claim \"", c.claim, "\" ", what);
    return false;
  };
  if (v == nullptr) return fail("is missing");
  const Json& want = c.value;
  switch (c.op) {
    case ClaimOp::kExists:
      return true;
    case ClaimOp::kEquals:
      return ValuesEqual(*v, want) ||
             fail(absl::StrCat("does not equal ", want.dump()));
    case ClaimOp::kNotEquals:
      if (v->is_object() || v->is_array() || v->is_null()) {
        return fail("is not a string, number or boolean");
      }
      return !ValuesEqual(*v, want) ||
             fail(absl::StrCat("equals ", want.dump()));
    default:
      break;
  }
  if (!v->is_number()) return fail("is not a number");
  const double a = v->get<double>(), b = want.get<double>();
  bool ok = false;
  switch (c.op) {
    case ClaimOp::kLess:
      ok = a < b;
      break;
    case ClaimOp::kLessOrEquals:
      ok = a <= b;
      break;
    case ClaimOp::kGreater:
      ok = a > b;
      break;
    case ClaimOp::kGreaterOrEquals:
      ok = a >= b;
      break;
    default:
      break;
  }
  return ok ||
         fail(absl::StrCat("is not ", Sv(ClaimOpName(c.op)), " ", want.dump()));
}

bool Holds(const Condition& c, const Json& claims, std::string* why) {
  switch (c.kind) {
    case Condition::Kind::kClaim:
      return HoldsClaim(c, claims, why);
    case Condition::Kind::kAllOf:
      for (const Condition& child : c.children) {
        if (!Holds(child, claims, why)) return false;
      }
      return true;
    case Condition::Kind::kAnyOf: {
      std::vector<std::string> whys;
      for (const Condition& child : c.children) {
        std::string w;
        if (Holds(child, claims, &w)) return true;
        whys.push_back(std::move(w));
      }
      *why =
          absl::StrCat("none of anyOf holds (", absl::StrJoin(whys, "; "), ")");
      return false;
    }
  }
  return false;
}

std::string_view StripSlash(std::string_view s) {
  if (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view ClaimOpName(ClaimOp op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) return name;
  }
  return "?";
}

absl::StatusOr<Policy> ParsePolicy(std::string_view json) {
  absl::StatusOr<Json> parsed = ParseJson(json);
  if (!parsed.ok()) return Bad("data", parsed.status().message());
  const Json& j = *parsed;
  if (!j.is_object()) return Bad("data", "the policy must be a JSON object");
  for (const auto& [k, v] : j.items()) {
    if (k != "version" && k != "anyOf") {
      return Bad("data", absl::StrCat("unknown member \"", k, "\""));
    }
  }
  Policy p;
  auto version = j.find("version");
  if (version == j.end() || *version != Json("1.0.0")) {
    return Bad("version", "must be \"1.0.0\"");
  }
  p.version = "1.0.0";
  auto any = j.find("anyOf");
  if (any == j.end() || !any->is_array() || any->empty()) {
    return Bad("anyOf", "must be a non-empty array of authorities");
  }
  for (size_t i = 0; i < any->size(); ++i) {
    ASSIGN_OR_RETURN(Authority a,
                     ParseAuthority((*any)[i], absl::StrCat("anyOf[", i, "]")));
    p.any_of.push_back(std::move(a));
  }
  return p;
}

std::string PolicyJson(const Policy& policy) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["version"] = policy.version;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Authority& a : policy.any_of) {
    nlohmann::ordered_json aj = nlohmann::ordered_json::object();
    aj["authority"] = a.authority;
    nlohmann::ordered_json group = OrderedConditionJson(a.condition);
    for (auto it = group.begin(); it != group.end(); ++it) {
      aj[it.key()] = std::move(it.value());
    }
    list.push_back(std::move(aj));
  }
  j["anyOf"] = std::move(list);
  return j.dump();
}

bool SameAuthority(std::string_view authority, std::string_view issuer) {
  return StripSlash(authority) == StripSlash(issuer);
}

Evaluation Evaluate(const Policy& policy, std::string_view issuer,
                    const nlohmann::json& claims) {
  Evaluation e;
  bool named = false;
  std::vector<std::string> whys;
  for (const Authority& a : policy.any_of) {
    if (!SameAuthority(a.authority, issuer)) continue;
    named = true;
    std::string why;
    if (Holds(a.condition, claims, &why)) {
      e.allowed = true;
      e.why = absl::StrCat("authority ", a.authority, " satisfied");
      return e;
    }
    whys.push_back(std::move(why));
  }
  e.why = named ? absl::StrCat("the token does not satisfy the policy: ",
                               absl::StrJoin(whys, "; "))
                : "the token's issuer is not an authority of the policy";
  return e;
}

const nlohmann::json* FindClaim(const nlohmann::json& claims,
                                std::string_view path) {
  const std::vector<std::string> parts = absl::StrSplit(Sv(path), '.');
  const Json* at = &claims;
  size_t i = 0;
  while (i < parts.size()) {
    if (!at->is_object()) return nullptr;
    const Json* next = nullptr;
    // The longest run of parts that names a member: "a.b" may be one name.
    for (size_t j = parts.size(); j > i && next == nullptr; --j) {
      std::string name =
          absl::StrJoin(parts.begin() + i, parts.begin() + j, ".");
      auto it = at->find(name);
      if (it != at->end()) {
        next = &*it;
        i = j;
      }
    }
    if (next == nullptr) return nullptr;
    at = next;
  }
  return at;
}

}  // namespace keyferry::release
