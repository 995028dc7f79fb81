#include "store/postgres_listen.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace keyferry::store::pg {

namespace {

// kIdleCheckMs: with no traffic the listener asks the server for a round
// trip this often, so a connection that died silently is noticed.
constexpr int kIdleCheckMs = 10'000;
// kProbeStepMs: the probe waits for its answer in steps of this, up to
// kIdleCheckMs in all.
constexpr int kProbeStepMs = 500;

// RoundTrip runs `sql` (blocking: only for the LISTEN right after connect).
bool RoundTrip(PGconn* c, const char* sql) {
  ResultPtr r(PQexec(c, sql));
  if (r == nullptr) return false;
  const ExecStatusType s = PQresultStatus(r.get());
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

}  // namespace

PurgeListener::PurgeListener(const ConnInfo* info,
                             std::function<void()> on_purge, int retry_ms)
    : info_(info), on_purge_(std::move(on_purge)), retry_ms_(retry_ms) {
  if (pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    // Without a way to stop it no thread starts: purges on other nodes are
    // then not heard (their keys stay unreachable: every request reads the
    // database), which the log says.
    stop_pipe_[0] = stop_pipe_[1] = -1;
    Log(LogLevel::kError, "store_listen_unavailable",
        {{"database", info_->target}, {"error", "pipe2 failed"}});
    return;
  }
  thread_ = std::thread([this] { Loop(); });
}

PurgeListener::~PurgeListener() {
  if (stop_pipe_[1] >= 0) {
    const char b = 1;
    (void)!write(stop_pipe_[1], &b, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : stop_pipe_) {
    if (fd >= 0) close(fd);
  }
}

void PurgeListener::Flush() {
  flushes_.fetch_add(1);
  if (on_purge_) on_purge_();
}

bool PurgeListener::Wait(int ms) {
  if (stop_pipe_[0] < 0) return true;
  pollfd p{.fd = stop_pipe_[0], .events = POLLIN, .revents = 0};
  return poll(&p, 1, ms) > 0;
}

void PurgeListener::Loop() {
  bool reported = false;
  while (true) {
    // Over TCP, a peer that vanished without a word is noticed by the
    // kernel within seconds (keepalives while idle, tcp_user_timeout while
    // data is unacknowledged); the operator's conninfo, expanded last, may
    // override these.
    const char* keys[] = {"connect_timeout",
                          "fallback_application_name",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "dbname",
                          nullptr};
    const char* vals[] = {"10", "keyferryd-listen",      "1",
                          "10", "5",
                          "2",  "15000",
                          info_->conninfo.c_str(), nullptr};
    ConnPtr c(PQconnectdbParams(keys, vals, 1));
    const bool up =
        c != nullptr && PQstatus(c.get()) == CONNECTION_OK &&
        RoundTrip(c.get(), absl::StrCat("LISTEN ", kPurgeChannel).c_str());
    if (up) {
      reported = false;
      listening_ = true;
      // Purges made while nobody listened are not replayed: everything
      // cached goes instead.
      Flush();
      const bool stopping = !Listen(c.get());
      listening_ = false;
      if (stopping) return;
      Log(LogLevel::kWarning, "store_listen_lost",
          {{"database", info_->target},
           {"action", "cached keys dropped; reconnecting"}});
      Flush();
      continue;  // reconnect at once, then every retry_ms_
    }
    if (!reported) {
      reported = true;
      Log(LogLevel::kWarning, "store_listen_unavailable",
          {{"database", info_->target},
           {"error", c ? info_->Scrub(PQerrorMessage(c.get())) : "no memory"}});
    }
    if (Wait(retry_ms_)) return;
  }
}

PurgeListener::ProbeResult PurgeListener::Probe(PGconn* c) {
  if (PQsendQuery(c, "SELECT 1") == 0) return ProbeResult::kLost;
  const int sock = PQsocket(c);
  int waited_ms = 0;
  while (true) {
    while (PQisBusy(c) == 0) {  // PQgetResult will not block
      ResultPtr r(PQgetResult(c));
      if (r == nullptr) return ProbeResult::kAnswered;
      if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return ProbeResult::kLost;
    }
    if (waited_ms >= kIdleCheckMs) return ProbeResult::kLost;
    pollfd p[2] = {{.fd = sock, .events = POLLIN, .revents = 0},
                   {.fd = stop_pipe_[0], .events = POLLIN, .revents = 0}};
    const int n = poll(p, 2, kProbeStepMs);
    waited_ms += kProbeStepMs;
    if (n > 0 && (p[1].revents & POLLIN) != 0) return ProbeResult::kStopping;
    if (n > 0 && PQconsumeInput(c) == 0) return ProbeResult::kLost;
  }
}

bool PurgeListener::Listen(PGconn* c) {
  const int sock = PQsocket(c);
  while (true) {
    pollfd p[2] = {{.fd = sock, .events = POLLIN, .revents = 0},
                   {.fd = stop_pipe_[0], .events = POLLIN, .revents = 0}};
    const int n = poll(p, 2, kIdleCheckMs);
    if (n > 0 && (p[1].revents & POLLIN) != 0) return false;
    if (n == 0) {
      // Quiet: prove the connection still answers. Notifications that
      // arrive meanwhile stay queued for PQnotifies below.
      switch (Probe(c)) {
        case ProbeResult::kAnswered:
          break;
        case ProbeResult::kLost:
          return true;
        case ProbeResult::kStopping:
          return false;
      }
    } else if (n > 0 && PQconsumeInput(c) == 0) {
      return true;  // lost
    }
    bool heard = false;
    while (PGnotify* note = PQnotifies(c)) {
      heard = true;
      PQfreemem(note);
    }
    if (heard) Flush();
    if (PQstatus(c) != CONNECTION_OK) return true;
  }
}

}  // namespace keyferry::store::pg
