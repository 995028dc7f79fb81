// Server: the HTTPS/1.1 transport of keyferryd, on Boost.Beast/Asio (chosen
// by measurement, docs/http-server.md). `threads` I/O threads each run their
// own io_context, and each connection stays on one of them (round-robin);
// one more thread accepts connections and handles signals;
// connections are TLS 1.2+ with keep-alive. Every request is handed
// to one Handler; the server itself answers only transport errors, without
// running the Handler:
//   400 BadParameter   malformed HTTP, bad target or Host, ambiguous framing
//                      (framing.h: Content-Length with Transfer-Encoding,
//                      duplicate Content-Length or Host, chunked not alone)
//   413 RequestEntityTooLarge  body over `max_body_bytes`, decided from the
//                      headers (Content-Length) or while reading chunks,
//                      never after buffering the whole body
//   431 BadParameter   header over 64 KiB
//   501 NotImplemented a transfer coding other than chunked
// and then closes the connection. Requests are parsed exactly as
// ParseRequestBytes (framing.h) parses bytes. HEAD gets no special routing:
// the Handler sees method "HEAD" (the Router answers 405, keyferryd serves
// no HEAD route), and the answer is sent without its body. Responses get
// Content-Length and the standard Azure headers (azure.h).
//
// Thread safety: New/Start/Shutdown/Wait may be called from any thread except
// a handler thread (Shutdown and Wait join the I/O threads). The Handler is
// called concurrently from the I/O threads (and from the blocking pool, see
// ServerOptions::blocking) and must be thread-safe; a slow handler run on
// an I/O thread holds up the connections of that thread.
#ifndef KEYFERRY_HTTP_SERVER_H_
#define KEYFERRY_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "http/message.h"

namespace keyferry::http {

// Handler answers one request. It must not throw.
using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string listen_address = "127.0.0.1";  // IPv4 or IPv6 literal
  uint16_t port = 0;                         // 0 picks a free port
  std::string cert_pem_path;                 // leaf then chain, PEM
  std::string key_pem_path;                  // private key, PEM
  int threads = 0;                           // <= 0: one per core
  size_t max_body_bytes = 1 << 20;
  // idle_timeout closes a keep-alive connection that sends nothing, and
  // bounds the TLS handshake and the reading of one request.
  std::chrono::milliseconds idle_timeout{60'000};
  // blocking tells which requests may wait on something other than the CPU
  // (a durable commit, key generation); those run on a pool of
  // `blocking_threads` threads instead of the I/O thread, so a connection
  // waiting for its commit does not hold up the others on that thread and
  // concurrent writes can share commits. Null: every request runs on its
  // I/O thread.
  std::function<bool(const Request&)> blocking;
  int blocking_threads = 64;
  // shutdown_grace bounds how long Shutdown waits for in-flight requests;
  // refuse_grace how long, past it, handlers already running (and answers
  // held by `finish`) still get to answer.
  std::chrono::milliseconds shutdown_grace{10'000};
  std::chrono::milliseconds refuse_grace{30'000};
  // finish (may be null) receives every answer a Handler made, before it
  // is sent, with `send`, which sends it: it may hold the answer (until the
  // audit record of the request is durable) and replace it (with a 503
  // when that record cannot be written). `send` must be called exactly
  // once, from any thread; it never blocks. finish itself must not block.
  std::function<void(const Request& request, Response response,
                     std::function<void(Response)> send)>
      finish;
};

class Server {
 public:
  // New loads the certificate and key and configures TLS (1.2 minimum,
  // ECDHE AEAD ciphers, no compression or renegotiation). It does not bind.
  // InvalidArgument when the files do not load or the key does not match.
  static absl::StatusOr<std::unique_ptr<Server>> New(ServerOptions options,
                                                     Handler handler);
  // ~Server shuts down (as Shutdown) if still running.
  ~Server();  // NOLINT(bugprone-exception-escape): see server.cc
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Bind binds and listens (port() is then known) without serving: a
  // caller that must know the port a `port = 0` server got before it
  // builds what the handler serves (keyferryd's token issuer names it).
  // Connections wait in the backlog until Start. Unavailable when the
  // address cannot be bound; OK when bound already; FailedPrecondition
  // after Start.
  absl::Status Bind();
  // Start binds (unless Bind did), listens and starts the I/O threads.
  // Unavailable when the address cannot be bound; FailedPrecondition when
  // called twice.
  absl::Status Start();

  // port returns the bound port (the chosen one when options.port was 0);
  // 0 before Bind or Start.
  uint16_t port() const;

  // Shutdown stops accepting, closes idle connections, lets requests in
  // flight finish and answer (with "Connection: close") for up to
  // shutdown_grace. Past it, requests not started yet (queued for the
  // blocking pool, or read meanwhile) are answered 503 without running,
  // so nothing changes whose answer would be lost; handlers already running
  // (and answers `finish` holds) get refuse_grace more to finish and
  // answer. Then it stops the I/O threads and returns. A connection whose
  // answer is still held then keeps what it needs alive: its io_context is
  // left allocated (never run again), so a late `send` is harmless.
  // Idempotent.
  void Shutdown();

  // refusing tells whether a Shutdown has passed its grace period: from then
  // on a request whose handler has not started is answered 503 without
  // running it.
  bool refusing() const;

  // Wait blocks until the server has shut down: by Shutdown from another
  // thread, or by a signal registered with StopOnSignals, in which case Wait
  // itself performs the Shutdown. Returns at once if never started.
  void Wait();

  // StopOnSignals makes SIGTERM and SIGINT (delivered to the process) request
  // a graceful shutdown, carried out by Wait. Call it after Start; meant for
  // the keyferryd main thread: Start(); StopOnSignals(); Wait();
  absl::Status StopOnSignals();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_SERVER_H_
