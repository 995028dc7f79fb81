#include "release/policy.h"

#include <string>

#include "base/testing.h"

namespace keyferry::release {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kIss[] = "https://attest.example/";

Policy MustParse(const std::string& text) {
  absl::StatusOr<Policy> p = ParsePolicy(text);
  EXPECT_OK(p);
  return p.ok() ? *p : Policy{};
}

// One authority kIss with an allOf of `conditions` (JSON text of an array).
Policy AllOf(const std::string& conditions) {
  return MustParse(R"({"version":"1.0.0","anyOf":[{"authority":")" +
                   std::string(kIss) + R"(","allOf":)" + conditions + "}]}");
}

bool Allows(const Policy& p, const Json& claims) {
  return Evaluate(p, kIss, claims).allowed;
}

TEST(PolicyTest, ReserialisesVersionFirstAuthorityFirstClaimFirst) {
  Policy p =
      MustParse(R"({"anyOf":[{"allOf":[{"equals":"true","claim":"sdk-test"}],)"
                R"("authority":"https://a/"}],"version":"1.0.0"})");
  EXPECT_EQ(PolicyJson(p),
            R"({"version":"1.0.0","anyOf":[{"authority":"https://a/",)"
            R"("allOf":[{"claim":"sdk-test","equals":"true"}]}]})");
  // The stored form parses to itself.
  EXPECT_EQ(PolicyJson(MustParse(PolicyJson(p))), PolicyJson(p));
}

TEST(PolicyTest, KeepsNestedGroupsThroughTheRoundTrip) {
  Policy p = MustParse(
      R"({"version":"1.0.0","anyOf":[{"authority":"a","anyOf":[{"allOf":[)"
      R"({"claim":"x","equals":1},{"anyOf":[{"claim":"y","exists":true}]}]}]}]})");
  EXPECT_EQ(
      PolicyJson(p),
      R"({"version":"1.0.0","anyOf":[{"authority":"a","anyOf":[{"allOf":[)"
      R"({"claim":"x","equals":1},{"anyOf":[{"claim":"y","exists":true}]}]}]}]})");
}

TEST(PolicyTest, FailureMalformedPolicies) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"anyOf":[]})", "version"},
      {R"({"version":"1.0.2","anyOf":[]})", "version"},
      {R"({"version":"1.0.0"})", "anyOf"},
      {R"({"version":"1.0.0","anyOf":[]})", "anyOf"},
      {R"({"version":"1.0.0","anyOf":[],"x":1})", "unknown member"},
      {R"({"version":"1.0.0","anyOf":[{"allOf":[{"claim":"a","equals":1}]}]})",
       "\"authority\""},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a"}]})", "exactly one"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"a","equals":1}],"anyOf":[{"claim":"a","equals":1}]}]})",
       "exactly one"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[]}]})",
       "non-empty array"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"a"}]}]})",
       "exactly one operator"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"a","equals":1,"notEquals":2}]}]})",
       "exactly one operator"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"a","equals":{"o":1}}]}]})",
       "string, a number"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"a","equals":[1]}]}]})",
       "string, a number"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"a","equals":null}]}]})",
       "string, a number"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"a","less":"5"}]}]})",
       "needs a number"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"a","exists":false}]}]})",
       "takes true"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"a","matches":"x"}]}]})",
       "unknown member"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"claim":"","equals":1}]}]})",
       "non-empty string"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[{"allOf":[{"claim":"a","equals":1}],"claimx":1}]}]})",
       "unknown member"},
      {R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[7]}]})",
       "must be an object"},
  };
  for (const auto& [text, why] : cases) {
    absl::StatusOr<Policy> p = ParsePolicy(text);
    EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument)) << text;
    EXPECT_THAT(p, StatusHasMessage(why)) << text;
  }
}

TEST(PolicyTest, FailureTooDeep) {
  std::string deep = R"({"claim":"a","equals":1})";
  for (int i = 0; i < 20; ++i) deep = R"({"allOf":[)" + deep + "]}";
  EXPECT_THAT(
      ParsePolicy(R"({"version":"1.0.0","anyOf":[{"authority":"a","allOf":[)" +
                  deep + "]}]}"),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PolicyTest, EqualsAcrossTypes) {
  Policy s = AllOf(R"([{"claim":"t","equals":"true"}])");
  EXPECT_TRUE(Allows(s, Json{{"t", true}}));
  EXPECT_TRUE(Allows(s, Json{{"t", "true"}}));
  EXPECT_FALSE(Allows(s, Json{{"t", false}}));
  EXPECT_FALSE(Allows(s, Json{{"t", "TRUE"}}));
  Policy b = AllOf(R"([{"claim":"t","equals":true}])");
  EXPECT_TRUE(Allows(b, Json{{"t", true}}));
  EXPECT_TRUE(Allows(b, Json{{"t", "true"}}));
  EXPECT_FALSE(Allows(b, Json{{"t", 1}}));
  Policy n = AllOf(R"([{"claim":"v","equals":5}])");
  EXPECT_TRUE(Allows(n, Json{{"v", 5}}));
  EXPECT_TRUE(Allows(n, Json{{"v", 5.0}}));
  EXPECT_TRUE(Allows(n, Json{{"v", "5"}}));
  EXPECT_FALSE(Allows(n, Json{{"v", 6}}));
  // Objects, arrays and null equal nothing.
  EXPECT_FALSE(Allows(n, Json{{"v", Json::array({5})}}));
  EXPECT_FALSE(Allows(n, Json{{"v", Json{{"v", 5}}}}));
  EXPECT_FALSE(Allows(n, Json{{"v", nullptr}}));
}

TEST(PolicyTest, NotEquals) {
  Policy p = AllOf(R"([{"claim":"a","notEquals":"x"}])");
  EXPECT_TRUE(Allows(p, Json{{"a", "y"}}));
  EXPECT_FALSE(Allows(p, Json{{"a", "x"}}));
  EXPECT_FALSE(Allows(p, Json::object()));  // missing: not met
  EXPECT_FALSE(Allows(p, Json{{"a", Json::array()}}));
}

TEST(PolicyTest, OrderingOperators) {
  const Json c{{"svn", 7}};
  EXPECT_TRUE(Allows(AllOf(R"([{"claim":"svn","less":8}])"), c));
  EXPECT_FALSE(Allows(AllOf(R"([{"claim":"svn","less":7}])"), c));
  EXPECT_TRUE(Allows(AllOf(R"([{"claim":"svn","lessOrEquals":7}])"), c));
  EXPECT_FALSE(Allows(AllOf(R"([{"claim":"svn","lessOrEquals":6.5}])"), c));
  EXPECT_TRUE(Allows(AllOf(R"([{"claim":"svn","greater":6}])"), c));
  EXPECT_FALSE(Allows(AllOf(R"([{"claim":"svn","greater":7}])"), c));
  EXPECT_TRUE(Allows(AllOf(R"([{"claim":"svn","greaterOrEquals":7}])"), c));
  EXPECT_FALSE(Allows(AllOf(R"([{"claim":"svn","greaterOrEquals":8}])"), c));
  // Type mismatch: a string or boolean claim never orders.
  EXPECT_FALSE(
      Allows(AllOf(R"([{"claim":"svn","greater":1}])"), Json{{"svn", "7"}}));
  EXPECT_FALSE(
      Allows(AllOf(R"([{"claim":"svn","greater":0}])"), Json{{"svn", true}}));
}

TEST(PolicyTest, Exists) {
  Policy p = AllOf(R"([{"claim":"a.b","exists":true}])");
  EXPECT_TRUE(Allows(p, Json{{"a", {{"b", nullptr}}}}));
  EXPECT_FALSE(Allows(p, Json{{"a", {{"c", 1}}}}));
  EXPECT_FALSE(Allows(p, Json{{"a", 1}}));
}

TEST(PolicyTest, DottedPathsAndDottedMemberNames) {
  const Json claims = Json::parse(
      R"({"x-ms-isolation-tee":{"x-ms-attestation-type":"sevsnpvm"},)"
      R"("a.b":{"c":1}})");
  EXPECT_TRUE(Allows(
      AllOf(
          R"([{"claim":"x-ms-isolation-tee.x-ms-attestation-type","equals":"sevsnpvm"}])"),
      claims));
  EXPECT_TRUE(Allows(AllOf(R"([{"claim":"a.b.c","equals":1}])"), claims));
  EXPECT_EQ(FindClaim(claims, "x-ms-isolation-tee.nope"), nullptr);
  EXPECT_EQ(FindClaim(claims, "nope"), nullptr);
}

TEST(PolicyTest, AllOfNeedsEveryConditionAnyOfOne) {
  Policy all = AllOf(R"([{"claim":"a","equals":1},{"claim":"b","equals":2}])");
  EXPECT_TRUE(Allows(all, Json{{"a", 1}, {"b", 2}}));
  EXPECT_FALSE(Allows(all, Json{{"a", 1}, {"b", 3}}));
  EXPECT_FALSE(Allows(all, Json{{"a", 1}}));
  Policy any = MustParse(
      R"({"version":"1.0.0","anyOf":[{"authority":"https://attest.example",)"
      R"("anyOf":[{"claim":"a","equals":1},{"allOf":[{"claim":"b","equals":2},)"
      R"({"anyOf":[{"claim":"c","exists":true},{"claim":"d","less":0}]}]}]}]})");
  EXPECT_TRUE(Allows(any, Json{{"a", 1}}));
  EXPECT_TRUE(Allows(any, Json{{"b", 2}, {"c", "x"}}));
  EXPECT_TRUE(Allows(any, Json{{"b", 2}, {"d", -1}}));
  EXPECT_FALSE(Allows(any, Json{{"b", 2}, {"d", 1}}));
  EXPECT_FALSE(Allows(any, Json{{"b", 2}}));
  EXPECT_FALSE(Allows(any, Json::object()));
}

TEST(PolicyTest, AuthorityMustNameTheIssuer) {
  Policy p = AllOf(R"([{"claim":"a","equals":1}])");
  const Json claims{{"a", 1}};
  EXPECT_TRUE(Evaluate(p, "https://attest.example", claims).allowed);
  EXPECT_TRUE(Evaluate(p, "https://attest.example/", claims).allowed);
  Evaluation e = Evaluate(p, "https://other.example/", claims);
  EXPECT_FALSE(e.allowed);
  EXPECT_THAT(e.why, HasSubstr("issuer is not an authority"));
  EXPECT_FALSE(Evaluate(p, "https://attest.example//", claims).allowed);
}

TEST(PolicyTest, SecondAuthorityMayAllow) {
  Policy p = MustParse(
      R"({"version":"1.0.0","anyOf":[)"
      R"({"authority":"https://attest.example/","allOf":[{"claim":"a","equals":1}]},)"
      R"({"authority":"https://attest.example/","allOf":[{"claim":"a","equals":2}]}]})");
  EXPECT_TRUE(Allows(p, Json{{"a", 2}}));
  Evaluation e = Evaluate(p, kIss, Json{{"a", 3}});
  EXPECT_FALSE(e.allowed);
  EXPECT_THAT(e.why, HasSubstr("claim \"a\" does not equal 1"));
  EXPECT_THAT(e.why, HasSubstr("claim \"a\" does not equal 2"));
  // The token's value is never in the reason.
  EXPECT_THAT(e.why, ::testing::Not(HasSubstr("3")));
}

}  // namespace
}  // namespace keyferry::release
