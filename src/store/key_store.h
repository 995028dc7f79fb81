// KeyStore: where a vault's key metadata and encrypted key material (custody
// blobs) are kept (docs/storage.md). The vault layer owns every rule (names,
// key_ops, soft delete policy); the store only keeps records and makes each
// call one atomic, durable transaction: when a mutating call returns OK its
// effect survives a crash and a restart, and when it fails nothing changed.
//
// Names are compared case-insensitively (Key Vault's rule): every lookup by
// `name` matches the record's lower-cased name, and the name as first
// created is what records carry back.
//
// Implementations: SqliteKeyStore (sqlite_store.h), PostgresKeyStore
// (postgres_store.h); for tests, MemoryKeyStore (memory_store.h, with
// fault injection). The
// contract tests (store_contract_test.cc) hold every implementation to this.
// Implementations are thread-safe.
#ifndef KEYFERRY_STORE_KEY_STORE_H_
#define KEYFERRY_STORE_KEY_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

namespace keyferry::store {

// KeyVersion is one version of a key: its public half, its custody blob (the
// private half (opaque, from the custody) and its attributes.
struct KeyVersion {
  std::string vault;    // vault name, lower case
  std::string name;     // key name as first created
  std::string version;  // 32 lower-case hex digits
  std::string kty;      // "RSA-HSM", "EC", "oct-HSM", …
  int bits = 0;         // RSA modulus / oct key bits; EC: field bits
  std::string curve;    // "P-256", …; empty unless EC
  std::vector<std::string> key_ops;
  std::string public_jwk;  // JSON; empty for oct
  std::vector<uint8_t> blob;
  bool enabled = true;
  std::optional<int64_t> not_before;  // Unix seconds
  std::optional<int64_t> expires;
  int64_t created = 0;
  int64_t updated = 0;
  bool exportable = false;
  std::string tags_json = "{}";  // JSON object of string values
  bool managed = false;
  // attest authenticates every other field under the custody's master
  // secret (vault::AttestVersion, docs/security-model.md §6); empty only
  // for a version stored before schema 2 and not yet authenticated.
  std::vector<uint8_t> attest;
  // release_policy is the key's release policy as the API renders it, a
  // JSON object {"contentType","data","immutable"} (docs/api.md §Secure Key
  // Release); empty when the version has none. Schema 3 (SQLite) / 2
  // (PostgreSQL) added it.
  std::string release_policy;
};

// KeyName is the per-name state: soft-delete and the rotation policy.
struct KeyName {
  std::string vault;
  std::string name;
  bool deleted = false;
  int64_t deleted_date = 0;              // set when deleted
  int64_t scheduled_purge_date = 0;      // set when deleted
  int recoverable_days = 90;             // fixed when the name is created
  std::string rotation_policy_json;      // empty: no policy stored
  std::optional<int64_t> next_rotation;  // when a rotation falls due
};

// Page is one page of a listing; `next` is the cursor to pass as `after` for
// the following page, absent on the last page.
template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next;
};

// kLegacyUnauthenticatedMeta marks a store upgraded from schema 1 whose
// versions have not been authenticated yet (KeyStore::AuthenticateVersions).
inline constexpr char kLegacyUnauthenticatedMeta[] = "legacy_unauthenticated";

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // AddVersion stores a new version of `key.name` and makes it the latest.
  // The name is created when unknown, with `recoverable_days`.
  // FailedPrecondition "deleted" when the name is soft-deleted;
  // AlreadyExists when the version exists.
  virtual absl::Status AddVersion(const KeyVersion& key,
                                  int recoverable_days) = 0;

  // GetVersion returns `version` of an active key, or its latest version
  // when `version` is empty. NotFound when the name is unknown or deleted,
  // or the version does not exist.
  virtual absl::StatusOr<KeyVersion> GetVersion(std::string_view vault,
                                                std::string_view name,
                                                std::string_view version) = 0;

  // UpdateVersion overwrites the mutable fields (enabled, not_before,
  // expires, updated, tags_json, key_ops, attest, release_policy) of an
  // existing version of an active key, provided they still hold what `before`
  // (the version as the caller read it) holds: the optimistic concurrency of
  // several nodes (docs/storage.md §6.5). NotFound when the key is not active
  // or the version does not exist; ChangedMeanwhile() (test with
  // IsChangedMeanwhile) when another writer changed the version since
  // `before` was read, and then nothing changed.
  virtual absl::Status UpdateVersion(const KeyVersion& key,
                                     const KeyVersion& before) = 0;

  // ListLatest pages through the active keys of `vault` in name order,
  // returning each one's latest version; `after` is a cursor from a previous
  // page (empty for the first) and `limit` is at least 1.
  virtual absl::StatusOr<Page<KeyVersion>> ListLatest(std::string_view vault,
                                                      std::string_view after,
                                                      int limit) = 0;

  // ListVersions pages through the versions of an active key in creation
  // order. NotFound when the name is unknown or deleted.
  virtual absl::StatusOr<Page<KeyVersion>> ListVersions(std::string_view vault,
                                                        std::string_view name,
                                                        std::string_view after,
                                                        int limit) = 0;

  // AllVersions returns every version of a key (active or deleted) in
  // creation order; NotFound when the name is unknown.
  virtual absl::StatusOr<std::vector<KeyVersion>> AllVersions(
      std::string_view vault, std::string_view name) = 0;

  // GetName returns the per-name state; NotFound when unknown.
  virtual absl::StatusOr<KeyName> GetName(std::string_view vault,
                                          std::string_view name) = 0;

  // MarkDeleted soft-deletes an active key. NotFound when it is not active.
  virtual absl::Status MarkDeleted(std::string_view vault,
                                   std::string_view name, int64_t deleted_date,
                                   int64_t scheduled_purge_date) = 0;

  // ListDeleted pages through the deleted keys of `vault` in name order,
  // with each one's latest version.
  virtual absl::StatusOr<Page<std::pair<KeyName, KeyVersion>>> ListDeleted(
      std::string_view vault, std::string_view after, int limit) = 0;

  // Recover makes a deleted key active again. NotFound when not deleted.
  virtual absl::Status Recover(std::string_view vault,
                               std::string_view name) = 0;

  // Purge removes a deleted key and all its versions for good. NotFound when
  // not deleted.
  virtual absl::Status Purge(std::string_view vault, std::string_view name) = 0;

  // Restore stores `versions` (all of one name, creation order, the last is
  // the latest) as a new active key in one transaction. AlreadyExists when
  // the name exists, active or deleted.
  virtual absl::Status Restore(const std::vector<KeyVersion>& versions,
                               int recoverable_days) = 0;

  // SetRotationPolicy stores the policy document of an active key and when
  // its next rotation falls due (nullopt: never). NotFound when not active.
  virtual absl::Status SetRotationPolicy(std::string_view vault,
                                         std::string_view name,
                                         std::string_view policy_json,
                                         std::optional<int64_t> next) = 0;

  // DueRotations returns up to `limit` active keys whose next rotation is at
  // or before `now`, as (vault, name).
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  DueRotations(int64_t now, int limit) = 0;

  // ClaimRotation is the lease a node takes on a due rotation, so that one
  // node of several rotates it (docs/storage.md §6.5): when the active key's
  // next rotation is still `due` it becomes `lease_until` and the answer is
  // true; otherwise (another node claimed it, or it was rescheduled or
  // deleted meanwhile) nothing changes and the answer is false. `due` is
  // the fencing token: the holder's later reschedule replaces the lease, and
  // a holder that dies leaves a lease that falls due again at
  // `lease_until`.
  virtual absl::StatusOr<bool> ClaimRotation(std::string_view vault,
                                             std::string_view name,
                                             int64_t due,
                                             int64_t lease_until) = 0;

  // DuePurges returns up to `limit` deleted keys whose scheduled purge date
  // is at or before `now`, as (vault, name).
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
  DuePurges(int64_t now, int limit) = 0;

  // CountKeys returns the number of key names of `vault` (active and
  // deleted).
  virtual absl::StatusOr<int64_t> CountKeys(std::string_view vault) = 0;

  // --- the deployment this store belongs to --------------------------------

  // created tells whether the store held nothing before this process
  // opened it (the file and its WAL were missing or empty, and the schema
  // was made by this Open): a new deployment, or a lost store. Constant
  // after Open.
  virtual bool created() const = 0;

  // GetMeta returns the store's own metadata value under `key` (e.g.
  // "custody_check"), or nullopt when none is stored.
  virtual absl::StatusOr<std::optional<std::string>> GetMeta(
      std::string_view key) = 0;

  // SetMetaIfAbsent stores `value` under `key` unless a value is already
  // there, in one durable transaction, and returns the value now stored:
  // `value`, or the one found (so concurrent first writers agree).
  virtual absl::StatusOr<std::string> SetMetaIfAbsent(
      std::string_view key, std::string_view value) = 0;

  // WatchPurges asks the store to call `on_purge` when another process
  // sharing the database purged a key, and whenever such news may have been
  // missed (the store lost its way of hearing it), so the caller can drop
  // whatever it holds of purged keys (Custody::ForgetCachedKeys;
  // docs/storage.md §6.5). Called on a thread of the store's; `on_purge`
  // must be thread-safe and quick. A store no other
  // process shares (SQLite's single writer, the memory store) never calls
  // it. A second call replaces the first; an empty `on_purge` stops the
  // watching, and once it returns the old callback is never called again:
  // call it before what the callback uses goes.
  virtual void WatchPurges(std::function<void()> on_purge) = 0;

  // Ping checks that the store answers (a round trip to the database
  // server, for /healthz): Unavailable when it does not.
  virtual absl::Status Ping() = 0;

  // HasVersions tells whether any key version exists (any vault, active or
  // deleted).
  virtual absl::StatusOr<bool> HasVersions() = 0;

  // AuthenticateVersions sets `attest` of every version whose attest is
  // empty to `attest(version)`, all in one transaction, and returns how many
  // it set. Only for a store upgraded from schema 1 and not yet
  // authenticated (its metadata has kLegacyUnauthenticatedMeta, which this
  // removes): untagged versions in any other store are DataLoss, never
  // tagged. If `attest` fails for any version nothing changes and its
  // error is returned.
  virtual absl::StatusOr<int64_t> AuthenticateVersions(
      const std::function<
          absl::StatusOr<std::vector<uint8_t>>(const KeyVersion&)>& attest) = 0;
};

// ChangedMeanwhile is UpdateVersion's answer when the version changed since
// the caller read it; IsChangedMeanwhile recognises it (a payload, not the
// message, marks it).
inline constexpr char kChangedMeanwhilePayload[] =
    "type.keyferry/store.changed_meanwhile";
inline absl::Status ChangedMeanwhile() {
  absl::Status s = absl::FailedPreconditionError(
      "store: the key changed since it was read");
  s.SetPayload(kChangedMeanwhilePayload, absl::Cord("1"));
  return s;
}
inline bool IsChangedMeanwhile(const absl::Status& s) {
  return s.code() == absl::StatusCode::kFailedPrecondition &&
         s.GetPayload(kChangedMeanwhilePayload).has_value();
}

// SameMutableFields tells whether two versions hold the same values in the
// fields UpdateVersion writes: every store's precondition, applied to the
// row it read under the key's write lock.
inline bool SameMutableFields(const KeyVersion& a, const KeyVersion& b) {
  return a.enabled == b.enabled && a.not_before == b.not_before &&
         a.expires == b.expires && a.updated == b.updated &&
         a.tags_json == b.tags_json && a.key_ops == b.key_ops &&
         a.attest == b.attest && a.release_policy == b.release_policy;
}

// CheckRestoreBatch is the precondition every store applies to Restore:
// at least one version, all of one vault and (case-insensitive) name.
inline absl::Status CheckRestoreBatch(const std::vector<KeyVersion>& versions) {
  if (versions.empty()) {
    return absl::InvalidArgumentError("store: nothing to restore");
  }
  const KeyVersion& first = versions.front();
  const std::string name_lc = absl::AsciiStrToLower(first.name);
  for (const KeyVersion& v : versions) {
    if (v.vault != first.vault || absl::AsciiStrToLower(v.name) != name_lc) {
      return absl::InvalidArgumentError(
          "store: a restore holds versions of one key only");
    }
  }
  return absl::OkStatus();
}

// VersionCursor reads ListVersions' `after` cursor (the seq of the last
// version of the previous page; empty: from the start) for every store.
inline absl::StatusOr<int64_t> VersionCursor(std::string_view after) {
  int64_t seq = 0;
  if (!after.empty() &&
      !absl::SimpleAtoi(absl::string_view(after.data(), after.size()), &seq)) {
    return absl::InvalidArgumentError("store: bad page cursor");
  }
  return seq;
}

}  // namespace keyferry::store

#endif  // KEYFERRY_STORE_KEY_STORE_H_
