// Fuzzes the vault's restore parsing (KeyVault::Restore,
// docs/backup-format.md) over the in-memory store and a software custody
// with a fixed test master key. Byte 0 picks the mode:
//   even: the rest is the backup blob as a client sends it (the KFB1/KFB2
//         framing and authentication);
//   odd:  structure-aware: the rest is the backup document (the
//         keyferry-backup/1 JSON), protected here with the custody's
//         ProtectBackup, so the document reader, the per-version checks and
//         the custody blobs inside get exercised.
// A restored key is deleted and purged again, so every input starts from
// the same empty vault.
#include <memory>

#include "custody/software_custody.h"
#include "fuzz_util.h"
#include "store/memory_store.h"
#include "vault/key_vault.h"

namespace {

using namespace keyferry;

constexpr char kVault[] = "fuzzvault";

struct Setup {
  store::MemoryKeyStore store;
  std::unique_ptr<custody::SoftwareCustody> custody;
  std::unique_ptr<vault::KeyVault> vault;
};

Setup& Get() {
  static Setup* s = [] {
    auto* s = new Setup;
    auto c = custody::SoftwareCustody::New(fuzz::FixedMasterKey());
    fuzz::CheckOk(c.status(), "custody");
    s->custody = std::move(*c);
    s->vault = std::make_unique<vault::KeyVault>(
        &s->store, s->custody.get(), [] { return int64_t{1'800'000'000}; },
        vault::VaultOptions{.recoverable_days = 7});
    return s;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Setup& s = Get();
  std::span<const uint8_t> rest(data + 1, size - 1);
  std::vector<uint8_t> blob(rest.begin(), rest.end());
  if (data[0] & 1) {
    auto p = s.custody->ProtectBackup(rest);
    fuzz::CheckOk(p.status(), "ProtectBackup");
    blob = std::move(*p);
  }
  absl::StatusOr<store::KeyVersion> restored = s.vault->Restore(kVault, blob);
  if (restored.ok()) {
    const std::string name = restored->name;
    fuzz::CheckOk(s.vault->Delete(kVault, name).status(), "delete restored");
    fuzz::CheckOk(s.vault->Purge(kVault, name), "purge restored");
  }
  return 0;
}
