// PostgresKeyStore: the KeyStore on a PostgreSQL database (15 or later),
// for deployments that outgrow one SQLite file (docs/storage.md §6).
// Every mutating call is one READ COMMITTED transaction that row-locks the
// key_names row it changes, and returns after its COMMIT returned (durable
// per the server's synchronous_commit, which keyferryd turns on when the
// server's default is off). Several processes may share one database.
//
// Thread-safe: calls borrow a connection from a pool of at most
// `PostgresOptions::pool_size` connections (waiting when all are busy).
#ifndef KEYFERRY_STORE_POSTGRES_STORE_H_
#define KEYFERRY_STORE_POSTGRES_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "store/key_store.h"

namespace keyferry::store {

struct PostgresOptions {
  // A libpq conninfo string ("host=… dbname=…") or postgresql:// URI. It
  // may hold a password; no Status message of this store ever quotes it.
  std::string url;
  // At most this many connections (values below 1 count as 1).
  int pool_size = 4;
  // Concurrent reads of one key version share a statement
  // (read_coalescer.h). That pays only when more threads read than the pool
  // has connections; with fewer, no read can wait to be joined, and
  // keyferryd turns it off (its reads run on `threads` I/O threads).
  bool coalesce_reads = true;
  // false: a database without keyferry's schema is refused (NotFound
  // "holds no keyferry store") and nothing is written;
  // for a deployment whose store must already exist.
  bool create = true;
};

// PostgresUrlHasPassword tells whether `url` (conninfo or URI) carries a
// password. InvalidArgument, not quoting `url`, when it is malformed.
absl::StatusOr<bool> PostgresUrlHasPassword(std::string_view url);

class PostgresKeyStore : public KeyStore {
 public:
  // Open connects, then creates the schema in an empty database or migrates
  // an older one to kSchemaVersion, in one transaction under an advisory
  // lock (so concurrent Opens apply each migration once). InvalidArgument
  // for a malformed url; Unavailable when the database cannot be reached
  // (the message names host, port and dbname, never the password);
  // FailedPrecondition naming both versions when the database's schema is
  // newer than this build's; DataLoss when it holds keyferry tables but no
  // schema_version.
  static absl::StatusOr<std::unique_ptr<PostgresKeyStore>> Open(
      const PostgresOptions& options);
  ~PostgresKeyStore() override;

  // pool_open returns how many pooled connections exist now.
  int pool_open();

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
  void WatchPurges(std::function<void()> on_purge) override;
  absl::StatusOr<bool> HasVersions() override;
  absl::StatusOr<int64_t> AuthenticateVersions(
      const std::function<absl::StatusOr<std::vector<uint8_t>>(
          const KeyVersion&)>& attest) override;

  // kSchemaVersion is the PostgreSQL schema this build writes
  // (docs/storage.md §6.1; numbered apart from the SQLite schema).
  static constexpr int kSchemaVersion = 2;

  struct Impl;  // postgres_impl.h

 private:
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DueNames(
      const char* sql, int64_t now, int limit);
  explicit PostgresKeyStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyferry::store

#endif  // KEYFERRY_STORE_POSTGRES_STORE_H_
