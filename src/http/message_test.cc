#include "http/message.h"

#include "base/testing.h"

namespace keyferry::http {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(PercentDecodeTest, DecodesEscapesInEitherCase) {
  ASSERT_OK_AND_ASSIGN(std::string s,
                       PercentDecode("api%2Dversion%2d%41", false));
  EXPECT_EQ(s, "api-version-A");
}

TEST(PercentDecodeTest, PlusIsSpaceOnlyWhenAsked) {
  ASSERT_OK_AND_ASSIGN(std::string form, PercentDecode("a+b", true));
  ASSERT_OK_AND_ASSIGN(std::string path, PercentDecode("a+b", false));
  EXPECT_EQ(form, "a b");
  EXPECT_EQ(path, "a+b");
}

TEST(PercentDecodeTest, FailureTruncatedOrNonHexEscape) {
  EXPECT_THAT(PercentDecode("abc%2", false),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PercentDecode("%", false),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PercentDecode("%zz", false),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseTargetTest, SplitsPathBeforeDecoding) {
  Request req;
  ASSERT_OK(ParseTarget("/keys/a%2Fb/", req));
  EXPECT_THAT(req.path_segments, ElementsAre("keys", "a/b", ""));
  EXPECT_TRUE(req.query.empty());
}

TEST(ParseTargetTest, RootIsOneEmptySegment) {
  Request req;
  ASSERT_OK(ParseTarget("/", req));
  EXPECT_THAT(req.path_segments, ElementsAre(""));
}

TEST(ParseTargetTest, DecodesQueryNamesAndValues) {
  Request req;
  ASSERT_OK(
      ParseTarget("/keys?api%2Dversion=7.4-preview.1&x=a+b%26c&flag&&", req));
  EXPECT_THAT(req.path_segments, ElementsAre("keys"));
  EXPECT_THAT(req.query, ElementsAre(Pair("api-version", "7.4-preview.1"),
                                     Pair("x", "a b&c"), Pair("flag", "")));
  EXPECT_EQ(req.QueryParam("API-Version").value_or(""), "7.4-preview.1");
  EXPECT_FALSE(req.QueryParam("missing").has_value());
}

TEST(ParseTargetTest, FailureNotOriginForm) {
  Request req;
  EXPECT_THAT(ParseTarget("https://h/keys", req),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTarget("", req),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseTargetTest, FailureBadEscapeInQuery) {
  Request req;
  EXPECT_THAT(ParseTarget("/keys?api-version=%G1", req),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseHostTest, SplitsNameAndPort) {
  std::string host;
  std::optional<uint16_t> port;
  ASSERT_OK(ParseHost("MyVault.LocalHost:8443", host, port));
  EXPECT_EQ(host, "myvault.localhost");
  EXPECT_EQ(port, 8443);
  ASSERT_OK(ParseHost("localhost", host, port));
  EXPECT_EQ(host, "localhost");
  EXPECT_FALSE(port.has_value());
  ASSERT_OK(ParseHost("[::1]:443", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 443);
}

TEST(ParseHostTest, FailureBadPortOrEmpty) {
  std::string host;
  std::optional<uint16_t> port;
  EXPECT_THAT(ParseHost("h:99999", host, port),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHost("h:", host, port),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHost(":80", host, port),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseHost("[::1", host, port),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HeadersTest, LookupIgnoresCase) {
  Headers h;
  h.Add("Content-Type", "a");
  h.Add("x-ms-request-id", "1");
  EXPECT_EQ(h.Get("content-type").value_or(""), "a");
  EXPECT_EQ(h.Get("X-MS-REQUEST-ID").value_or(""), "1");
  h.Set("CONTENT-TYPE", "b");
  EXPECT_EQ(h.Get("Content-Type").value_or(""), "b");
  EXPECT_EQ(h.fields().size(), 2u);
  h.Remove("content-type");
  EXPECT_FALSE(h.Has("Content-Type"));
}

}  // namespace
}  // namespace keyferry::http
