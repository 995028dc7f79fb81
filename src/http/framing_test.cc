#include "http/framing.h"

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "base/testing.h"

namespace keyferry::http {
namespace {

struct FramingCase {
  std::string name;
  std::vector<std::pair<std::string, std::string>> fields;
  int version = 11;
  int status = 0;  // 0: accepted
};

void PrintTo(const FramingCase& c, std::ostream* os) { *os << c.name; }

Headers Fields(const FramingCase& c) {
  Headers h;
  for (const auto& [n, v] : c.fields) h.Add(n, v);
  return h;
}

class CheckFramingTest : public ::testing::TestWithParam<FramingCase> {};

TEST_P(CheckFramingTest, Decides) {
  const FramingCase& c = GetParam();
  std::optional<HttpRejection> r = CheckFraming(Fields(c), c.version);
  if (c.status == 0) {
    EXPECT_FALSE(r.has_value()) << r->message;
    return;
  }
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, c.status);
  EXPECT_EQ(r->code, c.status == 501 ? "NotImplemented" : "BadParameter");
  EXPECT_TRUE(r->close);
  EXPECT_FALSE(r->message.empty());
}

const char kTe[] = "Transfer-Encoding";
const char kCl[] = "Content-Length";

INSTANTIATE_TEST_SUITE_P(
    Table, CheckFramingTest,
    ::testing::Values(
        FramingCase{"NoBody", {{"Host", "h"}}},
        FramingCase{"NoFieldsHttp10", {}, 10},
        FramingCase{"ContentLength", {{kCl, "5"}}},
        FramingCase{"ContentLengthZeroLeadingZeros", {{kCl, "007"}}},
        FramingCase{"ContentLengthMax", {{kCl, "18446744073709551615"}}},
        FramingCase{"ContentLengthOws", {{kCl, " 5\t"}}},
        FramingCase{"Chunked", {{kTe, "chunked"}}},
        FramingCase{"ChunkedAnyCase", {{"transfer-encoding", "ChUnKeD"}}},
        FramingCase{"ChunkedOws", {{kTe, " \tchunked \t"}}},
        FramingCase{"Gzip", {{kTe, "gzip"}}, 11, 501},
        FramingCase{"Xchunked", {{kTe, "xchunked"}}, 11, 501},
        FramingCase{"ChunkedX", {{kTe, "chunkedx"}}, 11, 501},
        FramingCase{"Identity", {{kTe, "identity"}}, 11, 501},
        FramingCase{"GzipThenChunked", {{kTe, "gzip, chunked"}}, 11, 501},
        FramingCase{"GzipLineThenChunkedLine",
                    {{kTe, "gzip"}, {kTe, "chunked"}},
                    11,
                    501},
        FramingCase{
            "ChunkedThenIdentity", {{kTe, "chunked, identity"}}, 11, 400},
        FramingCase{"ChunkedLineThenGzipLine",
                    {{kTe, "chunked"}, {kTe, "gzip"}},
                    11,
                    400},
        FramingCase{"ChunkedTwice", {{kTe, "chunked, chunked"}}, 11, 400},
        FramingCase{
            "ChunkedTwoLines", {{kTe, "chunked"}, {kTe, "chunked"}}, 11, 400},
        FramingCase{"ChunkedTrailingComma", {{kTe, "chunked,"}}, 11, 400},
        FramingCase{"EmptyTransferEncoding", {{kTe, ""}}, 11, 400},
        FramingCase{"ChunkedWithParameter", {{kTe, "chunked;q=1"}}, 11, 400},
        FramingCase{"ChunkedWithSpaceInside", {{kTe, "chun ked"}}, 11, 400},
        FramingCase{"ChunkedOnHttp10", {{kTe, "chunked"}}, 10, 400},
        FramingCase{
            "ChunkedAndContentLength", {{kTe, "chunked"}, {kCl, "5"}}, 11, 400},
        FramingCase{
            "ContentLengthAndChunked", {{kCl, "0"}, {kTe, "chunked"}}, 11, 400},
        FramingCase{
            "GzipAndContentLength", {{kTe, "gzip"}, {kCl, "5"}}, 11, 400},
        FramingCase{"DuplicateContentLengthEqual",
                    {{kCl, "5"}, {"content-length", "5"}},
                    11,
                    400},
        FramingCase{
            "DuplicateContentLengthDiffer", {{kCl, "5"}, {kCl, "6"}}, 11, 400},
        FramingCase{"ContentLengthList", {{kCl, "5, 5"}}, 11, 400},
        FramingCase{"ContentLengthNegative", {{kCl, "-1"}}, 11, 400},
        FramingCase{"ContentLengthPlus", {{kCl, "+5"}}, 11, 400},
        FramingCase{"ContentLengthEmpty", {{kCl, ""}}, 11, 400},
        FramingCase{"ContentLengthHex", {{kCl, "0x5"}}, 11, 400},
        FramingCase{
            "ContentLengthOverflow", {{kCl, "18446744073709551616"}}, 11, 400},
        FramingCase{"DuplicateHost", {{"Host", "a"}, {"HOST", "a"}}, 11, 400},
        FramingCase{
            "DuplicateHostHttp10", {{"Host", "a"}, {"host", "b"}}, 10, 400}),
    [](const ::testing::TestParamInfo<FramingCase>& info) {
      return info.param.name;
    });

TEST(MalformedRequestTest, ShapesTheMessage) {
  HttpRejection r = MalformedRequest("more than one Host");
  EXPECT_EQ(
      r, (HttpRejection{400, "BadParameter",
                        "Malformed HTTP request: more than one Host.", true}));
  Response res = RejectionResponse(r);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(
      res.body,
      R"({"error":{"code":"BadParameter","message":"Malformed HTTP request: more than one Host."}})");
}

}  // namespace
}  // namespace keyferry::http
