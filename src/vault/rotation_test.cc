#include "vault/rotation.h"

#include "base/testing.h"

namespace keyferry::vault {
namespace {

constexpr int64_t kJan31_2026 = 1769817600;  // 2026-01-31T00:00:00Z
constexpr int64_t kDay = 86400;

TEST(DurationTest, Parses) {
  ASSERT_OK_AND_ASSIGN(IsoDuration d, ParseIsoDuration("P1Y2M10DT2H30M5S"));
  EXPECT_EQ(d.years, 1);
  EXPECT_EQ(d.months, 2);
  EXPECT_EQ(d.days, 10);
  EXPECT_EQ(d.hours, 2);
  EXPECT_EQ(d.minutes, 30);
  EXPECT_EQ(d.seconds, 5);
  ASSERT_OK_AND_ASSIGN(d, ParseIsoDuration("P2W"));
  EXPECT_EQ(d.days, 14);
  for (const char* bad :
       {"", "P", "90D", "PT", "P1H", "P1DT", "P-1D", "P1.5D", "PD"}) {
    EXPECT_FALSE(ParseIsoDuration(bad).ok()) << bad;
  }
}

TEST(DurationTest, CalendarArithmetic) {
  ASSERT_OK_AND_ASSIGN(IsoDuration m, ParseIsoDuration("P1M"));
  EXPECT_EQ(AddDuration(kJan31_2026, m), kJan31_2026 + 28 * kDay);  // Feb 28
  ASSERT_OK_AND_ASSIGN(IsoDuration d, ParseIsoDuration("P90D"));
  EXPECT_EQ(AddDuration(kJan31_2026, d), kJan31_2026 + 90 * kDay);
  ASSERT_OK_AND_ASSIGN(IsoDuration y, ParseIsoDuration("P1Y"));
  EXPECT_EQ(SubtractDuration(AddDuration(kJan31_2026, y), y), kJan31_2026);
  ASSERT_OK_AND_ASSIGN(IsoDuration back, ParseIsoDuration("P2M"));
  EXPECT_EQ(SubtractDuration(kJan31_2026, back),
            kJan31_2026 - 62 * kDay);  // Nov 30
}

TEST(RotationPolicyTest, AfterCreateAndBeforeExpiry) {
  ASSERT_OK_AND_ASSIGN(RotationPolicy p, ParseRotationPolicy(R"({
    "lifetimeActions": [
      {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}},
      {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}],
    "attributes": {"expiryTime": "P2Y"}})"));
  ASSERT_EQ(p.actions.size(), 2u);
  EXPECT_EQ(RotationDue(p, kJan31_2026, std::nullopt), kJan31_2026 + 90 * kDay);
  ASSERT_OK_AND_ASSIGN(RotationPolicy q, ParseRotationPolicy(R"({
    "lifetimeActions": [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "rotate"}}],
    "attributes": {"expiryTime": "P90D"}})"));
  EXPECT_EQ(RotationDue(q, 0, std::nullopt), std::nullopt);
  EXPECT_EQ(RotationDue(q, 0, kJan31_2026), kJan31_2026 - 30 * kDay);
}

TEST(RotationPolicyTest, FailureDeeplyNested) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THAT(ParseRotationPolicy(R"({"lifetimeActions":)" + deep + "}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RotationPolicyTest, FailureRules) {
  EXPECT_THAT(
      ParseRotationPolicy(
          R"({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P1D"},"action":{"type":"Rotate"}}]})"),
      StatusHasMessage("at least 7 days"));
  EXPECT_THAT(
      ParseRotationPolicy(
          R"({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Notify"}}]})"),
      StatusHasMessage("Notify action takes timeBeforeExpiry"));
  EXPECT_THAT(
      ParseRotationPolicy(
          R"({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D","timeBeforeExpiry":"P30D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P1Y"}})"),
      StatusHasMessage("exactly one"));
  EXPECT_THAT(
      ParseRotationPolicy(
          R"({"lifetimeActions":[{"trigger":{"timeBeforeExpiry":"P30D"},"action":{"type":"Rotate"}}]})"),
      StatusHasMessage("needs attributes.expiryTime"));
  EXPECT_THAT(ParseRotationPolicy(R"({"attributes":{"expiryTime":"P7D"}})"),
              StatusHasMessage("28 days"));
  EXPECT_THAT(ParseRotationPolicy("{"), StatusHasMessage("not valid JSON"));
  EXPECT_THAT(
      ParseRotationPolicy(
          R"({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Delete"}}]})"),
      StatusHasMessage("Rotate or Notify"));
}

}  // namespace
}  // namespace keyferry::vault
