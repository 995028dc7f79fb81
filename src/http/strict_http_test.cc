// Strict HTTP (RFC 9112) against a real server: each refused request is sent
// raw over TLS with a second request as its would-be body. The test asserts
// the status and Azure code, "Connection: close", that the server then
// closes the connection without answering anything more, and that no
// handler ran (the smuggled request least of all).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/testing.h"
#include "http/azure.h"
#include "http/router.h"
#include "http/server.h"
#include "http/test_client.h"
#include "http/tls_certs.h"

namespace keyferry::http {
namespace {

using testing::ClientOptions;
using testing::ClientResponse;
using ::testing::HasSubstr;
using testing::TestClient;

constexpr std::chrono::seconds kBound{20};  // only a failure waits this long

class StrictHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/kf_strict_http.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    absl::StatusOr<TlsFiles> files = EnsureTlsCertificates(
        {.dir = *dir_, .vault_hosts = {"myvault.localhost"}});
    ASSERT_OK(files);
    files_ = new TlsFiles(*files);
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete files_;
  }

  void SetUp() override {
    ASSERT_NE(files_, nullptr);
    router_ = std::make_unique<Router>(RouterOptions{});
    auto count = [](std::atomic<int>& n) {
      return [&n](const Request& req, const RouteContext&) {
        ++n;
        Response r;
        r.body = std::to_string(req.body.size());
        return r;
      };
    };
    ASSERT_OK(
        router_->Add("POST", "/echo", count(echo_), RouteScope::kService));
    ASSERT_OK(router_->Add("GET", "/smuggled", count(smuggled_),
                           RouteScope::kService));
    ASSERT_OK(
        router_->Add("GET", "/keys/{name}", count(get_), RouteScope::kService));
    ServerOptions opts;
    opts.cert_pem_path = files_->server_pem;
    opts.key_pem_path = files_->server_key_pem;
    opts.threads = 2;
    opts.max_body_bytes = 1024;
    ASSERT_OK_AND_ASSIGN(server_, Server::New(opts, [this](const Request& r) {
                           ++calls_;
                           return router_->Handle(r);
                         }));
    ASSERT_OK(server_->Start());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  absl::StatusOr<std::unique_ptr<TestClient>> Connect() {
    return TestClient::Connect(
        server_->port(), ClientOptions{.ca_file = files_->ca_pem,
                                       .server_name = "myvault.localhost"});
  }
  std::string Smuggled() {
    return "GET /smuggled HTTP/1.1\r\nHost: " + Host() + "\r\n\r\n";
  }
  std::string Host() { return "localhost:" + std::to_string(server_->port()); }

  // ExpectRefused sends `bytes` and asserts the refusal described above.
  void ExpectRefused(const std::string& bytes, int status,
                     const std::string& code) {
    SCOPED_TRACE(bytes);
    ASSERT_OK_AND_ASSIGN(auto client, Connect());
    ASSERT_OK(client->SendRaw(bytes));
    ASSERT_OK_AND_ASSIGN(ClientResponse r, client->ReadWithin(kBound));
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_THAT(r.body, HasSubstr(absl::StrCat(R"({"error":{"code":")", code,
                                               R"(","message":")")));
    EXPECT_EQ(r.headers.Get("Connection").value_or(""), "close");
    EXPECT_FALSE(r.keep_alive);
    EXPECT_TRUE(r.headers.Has("x-ms-request-id"));
    // Closed, with nothing more said: the smuggled request got no answer.
    EXPECT_OK(client->WaitForClose(kBound));
    EXPECT_EQ(calls_.load(), 0);
    EXPECT_EQ(smuggled_.load(), 0);
    EXPECT_EQ(echo_.load(), 0);
  }
  std::string Post(const std::string& fields, const std::string& body) {
    return "POST /echo HTTP/1.1\r\nHost: " + Host() + "\r\n" + fields + "\r\n" +
           body;
  }

  static std::string* dir_;
  static TlsFiles* files_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Server> server_;
  std::atomic<int> calls_{0}, echo_{0}, smuggled_{0}, get_{0};
};

std::string* StrictHttpTest::dir_ = nullptr;
TlsFiles* StrictHttpTest::files_ = nullptr;

TEST_F(StrictHttpTest, FailureTransferEncodingGzipIs501AndCloses) {
  ExpectRefused(Post("Transfer-Encoding: gzip\r\n", Smuggled()), 501,
                "NotImplemented");
}

TEST_F(StrictHttpTest, FailureTransferEncodingXchunkedIs501AndCloses) {
  ExpectRefused(Post("Transfer-Encoding: xchunked\r\n", Smuggled()), 501,
                "NotImplemented");
}

TEST_F(StrictHttpTest, FailureHttpVersionTwoIs505AndCloses) {
  ExpectRefused("POST /echo HTTP/2.0\r\nHost: " + Host() +
                    "\r\nContent-Length: " + std::to_string(Smuggled().size()) +
                    "\r\n\r\n" + Smuggled(),
                505, "HttpVersionNotSupported");
}

TEST_F(StrictHttpTest, FailureChunkedNotFinalIs400AndCloses) {
  ExpectRefused(Post("Transfer-Encoding: chunked, identity\r\n", Smuggled()),
                400, "BadParameter");
}

TEST_F(StrictHttpTest, FailureTransferEncodingWithContentLengthIs400) {
  // CL.TE: a front end framing by Content-Length would forward the chunked
  // terminator and the smuggled request as one body.
  const std::string body = "0\r\n\r\n" + Smuggled();
  const std::string cl = absl::StrCat("Content-Length: ", body.size(), "\r\n");
  ExpectRefused(Post(cl + "Transfer-Encoding: chunked\r\n", body), 400,
                "BadParameter");
}

TEST_F(StrictHttpTest, FailureGzipWithContentLengthIs400) {
  // Beast alone would frame this by Content-Length: refused by CheckFraming.
  ExpectRefused(
      Post("Transfer-Encoding: gzip\r\nContent-Length: 0\r\n", Smuggled()), 400,
      "BadParameter");
}

TEST_F(StrictHttpTest, FailureDuplicateContentLengthIs400EvenWhenEqual) {
  ExpectRefused(Post("Content-Length: 0\r\nContent-Length: 0\r\n", Smuggled()),
                400, "BadParameter");
}

TEST_F(StrictHttpTest, FailureInvalidContentLengthIs400) {
  ExpectRefused(Post("Content-Length: 0, 0\r\n", Smuggled()), 400,
                "BadParameter");
}

TEST_F(StrictHttpTest, FailureUnparsableContentLengthIs400) {
  ExpectRefused(Post("Content-Length: abc\r\n", Smuggled()), 400,
                "BadParameter");
}

TEST_F(StrictHttpTest, FailureDuplicateHostIs400) {
  ExpectRefused("GET /keys/k HTTP/1.1\r\nHost: " + Host() +
                    "\r\nHost: " + Host() + "\r\n\r\n" + Smuggled(),
                400, "BadParameter");
  EXPECT_EQ(get_.load(), 0);
}

// HEAD is not routed (Azure Key Vault has no HEAD operation): 405 with
// Allow, a Content-Length but no body, no route handler run, and the
// connection stays usable (its framing is known).
TEST_F(StrictHttpTest, HeadIs405WithoutBodyAndKeepsTheConnection) {
  ASSERT_OK_AND_ASSIGN(auto client, Connect());
  ASSERT_OK(
      client->SendRaw("HEAD /keys/k HTTP/1.1\r\nHost: " + Host() + "\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(ClientResponse head,
                       client->ReadWithin(kBound, /*to_head=*/true));
  EXPECT_EQ(head.status, 405);
  EXPECT_EQ(head.headers.Get("Allow").value_or(""), "GET");
  EXPECT_NE(head.headers.Get("Content-Length").value_or("0"), "0");
  EXPECT_TRUE(head.keep_alive);
  EXPECT_EQ(get_.load(), 0);
  // Had body bytes followed the HEAD answer, they would be read as this one.
  ASSERT_OK(
      client->SendRaw("GET /keys/k HTTP/1.1\r\nHost: " + Host() + "\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(ClientResponse get, client->ReadWithin(kBound));
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get_.load(), 1);
}

TEST_F(StrictHttpTest, ChunkedRequestsKeepTheConnectionAlive) {
  ASSERT_OK_AND_ASSIGN(auto client, Connect());
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK(client->SendRaw(Post("Transfer-Encoding:  Chunked \r\n",
                                   "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")));
    ASSERT_OK_AND_ASSIGN(ClientResponse r, client->ReadWithin(kBound));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "11");
    EXPECT_TRUE(r.keep_alive);
  }
  // Pipelined: a chunked request and a Content-Length one in one write.
  ASSERT_OK(client->SendRaw(
      Post("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n") +
      Post("Content-Length: 2\r\n", "xy")));
  ASSERT_OK_AND_ASSIGN(ClientResponse a, client->ReadWithin(kBound));
  ASSERT_OK_AND_ASSIGN(ClientResponse b, client->ReadWithin(kBound));
  EXPECT_EQ(a.body, "3");
  EXPECT_EQ(b.body, "2");
  EXPECT_EQ(echo_.load(), 4);
  EXPECT_EQ(smuggled_.load(), 0);
}

}  // namespace
}  // namespace keyferry::http
