// SqliteKeyStore: the embedded KeyStore on one SQLite database file
// (docs/storage.md). WAL journal with synchronous=FULL, so a transaction is
// durable when its COMMIT returns; every mutating call is one IMMEDIATE
// transaction. The file is created with mode 0600.
//
// Thread-safe: one writer connection behind a mutex, and a pool of at most
// `SqliteOptions::readers` reader connections so reads run beside a write
// (WAL snapshots); a read that finds every reader connection busy waits for
// one to come back.
#ifndef KEYFERRY_STORE_SQLITE_STORE_H_
#define KEYFERRY_STORE_SQLITE_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "store/key_store.h"

namespace keyferry::store {

// ReaderEvent is what SqliteOptions::on_reader_for_test is told.
enum class ReaderEvent {
  kWaiting,   // every reader connection is busy; this read waits for one
  kBorrowed,  // this read holds a reader connection and is about to run
};

// ReaderPoolState counts the reader pool's connections.
struct ReaderPoolState {
  int open = 0;     // reader connections that exist (idle or borrowed)
  int in_use = 0;   // borrowed by a read in progress
  int waiting = 0;  // reads waiting for a connection
};

struct SqliteOptions {
  std::string path;  // database file; ":memory:" is refused
  // At most this many reader connections (values below 1 count as 1).
  // Connections are opened on demand and kept for reuse; a read beyond the
  // limit waits until another read returns its connection.
  int readers = 4;
  // Tests only (leave empty): called on the reading thread, with no store
  // lock held, when a read starts waiting and when it has borrowed a
  // connection (before it runs). It may block; it must not read from the
  // store on the same thread.
  std::function<void(ReaderEvent)> on_reader_for_test = {};
};

class SqliteKeyStore : public KeyStore {
 public:
  // Open opens or creates the database at `options.path` and migrates its
  // schema to the current version. FailedPrecondition for a database written
  // by a newer keyferryd (schema_version above ours).
  static absl::StatusOr<std::unique_ptr<SqliteKeyStore>> Open(
      const SqliteOptions& options);
  ~SqliteKeyStore() override;

  // reader_pool_state returns the reader pool's counts at this moment.
  ReaderPoolState reader_pool_state();

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
  bool created() const override;
  absl::StatusOr<std::optional<std::string>> GetMeta(
      std::string_view key) override;
  absl::StatusOr<std::string> SetMetaIfAbsent(std::string_view key,
                                              std::string_view value) override;
  absl::Status Ping() override;
  // A SQLite store has one process: nothing to hear.
  void WatchPurges(std::function<void()>) override {}
  absl::StatusOr<bool> HasVersions() override;
  absl::StatusOr<int64_t> AuthenticateVersions(
      const std::function<absl::StatusOr<std::vector<uint8_t>>(
          const KeyVersion&)>& attest) override;

  // kSchemaVersion is the schema this build writes (docs/storage.md).
  // Version 1 (before record authentication) is upgraded by Open: its
  // versions get an empty `attest` until AuthenticateVersions fills it.
  static constexpr int kSchemaVersion = 3;

 private:
  struct Impl;
  // DueNames runs a (vault, name) query bound to (now, limit).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DueNames(
      const char* sql, int64_t now, int limit);
  explicit SqliteKeyStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyferry::store

#endif  // KEYFERRY_STORE_SQLITE_STORE_H_
