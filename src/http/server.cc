#include "http/server.h"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including
// <utility>; include it first so C++20 builds compile.
#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <csignal>
#include <future>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/log.h"
#include "base/mutex.h"
#include "base/status.h"
#include "crypto/errors.h"
#include "http/azure.h"
#include "http/framing.h"
#include "http/request_parser.h"

namespace keyferry::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Mozilla "intermediate" TLS 1.2 suites minus DHE: ECDHE with AEAD only.
// TLS 1.3 keeps OpenSSL's default suites.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr size_t kHeaderLimit =
    size_t{64} * 1024;  // bearer tokens are a few KB
constexpr std::chrono::seconds kCloseTimeout{1};
// An oversized body up to this size is read and discarded before the 413.
constexpr uint64_t kMaxDrainBytes = 16 << 20;
constexpr std::chrono::seconds kDrainTimeout{2};

beast::string_view Bv(std::string_view s) { return {s.data(), s.size()}; }

class Session;

// Shared is what the server and its sessions both use. Sessions hold it by
// shared_ptr, so it outlives the io_context that destroys them.
struct Shared {
  Shared(ServerOptions o, Handler h)
      : options(std::move(o)),
        limits{.max_body_bytes = options.max_body_bytes,
               .max_header_bytes = kHeaderLimit},
        handler(std::move(h)) {}

  // NoSessions is the condition Shutdown awaits.
  bool NoSessions() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return sessions.empty();
  }

  const ServerOptions options;
  const RequestLimits limits;
  const Handler handler;
  asio::ssl::context ssl{asio::ssl::context::tls_server};
  std::atomic<bool> stopping{false};
  // refusing is set when shutdown_grace has passed: requests whose handler
  // has not started yet are answered 503 without running it, so nothing
  // changes after the answer is known to be lost.
  std::atomic<bool> refusing{false};
  // The pool for ServerOptions::blocking requests (null when unset); joined
  // by Shutdown after the I/O threads stopped.
  std::unique_ptr<asio::thread_pool> pool;

  // The live sessions; awaited (empty) by Shutdown, woken as each ends.
  Mutex mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions
      ABSL_GUARDED_BY(mu);
};

// Session is one TLS connection. All its work runs on its own strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)), stream_(std::move(socket), shared_->ssl) {}

  ~Session() {
    MutexLock lock(&shared_->mu);
    shared_->sessions.erase(this);
  }

  void Start() {
    {
      MutexLock lock(&shared_->mu);
      shared_->sessions.emplace(this, weak_from_this());
    }
    beast::error_code ec;
    tcp::endpoint peer = Tcp().socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string();
    if (!ec) remote_port_ = peer.port();
    tcp::endpoint local = Tcp().socket().local_endpoint(ec);
    if (!ec) local_ = local.address().to_string();
    if (!ec) local_port_ = local.port();
    asio::dispatch(stream_.get_executor(),
                   [self = shared_from_this()] { self->Handshake(); });
  }

  // StopIfIdle (posted by Server::Shutdown) ends a connection that is not
  // working on a request; a busy one ends after its response.
  void StopIfIdle() {
    if (!busy_) Tcp().cancel();
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

 private:
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void Handshake() {
    if (shared_->stopping) return;
    Tcp().expires_after(shared_->options.idle_timeout);
    stream_.async_handshake(
        asio::ssl::stream_base::server,
        [self = shared_from_this()](beast::error_code ec) {
          if (ec) {
            Log(LogLevel::kDebug, "http_handshake_failed",
                {{"remote", self->remote_}, {"error", ec.message()}});
            return self->Tcp().close();
          }
          self->ReadRequest();
        });
  }

  // ReadRequest reads the next request in the steps of request_parser.h:
  // header, AcceptHeader, body, FinishRequest.
  void ReadRequest() {
    busy_ = false;
    if (shared_->stopping) return Close();
    parser_.emplace();
    ConfigureParser(*parser_, shared_->limits);
    request_ = Request{};
    Tcp().expires_after(shared_->options.idle_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          self->busy_ = true;
          if (ec) return self->OnReadError(ec);
          if (std::optional<HttpRejection> refused = AcceptHeader(
                  *self->parser_, self->shared_->limits, self->request_)) {
            return self->Reject(*refused);
          }
          self->Tcp().expires_after(self->shared_->options.idle_timeout);
          bhttp::async_read(self->stream_, self->buffer_, *self->parser_,
                            [self](beast::error_code ec, size_t) {
                              if (ec) return self->OnReadError(ec);
                              self->Dispatch();
                            });
        });
  }

  void OnReadError(beast::error_code ec) {
    if (std::optional<HttpRejection> refused = RejectReadError(
            ec, shared_->limits,
            std::string_view(static_cast<const char*>(buffer_.data().data()),
                             buffer_.size()))) {
      return Reject(*refused);
    }
    // The peer went away, timed out, or Shutdown cancelled an idle read.
    if (ec == bhttp::error::end_of_stream) return Close();
    Tcp().close();
  }

  // Reject answers a refused request without running the handler, with
  // "Connection: close", then closes: what follows the header cannot be
  // trusted to start a request. Only the body of a request refused for its
  // declared size (413) is read and discarded first, when moderate:
  // closing while the client still sends would reset the connection
  // before it reads the 413.
  void Reject(const HttpRejection& refused) {
    Log(LogLevel::kDebug, "http_rejected",
        {{"remote", remote_}, {"status", std::to_string(refused.status)}});
    drain_remaining_ = 0;
    if (refused.status == 413 && parser_->is_header_done() &&
        !parser_->chunked()) {
      const uint64_t len = parser_->content_length().value_or(0);
      const uint64_t rest = len > buffer_.size() ? len - buffer_.size() : 0;
      drain_remaining_ = rest <= kMaxDrainBytes ? rest : 0;
    }
    buffer_.consume(buffer_.size());
    Send(RejectionResponse(refused), /*keep_alive=*/false, /*head=*/false);
  }

  void Dispatch() {
    Request req = std::move(request_);
    const bool keep_alive = FinishRequest(*parser_, req);
    const bool head = req.method == "HEAD";
    req.remote_address = remote_;
    req.remote_port = remote_port_;
    req.local_address = local_;
    req.local_port = local_port_;
    if (shared_->pool != nullptr && shared_->options.blocking(req)) {
      // Off the I/O thread; the answer comes back to this connection's
      // io_context.
      asio::post(*shared_->pool, [self = shared_from_this(),
                                  req = std::move(req), keep_alive, head] {
        self->Answer(req, self->Run(req), keep_alive, head);
      });
      return;
    }
    Response res = Run(req);
    Answer(req, std::move(res), keep_alive, head);
  }

  // Run calls the handler, unless shutdown has passed its grace period.
  Response Run(const Request& req) {
    if (shared_->refusing) {
      return AzureError(503, "ServiceUnavailable",
                        "keyferryd is shutting down; the request was not run");
    }
    return shared_->handler(req);
  }

  // Answer hands `res` to the finish hook (which may hold it, e.g. until
  // the audit record is durable) and sends what comes back on this
  // connection's io_context. Any thread.
  void Answer(const Request& req, Response res, bool keep_alive, bool head) {
    LogRequest(remote_, req, res);
    auto send = [self = shared_from_this(), keep_alive, head](Response r) {
      asio::post(self->stream_.get_executor(), [self, r = std::move(r),
                                                keep_alive, head]() mutable {
        self->Send(std::move(r), keep_alive && !self->shared_->stopping, head);
      });
    };
    if (shared_->options.finish) {
      shared_->options.finish(req, std::move(res), std::move(send));
    } else {
      send(std::move(res));
    }
  }

  static void LogRequest(const std::string& remote, const Request& req,
                         const Response& res) {
    if (!LogEnabled(LogLevel::kDebug)) return;
    Log(LogLevel::kDebug, "http_request",
        {{"remote", remote},
         {"method", req.method},
         {"target", req.target},
         {"status", std::to_string(res.status)}});
  }

  void Send(Response res, bool keep_alive, bool head) {
    AddStandardHeaders(res);
    res_ = {};
    res_.version(11);
    res_.result(res.status >= 100 && res.status <= 999 ? res.status : 500);
    for (const auto& [name, value] : res.headers.fields()) {
      res_.insert(Bv(name), Bv(value));
    }
    res_.body() = std::move(res.body);
    res_.keep_alive(keep_alive);
    res_.prepare_payload();
    if (head) res_.body().clear();  // Content-Length stays as computed
    Tcp().expires_after(shared_->options.idle_timeout);
    bhttp::async_write(
        stream_, res_,
        [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
          if (ec) return self->Tcp().close();
          if (!keep_alive) return self->Drain();
          self->ReadRequest();
        });
  }

  // Drain discards the rest of a refused body (bounded by kDrainTimeout),
  // then closes.
  void Drain() {
    if (drain_remaining_ == 0) return Close();
    Tcp().expires_after(kDrainTimeout);
    drain_.resize(size_t{64} * 1024);
    stream_.async_read_some(
        asio::buffer(drain_),
        [self = shared_from_this()](beast::error_code ec, size_t n) {
          if (ec) return self->Tcp().close();
          self->drain_remaining_ -=
              std::min<uint64_t>(n, self->drain_remaining_);
          self->Drain();
        });
  }

  // Close sends TLS close_notify (bounded by kCloseTimeout), then closes.
  void Close() {
    Tcp().expires_after(kCloseTimeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
      self->Tcp().close();
    });
  }

  const std::shared_ptr<Shared> shared_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<BeastRequestParser> parser_;
  Request request_;  // the request being read (AcceptHeader fills it)
  bhttp::response<bhttp::string_body> res_;
  std::string remote_;
  uint16_t remote_port_ = 0;
  std::string local_;  // our end of the connection
  uint16_t local_port_ = 0;
  bool busy_ = false;  // between a complete header and the response written
  std::vector<uint8_t> drain_;    // scratch for discarding an oversized body
  uint64_t drain_remaining_ = 0;  // bytes of a refused body still to read
};

// KeptIo holds the io_contexts a forced Shutdown could not free (see
// Server::Shutdown), for the rest of the process; never destroyed.
struct KeptIo {
  Mutex mu;
  std::vector<std::unique_ptr<asio::io_context>> contexts ABSL_GUARDED_BY(mu);
};
KeptIo& Kept() {
  static KeptIo* const kept = new KeptIo;
  return *kept;
}

}  // namespace

struct Server::Impl {
  enum class State { kNew, kRunning, kStopping, kStopped };
  absl::Status Bind() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu);

  void Accept() {
    // Each connection lives on one I/O thread's own io_context, chosen
    // round-robin: no locks or cross-thread wake-ups per request.
    asio::io_context& home = *iocs[next_ioc++ % iocs.size()];
    acceptor->async_accept(home, [this](beast::error_code ec, tcp::socket s) {
      if (!acceptor->is_open() || shared->stopping) return;
      if (ec) {
        // Likely out of descriptors: back off instead of spinning.
        Log(LogLevel::kWarning, "http_accept_failed",
            {{"error", ec.message()}});
        retry->expires_after(std::chrono::milliseconds(100));
        retry->async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec) Accept();
        });
        return;
      }
      std::make_shared<Session>(std::move(s), shared)->Start();
      Accept();
    });
  }

  // CloseListeners closes the acceptor and stops the retry timer and signal
  // wait. Runs on the acceptor's strand or after the I/O threads ended.
  void CloseListeners() {
    beast::error_code ec;
    acceptor->close(ec);
    retry->cancel();
    if (signals) signals->cancel(ec);
  }

  ~Impl() {
    if (keep_io) {
      // See Shutdown: connections still alive refer to these; they are
      // kept (reachable) for the rest of the process.
      KeptIo& kept = Kept();
      MutexLock lock(&kept.mu);
      for (auto& ioc : iocs) kept.contexts.push_back(std::move(ioc));
      kept.contexts.push_back(std::move(accept_ioc));
    }
  }

  // Declaration order matters: the io_context (and the handlers it still
  // holds) is destroyed before `shared`, and the I/O objects before it.
  std::shared_ptr<Shared> shared;
  bool keep_io = false;  // set by Shutdown
  // One io_context per I/O thread, plus one (with its own thread) for the
  // acceptor, signals and timers, so a busy handler never delays accepting
  // or shutting down. Each is kept running by a work guard until Shutdown
  // stops it.
  std::unique_ptr<asio::io_context> accept_ioc;
  std::vector<std::unique_ptr<asio::io_context>> iocs;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards;
  size_t next_ioc = 0;  // on the acceptor's thread only
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> retry;
  std::unique_ptr<asio::signal_set> signals;
  std::vector<std::thread> threads;
  std::atomic<uint16_t> port{0};

  // Conditions Wait awaits (state_mu's unlock wakes awaiters).
  bool Settled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu) {
    return state == State::kNew || state == State::kStopped;
  }
  bool SettledOrStopRequested() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu) {
    return Settled() || (state == State::kRunning && stop_requested);
  }

  Mutex shutdown_mu;  // serializes Shutdown
  Mutex state_mu;
  State state ABSL_GUARDED_BY(state_mu) = State::kNew;
  bool stop_requested ABSL_GUARDED_BY(state_mu) = false;
};

absl::StatusOr<std::unique_ptr<Server>> Server::New(ServerOptions options,
                                                    Handler handler) {
  if (!handler) return absl::InvalidArgumentError("Server needs a handler");
  auto impl = std::make_unique<Impl>();
  impl->shared =
      std::make_shared<Shared>(std::move(options), std::move(handler));
  const ServerOptions& o = impl->shared->options;
  SSL_CTX* ctx = impl->shared->ssl.native_handle();
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return crypto::SslError(absl::StatusCode::kInternal, "configuring TLS");
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_pem_path.c_str()) != 1) {
    return crypto::SslError(absl::StatusCode::kInvalidArgument,
                            "loading certificate " + o.cert_pem_path);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, o.key_pem_path.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return crypto::SslError(absl::StatusCode::kInvalidArgument,
                            "loading private key " + o.key_pem_path);
  }
  const int n =
      o.threads > 0
          ? o.threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (o.blocking) {
    impl->shared->pool =
        std::make_unique<asio::thread_pool>(std::max(1, o.blocking_threads));
  }
  impl->accept_ioc = std::make_unique<asio::io_context>(1);
  impl->guards.push_back(asio::make_work_guard(*impl->accept_ioc));
  for (int i = 0; i < n; ++i) {
    impl->iocs.push_back(std::make_unique<asio::io_context>(1));
    impl->guards.push_back(asio::make_work_guard(*impl->iocs.back()));
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

// clang-tidy's exception-escape sees the throw statements of Asio below
// Shutdown: system errors of timer cancel and thread-pool join, which do not
// happen on a server that started; were one to, std::terminate is the answer.
Server::~Server() { Shutdown(); }  // NOLINT(bugprone-exception-escape)

// Bind binds and listens once (Server::Bind, Server::Start).
absl::Status Server::Impl::Bind() {
  if (acceptor != nullptr) return absl::OkStatus();  // bound already
  const ServerOptions& o = shared->options;
  beast::error_code ec;
  asio::ip::address addr = asio::ip::make_address(o.listen_address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad listen address ", o.listen_address));
  }
  tcp::endpoint endpoint(addr, o.port);
  auto bound = std::make_unique<tcp::acceptor>(accept_ioc->get_executor());
  tcp::acceptor& acc = *bound;
  if (acc.open(endpoint.protocol(), ec); !ec) {
    acc.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ",
                                               o.listen_address, ":", o.port,
                                               ": ", ec.message()));
  }
  port = acc.local_endpoint(ec).port();
  retry = std::make_unique<asio::steady_timer>(acc.get_executor());
  acceptor = std::move(bound);
  return absl::OkStatus();
}

absl::Status Server::Bind() {
  MutexLock lock(&impl_->state_mu);
  if (impl_->state != Impl::State::kNew) {
    return absl::FailedPreconditionError("Server::Bind after Start");
  }
  return impl_->Bind();
}

absl::Status Server::Start() {
  MutexLock lock(&impl_->state_mu);
  if (impl_->state != Impl::State::kNew) {
    return absl::FailedPreconditionError("Server::Start called twice");
  }
  RETURN_IF_ERROR(impl_->Bind());
  const ServerOptions& o = impl_->shared->options;
  impl_->Accept();
  const size_t n = impl_->iocs.size();
  impl_->threads.emplace_back([ioc = impl_->accept_ioc.get()] { ioc->run(); });
  for (size_t i = 0; i < n; ++i) {
    impl_->threads.emplace_back([ioc = impl_->iocs[i].get()] { ioc->run(); });
  }
  impl_->state = Impl::State::kRunning;
  Log(LogLevel::kInfo, "http_listening",
      {{"address", o.listen_address},
       {"port", std::to_string(impl_->port.load())},
       {"threads", std::to_string(n)}});
  return absl::OkStatus();
}

uint16_t Server::port() const { return impl_->port; }

bool Server::refusing() const { return impl_->shared->refusing; }

void Server::Shutdown() {
  MutexLock serial(&impl_->shutdown_mu);
  {
    MutexLock lock(&impl_->state_mu);
    if (impl_->state != Impl::State::kRunning) {
      if (impl_->state == Impl::State::kNew)
        impl_->state = Impl::State::kStopped;
      return;
    }
    impl_->state = Impl::State::kStopping;
  }
  Shared& shared = *impl_->shared;
  shared.stopping = true;
  const auto deadline =
      std::chrono::steady_clock::now() + shared.options.shutdown_grace;
  // Stop accepting now: close the acceptor on its strand and wait for that
  // (an I/O thread may be busy in a handler, hence the deadline).
  auto closed = std::make_shared<std::promise<void>>();
  asio::post(impl_->acceptor->get_executor(), [impl = impl_.get(), closed] {
    impl->CloseListeners();
    closed->set_value();
  });
  closed->get_future().wait_until(deadline);
  std::vector<std::shared_ptr<Session>> live;
  {
    MutexLock lock(&shared.mu);
    for (auto& [ptr, weak] : shared.sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) {
    asio::post(s->executor(), [s] { s->StopIfIdle(); });
  }
  live.clear();
  {
    MutexLock lock(&shared.mu);
    const Condition no_sessions(&shared, &Shared::NoSessions);
    bool drained = shared.mu.AwaitWithTimeout(
        no_sessions,
        absl::FromChrono(deadline - std::chrono::steady_clock::now()));
    if (!drained) {
      // Past the grace period: requests not yet started are refused (503)
      // before they change anything; the handlers already running finish
      // and their answers are sent, within kRefuseGrace.
      shared.refusing = true;
      Log(LogLevel::kWarning, "http_shutdown_refusing",
          {{"connections", std::to_string(shared.sessions.size())}});
      drained = shared.mu.AwaitWithTimeout(
          no_sessions, absl::FromChrono(shared.options.refuse_grace));
    }
    if (!drained) {
      Log(LogLevel::kError, "http_shutdown_forced",
          {{"connections", std::to_string(shared.sessions.size())}});
    }
  }
  impl_->accept_ioc->stop();
  for (auto& ioc : impl_->iocs) ioc->stop();
  for (std::thread& t : impl_->threads) t.join();
  if (shared.pool) shared.pool->join();
  impl_->threads.clear();
  impl_->CloseListeners();  // no I/O thread left: safe from here
  {
    // A connection still alive here is one whose answer `finish` holds (or
    // a handler that never returned): its `send` may still run, and it
    // posts to the connection's io_context. Those stay allocated (stopped,
    // never run again) for the rest of the process rather than be freed
    // under it.
    MutexLock lock(&shared.mu);
    if (!shared.sessions.empty()) {
      impl_->keep_io = true;
      Log(LogLevel::kError, "http_shutdown_answers_held",
          {{"connections", std::to_string(shared.sessions.size())}});
    }
  }
  MutexLock lock(&impl_->state_mu);
  impl_->state = Impl::State::kStopped;
  Log(LogLevel::kInfo, "http_stopped");
}

void Server::Wait() {
  bool shut_down_here = false;
  {
    MutexLock lock(&impl_->state_mu);
    impl_->state_mu.Await(
        Condition(impl_.get(), &Impl::SettledOrStopRequested));
    shut_down_here = impl_->state == Impl::State::kRunning;
  }
  // A signal asked for the stop: this thread performs it.
  if (shut_down_here) Shutdown();
  MutexLock lock(&impl_->state_mu);
  impl_->state_mu.Await(Condition(impl_.get(), &Impl::Settled));
}

absl::Status Server::StopOnSignals() {
  MutexLock lock(&impl_->state_mu);
  if (impl_->state != Impl::State::kRunning) {
    return absl::FailedPreconditionError(
        "StopOnSignals needs a started server");
  }
  if (impl_->signals != nullptr) return absl::OkStatus();
  impl_->signals =
      std::make_unique<asio::signal_set>(impl_->acceptor->get_executor());
  beast::error_code ec;
  impl_->signals->add(SIGTERM, ec);
  if (!ec) impl_->signals->add(SIGINT, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("installing signal handlers: ", ec.message()));
  }
  impl_->signals->async_wait([impl = impl_.get()](beast::error_code ec,
                                                  int signal) {
    if (ec) return;
    Log(LogLevel::kInfo, "http_signal", {{"signal", std::to_string(signal)}});
    MutexLock lock(&impl->state_mu);
    impl->stop_requested = true;
  });
  return absl::OkStatus();
}

}  // namespace keyferry::http
