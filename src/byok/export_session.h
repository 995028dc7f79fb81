// byok::ExportSession: the operations a BYOK export needs from an HSM session,
// as an interface so that export logic is tested against a fake for failure
// paths (ephemeral key destroyed on every path, errors surfaced unchanged) and
// runs against a real PKCS#11 session through pkcs11_export_session.h.
#ifndef KEYFERRY_BYOK_EXPORT_SESSION_H_
#define KEYFERRY_BYOK_EXPORT_SESSION_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "crypto/keys.h"
#include "crypto/rsa_oaep.h"
#include "hsm/mechanisms.h"
#include "hsm/object.h"

namespace keyferry::byok {

// ObjectRef is a token object handle (CK_OBJECT_HANDLE).
using ObjectRef = hsm::ObjectHandle;

// Mechanism numbers used by the export (PKCS#11 3.1 values, named once in
// hsm/mechanisms.h).
inline constexpr uint64_t kCkmRsaPkcsOaep = hsm::kRsaPkcsOaep;
inline constexpr uint64_t kCkmRsaAesKeyWrap = hsm::kRsaAesKeyWrap;
inline constexpr uint64_t kCkmAesKeyWrapPad = hsm::kAesKeyWrapPad;
inline constexpr uint64_t kCkmAesKeyWrapKwp = hsm::kAesKeyWrapKwp;

// TargetInfo describes the key to export.
struct TargetInfo {
  crypto::KeyType type;
  int bits = 0;                        // RSA modulus or AES key bits
  std::optional<crypto::Curve> curve;  // EC
  bool extractable = false;
  std::string label;
};

// ExportSession is not thread-safe; one export at a time per session. It
// destroys its objects (ObjectDestroyer), so ScopedObject holds them.
class ExportSession : public hsm::ObjectDestroyer {
 public:
  ~ExportSession() override = default;

  // Describe returns type, size and extractability of `target`.
  virtual absl::StatusOr<TargetInfo> Describe(ObjectRef target) = 0;
  // HasMechanism tells whether C_GetMechanismInfo lists `mech` with the wrap
  // flag.
  virtual bool HasWrapMechanism(uint64_t mech) = 0;
  // ImportRsaPublic makes a session object (CKA_TOKEN=FALSE, CKA_WRAP=TRUE)
  // from big-endian modulus and exponent. The caller destroys it.
  virtual absl::StatusOr<ObjectRef> ImportRsaPublic(
      std::span<const uint8_t> n, std::span<const uint8_t> e) = 0;
  // GenerateEphemeralAes makes a session AES key of `bytes` bytes,
  // sensitive, extractable, with CKA_WRAP=TRUE and every other use FALSE.
  virtual absl::StatusOr<ObjectRef> GenerateEphemeralAes(size_t bytes) = 0;
  // CreateTestSecret makes a non-sensitive, extractable session secret of
  // known value (for known-answer probes only; never for target keys).
  virtual absl::StatusOr<ObjectRef> CreateTestSecret(const SecretBytes& value,
                                                     bool aes_wrapping_key) = 0;
  // GenerateTestEc makes a non-sensitive, extractable session EC key pair on
  // `curve` and returns the private key (probes only).
  virtual absl::StatusOr<ObjectRef> GenerateTestEc(crypto::Curve curve) = 0;
  // WrapOaep: C_WrapKey(CKM_RSA_PKCS_OAEP{`hash`, MGF1 of `hash`, no
  // label}).
  virtual absl::StatusOr<std::vector<uint8_t>> WrapOaep(crypto::OaepHash hash,
                                                        ObjectRef wrapping,
                                                        ObjectRef target) = 0;
  // WrapKwp: C_WrapKey(`mech`) where `mech` is the configured KWP mechanism.
  virtual absl::StatusOr<std::vector<uint8_t>> WrapKwp(uint64_t mech,
                                                       ObjectRef wrapping,
                                                       ObjectRef target) = 0;
  // WrapRsaAes: C_WrapKey(CKM_RSA_AES_KEY_WRAP{256, OAEP `hash`}).
  virtual absl::StatusOr<std::vector<uint8_t>> WrapRsaAes(crypto::OaepHash hash,
                                                          ObjectRef kek,
                                                          ObjectRef target) = 0;
  // ProbeKwp runs the RFC 5649 §6 known-answer tests with `mech` on
  // throwaway session objects.
  struct KwpProbe {
    bool wrap_ok = false;         // both vectors wrap to the RFC values
    bool unwrap_ok = false;       // both vectors unwrap to the RFC values
    bool padding_defect = false;  // 7-byte case gives SoftHSM 2.6.1's value
    std::string detail;
  };
  virtual absl::StatusOr<KwpProbe> ProbeKwp(uint64_t mech) = 0;
  // Destroy: C_DestroyObject. Errors are reported, never thrown.
  absl::Status Destroy(ObjectRef object) override = 0;
  // Description names the token for the blob's `generator` field.
  virtual std::string Description() = 0;
};

// ScopedObject destroys a token object when it goes out of scope: the one
// scoped handle of src/hsm, with the ExportSession as its destroyer.
using ScopedObject = hsm::ScopedObject;

}  // namespace keyferry::byok

#endif  // KEYFERRY_BYOK_EXPORT_SESSION_H_
