#include "audit/audit_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/mac.h"

namespace keyferry::audit {
namespace {

using ojson = nlohmann::ordered_json;

constexpr size_t kMaxLine = size_t{16} << 20;
// The members of a line, in their fixed order.
constexpr std::array<const char*, 12> kOrder = {
    "seq",     "time",   "principal", "vault",      "operation", "key",
    "version", "status", "error",     "request_id", "prev",      "hash"};

std::string Dump(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::string Sha256Hex(std::string_view data) {
  return HexEncode(crypto::Sha256(AsBytes(data)));
}

bool IsHash(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string NowRfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, ts.tv_nsec / 1000000);
  return buf;
}

absl::Status ErrnoError(const std::string& what, const std::string& path,
                        int err) {
  return absl::InternalError(what + " " + path + ": " + strerror(err));
}

// Middle returns the serialized members time..request_id, without braces,
// so the line body is `{"seq":N,` + Middle + `,"prev":"…"}`.
std::string Middle(const Record& r) {
  ojson j;
  j["time"] = r.time;
  j["principal"] = r.principal;
  j["vault"] = r.vault;
  j["operation"] = r.operation;
  j["key"] = r.key;
  j["version"] = r.version;
  j["status"] = r.status;
  j["error"] = r.error_code;
  j["request_id"] = r.request_id;
  std::string s = Dump(j);
  return s.substr(1, s.size() - 2);
}

struct ParsedLine {
  uint64_t seq = 0;
  std::string prev;
  std::string hash;      // As written in the line.
  bool hash_ok = false;  // SHA-256 of the body equals `hash`.
};

// ParseLine checks that `line` (no newline) is a canonical audit record.
// nullopt when it is not; hash_ok tells whether its contents match its hash.
std::optional<ParsedLine> ParseLine(const std::string& line) {
  absl::StatusOr<ojson> parsed = ParseJson<ojson>(line);
  if (!parsed.ok()) return std::nullopt;
  ojson& j = *parsed;
  if (!j.is_object() || j.size() != kOrder.size()) return std::nullopt;
  size_t i = 0;
  for (const auto& [k, v] : j.items()) {
    if (k != kOrder[i]) return std::nullopt;
    bool ok = (k == std::string("seq"))      ? v.is_number_unsigned()
              : (k == std::string("status")) ? v.is_number_integer()
                                             : v.is_string();
    if (!ok) return std::nullopt;
    ++i;
  }
  ParsedLine p;
  p.seq = j["seq"].get<uint64_t>();
  p.prev = j["prev"].get<std::string>();
  p.hash = j["hash"].get<std::string>();
  if (p.seq == 0 || !IsHash(p.prev) || !IsHash(p.hash)) return std::nullopt;
  j.erase("hash");
  std::string body = Dump(j);
  // Canonical form: the line is exactly the body with the hash member
  // appended.
  if (line !=
      body.substr(0, body.size() - 1) + ",\"hash\":\"" + p.hash + "\"}") {
    return std::nullopt;
  }
  p.hash_ok = Sha256Hex(body) == p.hash;
  return p;
}

struct Head {
  uint64_t seq = 0;
  std::string hash;
};

// ReadHead returns nullopt when there is no head file.
absl::StatusOr<std::optional<Head>> ReadHead(const std::string& log_path) {
  std::string path = HeadPath(log_path);
  auto text = ReadFile(path, 4096);
  if (absl::IsNotFound(text.status())) return std::optional<Head>();
  if (!text.ok()) return text.status();
  absl::StatusOr<ojson> parsed = ParseJson<ojson>(*text);
  ojson j = parsed.ok() ? std::move(*parsed) : ojson();
  if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
      !j.contains("hash") || !j["hash"].is_string() ||
      !IsHash(j["hash"].get<std::string>())) {
    return absl::DataLossError("the head file " + path + " is not valid");
  }
  return std::optional<Head>(
      Head{j["seq"].get<uint64_t>(), j["hash"].get<std::string>()});
}

absl::Status WriteHead(const std::string& log_path, uint64_t seq,
                       const std::string& hash) {
  ojson j;
  j["seq"] = seq;
  j["hash"] = hash;
  std::string text = Dump(j) + "\n";
  return WriteFileAtomic(HeadPath(log_path), AsBytes(text), 0600);
}

// ResumeState reads the last complete line of the open log `fd`, truncating
// a partial trailing line. Returns {seq, hash} of the last record.
absl::StatusOr<Head> ResumeState(const std::string& path, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError("cannot stat", path, errno);
  const off_t size = st.st_size;
  std::string tail;
  off_t pos = size;
  size_t last = std::string::npos, before = std::string::npos;
  for (;;) {
    if (pos == 0) break;
    size_t chunk = static_cast<size_t>(std::min<off_t>(pos, 65536));
    pos -= static_cast<off_t>(chunk);
    std::string buf(chunk, '\0');
    size_t got = 0;
    while (got < chunk) {
      ssize_t n = pread(fd, buf.data() + got, chunk - got,
                        pos + static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("cannot read", path, errno);
      if (n == 0) return absl::InternalError(path + ": file shrank");
      got += static_cast<size_t>(n);
    }
    tail.insert(0, buf);
    last = tail.rfind('\n');
    if (last != std::string::npos && last > 0) {
      before = tail.rfind('\n', last - 1);
      if (before != std::string::npos) break;
    }
    if (tail.size() > kMaxLine) {
      return absl::DataLossError(path + ": the last record is longer than " +
                                 std::to_string(kMaxLine) + " bytes");
    }
  }
  // `tail` starts at file offset `pos`.
  off_t complete_end =
      last == std::string::npos ? 0 : pos + static_cast<off_t>(last) + 1;
  if (complete_end < size) {
    Log(LogLevel::kWarning, "audit_partial_line_truncated",
        {{"path", path},
         {"bytes", std::to_string(size - complete_end)},
         {"offset", std::to_string(complete_end)}});
    if (ftruncate(fd, complete_end) != 0 || fdatasync(fd) != 0) {
      return ErrnoError("cannot truncate the partial last line of", path,
                        errno);
    }
  }
  if (last == std::string::npos) return Head{0, kGenesisHash};
  size_t start = before == std::string::npos ? 0 : before + 1;
  std::string line = tail.substr(start, last - start);
  auto p = ParseLine(line);
  if (!p.has_value() || !p->hash_ok) {
    return absl::DataLossError(
        path + ": the last record is not a valid audit record (" +
        (p.has_value() ? "its hash does not match its contents"
                       : "it does not parse") +
        "); run `keyferry audit verify`");
  }
  return Head{p->seq, p->hash};
}

}  // namespace

std::string HeadPath(const std::string& path) { return path + ".head"; }

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    const std::string& path) {
  return Open(path, AuditLogOptions{});
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    const std::string& path, const AuditLogOptions& options) {
  bool created = false;
  int fd = open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
              0600);
    created = fd >= 0;
  }
  if (fd < 0) return ErrnoError("cannot open audit log", path, errno);
  auto fail = [fd](absl::Status s) {
    close(fd);
    return s;
  };
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return fail(absl::FailedPreconditionError(
          "audit log " + path + " is in use by another process"));
    }
    return fail(ErrnoError("cannot lock audit log", path, errno));
  }
  if (created) {
    if (absl::Status s = SyncDirectory(path); !s.ok()) return fail(s);
  }
  auto state = ResumeState(path, fd);
  if (!state.ok()) return fail(state.status());
  auto head = ReadHead(path);
  if (!head.ok()) return fail(head.status());
  if (head->has_value()) {
    const Head& h = **head;
    if (h.seq > state->seq) {
      return fail(absl::DataLossError(
          path + ": the log ends at record " + std::to_string(state->seq) +
          " but its head says " + std::to_string(h.seq) +
          " (records removed from the end)"));
    }
    if (h.seq == state->seq && h.hash != state->hash) {
      return fail(absl::DataLossError(
          path + ": record " + std::to_string(h.seq) +
          " does not have the hash its head records (altered or replaced)"));
    }
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return fail(ErrnoError("cannot stat", path, errno));
  return std::unique_ptr<AuditLog>(new AuditLog(
      path, fd, options, state->seq, std::move(state->hash), st.st_size));
}

AuditLog::AuditLog(std::string path, int fd, AuditLogOptions options,
                   uint64_t seq, std::string last_hash, off_t durable_size)
    : path_(std::move(path)),
      fd_(fd),
      options_(std::move(options)),
      file_size_(durable_size),
      head_seq_(seq),
      written_seq_(seq),
      written_hash_(last_hash),
      synced_seq_(seq),
      synced_hash_(last_hash),
      seq_(seq),
      last_hash_(std::move(last_hash)) {
  thread_ = std::thread([this] { Run(); });
}

// clang-tidy's exception-escape sees the throw statements of nlohmann::json
// below Buffer and WriteHead: type errors (the objects have fixed members of
// fixed types) and UTF-8 errors (every dump uses error_handler_t::replace),
// neither of which can happen here.
AuditLog::~AuditLog() {  // NOLINT(bugprone-exception-escape): see above
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
  {
    MutexLock fl(&flush_mu_);
    // Everything written is synced at close, whatever the durability.
    if (absl::Status s = FlushLocked(/*may_sync=*/true, /*force_sync=*/true);
        !s.ok()) {
      Log(LogLevel::kError, "audit_flush_failed",
          {{"path", path_}, {"error", s.ToString()}});
    }
    WriteHeadIfDue(/*force=*/true);
  }
  close(fd_);
}

void AuditLog::Run() {
  MutexLock l(&mu_);
  // WaitFor waits until `ready` holds or `timeout` passes, with mu_ held.
  auto wait_for = [this](absl::Duration timeout, auto ready)
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                        const absl::Time deadline = absl::Now() + timeout;
                        while (!ready()) {
                          if (cv_.WaitWithDeadline(&mu_, deadline)) return;
                        }
                      };
  while (!stop_) {
    // Healthy: write as soon as there is something (the write and sync of
    // one batch is the time the next batch gathers). Unhealthy: retry.
    if (healthy_ && options_.durability == AuditDurability::kSync) {
      while (!stop_ && buffer_.empty()) cv_.Wait(&mu_);
    } else if (healthy_) {
      // kWrite: also wake once a second to sync what was written.
      wait_for(absl::Seconds(1), [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !buffer_.empty();
      });
    } else {
      wait_for(absl::FromChrono(options_.retry_interval),
               [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                 return stop_ || (healthy_ && !buffer_.empty());
               });
    }
    if (stop_) break;
    mu_.Unlock();
    absl::Status s = Flush();
    mu_.Lock();
    if (!s.ok() && refused_ + lost_ == 0) {
      Log(LogLevel::kError, "audit_write_failed",
          {{"path", path_},
           {"error", s.ToString()},
           {"effect",
            "requests are refused (503) until the audit log can be "
            "written again"}});
    }
  }
}

bool AuditLog::Buffer(Record r) {
  if (buffer_.size() >= 4 * options_.max_buffer_bytes) {
    ++lost_;
    return false;
  }
  if (r.time.empty()) r.time = NowRfc3339();
  const uint64_t seq = seq_ + 1;
  std::string body = "{\"seq\":" + std::to_string(seq) + "," + Middle(r) +
                     ",\"prev\":\"" + last_hash_ + "\"}";
  std::string hash = Sha256Hex(body);
  body.pop_back();
  buffer_ += body;
  buffer_ += ",\"hash\":\"";
  buffer_ += hash;
  buffer_ += "\"}\n";
  seq_ = seq;
  last_hash_ = std::move(hash);
  return true;
}

void AuditLog::Append(Record r) {
  {
    MutexLock l(&mu_);
    Buffer(std::move(r));
  }
  cv_.Signal();
}

void AuditLog::AppendDurable(Record r, std::function<void(absl::Status)> done) {
  bool buffered = false;
  bool queued = false;
  // `done` goes either to the waiters (called once the record is durable)
  // or here, to be called below with the refusal.
  std::function<void(absl::Status)> refused;
  {
    MutexLock l(&mu_);
    buffered = Buffer(std::move(r));
    queued = buffered && healthy_;
    if (queued) {
      waiters_.push_back({seq_, std::move(done)});
    } else {
      refused = std::move(done);
    }
  }
  if (queued) {
    // kWrite: the caller writes the batch itself when no write is under
    // way (no hand-off to the writer thread and back); the writer thread
    // still syncs once a second.
    if (options_.durability == AuditDurability::kWrite && flush_mu_.TryLock()) {
      (void)FlushLocked(/*may_sync=*/false, /*force_sync=*/false);
      flush_mu_.Unlock();
      return;
    }
    cv_.Signal();
    return;
  }
  refused(absl::UnavailableError(
      buffered ? "the audit log cannot be written; the record is kept and "
                 "written once it can"
               : "the audit log cannot be written and its memory is full; "
                 "the record is lost"));
}

absl::Status AuditLog::AppendAndWait(Record r) {
  Mutex m;
  CondVar cv;
  std::optional<absl::Status> result;  // guarded by m
  AppendDurable(std::move(r), [&](absl::Status s) {
    MutexLock l(&m);
    result = std::move(s);
    cv.Signal();
  });
  MutexLock l(&m);
  while (!result.has_value()) cv.Wait(&m);
  return *result;
}

bool AuditLog::healthy() const {
  MutexLock l(&mu_);
  return healthy_ && buffer_.size() < options_.max_buffer_bytes;
}

void AuditLog::NoteRefused() {
  MutexLock l(&mu_);
  ++refused_;
}

absl::Status AuditLog::WriteAll(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n =
        options_.write_fn
            ? options_.write_fn(fd_, data.data() + off, data.size() - off)
            : write(fd_, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot write audit log", path_, errno);
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status AuditLog::Sync() {
  if ((options_.sync_fn ? options_.sync_fn(fd_) : fdatasync(fd_)) != 0) {
    return ErrnoError("cannot fdatasync audit log", path_, errno);
  }
  last_sync_ = std::chrono::steady_clock::now();
  unsynced_ = false;
  synced_seq_ = written_seq_;
  synced_hash_ = written_hash_;
  return absl::OkStatus();
}

void AuditLog::WriteHeadIfDue(bool force) {
  // The head names the last synced record only: never one a power loss
  // could take away.
  if (synced_seq_ == head_seq_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_head_ < options_.head_interval) return;
  if (absl::Status s = WriteHead(path_, synced_seq_, synced_hash_); !s.ok()) {
    // The records are durable; a stale head only names an earlier record.
    Log(LogLevel::kWarning, "audit_head_write_failed",
        {{"path", path_}, {"error", s.ToString()}});
    return;
  }
  last_head_ = now;
  head_seq_ = synced_seq_;
}

absl::Status AuditLog::Flush() {
  MutexLock fl(&flush_mu_);
  return FlushLocked(/*may_sync=*/true, /*force_sync=*/false);
}

absl::Status AuditLog::FlushLocked(bool may_sync, bool force_sync) {
  const bool sync_each = options_.durability == AuditDurability::kSync;
  const bool sync_due =
      may_sync &&
      (force_sync || std::chrono::steady_clock::now() - last_sync_ >=
                         std::chrono::seconds(1));
  std::string data;
  uint64_t seq;
  std::string hash;
  std::vector<Waiter> waiters;
  {
    MutexLock l(&mu_);
    // An inline write (kWrite) never runs while the log is down: the
    // writer thread's retries decide when it is up again.
    if (!may_sync && !healthy_) return absl::OkStatus();
    // kWrite: what was answered after its write is synced within 1 s.
    if (buffer_.empty() && !(unsynced_ && sync_due)) return absl::OkStatus();
    data.swap(buffer_);
    waiters.swap(waiters_);
    seq = seq_;
    hash = last_hash_;
  }
  // Fail undoes what reached the file of this batch (so the file holds
  // whole records only), keeps the batch for the retries in chain order,
  // and tells its waiters.
  auto fail =
      [&](const absl::Status& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(flush_mu_) {
        if (ftruncate(fd_, file_size_) != 0) {
          Log(LogLevel::kError, "audit_truncate_failed",
              {{"path", path_}, {"error", strerror(errno)}});
        }
        {
          MutexLock l(&mu_);
          buffer_.insert(0, data);
          healthy_ = false;
        }
        const absl::Status failed = absl::UnavailableError(error.message());
        for (Waiter& w : waiters) w.done(failed);
        return failed;
      };
  if (!data.empty()) {
    if (absl::Status w = WriteAll(data); !w.ok()) return fail(w);
    written_seq_ = seq;
    written_hash_ = hash;
    unsynced_ = true;
  }
  if (sync_each || sync_due) {
    if (absl::Status synced = Sync(); !synced.ok()) {
      if (sync_each) return fail(synced);
      // kWrite: these lines were answered after their write and stay; the
      // log is down (new requests refused) until a sync succeeds.
      file_size_ += static_cast<off_t>(data.size());
      {
        MutexLock l(&mu_);
        healthy_ = false;
      }
      for (Waiter& w : waiters) w.done(absl::OkStatus());
      return absl::UnavailableError(synced.message());
    }
  }
  file_size_ += static_cast<off_t>(data.size());
  bool recovered = false;
  uint64_t refused = 0, lost = 0;
  {
    MutexLock l(&mu_);
    recovered = !healthy_;
    healthy_ = true;
    if (recovered) {
      // The summary is chained right after the records kept while the log
      // was down, before any record of a request served since.
      refused = std::exchange(refused_, 0);
      lost = std::exchange(lost_, 0);
      Record r;
      r.principal = "keyferryd";
      r.operation = "audit-log-unavailable";
      r.status = 503;
      r.error_code = "AuditLogUnavailable";
      r.key =
          absl::StrCat(refused, " requests refused, ", lost, " records lost");
      Buffer(std::move(r));
    }
  }
  if (recovered) cv_.Signal();
  for (Waiter& w : waiters) w.done(absl::OkStatus());
  WriteHeadIfDue(/*force=*/false);
  if (recovered) {
    Log(LogLevel::kWarning, "audit_log_recovered",
        {{"path", path_},
         {"refused_requests", std::to_string(refused)},
         {"lost_records", std::to_string(lost)}});
  }
  return absl::OkStatus();
}

uint64_t AuditLog::last_seq() const {
  MutexLock l(&mu_);
  return seq_;
}

absl::StatusOr<VerifyResult> Verify(
    const std::string& path, std::optional<std::string> expected_head_hash) {
  ASSIGN_OR_RETURN(std::optional<Head> head, ReadHead(path));
  FILE* f = fopen(path.c_str(), "re");
  if (f == nullptr) {
    if (errno == ENOENT) return absl::NotFoundError("no audit log " + path);
    return ErrnoError("cannot open audit log", path, errno);
  }
  std::unique_ptr<FILE, int (*)(FILE*)> closer(f, fclose);
  VerifyResult result;
  result.last_hash = kGenesisHash;
  bool expected_seen = expected_head_hash.has_value() &&
                       *expected_head_hash == std::string(kGenesisHash);
  char* buf = nullptr;
  size_t cap = 0;
  // getline may reallocate `buf`; what it holds last is freed on return.
  const absl::Cleanup free_buf = [&buf] { free(buf); };
  uint64_t n = 0;
  auto fail = [&](const std::string& msg) {
    return absl::DataLossError(path + ": " + msg);
  };
  for (;;) {
    errno = 0;
    ssize_t len = getline(&buf, &cap, f);
    if (len < 0) {
      if (errno != 0 && !feof(f)) {
        return ErrnoError("cannot read audit log", path, errno);
      }
      break;
    }
    ++n;
    const std::string ln = "record " + std::to_string(n);
    if (len == 0 || buf[len - 1] != '\n') {
      return fail("line " + std::to_string(n) +
                  " is incomplete: no newline (a crash during a write; "
                  "reopening the log removes it)");
    }
    auto p = ParseLine(std::string(buf, static_cast<size_t>(len) - 1));
    if (!p.has_value()) {
      return fail("line " + std::to_string(n) + " is not a valid audit record");
    }
    if (!p->hash_ok) {
      return fail(ln + ": hash does not match its contents (altered)");
    }
    if (p->seq != result.records + 1) {
      return fail(ln + ": seq " + std::to_string(p->seq) + " follows " +
                  std::to_string(result.records) +
                  " (removed or reordered records)");
    }
    if (p->prev != result.last_hash) {
      return fail(ln + ": prev does not match record " + std::to_string(n - 1) +
                  " (removed or reordered)");
    }
    if (head.has_value() && head->seq == p->seq && head->hash != p->hash) {
      return fail(ln +
                  ": hash differs from the one the head file records "
                  "(altered or replaced)");
    }
    if (expected_head_hash.has_value() && p->hash == *expected_head_hash) {
      expected_seen = true;
    }
    result.records = p->seq;
    result.last_hash = p->hash;
  }
  if (head.has_value() && head->seq > result.records) {
    return fail("the log ends at record " + std::to_string(result.records) +
                " but its head says " + std::to_string(head->seq) +
                " (records removed from the end)");
  }
  if (expected_head_hash.has_value() && !expected_seen) {
    return fail("no record has the expected head hash " + *expected_head_hash +
                " (records removed from the end, or the log was replaced)");
  }
  return result;
}

}  // namespace keyferry::audit
