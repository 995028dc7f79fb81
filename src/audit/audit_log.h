// Append-only, hash-chained audit log (JSON Lines). docs/audit.md describes
// the file format, the hash definition and what Verify can and cannot detect.
//
// Records name who did what to which key; they never hold key material,
// plaintext, PINs or tokens.
#ifndef KEYFERRY_AUDIT_AUDIT_LOG_H_
#define KEYFERRY_AUDIT_AUDIT_LOG_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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

struct AuditLogOptions {
  // The background thread flushes (write + fdatasync + head) this often.
  std::chrono::milliseconds flush_interval{1000};
  // A buffer larger than this wakes the flush thread early.
  size_t max_buffer_bytes = size_t{1} << 20;
};

// AuditLog appends records to one log file. Thread-safe. One process at a
// time: Open takes an exclusive flock on the file.
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
  ~AuditLog();

  // Append formats `r` and buffers it; seq and prev are assigned under the
  // lock, so buffer order is chain order. No I/O.
  void Append(Record r);

  // Flush writes the buffered lines with one write(), fdatasyncs the file
  // and then rewrites the head file. OK with nothing to do when the buffer
  // is empty. On a write error the unwritten lines stay buffered.
  absl::Status Flush();

  // last_seq is the seq of the last appended record (flushed or not); 0 for
  // an empty log.
  uint64_t last_seq() const;

 private:
  AuditLog(std::string path, int fd, AuditLogOptions options, uint64_t seq,
           std::string last_hash);
  void Run();

  const std::string path_;
  const int fd_;
  const AuditLogOptions options_;

  std::mutex flush_mu_;  // Serializes Flush; taken before mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t seq_;           // Guarded by mu_.
  std::string last_hash_;  // Guarded by mu_.
  std::string buffer_;     // Guarded by mu_.
  bool stop_ = false;      // Guarded by mu_.
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
