// Append-only, hash-chained audit log (JSON Lines). docs/audit.md describes
// the file format, the hash definition and what Verify can and cannot detect.
//
// Records name who did what to which key; they never hold key material,
// plaintext, PINs or tokens.
#ifndef KEYFERRY_AUDIT_AUDIT_LOG_H_
#define KEYFERRY_AUDIT_AUDIT_LOG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"

namespace keyferry::audit {

// Record is one audited request. Never put key material or plaintext here.
struct Record {
  std::string time;  // RFC 3339 UTC with ms; the log fills it in when empty.
  std::string principal;
  std::string vault;
  std::string operation;
  std::string key;
  std::string version;
  int status = 0;  // HTTP status of the answer.
  std::string error_code;
  std::string request_id;
};

// kGenesisHash is the "prev" of record 1: 64 zeros.
inline constexpr char kGenesisHash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

// HeadPath returns the head file kept beside the log: `<path>.head`.
std::string HeadPath(const std::string& path);

// AuditDurability is what an answer waits for.
enum class AuditDurability {
  // The record is written and fdatasynced (default): survives a power loss.
  kSync,
  // The record is written to the file (the kernel has it): survives the
  // process's crash or kill -9, not a power loss or kernel crash; the file
  // is fdatasynced at least once a second and at close.
  kWrite,
};

struct AuditLogOptions {
  AuditDurability durability = AuditDurability::kSync;
  // While the log cannot be written, the flush thread retries this often.
  std::chrono::milliseconds retry_interval{1000};
  // The head file is rewritten at most this often, and at close.
  std::chrono::milliseconds head_interval{1000};
  // More records than this waiting to be written make healthy() false, so
  // new requests are refused until the disk catches up; records of
  // requests already answered are kept up to four times this, and past
  // that counted as lost (and the loss recorded once the log recovers).
  size_t max_buffer_bytes = size_t{1} << 20;
  // Fault injection for tests: stand-ins for write(2) and fdatasync(2) on
  // the log file (same contract: -1 with errno on failure).
  std::function<ssize_t(int fd, const void* data, size_t size)> write_fn;
  std::function<int(int fd)> sync_fn;
};

// AuditLog appends records to one log file. Records are written by one
// flush thread as soon as they come, many per write and fdatasync (group
// commit): a request is answered only once its record is durable
// (AppendDurable), which costs one fdatasync per batch, not per request.
//
// Fail closed: when a write or a sync fails (a full disk, an I/O error) the
// log is unhealthy: callers refuse new requests (503) while healthy() is
// false, and the waiting records are kept in memory (bounded) and written
// by the retries, in chain order, once the disk recovers. A failed write
// is truncated away, so the file only ever holds whole, synced records.
//
// Thread-safe. One process at a time: Open takes an exclusive flock on the
// file.
class AuditLog {
 public:
  // Open creates `path` (mode 0600) or opens it and resumes its chain from
  // its last complete line. A partial last line (a crash mid-write) is
  // truncated with a warning. DataLoss when the last record does not parse
  // or the head file says the log used to be longer; FailedPrecondition
  // when another process holds the log.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(
      const std::string& path);
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(
      const std::string& path, const AuditLogOptions& options);

  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;
  // Stops the flush thread and flushes what is buffered.
  ~AuditLog();  // NOLINT(bugprone-exception-escape): see audit_log.cc

  // Append formats `r` and buffers it for the flush thread; seq and prev
  // are assigned under the lock, so buffer order is chain order. No I/O,
  // no waiting: for tools and tests; request records use AppendDurable.
  void Append(Record r) ABSL_LOCKS_EXCLUDED(mu_);

  // AppendDurable appends `r` (as Append) and calls `done` exactly once:
  // OK when the record is written and fdatasynced, Unavailable when it
  // could not be (the log is unhealthy, or this batch's write or sync
  // failed). The record is kept either way and written once the log
  // recovers, unless memory is full (then it is counted as lost). `done`
  // runs on the flush thread, or inline while the log is unhealthy; it
  // must not block.
  void AppendDurable(Record r, std::function<void(absl::Status)> done)
      ABSL_LOCKS_EXCLUDED(mu_, flush_mu_);

  // AppendAndWait is AppendDurable that blocks the caller until `done`,
  // for work that is not a request and may wait: keyferryd's own
  // rotations and purges (requests use AppendDurable through the server's
  // finish hook).
  absl::Status AppendAndWait(Record r);

  // healthy tells whether new requests may be served: the last write and
  // sync succeeded and the records waiting fit max_buffer_bytes.
  bool healthy() const ABSL_LOCKS_EXCLUDED(mu_);

  // NoteRefused counts one request refused because the log was unhealthy.
  // Once the log recovers, one record (operation "audit-log-unavailable",
  // status 503) says how many were refused and how many records were
  // lost.
  void NoteRefused() ABSL_LOCKS_EXCLUDED(mu_);

  // Flush writes what is buffered now with one write() and fdatasyncs the
  // file (then the head file, when head_interval has passed). OK with
  // nothing to do. On failure the lines stay buffered (the partial write
  // is truncated away), the log is unhealthy, and the status is
  // Unavailable.
  absl::Status Flush() ABSL_LOCKS_EXCLUDED(flush_mu_, mu_);

  // last_seq is the seq of the last appended record (flushed or not); 0 for
  // an empty log.
  uint64_t last_seq() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Waiter {
    uint64_t seq;
    std::function<void(absl::Status)> done;
  };

  AuditLog(std::string path, int fd, AuditLogOptions options, uint64_t seq,
           std::string last_hash, off_t durable_size);
  void Run() ABSL_LOCKS_EXCLUDED(mu_, flush_mu_);
  // Buffer formats and buffers `r`; caller holds mu_. False when memory is
  // full (the record is counted as lost instead).
  bool Buffer(Record r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FlushLocked is Flush with flush_mu_ held; without `may_sync` it never
  // syncs (kWrite's inline writes), with `force_sync` it syncs whatever was
  // written (close).
  absl::Status FlushLocked(bool may_sync, bool force_sync)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flush_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // WriteAll writes `data` at the end of the file; Sync fdatasyncs it.
  absl::Status WriteAll(const std::string& data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flush_mu_);
  absl::Status Sync() ABSL_EXCLUSIVE_LOCKS_REQUIRED(flush_mu_);
  // WriteHeadIfDue writes the head (the last synced record) when
  // head_interval has passed, or now with `force`.
  void WriteHeadIfDue(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(flush_mu_);

  const std::string path_;
  const int fd_;
  const AuditLogOptions options_;

  Mutex flush_mu_;  // Serializes Flush; taken before mu_.
  // The size of the whole records.
  off_t file_size_ ABSL_GUARDED_BY(flush_mu_);
  // kWrite: written but not yet synced, and when the file was last synced.
  bool unsynced_ ABSL_GUARDED_BY(flush_mu_) = false;
  std::chrono::steady_clock::time_point last_sync_ ABSL_GUARDED_BY(flush_mu_);
  std::chrono::steady_clock::time_point last_head_ ABSL_GUARDED_BY(flush_mu_);
  uint64_t head_seq_ ABSL_GUARDED_BY(flush_mu_) = 0;
  // The last record written, and the last one synced (what the head may
  // name).
  uint64_t written_seq_ ABSL_GUARDED_BY(flush_mu_);
  std::string written_hash_ ABSL_GUARDED_BY(flush_mu_);
  uint64_t synced_seq_ ABSL_GUARDED_BY(flush_mu_);
  std::string synced_hash_ ABSL_GUARDED_BY(flush_mu_);
  mutable Mutex mu_ ABSL_ACQUIRED_AFTER(flush_mu_);
  CondVar cv_;
  uint64_t seq_ ABSL_GUARDED_BY(mu_);
  std::string last_hash_ ABSL_GUARDED_BY(mu_);
  std::string buffer_ ABSL_GUARDED_BY(mu_);
  // Callers of buffered lines.
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  bool healthy_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;  // since the log failed
  uint64_t lost_ ABSL_GUARDED_BY(mu_) = 0;     // since the log failed
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

struct VerifyResult {
  uint64_t records = 0;
  std::string last_hash;  // kGenesisHash for an empty log.
};

// Verify checks the whole chain of the log at `path` and, when it exists,
// its head file. `expected_head_hash`, when given, is a head an operator
// recorded earlier: some record of the log must have that hash. DataLoss
// with a message naming the line on any mismatch; NotFound without a log.
absl::StatusOr<VerifyResult> Verify(
    const std::string& path,
    std::optional<std::string> expected_head_hash = std::nullopt);

}  // namespace keyferry::audit

#endif  // KEYFERRY_AUDIT_AUDIT_LOG_H_
