#include "http/server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/file.h"
#include "base/log.h"
#include "base/socket_owner.h"
#include "base/testing.h"
#include "http/azure.h"
#include "http/client.h"
#include "http/router.h"
#include "http/test_client.h"
#include "http/tls_certs.h"

namespace keyferry::http {
namespace {

using testing::ClientOptions;
using testing::ClientResponse;
using ::testing::HasSubstr;
using testing::TestClient;

constexpr size_t kMaxBody = 1024;

// Captured log lines, for asserting on shutdown events.
std::mutex g_log_mu;
std::string* g_log = nullptr;
void CaptureLog(std::string_view line) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  if (g_log != nullptr) g_log->append(line);
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/kf_http_test.XXXXXX";
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
    router_ = std::make_unique<Router>(RouterOptions{
        .vault_exists = [](std::string_view v) { return v == "myvault"; }});
    ASSERT_OK(router_->Add(
        "GET", "/keys/{name}/{version?}",
        [](const Request& req, const RouteContext& ctx) {
          absl::StatusOr<ApiVersion> v = RequestApiVersion(req);
          if (!v.ok()) return StatusResponse(v.status());
          return JsonResponse(
              200, "{\"name\":" + JsonEscape(ctx.Param("name")) +
                       ",\"version\":" + JsonEscape(ctx.Param("version")) +
                       ",\"api\":" + JsonEscape(v->text) + "}");
        }));
    ASSERT_OK(router_->Add("POST", "/keys/{name}/create",
                           [this](const Request& req, const RouteContext&) {
                             if (!req.headers.Has("Authorization")) {
                               return ChallengeResponse(
                                   router_->ChallengeResource(req));
                             }
                             return JsonResponse(200, "{}");
                           }));
    ASSERT_OK(router_->Add("POST", "/echo",
                           [](const Request& req, const RouteContext&) {
                             Response r;
                             r.body = std::to_string(req.body.size());
                             return r;
                           }));
    ASSERT_OK(router_->Add(
        "GET", "/endpoints",
        [](const Request& req, const RouteContext&) {
          Response r;
          r.body = absl::StrCat(req.local_address, " ", req.local_port, " ",
                                req.remote_address, " ", req.remote_port);
          return r;
        },
        RouteScope::kService));
    ASSERT_OK(router_->Add("POST", "/slow",
                           [this](const Request&, const RouteContext&) {
                             entered_.set_value();
                             release_.get_future().wait();
                             Response r;
                             r.body = "done";
                             return r;
                           }));
    ASSERT_OK_AND_ASSIGN(server_, StartServer(std::chrono::seconds(10)));
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }

  void TearDown() override {
    // A test that failed while /slow waited: let it answer, or Shutdown
    // would wait for it forever.
    Release();
    if (server_) server_->Shutdown();
  }

  // Release lets /slow answer; idempotent.
  void Release() {
    std::call_once(released_, [this] { release_.set_value(); });
  }
  // SlowEntered waits (20 s at most) until /slow runs.
  ::testing::AssertionResult SlowEntered() {
    if (entered_future_.wait_for(std::chrono::seconds(20)) ==
        std::future_status::ready) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "/slow did not start in 20 s";
  }
  // StopInBackground runs server_->Shutdown() on `stopper`, and returns the
  // guard that, however the test leaves (a failed ASSERT returns early),
  // lets /slow answer and joins `stopper`: a failure stays a failure, not
  // std::terminate (a joinable thread destroyed) or a hang (Shutdown
  // waiting for /slow).
  auto StopInBackground(std::thread& stopper) {
    stopper = std::thread([this] { server_->Shutdown(); });
    return absl::Cleanup([this, &stopper] {
      Release();
      if (stopper.joinable()) stopper.join();
    });
  }

  absl::StatusOr<std::unique_ptr<Server>> StartServer(
      std::chrono::milliseconds grace, int threads = 2,
      std::function<bool(const Request&)> blocking = nullptr,
      int blocking_threads = 64) {
    ServerOptions opts;
    opts.listen_address = "127.0.0.1";
    opts.port = 0;
    opts.cert_pem_path = files_->server_pem;
    opts.key_pem_path = files_->server_key_pem;
    opts.threads = threads;
    opts.blocking = std::move(blocking);
    opts.blocking_threads = blocking_threads;
    opts.max_body_bytes = kMaxBody;
    opts.shutdown_grace = grace;
    ASSIGN_OR_RETURN(std::unique_ptr<Server> server,
                     Server::New(opts, [this](const Request& req) {
                       ++calls_;
                       return router_->Handle(req);
                     }));
    RETURN_IF_ERROR(server->Start());
    return server;
  }

  ClientOptions Opts(std::string name = "myvault.localhost") {
    return ClientOptions{.ca_file = files_->ca_pem, .server_name = name};
  }
  std::string Host(std::string vault = "myvault") {
    return vault + ".localhost:" + std::to_string(port_);
  }
  std::string Shell(const std::string& cmd) {
    std::string out = *dir_ + "/shell.out";
    std::system((cmd + " > " + out + " 2>&1").c_str());
    return ReadFile(out).value_or("");
  }

  static std::string* dir_;
  static TlsFiles* files_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::atomic<int> calls_{0};
  std::promise<void> entered_, release_;
  std::future<void> entered_future_ = entered_.get_future();
  std::once_flag released_;
};

std::string* ServerTest::dir_ = nullptr;
TlsFiles* ServerTest::files_ = nullptr;

TEST_F(ServerTest, RoutesCaseInsensitiveEmptyVersionAndEncodedApiVersion) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  ASSERT_OK_AND_ASSIGN(
      ClientResponse r,
      client->Call("GET", "/KEYS/k1/?api%2Dversion=7.4", Host()));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"name":"k1","version":"","api":"7.4"})");
  EXPECT_EQ(r.headers.Get("content-type").value_or(""), kJsonContentType);
  EXPECT_TRUE(r.headers.Has("x-ms-request-id"));
  EXPECT_EQ(r.headers.Get("x-ms-keyvault-region").value_or(""), "local");
  EXPECT_TRUE(r.headers.Has("x-ms-keyvault-service-version"));
}

TEST_F(ServerTest, CertificateVerifiesForLocalhostAndVaultName) {
  ASSERT_OK_AND_ASSIGN(auto a, TestClient::Connect(port_, Opts("localhost")));
  ASSERT_OK_AND_ASSIGN(auto b,
                       TestClient::Connect(port_, Opts("myvault.localhost")));
  EXPECT_THAT(TestClient::Connect(port_, Opts("other.localhost")),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ServerTest, FailureUnknownApiVersionIs400WithAzureMessage) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  ASSERT_OK_AND_ASSIGN(ClientResponse r,
                       client->Call("GET", "/keys/k1?api-version=7.9", Host()));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"BadParameter","message":"The specified version (7.9) is not recognized. Consider using the latest supported version (2025-07-01)."}})");
}

TEST_F(ServerTest, FailureUnknownVaultIs404) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  ASSERT_OK_AND_ASSIGN(
      ClientResponse r,
      client->Call("GET", "/keys/k1/?api-version=7.4", Host("nosuch")));
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr(R"("code":"VaultNotFound")"));
}

TEST_F(ServerTest, ChallengeHeaderExactFormat) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  ASSERT_OK_AND_ASSIGN(
      ClientResponse r,
      client->Call("POST", "/keys/kek/create?api-version=7.4-preview.1",
                   Host()));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(
      r.headers.Get("WWW-Authenticate").value_or(""),
      "Bearer authorization=\"https://login.microsoftonline.com/common\", "
      "resource=\"https://localhost:" +
          std::to_string(port_) + "\"");
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}})");
  EXPECT_TRUE(r.keep_alive);  // az repeats the request on the same connection
}

TEST_F(ServerTest, KeepAliveReusesConnection) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(ClientResponse r,
                         client->Call("POST", "/echo", Host(), "hello"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "5");
    EXPECT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(calls_.load(), 3);
}

// The request carries both ends of its connection; swapped, they name the
// client's own socket (what the identity endpoint looks up).
TEST_F(ServerTest, RequestNamesBothEndsOfTheConnection) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  ASSERT_OK_AND_ASSIGN(ClientResponse r,
                       client->Call("GET", "/endpoints", Host()));
  ASSERT_EQ(r.status, 200);
  std::vector<std::string> f = absl::StrSplit(r.body, ' ');
  ASSERT_EQ(f.size(), 4u) << r.body;
  EXPECT_EQ(f[0], "127.0.0.1");
  EXPECT_EQ(f[1], std::to_string(port_));
  EXPECT_EQ(f[2], "127.0.0.1");
  uint32_t remote_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(f[3], &remote_port));
  ASSERT_TRUE(remote_port != 0 && remote_port <= 65535) << f[3];
  ASSERT_OK_AND_ASSIGN(
      uint32_t uid,
      TcpSocketOwner({f[2], static_cast<uint16_t>(remote_port), f[0], port_}));
  EXPECT_EQ(uid, ::getuid());
}

TEST_F(ServerTest, BodyAtLimitIsServed) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  ASSERT_OK_AND_ASSIGN(
      ClientResponse r,
      client->Call("POST", "/echo", Host(), std::string(kMaxBody, 'x')));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::to_string(kMaxBody));
}

TEST_F(ServerTest, FailureBodyOverLimitIs413BeforeBodyIsSent) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  // Only the header: the server must answer from Content-Length alone.
  ASSERT_OK(client->SendRaw(
      "POST /echo HTTP/1.1\r\nHost: " + Host() +
      "\r\nContent-Length: " + std::to_string(kMaxBody + 1) + "\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client->Read());
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr(R"({"error":{"code":"RequestEntityTooLarge")"));
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(r.headers.Has("x-ms-request-id"));
  EXPECT_EQ(calls_.load(), 0);
  EXPECT_FALSE(client->Read().ok());  // connection closed
}

TEST_F(ServerTest, FailureChunkedBodyOverLimitIs413) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  std::string chunk(600, 'x');
  ASSERT_OK(client->SendRaw("POST /echo HTTP/1.1\r\nHost: " + Host() +
                            "\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" +
                            chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client->Read());
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, FailureGarbageRequestIs400) {
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  ASSERT_OK(client->SendRaw("\x01\x02 garbage \x7f\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client->Read());
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(R"({"error":{"code":"BadParameter")"));
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, FailureBadTargetOrMissingHostIs400) {
  ASSERT_OK_AND_ASSIGN(auto a, TestClient::Connect(port_, Opts()));
  ASSERT_OK(
      a->SendRaw("GET /keys/%zz HTTP/1.1\r\nHost: " + Host() + "\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(ClientResponse bad_target, a->Read());
  EXPECT_EQ(bad_target.status, 400);
  ASSERT_OK_AND_ASSIGN(auto b, TestClient::Connect(port_, Opts()));
  ASSERT_OK(b->SendRaw("GET /keys HTTP/1.1\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(ClientResponse no_host, b->Read());
  EXPECT_EQ(no_host.status, 400);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(ServerTest, HeadRequestGetsNoBody) {
  ASSERT_NE(router_, nullptr);
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  // HEAD is not routed: 405 with Content-Length but no body bytes, and the
  // connection stays usable.
  ASSERT_OK(client->SendRaw(
      "HEAD /keys/k1/?api-version=7.4 HTTP/1.1\r\nHost: " + Host() +
      "\r\n\r\n"));
  ASSERT_OK_AND_ASSIGN(ClientResponse head, client->Read(/*to_head=*/true));
  EXPECT_EQ(head.status, 405);
  EXPECT_NE(head.headers.Get("Content-Length").value_or("0"), "0");
  EXPECT_TRUE(head.keep_alive);
  // Had the server sent body bytes, they would be read as this response.
  ASSERT_OK_AND_ASSIGN(ClientResponse next,
                       client->Call("POST", "/echo", Host(), "abc"));
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "3");
}

TEST_F(ServerTest, FailureTls11ClientRefused) {
  ClientOptions old = Opts();
  old.min_version = TLS1_1_VERSION;
  old.max_version = TLS1_1_VERSION;
  old.cipher_list = "DEFAULT:@SECLEVEL=0";
  absl::StatusOr<std::unique_ptr<TestClient>> c =
      TestClient::Connect(port_, old);
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kPermissionDenied));
  // The refusal is the server's alert, not a client-side configuration error.
  EXPECT_THAT(c.status(), StatusHasMessage("alert protocol version"));
  ClientOptions tls12 = Opts();
  tls12.min_version = TLS1_2_VERSION;
  tls12.max_version = TLS1_2_VERSION;
  ASSERT_OK_AND_ASSIGN(auto ok12, TestClient::Connect(port_, tls12));
  ASSERT_OK_AND_ASSIGN(ClientResponse r,
                       ok12->Call("POST", "/echo", Host(), "x"));
  EXPECT_EQ(r.status, 200);
}

TEST_F(ServerTest, GracefulShutdownLetsInFlightRequestFinish) {
  ASSERT_OK_AND_ASSIGN(auto slow, TestClient::Connect(port_, Opts()));
  ASSERT_OK(slow->Send("POST", "/slow", Host()));
  ASSERT_TRUE(SlowEntered());
  std::thread stopper;
  auto join_stopper = StopInBackground(stopper);
  // Wait until the server no longer accepts connections.
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    refused = !TestClient::Connect(port_, Opts()).ok();
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(refused);
  Release();
  absl::StatusOr<ClientResponse> r = slow->Read();
  stopper.join();
  ASSERT_OK(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "done");
  EXPECT_FALSE(r->keep_alive);  // draining: Connection: close
}

// A request marked blocking runs on the pool: with a single I/O thread,
// another connection is still answered while it waits, and it answers on
// its own connection when released. Shutdown waits for it.
TEST_F(ServerTest, BlockingRequestDoesNotHoldUpItsIoThread) {
  server_->Shutdown();
  ASSERT_OK_AND_ASSIGN(server_,
                       StartServer(std::chrono::seconds(10), /*threads=*/1,
                                   [](const Request& r) {
                                     return r.path_segments.size() == 1 &&
                                            r.path_segments[0] == "slow";
                                   }));
  port_ = server_->port();
  ASSERT_OK_AND_ASSIGN(auto slow, TestClient::Connect(port_, Opts()));
  ASSERT_OK(slow->Send("POST", "/slow", Host()));
  ASSERT_TRUE(SlowEntered());
  ASSERT_OK_AND_ASSIGN(auto quick, TestClient::Connect(port_, Opts()));
  ASSERT_OK(quick->Send("GET", "/keys/k?api-version=7.4", Host()));
  ASSERT_OK_AND_ASSIGN(ClientResponse q, quick->Read());
  EXPECT_EQ(q.status, 200);
  std::thread stopper;
  auto join_stopper = StopInBackground(stopper);
  Release();
  ASSERT_OK_AND_ASSIGN(ClientResponse r, slow->Read());
  stopper.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "done");
}

// SIGTERM with work queued: past the grace period a request whose handler
// has not started is answered 503 and never runs (its effects would commit
// with the answer lost); the one already running finishes and answers.
TEST_F(ServerTest, ShutdownPastGraceRefusesQueuedRequestsBeforeTheyRun) {
  server_->Shutdown();
  std::atomic<bool> echo_queued{false};
  ASSERT_OK_AND_ASSIGN(server_,
                       StartServer(
                           std::chrono::milliseconds(50), /*threads=*/1,
                           [&echo_queued](const Request& r) {
                             // Asked once the whole request is read, as it
                             // is queued for the pool.
                             if (r.target == "/echo") echo_queued = true;
                             return r.method == "POST";  // all on the pool
                           },
                           /*blocking_threads=*/1));
  port_ = server_->port();
  ASSERT_OK_AND_ASSIGN(auto slow, TestClient::Connect(port_, Opts()));
  ASSERT_OK(slow->Send("POST", "/slow", Host()));
  ASSERT_TRUE(SlowEntered());  // the only pool thread is busy
  ASSERT_OK_AND_ASSIGN(auto queued, TestClient::Connect(port_, Opts()));
  ASSERT_OK(queued->Send("POST", "/echo", Host(), "payload"));
  auto read_by = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!echo_queued && std::chrono::steady_clock::now() < read_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(echo_queued);
  const int calls_before = calls_;
  std::thread stopper;
  auto join_stopper = StopInBackground(stopper);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!server_->refusing() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(server_->refusing());
  Release();
  ASSERT_OK_AND_ASSIGN(ClientResponse r, slow->Read());
  ASSERT_OK_AND_ASSIGN(ClientResponse q, queued->Read());
  stopper.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "done");
  EXPECT_EQ(q.status, 503);
  EXPECT_NE(q.body.find("shutting down"), std::string::npos) << q.body;
  EXPECT_EQ(calls_, calls_before);  // the queued handler never ran
}

// An answer the finish hook still holds when Shutdown gives up: the
// connection's io_context is kept, so the late `send` (the audit record
// became durable after all) touches nothing freed, with the server gone.
TEST_F(ServerTest, AnswerHeldPastShutdownIsSentIntoNothingFreed) {
  server_->Shutdown();
  std::mutex mu;
  std::function<void(Response)> held;  // by mu
  ServerOptions opts;
  opts.listen_address = "127.0.0.1";
  opts.cert_pem_path = files_->server_pem;
  opts.key_pem_path = files_->server_key_pem;
  opts.threads = 1;
  opts.shutdown_grace = std::chrono::milliseconds(20);
  opts.refuse_grace = std::chrono::milliseconds(20);
  opts.finish = [&](const Request&, Response,
                    std::function<void(Response)> send) {
    std::lock_guard<std::mutex> lock(mu);
    held = std::move(send);
  };
  ASSERT_OK_AND_ASSIGN(server_, Server::New(opts, [this](const Request& r) {
                         return router_->Handle(r);
                       }));
  ASSERT_OK(server_->Start());
  port_ = server_->port();
  ASSERT_OK_AND_ASSIGN(auto client, TestClient::Connect(port_, Opts()));
  ASSERT_OK(client->Send("POST", "/echo", Host(), "x"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool is_held = false;
  while (!is_held && std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      is_held = static_cast<bool>(held);
    }
    if (!is_held) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(is_held);
  std::string log;
  {
    std::lock_guard<std::mutex> lock(g_log_mu);
    g_log = &log;
  }
  SetLogSink(CaptureLog);
  server_->Shutdown();
  server_.reset();
  SetLogSink(nullptr);
  {
    std::lock_guard<std::mutex> lock(g_log_mu);
    g_log = nullptr;
  }
  EXPECT_THAT(log, HasSubstr("http_shutdown_answers_held"));
  std::function<void(Response)> send;
  {
    std::lock_guard<std::mutex> lock(mu);
    send = std::move(held);
  }
  Response late;
  late.body = "late";
  send(std::move(late));  // under ASan: no use after free
  send = nullptr;
}

TEST_F(ServerTest, HttpsCallVerifiesAndReadsTheAnswer) {
  CallOptions o;
  o.method = "POST";
  o.url = "https://myvault.localhost:" + std::to_string(port_) + "/echo";
  o.body = "{\"a\":1}";
  o.ca_file = files_->ca_pem;
  o.connect_address = "127.0.0.1";
  ASSERT_OK_AND_ASSIGN(CallResult r, HttpsCall(o));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "7");  // the echo route answers the body length
  // Another CA: the certificate does not verify.
  o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  EXPECT_THAT(HttpsCall(o), StatusIs(absl::StatusCode::kPermissionDenied));
  o.url = "http://myvault.localhost/echo";
  EXPECT_THAT(HttpsCall(o), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ServerTest, ShutdownClosesIdleKeepAliveConnections) {
  std::string log;
  {
    std::lock_guard<std::mutex> lock(g_log_mu);
    g_log = &log;
  }
  SetLogSink(CaptureLog);
  ASSERT_OK_AND_ASSIGN(auto idle, TestClient::Connect(port_, Opts()));
  ASSERT_OK_AND_ASSIGN(ClientResponse r,
                       idle->Call("POST", "/echo", Host(), "x"));
  EXPECT_TRUE(r.keep_alive);
  server_->Shutdown();
  SetLogSink(nullptr);
  {
    std::lock_guard<std::mutex> lock(g_log_mu);
    g_log = nullptr;
  }
  EXPECT_THAT(log, HasSubstr("http_stopped"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("http_shutdown_forced")));
  EXPECT_FALSE(idle->Call("POST", "/echo", Host(), "x").ok());
  server_->Wait();  // returns: already stopped
}

TEST_F(ServerTest, StopOnSignalsShutsDownOnSigterm) {
  ASSERT_OK(server_->StopOnSignals());
  std::thread waiter([&] { server_->Wait(); });
  ASSERT_EQ(std::raise(SIGTERM), 0);
  waiter.join();
  EXPECT_FALSE(TestClient::Connect(port_, Opts()).ok());
}

TEST_F(ServerTest, CurlWithVaultHostVerifiesAndGetsJson) {
  std::string url = "https://myvault.localhost:" + std::to_string(port_) +
                    "/keys/k1/?api%2Dversion=2025-07-01";
  std::string out =
      Shell("curl -sS --http1.1 --cacert " + files_->ca_pem +
            " --resolve myvault.localhost:" + std::to_string(port_) +
            ":127.0.0.1 -w ' status=%{http_code}' '" + url + "'");
  EXPECT_EQ(out, R"({"name":"k1","version":"","api":"2025-07-01"} status=200)");
}

TEST_F(ServerTest, OpenSslSClientVerifiesSanForVaultHost) {
  std::string out =
      Shell("openssl s_client -connect 127.0.0.1:" + std::to_string(port_) +
            " -servername myvault.localhost -verify_hostname myvault.localhost"
            " -verify_return_error -CAfile " +
            files_->ca_pem + " < /dev/null");
  EXPECT_THAT(out, HasSubstr("Verify return code: 0 (ok)"));
  std::string wrong =
      Shell("openssl s_client -connect 127.0.0.1:" + std::to_string(port_) +
            " -verify_hostname wrong.localhost -verify_return_error -CAfile " +
            files_->ca_pem + " < /dev/null");
  EXPECT_THAT(wrong, ::testing::Not(HasSubstr("Verify return code: 0 (ok)")));
}

TEST_F(ServerTest, FailureStartTwiceAndPortInUse) {
  EXPECT_THAT(server_->Start(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ServerOptions opts;
  opts.port = port_;
  opts.cert_pem_path = files_->server_pem;
  opts.key_pem_path = files_->server_key_pem;
  ASSERT_OK_AND_ASSIGN(auto second, Server::New(opts, [](const Request&) {
                         return Response{};
                       }));
  EXPECT_THAT(second->Start(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ServerNewTest, FailureMissingOrMismatchedKey) {
  ServerOptions opts;
  opts.cert_pem_path = "/nonexistent/server.pem";
  opts.key_pem_path = "/nonexistent/server-key.pem";
  EXPECT_THAT(Server::New(opts, [](const Request&) { return Response{}; }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  char tmpl[] = "/tmp/kf_http_new.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_OK_AND_ASSIGN(TlsFiles a, EnsureTlsCertificates({.dir = dir + "/a"}));
  ASSERT_OK_AND_ASSIGN(TlsFiles b, EnsureTlsCertificates({.dir = dir + "/b"}));
  opts.cert_pem_path = a.server_pem;
  opts.key_pem_path = b.server_key_pem;
  EXPECT_THAT(Server::New(opts, [](const Request&) { return Response{}; }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Server::New(opts, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyferry::http
