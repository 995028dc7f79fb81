// FaultyCustody: a custody::Custody decorator for tests that forwards every
// call to a real custody but fails the calls a test chooses, before they
// reach it (as LevelDB's fault-injection Env). Header-only; tests only.
//
// Thread-safe: the armed faults are kept under a mutex; the wrapped custody
// must be thread-safe itself.
#ifndef KEYFERRY_VAULT_FAULTY_CUSTODY_H_
#define KEYFERRY_VAULT_FAULTY_CUSTODY_H_

#include <atomic>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "base/mutex.h"
#include "custody/custody.h"

namespace keyferry::vault {

class FaultyCustody : public custody::Custody {
 public:
  // Call names a Custody method.
  enum class Call {
    kGenerate,
    kImportPrivate,
    kImportSecret,
    kImportByok,
    kProtectBackup,
    kUnprotectBackup,
    kSign,
    kEncrypt,
    kDecrypt,
    kRebind,
    kAuthenticateRecord,
    kVerifyRecord,
    kWrapForRelease,
  };

  // `real` is borrowed and must outlive this object.
  explicit FaultyCustody(custody::Custody* real) : real_(real) {}

  // Fail makes the `nth` call of `call` from now on (1: the next) fail with
  // `status`, and every later one too when `sticky`; until Clear.
  void Fail(Call call, absl::Status status, int nth = 1, bool sticky = false)
      ABSL_LOCKS_EXCLUDED(mu_) {
    keyferry::MutexLock l(&mu_);
    faults_[call] = Fault{std::move(status), nth, sticky};
  }
  // Clear removes every armed fault.
  void Clear() ABSL_LOCKS_EXCLUDED(mu_) {
    keyferry::MutexLock l(&mu_);
    faults_.clear();
  }

  std::string Kind() const override { return real_->Kind(); }
  std::string Platform() const override { return real_->Platform(); }
  absl::StatusOr<custody::HeldKey> Generate(
      const custody::KeyRequest& request,
      std::span<const uint8_t> binding) override {
    if (absl::Status s = Take(Call::kGenerate); !s.ok()) return s;
    return real_->Generate(request, binding);
  }
  absl::StatusOr<custody::HeldKey> ImportPrivate(
      EVP_PKEY* key, std::span<const uint8_t> binding,
      bool exportable) override {
    if (absl::Status s = Take(Call::kImportPrivate); !s.ok()) return s;
    return real_->ImportPrivate(key, binding, exportable);
  }
  absl::StatusOr<custody::HeldKey> ImportSecret(
      const SecretBytes& key, std::span<const uint8_t> binding,
      bool exportable) override {
    if (absl::Status s = Take(Call::kImportSecret); !s.ok()) return s;
    return real_->ImportSecret(key, binding, exportable);
  }
  absl::StatusOr<custody::HeldKey> ImportByok(
      const custody::HeldKey& kek, std::span<const uint8_t> kek_binding,
      std::span<const uint8_t> ciphertext, const custody::KeyRequest& expected,
      std::span<const uint8_t> binding) override {
    if (absl::Status s = Take(Call::kImportByok); !s.ok()) return s;
    return real_->ImportByok(kek, kek_binding, ciphertext, expected, binding);
  }
  absl::StatusOr<std::vector<uint8_t>> ProtectBackup(
      std::span<const uint8_t> plaintext) override {
    if (absl::Status s = Take(Call::kProtectBackup); !s.ok()) return s;
    return real_->ProtectBackup(plaintext);
  }
  absl::StatusOr<std::vector<uint8_t>> UnprotectBackup(
      std::span<const uint8_t> protected_backup) override {
    if (absl::Status s = Take(Call::kUnprotectBackup); !s.ok()) return s;
    return real_->UnprotectBackup(protected_backup);
  }
  absl::StatusOr<std::vector<uint8_t>> Sign(
      const custody::HeldKey& key, std::span<const uint8_t> binding,
      crypto::SignAlg alg, std::span<const uint8_t> digest) override {
    if (absl::Status s = Take(Call::kSign); !s.ok()) return s;
    return real_->Sign(key, binding, alg, digest);
  }
  absl::StatusOr<custody::CipherOutput> Encrypt(
      const custody::HeldKey& key, std::span<const uint8_t> binding,
      const custody::CipherInput& input) override {
    if (absl::Status s = Take(Call::kEncrypt); !s.ok()) return s;
    return real_->Encrypt(key, binding, input);
  }
  absl::StatusOr<custody::CipherOutput> Decrypt(
      const custody::HeldKey& key, std::span<const uint8_t> binding,
      const custody::CipherInput& input) override {
    if (absl::Status s = Take(Call::kDecrypt); !s.ok()) return s;
    return real_->Decrypt(key, binding, input);
  }
  absl::StatusOr<custody::HeldKey> Rebind(
      const custody::HeldKey& key, std::span<const uint8_t> old_binding,
      std::span<const uint8_t> new_binding) override {
    if (absl::Status s = Take(Call::kRebind); !s.ok()) return s;
    return real_->Rebind(key, old_binding, new_binding);
  }
  absl::StatusOr<std::vector<uint8_t>> AuthenticateRecord(
      std::span<const uint8_t> record) override {
    if (absl::Status s = Take(Call::kAuthenticateRecord); !s.ok()) return s;
    return real_->AuthenticateRecord(record);
  }
  absl::Status VerifyRecord(std::span<const uint8_t> record,
                            std::span<const uint8_t> tag) override {
    if (absl::Status s = Take(Call::kVerifyRecord); !s.ok()) return s;
    return real_->VerifyRecord(record, tag);
  }
  bool CanRelease() const override { return real_->CanRelease(); }
  absl::StatusOr<std::vector<uint8_t>> WrapForRelease(
      const custody::HeldKey& key, std::span<const uint8_t> binding,
      EVP_PKEY* wrapping_key, crypto::OaepHash hash) override {
    if (absl::Status s = Take(Call::kWrapForRelease); !s.ok()) return s;
    return real_->WrapForRelease(key, binding, wrapping_key, hash);
  }
  void ForgetCachedKeys() override {
    ++forgets_;
    real_->ForgetCachedKeys();
  }
  // forgets counts the ForgetCachedKeys calls.
  int forgets() const { return forgets_.load(); }

 private:
  struct Fault {
    absl::Status status;
    int countdown = 1;  // fails when it reaches 0 on a call
    bool sticky = false;
  };

  // Take returns the armed failure of this call of `call`, or OK.
  absl::Status Take(Call call) ABSL_LOCKS_EXCLUDED(mu_) {
    keyferry::MutexLock l(&mu_);
    auto it = faults_.find(call);
    if (it == faults_.end()) return absl::OkStatus();
    Fault& f = it->second;
    if (f.countdown > 1) {
      --f.countdown;
      return absl::OkStatus();
    }
    absl::Status s = f.status;
    if (!f.sticky) faults_.erase(it);
    return s;
  }

  custody::Custody* real_;
  std::atomic<int> forgets_{0};
  keyferry::Mutex mu_;
  std::map<Call, Fault> faults_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keyferry::vault

#endif  // KEYFERRY_VAULT_FAULTY_CUSTODY_H_
