// SealedCustody keeps another custody behind the seal (docs/sealing.md):
// until Unseal hands it the custody made from the reassembled master key,
// every operation fails with Unavailable "keyferryd is sealed"; Seal drops
// that custody, and with it the master key, from memory. An operation in
// flight when Seal is called finishes first (it holds a shared lock).
//
// Thread-safe.
#ifndef KEYFERRY_CUSTODY_SEALED_CUSTODY_H_
#define KEYFERRY_CUSTODY_SEALED_CUSTODY_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"
#include "custody/custody.h"

namespace keyferry::custody {

class SealedCustody : public Custody {
 public:
  SealedCustody() = default;

  // Unseal puts `inner` to work (replacing any previous one).
  void Unseal(std::unique_ptr<Custody> inner);
  // Seal drops the inner custody once no operation uses it.
  void Seal();
  bool sealed() const;

  std::string Kind() const override;
  std::string Platform() const override;
  absl::StatusOr<HeldKey> Generate(const KeyRequest& request,
                                   std::span<const uint8_t> binding) override;
  absl::StatusOr<HeldKey> ImportPrivate(
      EVP_PKEY* key, std::span<const uint8_t> binding,
      bool exportable) override;
  absl::StatusOr<HeldKey> ImportSecret(
      const SecretBytes& key, std::span<const uint8_t> binding,
      bool exportable) override;
  absl::StatusOr<HeldKey> ImportByok(const HeldKey& kek,
                                     std::span<const uint8_t> kek_binding,
                                     std::span<const uint8_t> ciphertext,
                                     const KeyRequest& expected,
                                     std::span<const uint8_t> binding) override;
  absl::StatusOr<std::vector<uint8_t>> ProtectBackup(
      std::span<const uint8_t> plaintext) override;
  absl::StatusOr<std::vector<uint8_t>> UnprotectBackup(
      std::span<const uint8_t> protected_backup) override;
  absl::StatusOr<std::vector<uint8_t>> Sign(
      const HeldKey& key, std::span<const uint8_t> binding, crypto::SignAlg alg,
      std::span<const uint8_t> digest) override;
  absl::StatusOr<CipherOutput> Encrypt(const HeldKey& key,
                                       std::span<const uint8_t> binding,
                                       const CipherInput& input) override;
  absl::StatusOr<CipherOutput> Decrypt(const HeldKey& key,
                                       std::span<const uint8_t> binding,
                                       const CipherInput& input) override;
  absl::StatusOr<HeldKey> Rebind(const HeldKey& key,
                                 std::span<const uint8_t> old_binding,
                                 std::span<const uint8_t> new_binding) override;
  absl::StatusOr<std::vector<uint8_t>> AuthenticateRecord(
      std::span<const uint8_t> record) override;
  absl::Status VerifyRecord(std::span<const uint8_t> record,
                            std::span<const uint8_t> tag) override;
  void ForgetCachedKeys() override;
  // CanRelease is the inner custody's answer; while sealed, that of the
  // software custody unsealing gives.
  bool CanRelease() const override;
  absl::StatusOr<std::vector<uint8_t>> WrapForRelease(
      const HeldKey& key, std::span<const uint8_t> binding,
      EVP_PKEY* wrapping_key, crypto::OaepHash hash) override;

 private:
  mutable keyferry::SharedMutex mu_;
  std::unique_ptr<Custody> inner_ ABSL_GUARDED_BY(mu_);

  // With runs `f` on the inner custody under a shared lock, or answers
  // Unavailable while sealed. Takes mu_ (a trailing return type leaves no
  // place for ABSL_LOCKS_EXCLUDED).
  template <typename F>
  auto With(F f) const -> decltype(f(std::declval<Custody&>()));
};

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_SEALED_CUSTODY_H_
