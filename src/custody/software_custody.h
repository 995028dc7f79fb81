// SoftwareCustody keeps key material inside keyferryd: each key's private
// part is encrypted with AES-256-GCM under the deployment's master key, bound
// to its vault, name and version (docs/security-model.md §2). With this custody
// keyferryd itself is the security boundary.
#ifndef KEYFERRY_CUSTODY_SOFTWARE_CUSTODY_H_
#define KEYFERRY_CUSTODY_SOFTWARE_CUSTODY_H_

#include <memory>
#include <string>

#include "custody/custody.h"
#include "custody/key_cache.h"

namespace keyferry::custody {

class SoftwareCustody : public Custody {
 public:
  // New takes ownership of a 32-byte `master_key`. Up to `cached_keys`
  // private keys stay parsed in memory after use (KeyCache; 0: none), and
  // as many RSA public keys.
  static absl::StatusOr<std::unique_ptr<SoftwareCustody>> New(
      SecretBytes master_key, size_t cached_keys = kDefaultCachedKeys);
  static constexpr size_t kDefaultCachedKeys = 4096;

  std::string Kind() const override { return "software"; }
  std::string Platform() const override { return "keyferry software custody"; }

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
  bool CanRelease() const override { return true; }
  absl::StatusOr<std::vector<uint8_t>> WrapForRelease(
      const HeldKey& key, std::span<const uint8_t> binding,
      EVP_PKEY* wrapping_key, crypto::OaepHash hash) override;

 private:
  SoftwareCustody(SecretBytes master, SecretBytes backup_key,
                  SecretBytes record_key, size_t cached_keys)
      : master_(std::move(master)),
        backup_key_(std::move(backup_key)),
        record_key_(std::move(record_key)),
        private_keys_(cached_keys),
        public_keys_(cached_keys) {}
  // EncryptBlob encrypts `plaintext` (PKCS#8 DER or raw oct bytes) into `held`.
  absl::Status EncryptBlob(HeldKey& held, const SecretBytes& plaintext,
                           std::span<const uint8_t> binding) const;
  absl::StatusOr<SecretBytes> DecryptBlob(
      const HeldKey& held, std::span<const uint8_t> binding) const;
  absl::StatusOr<crypto::EvpPkeyPtr> PrivateKey(
      const HeldKey& held, std::span<const uint8_t> binding) const;
  // RsaPublicKey is the public half of an RSA key: from `public_jwk`, or
  // from the decrypted private key when that is empty.
  absl::StatusOr<crypto::EvpPkeyPtr> RsaPublicKey(
      const HeldKey& held, std::span<const uint8_t> binding) const;
  absl::StatusOr<HeldKey> HoldPrivate(EVP_PKEY* key,
                                      std::span<const uint8_t> binding) const;

  const SecretBytes master_;       // immutable after construction
  const SecretBytes backup_key_;   // HKDF-SHA256(master, "keyferry backup v1")
  const SecretBytes record_key_;   // HKDF-SHA256(master, "keyferry record v1")
  mutable KeyCache private_keys_;  // by (blob, binding)
  mutable KeyCache public_keys_;   // by public_jwk
};

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_SOFTWARE_CUSTODY_H_
