// kf_seed: fills a keyferryd store with `--count` oct-256 keys
// ("seed-0000000" …) for the scale part of the benchmark, through the same
// KeyVault service, custody and store keyferryd uses (each key sealed under
// the deployment's master key in DIR, each commit durable): the SQLite store
// in DIR, or with `--store postgres` the PostgreSQL database named by
// $KEYFERRY_POSTGRES_URL (never a flag: it may hold a password). Run it
// while keyferryd is stopped (SQLite) or anytime (PostgreSQL):
//   kf_seed --data-dir DIR --vault benchvault --count 100000 [--first 0]
//           [--threads 8] [--store sqlite|postgres]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "custody/master_key.h"
#include "custody/software_custody.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"
#include "vault/key_vault.h"

namespace {

[[noreturn]] void Die(const std::string& m) {
  std::fprintf(stderr, "kf_seed: %s\n", m.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace keyferry;  // NOLINT: a small tool
  std::string dir, vault_name = "benchvault", store_kind = "sqlite";
  long count = 0, first = 0;
  int threads = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--data-dir") {
      dir = v;
    } else if (a == "--vault") {
      vault_name = v;
    } else if (a == "--first") {
      first = std::atol(v.c_str());
    } else if (a == "--count") {
      count = std::atol(v.c_str());
    } else if (a == "--store") {
      store_kind = v;
    } else if (a == "--threads") {
      threads = std::atoi(v.c_str());
    } else {
      Die("unknown flag " + a);
    }
  }
  if (dir.empty() || count <= 0) Die("needs --data-dir and --count");
  bool created = false;
  // The keyferryd this seeds has started once: its master key exists.
  auto master = custody::LoadOrCreateMasterKey(
      dir + "/master.key", &created, custody::MasterKeyPolicy::kMustExist);
  if (!master.ok()) Die(std::string(master.status().message()));
  auto custody = custody::SoftwareCustody::New(std::move(*master));
  if (!custody.ok()) Die(std::string(custody.status().message()));
  std::unique_ptr<store::KeyStore> store;
  if (store_kind == "sqlite") {
    auto s = store::SqliteKeyStore::Open({.path = dir + "/keys.db"});
    if (!s.ok()) Die(std::string(s.status().message()));
    store = std::move(*s);
  } else if (store_kind == "postgres") {
    const char* url = std::getenv("KEYFERRY_POSTGRES_URL");
    if (url == nullptr) Die("--store postgres needs $KEYFERRY_POSTGRES_URL");
    auto s = store::PostgresKeyStore::Open(
        {.url = url, .pool_size = threads, .create = false});
    if (!s.ok()) Die(std::string(s.status().message()));
    store = std::move(*s);
  } else {
    Die("--store is sqlite or postgres");
  }
  vault::KeyVault kv(store.get(), custody->get(), vault::SystemClock);
  std::atomic<long> next{0};
  std::atomic<bool> failed{false};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      vault::CreateKeyRequest r;
      r.kty = vault::Kty::kOct;
      r.key_size = 256;
      for (long i; (i = next.fetch_add(1)) < count && !failed.load();) {
        auto k =
            kv.Create(vault_name, absl::StrFormat("seed-%07d", first + i), r);
        if (!k.ok()) {
          std::fprintf(stderr, "kf_seed: %s\n",
                       std::string(k.status().message()).c_str());
          failed = true;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (failed) return 1;
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("{\"seeded\":%ld,\"seconds\":%.2f,\"rps\":%.0f}\n", count, s,
              static_cast<double>(count) / s);
  return 0;
}
