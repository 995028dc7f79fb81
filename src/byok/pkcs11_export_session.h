// Pkcs11ExportSession: byok::ExportSession on a real PKCS#11 session.
#ifndef KEYFERRY_BYOK_PKCS11_EXPORT_SESSION_H_
#define KEYFERRY_BYOK_PKCS11_EXPORT_SESSION_H_

#include <string>

#include "byok/export_session.h"
#include "hsm/session.h"

namespace keyferry::byok {

class Pkcs11ExportSession : public ExportSession {
 public:
  // Pkcs11ExportSession borrows `session`, which must outlive it. `description`
  // names the token in the blob's generator field.
  Pkcs11ExportSession(hsm::Session& session, std::string description)
      : s_(session), description_(std::move(description)) {}

  absl::StatusOr<TargetInfo> Describe(ObjectRef target) override;
  bool HasWrapMechanism(uint64_t mech) override;
  absl::StatusOr<ObjectRef> ImportRsaPublic(
      std::span<const uint8_t> n, std::span<const uint8_t> e) override;
  absl::StatusOr<ObjectRef> GenerateEphemeralAes(size_t bytes) override;
  absl::StatusOr<ObjectRef> CreateTestSecret(const SecretBytes& value,
                                             bool aes_wrapping_key) override;
  absl::StatusOr<ObjectRef> GenerateTestEc(crypto::Curve curve) override;
  absl::StatusOr<std::vector<uint8_t>> WrapOaep(crypto::OaepHash hash,
                                                ObjectRef wrapping,
                                                ObjectRef target) override;
  absl::StatusOr<std::vector<uint8_t>> WrapKwp(uint64_t mech,
                                               ObjectRef wrapping,
                                               ObjectRef target) override;
  absl::StatusOr<std::vector<uint8_t>> WrapRsaAes(crypto::OaepHash hash,
                                                  ObjectRef kek,
                                                  ObjectRef target) override;
  absl::StatusOr<KwpProbe> ProbeKwp(uint64_t mech) override;
  absl::Status Destroy(ObjectRef object) override;
  std::string Description() override { return description_; }

 private:
  hsm::Session& s_;
  std::string description_;
};

}  // namespace keyferry::byok

#endif  // KEYFERRY_BYOK_PKCS11_EXPORT_SESSION_H_
