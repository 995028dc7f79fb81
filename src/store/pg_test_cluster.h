// TestCluster: a throwaway PostgreSQL 15 cluster for tests. Start runs
// initdb into a new private temporary directory and starts the server
// listening only on a unix socket in that directory (no TCP port, so tests
// run in parallel without clashing); the destructor stops it and removes
// the directory. As root (initdb and postgres refuse root) the cluster's
// commands run as the unprivileged user `nobody`. Password authentication
// (scram-sha-256) is on, so the conninfo a test gets holds a password.
//
// Not thread-safe; one per test process is plenty.
#ifndef KEYFERRY_STORE_PG_TEST_CLUSTER_H_
#define KEYFERRY_STORE_PG_TEST_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::store {

class TestCluster {
 public:
  // kBinDir holds initdb, pg_ctl and postgres (Debian's postgresql-15).
  static constexpr char kBinDir[] = "/usr/lib/postgresql/15/bin";

  // Start makes and starts a cluster. Unavailable (with the server's log
  // path) when a step fails.
  static absl::StatusOr<std::unique_ptr<TestCluster>> Start();
  ~TestCluster();

  // Shared returns this process's cluster, started on first use and
  // stopped at exit (ctest runs each test case in its own process).
  static absl::StatusOr<TestCluster*> Shared();

  // CreateDatabase creates a new, empty database and returns a libpq
  // conninfo for it (socket directory, user, password, dbname).
  absl::StatusOr<std::string> CreateDatabase();

  // Conninfo returns the conninfo of database `dbname`.
  std::string Conninfo(const std::string& dbname) const;

  const std::string& password() const { return password_; }
  const std::string& dir() const { return dir_; }

  // Stop stops the server (fast shutdown); Restart starts it again on the
  // same data directory and socket.
  absl::Status Stop();
  absl::Status Restart();

 private:
  TestCluster() = default;
  // Run runs `argv` (as `nobody` when we are root), output appended to
  // <dir>/cmd.log; Unavailable unless it exits 0.
  absl::Status Run(const std::vector<std::string>& argv);

  std::string dir_;
  std::string password_;
  int databases_ = 0;
  bool running_ = false;
};

}  // namespace keyferry::store

#endif  // KEYFERRY_STORE_PG_TEST_CLUSTER_H_
