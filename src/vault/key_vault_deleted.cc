// KeyVault: soft delete, recover, purge, backup and restore.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/error_code.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/blob.h"
#include "custody/cipher_rules.h"
#include "vault/attest.h"
#include "vault/key_vault.h"
#include "vault/key_vault_internal.h"

namespace keyferry::vault {
namespace {
using json = nlohmann::json;
using internal::DeletedKeyNotFound;
using internal::kBackupFormat;
using internal::KeyNotFound;
using internal::Lower;
using internal::NotFoundAs;

// BackupInteger reads a JSON integer that fits T. A float, a value out of
// T's range or another type is a damaged backup: nlohmann's get<T>()
// converts 1e300 to an integer with undefined behaviour and wraps big
// integers (found by fuzz/backup.cc).
template <typename T>
absl::StatusOr<T> BackupInteger(const json& j) {
  if (j.is_number_unsigned()) {
    uint64_t u = j.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return static_cast<T>(u);
    }
  } else if (j.is_number_integer()) {
    int64_t i = j.get<int64_t>();
    if (i >= std::numeric_limits<T>::min() &&
        i <= std::numeric_limits<T>::max()) {
      return static_cast<T>(i);
    }
  }
  return absl::InvalidArgumentError("the backup is damaged");
}
}  // namespace

absl::StatusOr<DeletedKey> KeyVault::Delete(std::string_view vault,
                                            std::string_view name) {
  const int64_t now = clock_();
  ASSIGN_OR_RETURN(store::KeyName n, [&]() -> absl::StatusOr<store::KeyName> {
    auto r = store_->GetName(vault, name);
    if (!r.ok()) return NotFoundAs(r.status(), name);
    if (r->deleted) return KeyNotFound(name);
    return r;
  }());
  const int64_t purge = now + int64_t{n.recoverable_days} * 86400;
  absl::Status s = store_->MarkDeleted(vault, name, now, purge);
  if (!s.ok()) return NotFoundAs(s, name);
  return GetDeleted(vault, name);
}

absl::StatusOr<DeletedKey> KeyVault::GetDeleted(std::string_view vault,
                                                std::string_view name) {
  absl::StatusOr<store::KeyName> n = store_->GetName(vault, name);
  if (!n.ok() || !n->deleted) {
    if (n.ok() || n.status().code() == absl::StatusCode::kNotFound) {
      return DeletedKeyNotFound(name);
    }
    return n.status();
  }
  ASSIGN_OR_RETURN(std::vector<store::KeyVersion> all,
                   store_->AllVersions(vault, name));
  RETURN_IF_ERROR(CheckAttested(*custody_, all.back()));
  return DeletedKey{*n, all.back()};
}

absl::StatusOr<store::Page<std::pair<store::KeyName, store::KeyVersion>>>
KeyVault::ListDeleted(std::string_view vault, std::string_view after,
                      int limit) {
  ASSIGN_OR_RETURN(auto page, store_->ListDeleted(vault, after, limit));
  for (const auto& [n, k] : page.items) {
    RETURN_IF_ERROR(CheckAttested(*custody_, k));
  }
  return page;
}

absl::StatusOr<store::KeyVersion> KeyVault::Recover(std::string_view vault,
                                                    std::string_view name) {
  absl::Status s = store_->Recover(vault, name);
  if (s.code() == absl::StatusCode::kNotFound) return DeletedKeyNotFound(name);
  RETURN_IF_ERROR(s);
  return Get(vault, name, "");
}

absl::Status KeyVault::Purge(std::string_view vault, std::string_view name) {
  absl::Status s = store_->Purge(vault, name);
  if (s.code() == absl::StatusCode::kNotFound) return DeletedKeyNotFound(name);
  // No parsed or token-resident copy outlives the key on this node (other
  // nodes hear of it through the store: KeyStore::WatchPurges).
  if (s.ok()) custody_->ForgetCachedKeys();
  return s;
}

absl::StatusOr<std::vector<uint8_t>> KeyVault::Backup(std::string_view vault,
                                                      std::string_view name) {
  ASSIGN_OR_RETURN(store::KeyVersion latest, Get(vault, name, ""));
  ASSIGN_OR_RETURN(store::KeyName n, store_->GetName(vault, name));
  ASSIGN_OR_RETURN(std::vector<store::KeyVersion> all,
                   store_->AllVersions(vault, name));
  json versions = json::array();
  for (const store::KeyVersion& k : all) {
    RETURN_IF_ERROR(CheckAttested(*custody_, k));
    absl::StatusOr<json> tags = ParseJson(k.tags_json);
    versions.push_back({
        {"version", k.version},
        {"kty", k.kty},
        {"bits", k.bits},
        {"curve", k.curve},
        {"key_ops", k.key_ops},
        {"public_jwk", k.public_jwk},
        {"sealed", Base64UrlEncode(k.blob)},
        {"enabled", k.enabled},
        {"nbf", k.not_before ? json(*k.not_before) : json(nullptr)},
        {"exp", k.expires ? json(*k.expires) : json(nullptr)},
        {"created", k.created},
        {"updated", k.updated},
        {"exportable", k.exportable},
        {"tags", tags.ok() ? std::move(*tags) : json::object()},
        {"managed", k.managed},
        {"release_policy", k.release_policy},
    });
  }
  json doc = {{"format", kBackupFormat},
              {"vault", std::string(vault)},
              {"name", latest.name},
              {"recoverable_days", n.recoverable_days},
              {"rotation_policy", n.rotation_policy_json},
              {"versions", versions}};
  std::string text = doc.dump();
  return custody_->ProtectBackup(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

absl::StatusOr<store::KeyVersion> KeyVault::Restore(
    std::string_view vault, std::span<const uint8_t> backup) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> plain,
                   custody_->UnprotectBackup(backup));
  absl::StatusOr<json> parsed = ParseJson(std::string_view(
      reinterpret_cast<const char*>(plain.data()), plain.size()));
  json doc = parsed.ok() ? std::move(*parsed) : json();
  if (!doc.is_object() || doc.value("format", "") != kBackupFormat) {
    return absl::InvalidArgumentError("the backup is not a keyferry backup");
  }
  std::vector<store::KeyVersion> versions;
  std::string from_vault, name, policy;
  try {
    from_vault = doc.at("vault").get<std::string>();
    name = doc.at("name").get<std::string>();
    policy = doc.value("rotation_policy", "");
    for (const json& v : doc.at("versions")) {
      store::KeyVersion k;
      k.vault = std::string(vault);
      k.name = name;
      k.version = v.at("version").get<std::string>();
      k.kty = v.at("kty").get<std::string>();
      ASSIGN_OR_RETURN(k.bits, BackupInteger<int>(v.at("bits")));
      k.curve = v.at("curve").get<std::string>();
      k.key_ops = v.at("key_ops").get<std::vector<std::string>>();
      k.public_jwk = v.at("public_jwk").get<std::string>();
      ASSIGN_OR_RETURN(k.blob,
                       Base64UrlDecode(v.at("sealed").get<std::string>()));
      k.enabled = v.at("enabled").get<bool>();
      if (!v.at("nbf").is_null()) {
        ASSIGN_OR_RETURN(k.not_before, BackupInteger<int64_t>(v.at("nbf")));
      }
      if (!v.at("exp").is_null()) {
        ASSIGN_OR_RETURN(k.expires, BackupInteger<int64_t>(v.at("exp")));
      }
      ASSIGN_OR_RETURN(k.created, BackupInteger<int64_t>(v.at("created")));
      ASSIGN_OR_RETURN(k.updated, BackupInteger<int64_t>(v.at("updated")));
      k.exportable = v.at("exportable").get<bool>();
      ASSIGN_OR_RETURN(k.tags_json, TagsFromJson(v.at("tags")));
      k.managed = v.at("managed").get<bool>();
      // Absent from backups made before release policies (format 1 still).
      k.release_policy = v.value("release_policy", "");
      versions.push_back(std::move(k));
    }
  } catch (const json::exception&) {
    return absl::InvalidArgumentError("the backup is damaged");
  }
  if (versions.empty()) {
    return absl::InvalidArgumentError("the backup holds no key versions");
  }
  RETURN_IF_ERROR(ValidateKeyName(name));
  if (from_vault != vault) {
    for (store::KeyVersion& k : versions) {
      ASSIGN_OR_RETURN(
          custody::HeldKey moved,
          custody_->Rebind(HeldOf(k), Binding(from_vault, name, k.version),
                           Binding(vault, name, k.version)));
      k.blob = std::move(moved.blob);
    }
  }
  for (store::KeyVersion& k : versions) {
    RETURN_IF_ERROR(Attest(*custody_, k));
  }
  absl::Status s = store_->Restore(versions, options_.recoverable_days);
  if (s.code() == absl::StatusCode::kAlreadyExists) {
    return WithErrorCode(
        absl::AlreadyExistsError(absl::StrCat(
            "Key ", name,
            " already exists (or is deleted and recoverable); a backup "
            "restores only under a free name.")),
        "Conflict");
  }
  RETURN_IF_ERROR(s);
  if (!policy.empty()) {
    RETURN_IF_ERROR(
        store_->SetRotationPolicy(vault, name, policy, std::nullopt));
    RETURN_IF_ERROR(Reschedule(vault, name));
  }
  return Get(vault, name, "");
}

}  // namespace keyferry::vault
