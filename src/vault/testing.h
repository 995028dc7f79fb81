// Test support for code above the vault: a KeyVault on a real SQLite store
// in a temporary directory with a software custody under a random master
// key, and a way to change the database behind keyferryd's back, as someone
// with write access to the file (but no master key) can. Header-only; for
// tests.
#ifndef KEYFERRY_VAULT_TESTING_H_
#define KEYFERRY_VAULT_TESTING_H_

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/secret.h"
#include "base/status.h"
#include "crypto/random.h"
#include "custody/software_custody.h"
#include "store/sqlite_store.h"
#include "vault/key_vault.h"

namespace keyferry::vault {

// TestVault owns a temporary directory, the store in it (`db_path()`), a
// software custody and a KeyVault over both. The directory goes with it.
class TestVault {
 public:
  static absl::StatusOr<std::unique_ptr<TestVault>> New(
      Clock clock, VaultOptions options = {.recoverable_days = 7}) {
    char tmpl[] = "/tmp/kf_vault_test_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp");
    auto t = std::unique_ptr<TestVault>(new TestVault(tmpl));
    ASSIGN_OR_RETURN(t->store_,
                     store::SqliteKeyStore::Open({.path = t->db_path()}));
    ASSIGN_OR_RETURN(std::vector<uint8_t> mk, crypto::RandomBytes(32));
    ASSIGN_OR_RETURN(t->custody_,
                     custody::SoftwareCustody::New(SecretBytes(mk)));
    t->vault_ = std::make_unique<KeyVault>(t->store_.get(), t->custody_.get(),
                                           std::move(clock), options);
    return t;
  }
  ~TestVault() {
    vault_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  const std::string& dir() const { return dir_; }
  std::string db_path() const { return dir_ + "/k.db"; }
  store::SqliteKeyStore& store() { return *store_; }
  custody::SoftwareCustody& custody() { return *custody_; }
  KeyVault& vault() { return *vault_; }
  // Reopen closes and reopens the store (and the vault over it).
  absl::Status Reopen(Clock clock) {
    vault_.reset();
    store_.reset();
    ASSIGN_OR_RETURN(store_, store::SqliteKeyStore::Open({.path = db_path()}));
    vault_ = std::make_unique<KeyVault>(store_.get(), custody_.get(),
                                        std::move(clock));
    return absl::OkStatus();
  }

 private:
  explicit TestVault(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::unique_ptr<store::SqliteKeyStore> store_;
  std::unique_ptr<custody::SoftwareCustody> custody_;
  std::unique_ptr<KeyVault> vault_;
};

// TamperSql runs `sql` on the database file at `path` with a connection of
// its own and returns how many rows it changed (sqlite3_total_changes).
inline absl::StatusOr<int> TamperSql(const std::string& path,
                                     const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return absl::InternalError(absl::StrCat("cannot open ", path));
  }
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  const std::string msg = err ? err : "";
  sqlite3_free(err);
  const int changed = sqlite3_total_changes(db);
  sqlite3_close(db);
  if (rc != SQLITE_OK) return absl::InternalError(msg);
  return changed;
}

}  // namespace keyferry::vault

#endif  // KEYFERRY_VAULT_TESTING_H_
