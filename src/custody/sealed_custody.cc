#include "custody/sealed_custody.h"

#include <utility>

namespace keyferry::custody {

template <typename F>
auto SealedCustody::With(F f) const -> decltype(f(std::declval<Custody&>())) {
  keyferry::ReaderMutexLock l(&mu_);
  if (inner_ == nullptr) {
    return absl::UnavailableError(
        "keyferryd is sealed: submit the key shares with `keyferry vault "
        "unseal`");
  }
  return f(*inner_);
}

void SealedCustody::Unseal(std::unique_ptr<Custody> inner) {
  keyferry::MutexLock l(&mu_);
  inner_ = std::move(inner);
}

void SealedCustody::Seal() {
  std::unique_ptr<Custody> dropped;
  {
    keyferry::MutexLock l(&mu_);
    dropped = std::move(inner_);
  }
  // `dropped` (and the master key it holds, zeroized by SecretBytes) goes
  // here, outside the lock.
}

bool SealedCustody::sealed() const {
  keyferry::ReaderMutexLock l(&mu_);
  return inner_ == nullptr;
}

std::string SealedCustody::Kind() const {
  keyferry::ReaderMutexLock l(&mu_);
  return inner_ ? inner_->Kind() : "software";
}

std::string SealedCustody::Platform() const {
  keyferry::ReaderMutexLock l(&mu_);
  return inner_ ? inner_->Platform() : "keyferry software custody (sealed)";
}

absl::StatusOr<HeldKey> SealedCustody::Generate(
    const KeyRequest& request, std::span<const uint8_t> binding) {
  return With([&](Custody& c) { return c.Generate(request, binding); });
}

absl::StatusOr<HeldKey> SealedCustody::ImportPrivate(
    EVP_PKEY* key, std::span<const uint8_t> binding, bool exportable) {
  return With(
      [&](Custody& c) { return c.ImportPrivate(key, binding, exportable); });
}

absl::StatusOr<HeldKey> SealedCustody::ImportSecret(
    const SecretBytes& key, std::span<const uint8_t> binding,
    bool exportable) {
  return With(
      [&](Custody& c) { return c.ImportSecret(key, binding, exportable); });
}

absl::StatusOr<HeldKey> SealedCustody::ImportByok(
    const HeldKey& kek, std::span<const uint8_t> kek_binding,
    std::span<const uint8_t> ciphertext, const KeyRequest& expected,
    std::span<const uint8_t> binding) {
  return With([&](Custody& c) {
    return c.ImportByok(kek, kek_binding, ciphertext, expected, binding);
  });
}

absl::StatusOr<std::vector<uint8_t>> SealedCustody::ProtectBackup(
    std::span<const uint8_t> plaintext) {
  return With([&](Custody& c) { return c.ProtectBackup(plaintext); });
}

absl::StatusOr<std::vector<uint8_t>> SealedCustody::UnprotectBackup(
    std::span<const uint8_t> protected_backup) {
  return With([&](Custody& c) { return c.UnprotectBackup(protected_backup); });
}

absl::StatusOr<std::vector<uint8_t>> SealedCustody::Sign(
    const HeldKey& key, std::span<const uint8_t> binding, crypto::SignAlg alg,
    std::span<const uint8_t> digest) {
  return With([&](Custody& c) { return c.Sign(key, binding, alg, digest); });
}

absl::StatusOr<CipherOutput> SealedCustody::Encrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& input) {
  return With([&](Custody& c) { return c.Encrypt(key, binding, input); });
}

absl::StatusOr<CipherOutput> SealedCustody::Decrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& input) {
  return With([&](Custody& c) { return c.Decrypt(key, binding, input); });
}

absl::StatusOr<HeldKey> SealedCustody::Rebind(
    const HeldKey& key, std::span<const uint8_t> old_binding,
    std::span<const uint8_t> new_binding) {
  return With(
      [&](Custody& c) { return c.Rebind(key, old_binding, new_binding); });
}

absl::StatusOr<std::vector<uint8_t>> SealedCustody::AuthenticateRecord(
    std::span<const uint8_t> record) {
  return With([&](Custody& c) { return c.AuthenticateRecord(record); });
}

absl::Status SealedCustody::VerifyRecord(std::span<const uint8_t> record,
                                         std::span<const uint8_t> tag) {
  return With([&](Custody& c) { return c.VerifyRecord(record, tag); });
}

bool SealedCustody::CanRelease() const {
  keyferry::ReaderMutexLock l(&mu_);
  return inner_ ? inner_->CanRelease() : true;
}

absl::StatusOr<std::vector<uint8_t>> SealedCustody::WrapForRelease(
    const HeldKey& key, std::span<const uint8_t> binding,
    EVP_PKEY* wrapping_key, crypto::OaepHash hash) {
  return With([&](Custody& c) {
    return c.WrapForRelease(key, binding, wrapping_key, hash);
  });
}

void SealedCustody::ForgetCachedKeys() {
  keyferry::ReaderMutexLock lock(&mu_);
  if (inner_ != nullptr) inner_->ForgetCachedKeys();
}

}  // namespace keyferry::custody
