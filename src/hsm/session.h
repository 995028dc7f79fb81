// A PKCS#11 session: RAII open/login/logout/close, and the object
// operations keyferry uses. Not thread-safe: one session per thread.
#ifndef KEYFERRY_HSM_SESSION_H_
#define KEYFERRY_HSM_SESSION_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "hsm/module.h"
#include "hsm/object.h"

namespace keyferry::hsm {

// Attr is one template attribute. Values live in a zeroizing buffer because
// templates may carry key material (C_CreateObject of a known key).
struct Attr {
  uint64_t type;
  SecretBytes value;

  static Attr Bool(uint64_t type, bool v);
  static Attr Ulong(uint64_t type, uint64_t v);
  static Attr Bytes(uint64_t type, std::span<const uint8_t> v);
  static Attr String(uint64_t type, std::string_view v);
  static Attr Secret(uint64_t type, const SecretBytes& v);
};
using Template = std::vector<Attr>;

// Mechanism is a CK_MECHANISM with its parameter bytes borrowed.
struct Mechanism {
  uint64_t type;
  const void* param = nullptr;
  size_t param_len = 0;
};

class Session : public ObjectDestroyer {
 public:
  // Open opens a read-write session on `slot` and logs in as the user with
  // `pin`. A wrong PIN is Unauthenticated "PIN incorrect". PKCS#11 login is
  // per application: while another session of this module is logged in,
  // the token does not check `pin` again (CKR_USER_ALREADY_LOGGED_IN).
  static absl::StatusOr<std::unique_ptr<Session>> Open(Module& module,
                                                       SlotId slot,
                                                       const SecretBytes& pin);
  // OpenSecurityOfficer logs in as the SO (for C_InitPIN).
  static absl::StatusOr<std::unique_ptr<Session>> OpenSecurityOfficer(
      Module& module, SlotId slot, const SecretBytes& so_pin);
  // Logs out and closes the session.
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // InitUserPin sets the user PIN (SO session only).
  absl::Status InitUserPin(const SecretBytes& pin);

  absl::StatusOr<std::vector<ObjectHandle>> Find(const Template& match);
  // GetAttribute reads one attribute. NotFound when the object lacks it,
  // PermissionDenied (CKR_ATTRIBUTE_SENSITIVE) when it may not be read.
  absl::StatusOr<std::vector<uint8_t>> GetAttribute(ObjectHandle h,
                                                    uint64_t type);
  absl::StatusOr<bool> GetBool(ObjectHandle h, uint64_t type);
  absl::StatusOr<uint64_t> GetUlong(ObjectHandle h, uint64_t type);
  // GetSecretAttribute reads a secret attribute into a zeroizing buffer.
  absl::StatusOr<SecretBytes> GetSecretAttribute(ObjectHandle h, uint64_t type);

  absl::StatusOr<ObjectHandle> CreateObject(const Template& t);
  absl::StatusOr<ObjectHandle> GenerateKey(const Mechanism& m,
                                           const Template& t);
  // GenerateKeyPair returns {public, private}.
  absl::StatusOr<std::pair<ObjectHandle, ObjectHandle>> GenerateKeyPair(
      const Mechanism& m, const Template& pub, const Template& priv);
  // WrapKey runs C_WrapKey with the size query; the output is not secret.
  absl::StatusOr<std::vector<uint8_t>> WrapKey(const Mechanism& m,
                                               ObjectHandle wrapping,
                                               ObjectHandle key);
  // UnwrapKey runs C_UnwrapKey. Some tokens demand an attribute beyond
  // PKCS#11 for an unwrapped EC private key (NSS softokn: CKA_NSS_DB, the
  // key's database identifier, which PKCS#11 gives the client no way to
  // know before the unwrap): on CKR_TEMPLATE_INCOMPLETE for an EC private
  // key, the unwrap is tried once more with the attributes such tokens
  // demand (hsm/templates.h DemandedByTokens), each holding a fresh random
  // identifier so two keys never share one.
  absl::StatusOr<ObjectHandle> UnwrapKey(const Mechanism& m,
                                         ObjectHandle unwrapping,
                                         std::span<const uint8_t> wrapped,
                                         const Template& t);
  // Destroy destroys `h` (C_DestroyObject). Prefer holding objects in a
  // ScopedObject (hsm/object.h) over calling this by hand.
  absl::Status Destroy(ObjectHandle h) override;

  // Sign runs C_SignInit + C_Sign (single part) with the size query.
  absl::StatusOr<std::vector<uint8_t>> Sign(const Mechanism& m,
                                            ObjectHandle key,
                                            std::span<const uint8_t> data);
  // SignSecret is Sign into a zeroizing buffer, for a MAC that serves as a
  // key (a key derivation key made with a token's HMAC key).
  absl::StatusOr<SecretBytes> SignSecret(const Mechanism& m, ObjectHandle key,
                                         std::span<const uint8_t> data);
  // Verify runs C_VerifyInit + C_Verify. A signature that does not verify
  // is InvalidArgument "signature does not verify"; other failures carry
  // their CK_RV.
  absl::Status Verify(const Mechanism& m, ObjectHandle key,
                      std::span<const uint8_t> data,
                      std::span<const uint8_t> signature);
  // VerifyMac checks a MAC (HMAC) by making it again with C_Sign and
  // comparing in constant time: InvalidArgument "MAC does not verify" when
  // it differs, other failures carry their CK_RV. (Not C_Verify: NSS
  // softokn 3.87 answers a wrong HMAC with CKR_SIGNATURE_INVALID or, after
  // some other calls on the thread, CKR_DEVICE_ERROR, which a client cannot
  // tell from a real device error.)
  absl::Status VerifyMac(const Mechanism& m, ObjectHandle key,
                         std::span<const uint8_t> data,
                         std::span<const uint8_t> mac);
  // Encrypt runs C_EncryptInit + C_Encrypt (single part).
  absl::StatusOr<std::vector<uint8_t>> Encrypt(const Mechanism& m,
                                               ObjectHandle key,
                                               std::span<const uint8_t> data);
  // Decrypt runs C_DecryptInit + C_Decrypt (single part) into a zeroizing
  // buffer: the plaintext may be key material.
  absl::StatusOr<SecretBytes> Decrypt(const Mechanism& m, ObjectHandle key,
                                      std::span<const uint8_t> data);

  // IsAlive asks the token (C_GetSessionInfo) whether this session still
  // exists with the user logged in; false after a token reset or
  // C_CloseAllSessions.
  bool IsAlive();

  SlotId slot() const { return slot_; }
  Module& module() const { return *module_; }

 private:
  Session(Module* module, SlotId slot, unsigned long handle)
      : module_(module), slot_(slot), handle_(handle) {}
  static absl::StatusOr<std::unique_ptr<Session>> OpenAs(Module& module,
                                                         SlotId slot,
                                                         const SecretBytes& pin,
                                                         unsigned long user);
  Module* module_;
  SlotId slot_;
  unsigned long handle_;
  bool logged_in_ = false;
};

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_SESSION_H_
