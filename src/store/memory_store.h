// MemoryKeyStore: a KeyStore held in memory, for tests, with fault
// injection (as LevelDB's fault-injection Env). It keeps the KeyStore
// contract the way SqliteKeyStore does (key_store.h): every mutating call is
// atomic (on failure nothing changed), names are compared case-insensitively,
// listings page in the same orders with the same kind of cursor. The
// contract tests in store_contract_test.cc run against both stores.
// Nothing is durable: the store lives as long as the object.
//
// Thread-safe: every call runs under one mutex.
#ifndef KEYFERRY_STORE_MEMORY_STORE_H_
#define KEYFERRY_STORE_MEMORY_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "store/key_store.h"

namespace keyferry::store {

class MemoryKeyStore : public KeyStore {
 public:
  MemoryKeyStore() = default;

  // --- fault injection ------------------------------------------------------

  // FailCommit makes the `nth` mutating call from now on (1: the next one)
  // fail with `status` when it would commit; it changes nothing. One shot.
  void FailCommit(absl::Status status, int nth = 1) ABSL_LOCKS_EXCLUDED(mu_);
  // FailOp makes every call of the method named `op` (e.g. "MarkDeleted",
  // "GetVersion") fail with `status`, before it looks at anything, until
  // ClearFaults.
  void FailOp(std::string op, absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // FailReads makes every reading call fail with `status` (e.g. DataLoss, a
  // damaged record) until ClearFaults.
  void FailReads(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // ClearFaults removes every injected fault.
  void ClearFaults() ABSL_LOCKS_EXCLUDED(mu_);
  // commits counts the mutating calls that committed.
  int commits() const ABSL_LOCKS_EXCLUDED(mu_);

  // --- KeyStore -------------------------------------------------------------

  absl::Status AddVersion(const KeyVersion& key, int recoverable_days) override;
  absl::StatusOr<KeyVersion> GetVersion(std::string_view vault,
                                        std::string_view name,
                                        std::string_view version) override;
  absl::Status UpdateVersion(const KeyVersion& key,
                             const KeyVersion& before) override;
  absl::StatusOr<Page<KeyVersion>> ListLatest(std::string_view vault,
                                              std::string_view after,
                                              int limit) override;
  absl::StatusOr<Page<KeyVersion>> ListVersions(std::string_view vault,
                                                std::string_view name,
                                                std::string_view after,
                                                int limit) override;
  absl::StatusOr<std::vector<KeyVersion>> AllVersions(
      std::string_view vault, std::string_view name) override;
  absl::StatusOr<KeyName> GetName(std::string_view vault,
                                  std::string_view name) override;
  absl::Status MarkDeleted(std::string_view vault, std::string_view name,
                           int64_t deleted_date,
                           int64_t scheduled_purge_date) override;
  absl::StatusOr<Page<std::pair<KeyName, KeyVersion>>> ListDeleted(
      std::string_view vault, std::string_view after, int limit) override;
  absl::Status Recover(std::string_view vault, std::string_view name) override;
  absl::Status Purge(std::string_view vault, std::string_view name) override;
  absl::Status Restore(const std::vector<KeyVersion>& versions,
                       int recoverable_days) override;
  absl::Status SetRotationPolicy(std::string_view vault, std::string_view name,
                                 std::string_view policy_json,
                                 std::optional<int64_t> next) override;
  absl::StatusOr<bool> ClaimRotation(std::string_view vault,
                                     std::string_view name, int64_t due,
                                     int64_t lease_until) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DueRotations(
      int64_t now, int limit) override;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DuePurges(
      int64_t now, int limit) override;
  absl::StatusOr<int64_t> CountKeys(std::string_view vault) override;
  bool created() const override { return true; }
  absl::StatusOr<std::optional<std::string>> GetMeta(
      std::string_view key) override;
  absl::StatusOr<std::string> SetMetaIfAbsent(std::string_view key,
                                              std::string_view value) override;
  absl::Status Ping() override;
  void WatchPurges(std::function<void()>) override {}
  absl::StatusOr<bool> HasVersions() override;
  absl::StatusOr<int64_t> AuthenticateVersions(
      const std::function<absl::StatusOr<std::vector<uint8_t>>(
          const KeyVersion&)>& attest) override;

 private:
  struct Entry {
    KeyName name;
    std::vector<std::pair<int64_t, KeyVersion>> versions;  // (seq, version)
  };
  // Keyed by (vault, lower-case name): the paging order.
  using Names = std::map<std::pair<std::string, std::string>, Entry>;
  struct State {
    Names names;
    std::map<std::string, std::string> meta;
    int64_t next_seq = 1;
  };

  // Write runs `body` on a copy of the state and keeps the copy only when
  // `body` and the (possibly injected) commit succeed.
  absl::Status Write(std::string_view op,
                     const std::function<absl::Status(State&)>& body)
      ABSL_LOCKS_EXCLUDED(mu_);
  // ReadFault returns the injected failure of reading call `op`, if any.
  absl::Status ReadFault(std::string_view op) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Active returns the entry of an active key, or nullptr.
  const Entry* Active(std::string_view vault, std::string_view name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Due(
      std::string_view op, bool purge, int64_t now, int limit)
      ABSL_LOCKS_EXCLUDED(mu_);

  mutable keyferry::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status, std::less<>> op_faults_
      ABSL_GUARDED_BY(mu_);
  absl::Status read_fault_ ABSL_GUARDED_BY(mu_);
  absl::Status commit_fault_ ABSL_GUARDED_BY(mu_);
  int commit_fault_in_ ABSL_GUARDED_BY(mu_) = 0;  // 0: none armed
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keyferry::store

#endif  // KEYFERRY_STORE_MEMORY_STORE_H_
