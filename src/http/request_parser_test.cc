// ParseRequestBytes: the server's request parsing, from memory.
#include <string>

#include "absl/strings/str_cat.h"
#include "base/testing.h"
#include "http/framing.h"

namespace keyferry::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr RequestLimits kLimits{.max_body_bytes = 64, .max_header_bytes = 1024};
constexpr char kSmuggled[] = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";

ParseOutcome Parse(const std::string& bytes) {
  return ParseRequestBytes(bytes, kLimits);
}

// Refused asserts `bytes` are refused with `status` (and Azure `code`).
void ExpectRefused(const std::string& bytes, int status,
                   const std::string& message_part = "") {
  SCOPED_TRACE(bytes);
  ParseOutcome out = Parse(bytes);
  EXPECT_FALSE(out.request.has_value());
  ASSERT_TRUE(out.rejection.has_value());
  EXPECT_EQ(out.rejection->status, status) << out.rejection->message;
  EXPECT_TRUE(out.rejection->close);
  EXPECT_THAT(out.rejection->message, HasSubstr(message_part));
}

TEST(ParseRequestBytesTest, ParsesRequestAsTheServerHandsItOn) {
  const std::string first =
      "POST /keys/a%2Fb/?api%2Dversion=7.4 HTTP/1.1\r\n"
      "Host: MyVault.localhost:8443\r\nContent-Length: 5\r\n"
      "X-Extra: 1\r\n\r\nhello";
  ParseOutcome out = Parse(first + kSmuggled);
  ASSERT_TRUE(out.request.has_value());
  EXPECT_FALSE(out.rejection.has_value());
  const Request& r = out.request->request;
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/keys/a%2Fb/?api%2Dversion=7.4");
  EXPECT_THAT(r.path_segments, ElementsAre("keys", "a/b", ""));
  EXPECT_EQ(r.QueryParam("api-version").value_or(""), "7.4");
  EXPECT_EQ(r.host, "myvault.localhost");
  EXPECT_EQ(r.host_port, 8443);
  EXPECT_EQ(r.headers.Get("x-extra").value_or(""), "1");
  EXPECT_EQ(r.body, "hello");
  EXPECT_TRUE(out.request->keep_alive);
  // The pipelined request after it is not part of it.
  EXPECT_EQ(out.request->consumed, first.size());
}

TEST(ParseRequestBytesTest, DecodesChunkedBodyWithOwsAndCase) {
  const std::string bytes =
      "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  Chunked \r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  ParseOutcome out = Parse(bytes);
  ASSERT_TRUE(out.request.has_value());
  EXPECT_EQ(out.request->request.body, "hello world");
  EXPECT_EQ(out.request->consumed, bytes.size());
}

TEST(ParseRequestBytesTest, ConnectionCloseAndHttp10WithoutHost) {
  ParseOutcome close =
      Parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(close.request.has_value());
  EXPECT_FALSE(close.request->keep_alive);
  ParseOutcome old = Parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(old.request.has_value());
  EXPECT_FALSE(old.request->keep_alive);
  EXPECT_EQ(old.request->request.host, "");
}

TEST(ParseRequestBytesTest, HeadIsParsedWithItsMethod) {
  ParseOutcome out = Parse("HEAD /keys/k HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(out.request.has_value());
  EXPECT_EQ(out.request->request.method, "HEAD");
  EXPECT_EQ(out.request->request.body, "");
}

TEST(ParseRequestBytesTest, IncompleteInputIsNeitherRequestNorRejection) {
  for (std::string bytes :
       {std::string(""), std::string("GET / HT"),
        std::string("GET / HTTP/1.1\r\nHost: h\r\n"),
        std::string(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab"),
        std::string("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                    "chunked\r\n\r\n5\r\nhello\r\n")}) {
    ParseOutcome out = Parse(bytes);
    EXPECT_FALSE(out.request.has_value()) << bytes;
    EXPECT_FALSE(out.rejection.has_value()) << bytes;
  }
}

// Each smuggling shape, with a second request as the would-be body.
TEST(ParseRequestBytesTest, FailureTransferCodingsOtherThanChunked) {
  for (std::string te : {"gzip", "xchunked", "identity", "gzip, chunked"}) {
    ExpectRefused(absl::StrCat("POST /echo HTTP/1.1\r\nHost: h\r\n"
                               "Transfer-Encoding: ",
                               te, "\r\n\r\n", kSmuggled),
                  501, "not implemented");
  }
  ExpectRefused(absl::StrCat("POST /echo HTTP/1.1\r\nHost: h\r\n"
                             "Transfer-Encoding: chunked, identity\r\n\r\n",
                             kSmuggled),
                400, "chunked");
  // Beast's own refusal: chunked twice.
  ExpectRefused(absl::StrCat("POST /echo HTTP/1.1\r\nHost: h\r\n"
                             "Transfer-Encoding: chunked\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                400, "Malformed HTTP request");
  ExpectRefused(absl::StrCat("POST /echo HTTP/1.0\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                400, "HTTP/1.0");
}

TEST(ParseRequestBytesTest, FailureContentLengthWithTransferEncoding) {
  // Both orders (Beast refuses these itself) and a non-chunked coding
  // (Beast would frame by Content-Length; CheckFraming refuses).
  const std::string body = absl::StrCat("0\r\n\r\n", kSmuggled);
  const std::string cl = absl::StrCat("Content-Length: ", body.size(), "\r\n");
  ExpectRefused(absl::StrCat("POST /echo HTTP/1.1\r\nHost: h\r\n", cl,
                             "Transfer-Encoding: chunked\r\n\r\n", body),
                400);
  ExpectRefused(absl::StrCat("POST /echo HTTP/1.1\r\nHost: h\r\n"
                             "Transfer-Encoding: chunked\r\n",
                             cl, "\r\n", body),
                400);
  ExpectRefused(absl::StrCat("POST /echo HTTP/1.1\r\nHost: h\r\n"
                             "Transfer-Encoding: gzip\r\n",
                             cl, "\r\n", body),
                400, "Content-Length together with Transfer-Encoding");
}

TEST(ParseRequestBytesTest, FailureDuplicateOrInvalidContentLengthOrHost) {
  const std::string get = "POST /echo HTTP/1.1\r\nHost: h\r\n";
  ExpectRefused(
      get + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n" + kSmuggled, 400,
      "more than one Content-Length");
  ExpectRefused(get + "Content-Length: 0\r\nContent-Length: 3\r\n\r\nabc", 400);
  ExpectRefused(get + "Content-Length: 0, 0\r\n\r\n" + kSmuggled, 400,
                "invalid Content-Length");
  for (std::string bad : {"abc", "-1", "+1", "0x1", "1 1", ""}) {
    ExpectRefused(get + "Content-Length: " + bad + "\r\n\r\n" + kSmuggled, 400);
  }
  ExpectRefused(
      absl::StrCat("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", kSmuggled),
      400, "more than one Host");
}

TEST(ParseRequestBytesTest, FailureMalformedLinesTargetAndHost) {
  ExpectRefused("\x01\x02 garbage \x7f\r\n\r\n", 400, "Malformed HTTP request");
  ExpectRefused("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);  // space before :
  ExpectRefused("GET / HTTP/1.1\nHost: h\n\n", 400);         // bare LF
  ExpectRefused("GET /keys/%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  ExpectRefused("GET http://h/keys HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  ExpectRefused("GET / HTTP/1.1\r\n\r\n", 400, "missing Host");
  ExpectRefused("GET / HTTP/1.1\r\nHost: h:99999\r\n\r\n", 400);
  ExpectRefused(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "zz\r\nhello\r\n0\r\n\r\n",
      400);
}

TEST(ParseRequestBytesTest, FailureOtherHttpVersionsAre505) {
  for (const char* version : {"HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/3.1"}) {
    ExpectRefused(absl::StrCat("GET / ", version, "\r\nHost: h\r\n\r\n"), 505,
                  "HTTP version");
  }
  // A malformed version is a malformed request, not an unsupported version.
  ExpectRefused("GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400);
  ExpectRefused("GET / HTTP/11\r\nHost: h\r\n\r\n", 400);
  ExpectRefused("GET / HTTP/2.0\nHost: h\n\n", 400);
}

TEST(ParseRequestBytesTest, FailureLimitsBeforeTheBodyArrives) {
  // Content-Length over the limit: refused from the header alone.
  ExpectRefused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n", 413,
                "larger than 64 bytes");
  ExpectRefused(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999\r\n\r\n",
      413);
  ExpectRefused(absl::StrCat("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
                             "chunked\r\n\r\n41\r\n",
                             std::string(0x41, 'x'), "\r\n0\r\n\r\n"),
                413);
  ExpectRefused(absl::StrCat("GET / HTTP/1.1\r\nHost: h\r\nX: ",
                             std::string(2000, 'x'), "\r\n\r\n"),
                431);
  ParseOutcome at_limit =
      Parse(absl::StrCat("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 64"
                         "\r\n\r\n",
                         std::string(64, 'x')));
  ASSERT_TRUE(at_limit.request.has_value());
  EXPECT_EQ(at_limit.request->request.body.size(), 64u);
}

}  // namespace
}  // namespace keyferry::http
