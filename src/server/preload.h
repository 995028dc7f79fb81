// Preload: the keys a JSON file lists, imported while keyferryd starts,
// idempotently (docs/preload.md). Each import entry gets a version id
// computed from the entry, so a restart with the same file finds every
// version present and changes nothing. Nothing here logs or returns key
// material: errors name the entry and the member at fault.
#ifndef KEYFERRY_SERVER_PRELOAD_H_
#define KEYFERRY_SERVER_PRELOAD_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/audit_log.h"
#include "base/secret.h"
#include "vault/key_vault.h"

namespace keyferry::server {

// kMaxPreloadFileBytes is the largest preload file read (16 MiB).
inline constexpr size_t kMaxPreloadFileBytes = size_t{16} << 20;

// PreloadTarget is what entries are checked against: the vaults served, the
// domain and the port clients use (for the KEK's kid in the log).
struct PreloadTarget {
  std::vector<std::string> vaults;
  std::string domain = "localhost";
  uint16_t port = 0;
  // version_key keys the version ids (PreloadVersion): the deployment's
  // shared identity secret, the same on every node. Needed by ApplyPreload
  // only (the file is checked before the store is open).
  SecretBytes version_key;
};

// PreloadEntry is one checked entry: either an import (`import` set, and
// `entry_digest`, from which ApplyPreload derives its version) or a KEK to
// create when absent.
// Move-only (the import may hold a private key).
struct PreloadEntry {
  int index = 0;  // 1-based, as messages name it
  std::string vault;
  std::string name;
  std::optional<vault::ImportKeyRequest> import;
  // SHA-256 of the import body as compact JSON with sorted members (after
  // byok_file went into key_hsm): what the version id is derived from.
  std::vector<uint8_t> entry_digest;
  // create_kek: the KEK's size, and where its public key goes ("": nowhere).
  int kek_bits = 0;
  std::string public_pem_path;
};

// PreloadVersion is the version id of an import entry: the first 32 lower
// hex characters of HMAC-SHA256(key, "keyferry-preload/2" 0 vault 0
// lower(name) 0 entry_digest) (docs/preload.md §2). Keyed, so the id a
// reader of the vault sees confirms no guess of the key material.
absl::StatusOr<std::string> PreloadVersion(const SecretBytes& key,
                                           std::string_view vault,
                                           std::string_view name,
                                           std::span<const uint8_t> digest);

// ParsePreload reads and checks every entry of the preload file text
// `text` (a JSON array, docs/preload.md §1); `base_dir` is the directory
// relative byok_file and public_pem paths start from. InvalidArgument
// "entry N (vault/name): why" (or just "why" for the array itself) for the
// first fault; nothing is imported by this step.
absl::StatusOr<std::vector<PreloadEntry>> ParsePreload(
    std::string_view text, const std::string& base_dir,
    const PreloadTarget& target);

// PreloadRecorder writes one audit record; an error stops the preload.
using PreloadRecorder = std::function<absl::Status(audit::Record)>;

// PreloadCounts says what ApplyPreload did.
struct PreloadCounts {
  int imported = 0;  // versions imported now
  int present = 0;   // import entries whose version was there
  int created = 0;   // KEKs created now
  int kek_present = 0;
};

// ApplyPreload applies the entries in order: an import whose version the
// key has is skipped, others are imported as that version; a create_kek
// whose name has an active version is kept (InvalidArgument if it is not a
// KEK), else created; its public PEM is written either way. Each import or
// creation done, and each refused, is recorded through `record` (principal
// "preload"). Stops at the first failure with "entry N (vault/name): why";
// the entries before it stay applied.
absl::StatusOr<PreloadCounts> ApplyPreload(vault::KeyVault& vault,
                                           std::vector<PreloadEntry> entries,
                                           const PreloadTarget& target,
                                           const PreloadRecorder& record);

// LoadPreload reads the file at `path` (owner-only, as master.key: base/
// file.h ReadOwnerOnlySecretFile; at most kMaxPreloadFileBytes) and checks
// every entry (ParsePreload, paths relative to the file's directory).
// Every error is "preload PATH: …" on one line; nothing is imported.
absl::StatusOr<std::vector<PreloadEntry>> LoadPreload(
    const std::string& path, const PreloadTarget& target);

// RunPreload applies the entries LoadPreload read from `path`
// (ApplyPreload), its errors prefixed "preload PATH: ", and logs what it
// did ("preload_done").
absl::StatusOr<PreloadCounts> RunPreload(const std::string& path,
                                         std::vector<PreloadEntry> entries,
                                         vault::KeyVault& vault,
                                         const PreloadTarget& target,
                                         const PreloadRecorder& record);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_PRELOAD_H_
