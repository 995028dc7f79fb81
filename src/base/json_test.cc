#include "base/json.h"

#include <gtest/gtest.h>

#include <string>

namespace keyferry {
namespace {

std::string Nested(int levels, char open, char close) {
  return std::string(levels, open) + std::string(levels, close);
}

TEST(ParseJson, AcceptsAnObject) {
  absl::StatusOr<nlohmann::json> j = ParseJson(R"({"a":[1,{"b":"c"}]})");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["a"][1]["b"], "c");
}

TEST(ParseJson, AcceptsExactlyTheLimit) {
  absl::StatusOr<nlohmann::json> j = ParseJson(Nested(kMaxJsonDepth, '[', ']'));
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->dump(), Nested(kMaxJsonDepth, '[', ']'));
}

TEST(ParseJson, FailureOneLevelTooDeep) {
  absl::StatusOr<nlohmann::json> j =
      ParseJson(Nested(kMaxJsonDepth + 1, '[', ']'));
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(j.status().message().find("nested more than 16"),
            std::string::npos);
}

// The body of the reported crash: 100,000 levels inside an object. Parsing
// must neither recurse nor build the deep value.
TEST(ParseJson, FailureHundredThousandLevelsInTags) {
  std::string body = R"({"tags":{"t":)" + Nested(100000, '[', ']') + "}}";
  absl::StatusOr<nlohmann::json> j = ParseJson(body);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseJson, FailureDeepObjectsAndUnclosedDepth) {
  std::string deep;
  for (int i = 0; i < 50000; ++i) deep += R"({"a":)";
  EXPECT_FALSE(ParseJson(deep).ok());  // unterminated and too deep
  EXPECT_FALSE(ParseJson(deep + "1" + std::string(50000, '}')).ok());
}

TEST(ParseJson, FailureNotJson) {
  absl::StatusOr<nlohmann::json> j = ParseJson("{\"a\":");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("not valid JSON"), std::string::npos);
  EXPECT_FALSE(ParseJson("").ok());
}

TEST(ParseJson, LimitIsAParameterAndWorksForOrderedJson) {
  EXPECT_TRUE(ParseJson<nlohmann::ordered_json>("[[1]]", 2).ok());
  EXPECT_FALSE(ParseJson<nlohmann::ordered_json>("[[[1]]]", 2).ok());
  EXPECT_TRUE(ParseJson("7", 0).ok());  // a scalar has no nesting
}

}  // namespace
}  // namespace keyferry
