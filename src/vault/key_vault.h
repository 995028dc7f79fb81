// KeyVault: the keys service of keyferryd, independent of HTTP. It applies
// Key Vault's rules (names, versions, key_ops, enabled/nbf/exp, soft delete,
// KEK and BYOK import rules, rotation) over a KeyStore (metadata, custody
// blobs) and a Custody (key material, private operations).
//
// Errors carry Key Vault's codes through base/error_code.h where the HTTP
// status alone is not enough (KeyDisabled, ObjectIsDeletedButRecoverable…);
// otherwise NotFound is KeyNotFound, InvalidArgument is BadParameter.
// Messages never contain key material.
//
// Thread-safe: the store and the custody are.
#ifndef KEYFERRY_VAULT_KEY_VAULT_H_
#define KEYFERRY_VAULT_KEY_VAULT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "base/secret.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "custody/custody.h"
#include "custody/key_cache.h"
#include "release/attestation.h"
#include "release/result.h"
#include "store/key_store.h"
#include "vault/model.h"
#include "vault/rotation.h"

namespace keyferry::vault {

// Clock returns Unix seconds; tests pass their own.
using Clock = std::function<int64_t()>;
int64_t SystemClock();

struct VaultOptions {
  int recoverable_days = 90;
  std::string recovery_level = "Recoverable+Purgeable";
};

// ReleasePolicyInput is a request's "release_policy" (docs/api.md §Secure
// Key Release), its "data" already base64url-decoded.
struct ReleasePolicyInput {
  std::optional<std::string> content_type;  // absent: the default
  std::string data;                         // the policy JSON text
  bool immutable = false;
};

// KeyProperties are the settable parts of create, import and update; unset
// fields keep their default (create/import) or current value (update).
struct KeyProperties {
  std::optional<bool> enabled;
  std::optional<int64_t> not_before;
  std::optional<int64_t> expires;
  std::optional<bool> exportable;
  std::optional<std::string> tags_json;  // a JSON object of strings
  std::optional<std::vector<KeyOp>> key_ops;
  std::optional<ReleasePolicyInput> release_policy;
};

struct CreateKeyRequest {
  Kty kty = Kty::kRsa;
  std::optional<int> key_size;
  std::optional<uint32_t> public_exponent;
  std::optional<crypto::Curve> curve;
  KeyProperties properties;
};

// ImportKeyRequest carries exactly one of: a plaintext private key
// (`private_key`, RSA or EC), plaintext oct bytes (`secret`), or a BYOK blob
// (`key_hsm`, the raw .byok file bytes).
struct ImportKeyRequest {
  Kty kty = Kty::kRsa;
  // The vault host the client addressed, "host[:port]" (e.g.
  // "myvault.localhost:8443"): a BYOK blob's kid must name exactly this
  // vault (the default port 443 may be written or left out).
  std::string vault_host;
  bool hsm = false;                    // the body's "Hsm"
  std::optional<crypto::Curve> curve;  // BYOK EC: the requested crv
  crypto::EvpPkeyPtr private_key;
  std::optional<SecretBytes> secret;
  std::optional<std::vector<uint8_t>> key_hsm;
  KeyProperties properties;
  // The version id to give the new version (32 hex characters, checked as
  // any version id), instead of a random one: only keyferryd's preload
  // sets it (docs/preload.md §2), the API never does. AlreadyExists (from
  // the store, nothing stored) when the key has that version.
  std::optional<std::string> version;
};

// ReleaseRequest is the body of a key release (POST …/release).
struct ReleaseRequest {
  std::string target;  // the attestation token
  std::optional<std::string> nonce;
  release::ReleaseEnc enc = release::ReleaseEnc::kCkmRsaAesKeyWrap;
};

// Released is what a release hands out: the version released, its key
// wrapped to the token's key (release::KeyHsm), and, for the audit log, the
// token's issuer and wrapping key id.
struct Released {
  store::KeyVersion key;
  std::string key_hsm;
  std::string issuer;
  std::string wrapping_kid;
};

// DueWorkFailure is background work (a policy rotation or a scheduled
// purge) that failed and waits for its retry.
struct DueWorkFailure {
  std::string vault;
  std::string name;
  std::string work;          // "rotate" or "purge"
  std::string error;         // the last failure's message (no key material)
  int failures = 0;          // consecutive failures
  int64_t next_attempt = 0;  // Unix seconds
};

// DueWorkEvent is one rotation or purge the background work attempted.
struct DueWorkEvent {
  std::string work;  // "rotate" or "purge"
  std::string vault;
  std::string name;
  std::string version;  // the version a rotation made
  absl::Status status;  // OK, or why it failed
};

// DeletedKey is a soft-deleted key with its deletion dates.
struct DeletedKey {
  store::KeyName name;
  store::KeyVersion latest;
};

class KeyVault {
 public:
  KeyVault(store::KeyStore* store, custody::Custody* custody, Clock clock,
           VaultOptions options = {});

  const VaultOptions& options() const { return options_; }
  custody::Custody& custody() const { return *custody_; }
  int64_t Now() const { return clock_(); }

  // Create makes a new key (or a new version of an existing one).
  // InvalidArgument for a bad kty/size/curve/exponent combination; 409
  // Conflict (ObjectIsDeletedButRecoverable) when the name is soft-deleted.
  absl::StatusOr<store::KeyVersion> Create(std::string_view vault,
                                           std::string_view name,
                                           const CreateKeyRequest& request);

  // Import takes a plaintext key or a BYOK blob as a new version. BYOK
  // (docs/byok-format.md §1–§3): the blob's kid must name an enabled, valid KEK
  // of this vault whose key_ops are exactly [import]; every failure is
  // InvalidArgument naming the rule, and nothing is stored.
  absl::StatusOr<store::KeyVersion> Import(std::string_view vault,
                                           std::string_view name,
                                           ImportKeyRequest request);

  // Get returns `version` (latest when empty). NotFound (KeyNotFound).
  absl::StatusOr<store::KeyVersion> Get(std::string_view vault,
                                        std::string_view name,
                                        std::string_view version);

  // Update changes attributes, tags and key_ops of one version (the latest
  // when `version` is empty). It reads, changes and writes on condition
  // that nobody wrote the version in between (KeyStore::UpdateVersion);
  // after kUpdateAttempts lost races it is Aborted (409 Conflict).
  absl::StatusOr<store::KeyVersion> Update(std::string_view vault,
                                           std::string_view name,
                                           std::string_view version,
                                           const KeyProperties& properties);

  absl::StatusOr<store::Page<store::KeyVersion>> List(std::string_view vault,
                                                      std::string_view after,
                                                      int limit);
  absl::StatusOr<store::Page<store::KeyVersion>> ListVersions(
      std::string_view vault, std::string_view name, std::string_view after,
      int limit);

  // Delete soft-deletes the key (every version).
  absl::StatusOr<DeletedKey> Delete(std::string_view vault,
                                    std::string_view name);
  absl::StatusOr<DeletedKey> GetDeleted(std::string_view vault,
                                        std::string_view name);
  absl::StatusOr<store::Page<std::pair<store::KeyName, store::KeyVersion>>>
  ListDeleted(std::string_view vault, std::string_view after, int limit);
  absl::StatusOr<store::KeyVersion> Recover(std::string_view vault,
                                            std::string_view name);
  absl::Status Purge(std::string_view vault, std::string_view name);

  // Backup returns every version of the key, custody blobs included,
  // protected by the custody for this deployment only.
  absl::StatusOr<std::vector<uint8_t>> Backup(std::string_view vault,
                                              std::string_view name);
  // Restore stores a backup of this deployment as a new key of `vault`
  // (409 Conflict when the name exists, InvalidArgument for a foreign or
  // damaged backup).
  absl::StatusOr<store::KeyVersion> Restore(std::string_view vault,
                                            std::span<const uint8_t> backup);

  // Sign signs a digest; Verify checks a signature with the public key.
  absl::StatusOr<std::pair<store::KeyVersion, std::vector<uint8_t>>> Sign(
      std::string_view vault, std::string_view name, std::string_view version,
      crypto::SignAlg alg, std::span<const uint8_t> digest);
  absl::StatusOr<bool> Verify(std::string_view vault, std::string_view name,
                              std::string_view version, crypto::SignAlg alg,
                              std::span<const uint8_t> digest,
                              std::span<const uint8_t> signature);

  // Cipher runs encrypt (op kEncrypt), decrypt, wrapKey or unwrapKey.
  absl::StatusOr<std::pair<store::KeyVersion, custody::CipherOutput>> Cipher(
      std::string_view vault, std::string_view name, std::string_view version,
      KeyOp op, const custody::CipherInput& input);

  // Release wraps `version` (latest when empty) of an exportable key to the
  // public key of an attestation token (docs/api.md §Secure Key Release),
  // in this order: the key is active, enabled and within nbf/exp (403
  // Forbidden KeyDisabled/KeyNotYetValid/KeyExpired); it is exportable and
  // has a release policy (PermissionDenied "Forbidden"); the token verifies
  // against `trusted` (release::VerifyAttestation); a request nonce is one
  // of the token's (release::TokenNonces); the token satisfies the policy
  // (release::Evaluate); then the custody wraps the key
  // (Custody::WrapForRelease). Every refusal is PermissionDenied (403
  // Forbidden) naming the failed check, and nothing is wrapped.
  absl::StatusOr<Released> Release(std::string_view vault,
                                   std::string_view name,
                                   std::string_view version,
                                   const release::TrustedAuthorities& trusted,
                                   const ReleaseRequest& request);

  // Rotate makes a new version with the latest version's kty, size, curve,
  // key_ops, tags, exportable and release policy.
  absl::StatusOr<store::KeyVersion> Rotate(std::string_view vault,
                                           std::string_view name);

  // GetRotationPolicy returns the stored policy document (with "id"), or
  // Key Vault's default when none is stored.
  absl::StatusOr<std::string> GetRotationPolicy(std::string_view vault,
                                                std::string_view name,
                                                std::string_view key_url);
  // SetRotationPolicy validates and stores a policy, and schedules the next
  // rotation from the latest version.
  absl::StatusOr<std::string> SetRotationPolicy(std::string_view vault,
                                                std::string_view name,
                                                std::string_view body,
                                                std::string_view key_url);

  // RunDueWork rotates every key whose policy says so and purges every
  // deleted key past its scheduled purge date. Returns how many keys it
  // rotated and purged. A key whose rotation or purge fails is logged
  // ("due_work_failed") and retried with exponential backoff (1 s doubling
  // to kMaxDueWorkBackoff); a failed rotation keeps its policy and has its
  // next rotation moved to the retry time. DueWorkFailures lists what is
  // waiting for a retry. Errors of the store's own queries are returned.
  // `on_work` (may be empty) is told of each rotation or purge attempted,
  // for the audit log; when it fails (the record cannot be written) the
  // run stops there and its error is returned: no more work is done
  // unrecorded.
  absl::StatusOr<std::pair<int, int>> RunDueWork(
      const std::function<absl::Status(const DueWorkEvent&)>& on_work =
          nullptr);
  std::vector<DueWorkFailure> DueWorkFailures() const;
  static constexpr int64_t kMaxDueWorkBackoff = 3600;
  static constexpr int kUpdateAttempts = 5;
  // kRotationLease is how long a node holds a due rotation it claimed
  // (KeyStore::ClaimRotation) before another node may take it over: far
  // longer than a rotation takes (an RSA-4096 generation in a slow token
  // is seconds), short enough that a dead holder delays it by a minute.
  static constexpr int64_t kRotationLease = 60;

  // Binding is what a custody blob is bound to: vault, name, version.
  static std::vector<uint8_t> Binding(std::string_view vault,
                                      std::string_view name,
                                      std::string_view version);

 private:
  absl::StatusOr<store::KeyVersion> Usable(std::string_view vault,
                                           std::string_view name,
                                           std::string_view version, KeyOp op);
  absl::StatusOr<store::KeyVersion> Store(std::string_view vault,
                                          std::string_view name,
                                          std::string_view version, Kty kty,
                                          custody::HeldKey held,
                                          const KeyProperties& properties,
                                          std::vector<KeyOp> default_ops);
  absl::Status Reschedule(std::string_view vault, std::string_view name);
  // Updated is `before` with `properties` applied, `updated` now and attest
  // renewed.
  absl::StatusOr<store::KeyVersion> Updated(const store::KeyVersion& before,
                                            const KeyProperties& properties);
  // RotateDue rotates one key that DueRotations named, once across nodes:
  // it claims the rotation (KeyStore::ClaimRotation) and does nothing when
  // another node holds it. A claim whose key already has a version newer
  // than its due time (a node died after rotating, before rescheduling)
  // only reschedules. Answers the new version, "" when nothing was rotated,
  // or the rotation's error; `*lease` is the lease this node holds (0:
  // none), for the caller to hand over to a retry.
  absl::StatusOr<std::string> RotateDue(const std::string& vault,
                                        const std::string& name, int64_t now,
                                        int64_t* lease);
  absl::StatusOr<custody::HeldKey> ImportByok(std::string_view vault,
                                              const ImportKeyRequest& request,
                                              std::span<const uint8_t> binding);

  store::KeyStore* store_;
  custody::Custody* custody_;
  Clock clock_;
  VaultOptions options_;
  // Parsed public keys for verify, by public_jwk (parsing costs about as
  // much as an ECDSA verification with OpenSSL 3.0).
  custody::KeyCache public_keys_{4096};
  // Background work waiting for a retry, by "work/vault/name". Written by
  // RunDueWork (one thread), read by DueWorkFailures; an entry goes when
  // its work succeeds or its key is gone.
  mutable keyferry::Mutex due_mu_;
  std::map<std::string, DueWorkFailure> due_failures_ ABSL_GUARDED_BY(due_mu_);
};

// TagsFromJson validates a "tags" member (an object of at most 15 string
// values; names at most 512 and values at most 256 characters) and returns
// it as compact JSON. InvalidArgument otherwise. It looks at the object's
// own members only, so a deep value is refused before anything walks it.
absl::StatusOr<std::string> TagsFromJson(const nlohmann::json& tags);

// ReleasePolicyRecord validates `input` (contentType, when given, must be
// release::kPolicyContentType; data must parse as release::ParsePolicy
// reads it) and returns the stored form: {"contentType","data" (base64url of
// release::PolicyJson),"immutable"}. InvalidArgument (400 BadParameter)
// naming the fault otherwise.
absl::StatusOr<std::string> ReleasePolicyRecord(
    const ReleasePolicyInput& input);

// ReleasePolicyInputOf reads a stored record back (for rotation); nullopt
// for "" (no policy).
std::optional<ReleasePolicyInput> ReleasePolicyInputOf(std::string_view record);

// ReleasePolicyImmutable tells whether a stored record is immutable.
bool ReleasePolicyImmutable(std::string_view record);

// CheckExportRules applies Azure's rules to a create or import of `kty`
// with `p`, on `custody` (docs/api.md §Secure Key Release): exportable
// without a policy is "AKV.SKR.1004: Exportable keys must have release
// policy."; a policy without exportable "AKV.SKR.1005: Non-exportable keys
// must not have release policy."; exportable on a non-HSM kty
// "AKV.SKR.1006: …"; exportable on a custody that cannot release is
// refused too. All InvalidArgument (400 BadParameter).
absl::Status CheckExportRules(Kty kty, const KeyProperties& p,
                              const custody::Custody& custody);

// HeldOf rebuilds the custody's view of a stored version.
custody::HeldKey HeldOf(const store::KeyVersion& k);

// OpsOf parses the stored key_ops.
std::vector<KeyOp> OpsOf(const store::KeyVersion& k);

// AttributesOf extracts the model attributes of a stored version.
Attributes AttributesOf(const store::KeyVersion& k);

}  // namespace keyferry::vault

#endif  // KEYFERRY_VAULT_KEY_VAULT_H_
