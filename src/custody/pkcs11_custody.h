// Pkcs11Custody keeps key material inside a PKCS#11 token
// (docs/security-model.md §3). Keys are generated or unwrapped inside the
// token; what the store keeps is each key wrapped (C_WrapKey, RFC 5649) by
// a non-extractable AES-256 master wrapping key that never leaves the token,
// plus an HMAC-SHA256 made in the token that binds the wrapped key to its
// vault, name and version. On use the blob is unwrapped into a session
// object that is non-extractable (the master key's CKA_UNWRAP_TEMPLATE
// forces it) and the private operation runs in the token: C_Sign, C_Decrypt,
// C_UnwrapKey (RSA1_5 decrypts with raw RSA in the token and its padding
// check in keyferryd, with implicit rejection: DecryptRsa15). BYOK import
// unwraps the transfer blob inside the token (CKM_RSA_AES_KEY_WRAP where the
// token offers it, else RSA-OAEP-SHA1 into a session AES key and RFC 5649 into
// the target): keyferryd never holds a plaintext private key.
//
// Secure Key Release: keys made exportable (KeyRequest::exportable) are
// wrapped by a second master wrapping key, kExportWrapLabel, whose
// CKA_UNWRAP_TEMPLATE makes what it unwraps sensitive but extractable; the
// blob's magic ("KFE1" instead of "KFP1", covered by the blob MAC) says
// which master wrapped it, so a non-exportable key is never opened
// extractable. WrapForRelease wraps such a key in the token
// (byok::ExportFromToken: CKM_RSA_AES_KEY_WRAP where the token passes its
// probe, else RSA-OAEP of an ephemeral session AES key plus the token's RFC
// 5649 wrap); a token without the OAEP hash asked is refused, naming it.
//
// Token objects: only the four master keys are token objects (labels
// kWrapLabel, kExportWrapLabel, kMacLabel, kBackupLabel); the exportable
// wrapping key is made on first start when missing, whatever the master key
// policy (tokens set up before it existed). Per-key objects are session
// objects, so a crash leaves nothing behind; Reconcile removes token objects
// with the kTransientPrefix label that an interrupted operation of any
// version may have left.
//
// Limits are found by probes at start-up (known-answer tests), never by
// version string, and an operation the token cannot do is InvalidArgument
// naming the token's limit, never a software fallback.
#ifndef KEYFERRY_CUSTODY_PKCS11_CUSTODY_H_
#define KEYFERRY_CUSTODY_PKCS11_CUSTODY_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "base/lru_cache.h"
#include "base/mutex.h"
#include "custody/custody.h"
#include "custody/master_key.h"
#include "hsm/mechanisms.h"
#include "hsm/module.h"
#include "hsm/object.h"
#include "hsm/session.h"
#include "hsm/session_pool.h"

namespace keyferry::custody {

struct Pkcs11Options {
  std::string module_path;  // e.g. /usr/lib/softhsm/libsofthsm2.so
  hsm::LoadOptions load;    // the module's initialization string, if any
  std::string token_label;
  SecretBytes pin;
  size_t sessions = 16;       // sessions opened and shared by all threads
  size_t cached_keys = 1024;  // unwrapped session objects kept ready
  // Whether Open may generate missing master keys (master_key.h): only for
  // a new deployment; a store that already holds keys needs the master keys
  // it was made with, and a fresh store next to existing master keys is a
  // lost store.
  MasterKeyPolicy master_keys = MasterKeyPolicy::kMustExist;
};

// Pkcs11Limits is what the start-up probes found.
struct Pkcs11Limits {
  bool rsa_aes_key_wrap = false;  // CKM_RSA_AES_KEY_WRAP unwrap offered
  bool oaep_sha256 = false;       // RSA-OAEP-256 decrypt passes its KAT
  bool kwp_wrap_defect = false;   // RFC 5649 wrap pads like SoftHSM 2.6.1
  // The token's RFC 5649 mechanism, chosen by known-answer test
  // (byok::ChooseKwp): 0x210A on one token is 0x210B on another.
  uint64_t kwp_mechanism = hsm::kAesKeyWrapPad;
  bool aes_gcm = false;            // CKM_AES_GCM passes its KAT
  bool secp256k1 = false;          // EC keys on secp256k1 can be generated
  bool rsa_raw = false;            // raw RSA decrypt (CKM_RSA_X_509) passes
                                   // its KAT: RSA1_5 with implicit rejection
  std::vector<std::string> notes;  // one line per limit, for the log
};

// Thread safety: every Custody method may be called from any thread; the
// sessions, the cache of unwrapped objects and the verified-record set are
// shared under their own locks.
class Pkcs11Custody : public Custody {
 public:
  static constexpr const char* kWrapLabel = "keyferryd-master-wrap";
  static constexpr const char* kExportWrapLabel =
      "keyferryd-master-wrap-exportable";
  static constexpr const char* kMacLabel = "keyferryd-master-mac";
  static constexpr const char* kBackupLabel = "keyferryd-master-backup";
  static constexpr const char* kTransientPrefix = "keyferryd-transient-";

  // Open loads the module, logs in to the token labelled
  // options.token_label, finds or creates the master keys, removes
  // transient token objects (Reconcile) and runs the probes. A token
  // missing a mechanism keyferryd cannot work without (RSA-OAEP unwrap,
  // RFC 5649 unwrap, HMAC-SHA256, RSA PKCS#1 and ECDSA signing) is
  // FailedPrecondition naming it.
  static absl::StatusOr<std::unique_ptr<Pkcs11Custody>> Open(
      Pkcs11Options options);
  ~Pkcs11Custody() override;

  std::string Kind() const override { return "pkcs11"; }
  std::string Platform() const override { return platform_; }
  const Pkcs11Limits& limits() const { return limits_; }
  // reconciled is how many transient token objects Open removed.
  int reconciled() const { return reconciled_.load(); }

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
  // Secure Key Release (docs/api.md §Secure Key Release): only keys held
  // exportable (blob magic "KFE1") are released, wrapped in the token;
  // WrapForRelease is FailedPrecondition for any other key and for a token
  // that lacks the mechanism the wrap needs (named).
  bool CanRelease() const override { return true; }
  absl::StatusOr<std::vector<uint8_t>> WrapForRelease(
      const HeldKey& key, std::span<const uint8_t> binding,
      EVP_PKEY* wrapping_key, crypto::OaepHash hash) override;

  // CloseAllSessionsForTest closes every session of the module on the
  // token, as a token reset does (session objects and login are gone): for
  // the test that keyferryd recovers.
  void CloseAllSessionsForTest();

  class Janitor;   // destroys session objects (pkcs11_custody_internal.h)
  class Resident;  // an unwrapped session object, destroyed when dropped

 private:
  using Lease = hsm::SessionPool::Lease;

  explicit Pkcs11Custody(std::unique_ptr<hsm::Module> module);

  // Reconcile removes transient token objects an interrupted operation
  // left (kTransientPrefix labels) and counts them in reconciled_.
  absl::Status Reconcile(hsm::Session& s);
  // FindOrCreateMasterKeys finds the three master keys by label and makes
  // missing ones as `policy` allows (FailedPrecondition naming the key
  // otherwise).
  absl::Status FindOrCreateMasterKeys(hsm::Session& s, MasterKeyPolicy policy);
  // WithKey runs `op` on a borrowed session with `key`'s session object.
  // When the token no longer knows the session or the object (a reset),
  // the pool calls TokenLost and `op` runs once more with fresh ones.
  template <typename T>
  absl::StatusOr<T> WithKey(
      const HeldKey& key, std::span<const uint8_t> binding,
      const std::function<absl::StatusOr<T>(hsm::Session&, hsm::ObjectHandle)>&
          op);
  // TokenLost drops every cached object, verified record and idle session,
  // and reopens the janitor session (finding the master keys again).
  void TokenLost();
  // Probe runs the start-up probes (pkcs11_probe.cc) into limits_.
  absl::Status Probe(hsm::Session& s);

  // Hold wraps the (extractable, session) object `obj` under the master
  // key (the exportable master, kExportWrapLabel, when `exportable`; the
  // blob's magic records which), destroys it and MACs the wrapped key with
  // `binding` (pkcs11_blob.cc).
  absl::StatusOr<HeldKey> Hold(hsm::Session& s, hsm::ScopedObject obj,
                               HeldKey held, std::span<const uint8_t> binding,
                               bool exportable);
  // HoldWithPublic sets the public JWK from `pub` and holds `obj`; `obj`
  // is destroyed on any failure.
  absl::StatusOr<HeldKey> HoldWithPublic(hsm::Session& s, hsm::ScopedObject obj,
                                         HeldKey held,
                                         absl::StatusOr<crypto::EvpPkeyPtr> pub,
                                         std::span<const uint8_t> binding,
                                         bool exportable);
  // Mac is the blob MAC (BlobMacInput) made with the master MAC key.
  absl::StatusOr<std::vector<uint8_t>> Mac(hsm::Session& s,
                                           std::span<const uint8_t> header,
                                           std::span<const uint8_t> binding,
                                           std::span<const uint8_t> wrapped);
  // Use returns the non-extractable session object for `key`, from the
  // cache or by checking the MAC and unwrapping.
  absl::StatusOr<std::shared_ptr<Resident>> Use(
      hsm::Session& s, const HeldKey& key, std::span<const uint8_t> binding);
  absl::Status CheckBlob(hsm::Session& s, const HeldKey& key,
                         std::span<const uint8_t> binding);

  // DescribeRecovered reads kind, size, curve and public key of a key
  // unwrapped from a BYOK blob and applies CheckRecoveredKey.
  absl::StatusOr<HeldKey> DescribeRecovered(hsm::Session& s,
                                            hsm::ObjectHandle obj,
                                            size_t unwrapped_bound,
                                            const KeyRequest& expected);
  absl::StatusOr<std::string> EcPublicJwk(hsm::Session& s,
                                          hsm::ObjectHandle priv,
                                          crypto::Curve curve);
  // DecryptRsa15 is RSA1_5 decryption with implicit rejection: the raw RSA
  // in the token (CKM_RSA_X_509), the key derivation key an HMAC of the
  // token's master MAC key (the token never gives out d), the padding check
  // and the synthetic message in crypto::RsaPkcs1DecodeImplicitRejection
  // (pkcs11_rsa15.cc).
  absl::StatusOr<CipherOutput> DecryptRsa15(
      const HeldKey& key, std::span<const uint8_t> binding,
      std::span<const uint8_t> ciphertext);

  // Set by Open, then read-only.
  std::unique_ptr<hsm::Module> module_;
  hsm::SlotId slot_ = 0;
  SecretBytes pin_;
  std::string platform_;
  Pkcs11Limits limits_;
  std::atomic<int> reconciled_{0};  // counted again by TokenLost
  // Token objects; found again after a token reset (TokenLost), which may
  // renumber them.
  std::atomic<hsm::ObjectHandle> wrap_key_{0}, export_wrap_key_{0}, mac_key_{0},
      backup_key_{0};

  // Sessions shared by all threads (thread-safe itself).
  std::unique_ptr<hsm::SessionPool> pool_;
  // The janitor destroys evicted session objects on a session of its own
  // (thread-safe itself). Outlives every Resident.
  std::unique_ptr<Janitor> janitor_;

  // Resident session objects by (binding, blob), least recently used first.
  // An entry is dropped when the cache is full (least recently used first)
  // or the token is lost (TokenLost: all of them); a blob never changes
  // under its key, so no other invalidation is needed.
  // Made by Open with Options::cached_keys entries (0: none kept).
  std::unique_ptr<LruCache<std::shared_ptr<Resident>>> cache_;

  // SHA-256 of (record, tag) pairs the token verified (VerifyRecord). A
  // pair verified once stays valid while the master MAC key is the same,
  // so entries are dropped only when the set is full (all at once) or the
  // token is lost (TokenLost), never one by one.
  keyferry::Mutex verified_mu_;
  std::unordered_set<std::string> verified_ ABSL_GUARDED_BY(verified_mu_);
  static constexpr size_t kMaxVerified = 1 << 16;
};

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_PKCS11_CUSTODY_H_
