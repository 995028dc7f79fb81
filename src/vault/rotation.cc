#include "vault/rotation.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::vault {
namespace {

using json = nlohmann::json;

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned DaysIn(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

int64_t Add(int64_t t, const IsoDuration& d, int sign) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm;
  gmtime_r(&tt, &tm);
  int64_t y = tm.tm_year + 1900;
  int64_t m0 = tm.tm_mon + sign * (d.months + 12 * d.years);  // 0-based month
  y += m0 >= 0 ? m0 / 12 : -((11 - m0) / 12);
  unsigned m = static_cast<unsigned>(((m0 % 12) + 12) % 12) + 1;
  unsigned day =
      std::min<unsigned>(static_cast<unsigned>(tm.tm_mday), DaysIn(y, m));
  int64_t secs = DaysFromCivil(y, m, day) * 86400 + int64_t{tm.tm_hour} * 3600 +
                 int64_t{tm.tm_min} * 60 + tm.tm_sec;
  secs += sign * (d.days * 86400 + d.hours * 3600 + d.minutes * 60 + d.seconds);
  return secs;
}

// Approximate length for minimum checks (months of 30 days, years of 365).
int64_t ApproxSeconds(const IsoDuration& d) {
  return ((d.years * 365 + d.months * 30 + d.days) * 24 + d.hours) * 3600 +
         d.minutes * 60 + d.seconds;
}

// Given is whether `obj` has the member `name`, not null.
bool Given(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && !it->is_null();
}

// DurationField reads the ISO 8601 duration `name` of `obj`; `path` names
// it in messages.
absl::StatusOr<IsoDuration> DurationField(const json& obj, const char* name,
                                          std::string_view path) {
  const json& v = obj.at(name);
  if (!v.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The property \"", Sv(path), "\" must be an ISO 8601 duration."));
  }
  return ParseIsoDuration(v.get_ref<const std::string&>());
}

// CheckPolicyMembers checks the JSON types of the policy's other members:
// "id" a string, "attributes" an object whose created/updated are integers.
absl::Status CheckPolicyMembers(const json& doc) {
  if (Given(doc, "id") && !doc.at("id").is_string()) {
    return absl::InvalidArgumentError("The property \"id\" must be a string.");
  }
  if (!Given(doc, "attributes")) return absl::OkStatus();
  const json& a = doc.at("attributes");
  if (!a.is_object()) {
    return absl::InvalidArgumentError(
        "The property \"attributes\" must be an object.");
  }
  for (const char* t : {"created", "updated"}) {
    if (Given(a, t) && !a.at(t).is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "The property \"attributes.", t, "\" must be an integer."));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<json> ParsePolicyJson(std::string_view text) {
  absl::StatusOr<json> j = keyferry::ParseJson(text);
  if (!j.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The rotation policy is not valid: ", j.status().message(), "."));
  }
  return j;
}

}  // namespace

absl::StatusOr<IsoDuration> ParseIsoDuration(std::string_view text) {
  IsoDuration d;
  d.text = std::string(text);
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", Sv(text), "' is not an ISO 8601 duration such as P90D"));
  };
  if (text.size() < 3 || text[0] != 'P') return bad();
  bool time = false, any = false, any_time = false;
  int64_t n = -1;
  for (size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (c == 'T') {
      if (time || n >= 0) return bad();
      time = true;
      continue;
    }
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      if (n > 100000000) return bad();
      n = (n < 0 ? 0 : n * 10) + (c - '0');
      continue;
    }
    if (n < 0) return bad();
    if (!time && c == 'Y')
      d.years = n;
    else if (!time && c == 'M')
      d.months = n;
    else if (!time && c == 'W')
      d.days += 7 * n;
    else if (!time && c == 'D')
      d.days += n;
    else if (time && c == 'H')
      d.hours = n;
    else if (time && c == 'M')
      d.minutes = n;
    else if (time && c == 'S')
      d.seconds = n;
    else
      return bad();
    n = -1;
    any = true;
    any_time |= time;
  }
  if (n >= 0 || !any || (time && !any_time)) return bad();
  return d;
}

int64_t AddDuration(int64_t t, const IsoDuration& d) { return Add(t, d, 1); }
int64_t SubtractDuration(int64_t t, const IsoDuration& d) {
  return Add(t, d, -1);
}

absl::StatusOr<RotationPolicy> ParseRotationPolicy(std::string_view text) {
  ASSIGN_OR_RETURN(json doc, ParsePolicyJson(text));
  if (!doc.is_object())
    return absl::InvalidArgumentError("The rotation policy must be an object.");
  RETURN_IF_ERROR(CheckPolicyMembers(doc));
  RotationPolicy p;
  if (Given(doc, "attributes") && Given(doc["attributes"], "expiryTime")) {
    ASSIGN_OR_RETURN(p.expiry_time,
                     DurationField(doc["attributes"], "expiryTime",
                                   "attributes.expiryTime"));
    if (ApproxSeconds(*p.expiry_time) < int64_t{28} * 86400) {
      return absl::InvalidArgumentError(
          "expiryTime must be at least 28 days (P28D).");
    }
  }
  if (Given(doc, "lifetimeActions")) {
    if (!doc["lifetimeActions"].is_array()) {
      return absl::InvalidArgumentError(
          "The property \"lifetimeActions\" must be an array.");
    }
    int rotates = 0, notifies = 0;
    for (const auto& a : doc["lifetimeActions"]) {
      if (!a.is_object() || !Given(a, "trigger") || !Given(a, "action") ||
          !a["action"].is_object() || !Given(a["action"], "type") ||
          !a["action"]["type"].is_string()) {
        return absl::InvalidArgumentError(
            "Each of lifetimeActions needs a trigger and an action with a "
            "type (a string).");
      }
      LifetimeAction la;
      std::string type =
          absl::AsciiStrToLower(a["action"]["type"].get<std::string>());
      if (type == "rotate") {
        la.type = LifetimeAction::Type::kRotate;
        ++rotates;
      } else if (type == "notify") {
        la.type = LifetimeAction::Type::kNotify;
        ++notifies;
      } else {
        return absl::InvalidArgumentError(
            "Action type must be Rotate or Notify.");
      }
      const json& t = a["trigger"];
      if (!t.is_object()) {
        return absl::InvalidArgumentError(
            "The property \"lifetimeActions.trigger\" must be an object.");
      }
      if (Given(t, "timeAfterCreate")) {
        ASSIGN_OR_RETURN(
            la.time_after_create,
            DurationField(t, "timeAfterCreate",
                          "lifetimeActions.trigger.timeAfterCreate"));
      }
      if (Given(t, "timeBeforeExpiry")) {
        ASSIGN_OR_RETURN(
            la.time_before_expiry,
            DurationField(t, "timeBeforeExpiry",
                          "lifetimeActions.trigger.timeBeforeExpiry"));
      }
      if (la.time_after_create.has_value() ==
          la.time_before_expiry.has_value()) {
        return absl::InvalidArgumentError(
            "A trigger has exactly one of timeAfterCreate and "
            "timeBeforeExpiry.");
      }
      if (la.type == LifetimeAction::Type::kNotify && !la.time_before_expiry) {
        return absl::InvalidArgumentError(
            "A Notify action takes timeBeforeExpiry only.");
      }
      const IsoDuration& d =
          la.time_after_create ? *la.time_after_create : *la.time_before_expiry;
      if (ApproxSeconds(d) < int64_t{7} * 86400) {
        return absl::InvalidArgumentError(
            "A trigger must be at least 7 days (P7D).");
      }
      if (la.time_before_expiry && !p.expiry_time) {
        return absl::InvalidArgumentError(
            "timeBeforeExpiry needs attributes.expiryTime in the policy.");
      }
      p.actions.push_back(la);
    }
    if (rotates > 1 || notifies > 1) {
      return absl::InvalidArgumentError(
          "At most one Rotate and one Notify action.");
    }
  }
  return p;
}

std::optional<int64_t> RotationDue(const RotationPolicy& policy,
                                   int64_t created,
                                   std::optional<int64_t> expires) {
  for (const auto& a : policy.actions) {
    if (a.type != LifetimeAction::Type::kRotate) continue;
    if (a.time_after_create) return AddDuration(created, *a.time_after_create);
    if (a.time_before_expiry && expires)
      return SubtractDuration(*expires, *a.time_before_expiry);
  }
  return std::nullopt;
}

}  // namespace keyferry::vault
