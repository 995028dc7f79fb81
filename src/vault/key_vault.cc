#include "vault/key_vault.h"

#include <algorithm>
#include <cctype>
#include <chrono>
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

namespace keyferry::vault {
namespace {

using json = nlohmann::json;

constexpr std::string_view kBackupFormat = "keyferry-backup/1";

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(Sv(s)); }

// WithoutDefaultPort drops an explicit ":443" from "host[:port]".
std::string WithoutDefaultPort(std::string host) {
  if (absl::EndsWith(host, ":443")) host.resize(host.size() - 4);
  return host;
}

absl::Status Forbidden(std::string message, std::string_view inner) {
  return WithErrorCode(absl::PermissionDeniedError(message), "Forbidden",
                       inner);
}

absl::Status KeyNotFound(std::string_view name) {
  return WithErrorCode(
      absl::NotFoundError(absl::StrCat(
          "A key with (name/id) ", Sv(name),
          " was not found in this key vault. If you recently deleted this key "
          "you may be able to recover it using the correct recovery command. "
          "For help resolving this issue, please see "
          "https://go.microsoft.com/fwlink/?linkid=2125182")),
      "KeyNotFound");
}

absl::Status DeletedKeyNotFound(std::string_view name) {
  return WithErrorCode(
      absl::NotFoundError(absl::StrCat("Deleted Key not found: ", Sv(name))),
      "KeyNotFound");
}

// NotFoundAs keeps non-NotFound errors and rewrites NotFound with `name`.
absl::Status NotFoundAs(const absl::Status& s, std::string_view name) {
  if (s.code() == absl::StatusCode::kNotFound) return KeyNotFound(name);
  return s;
}

bool IsPrivateOp(KeyOp op) {
  return op == KeyOp::kSign || op == KeyOp::kDecrypt || op == KeyOp::kUnwrapKey;
}

absl::StatusOr<std::string> NormalizeTags(const std::string& tags_json) {
  absl::StatusOr<json> t = ParseJson(tags_json);
  if (!t.ok()) return absl::InvalidArgumentError("tags must be a JSON object");
  return TagsFromJson(*t);
}

}  // namespace

absl::StatusOr<std::string> TagsFromJson(const json& t) {
  if (!t.is_object()) {
    return absl::InvalidArgumentError("tags must be a JSON object");
  }
  if (t.size() > 15) {
    return absl::InvalidArgumentError("a key can have at most 15 tags");
  }
  for (auto it = t.begin(); it != t.end(); ++it) {
    if (!it.value().is_string()) {
      return absl::InvalidArgumentError("tag values must be strings");
    }
    if (it.key().size() > 512 || it.value().get<std::string>().size() > 256) {
      return absl::InvalidArgumentError(
          "tag names are at most 512 characters and values at most 256");
    }
  }
  return t.dump();
}

namespace {

std::string DefaultRotationPolicy(std::string_view id) {
  json p = {
      {"id", id},
      {"lifetimeActions",
       json::array({{{"trigger", {{"timeBeforeExpiry", "P30D"}}},
                     {"action", {{"type", "Notify"}}}}})},
      {"attributes", json::object()},
  };
  return p.dump();
}

json PolicyDocument(const RotationPolicy& p) {
  json actions = json::array();
  for (const LifetimeAction& a : p.actions) {
    json trigger = json::object();
    if (a.time_after_create) {
      trigger["timeAfterCreate"] = a.time_after_create->text;
    }
    if (a.time_before_expiry) {
      trigger["timeBeforeExpiry"] = a.time_before_expiry->text;
    }
    actions.push_back(
        {{"trigger", trigger},
         {"action",
          {{"type",
            a.type == LifetimeAction::Type::kRotate ? "Rotate" : "Notify"}}}});
  }
  json attrs = {{"created", p.created}, {"updated", p.updated}};
  if (p.expiry_time) attrs["expiryTime"] = p.expiry_time->text;
  return {{"lifetimeActions", actions}, {"attributes", attrs}};
}

}  // namespace

int64_t SystemClock() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<uint8_t> KeyVault::Binding(std::string_view vault,
                                       std::string_view name,
                                       std::string_view version) {
  std::string b = absl::StrCat(Sv(vault), "/", Lower(name), "/", Sv(version));
  return std::vector<uint8_t>(b.begin(), b.end());
}

custody::HeldKey HeldOf(const store::KeyVersion& k) {
  custody::HeldKey h;
  absl::StatusOr<Kty> kty = ParseKty(k.kty);
  h.kind = kty.ok() ? KindOf(*kty) : custody::KeyKind::kOct;
  h.bits = k.bits;
  if (!k.curve.empty()) {
    absl::StatusOr<crypto::Curve> c = crypto::ParseCurve(k.curve);
    if (c.ok()) h.curve = *c;
  }
  h.sealed = k.sealed;
  h.public_jwk = k.public_jwk;
  return h;
}

std::vector<KeyOp> OpsOf(const store::KeyVersion& k) {
  std::vector<KeyOp> ops;
  for (const std::string& s : k.key_ops) {
    absl::StatusOr<KeyOp> op = ParseKeyOp(s);
    if (op.ok()) ops.push_back(*op);
  }
  return ops;
}

Attributes AttributesOf(const store::KeyVersion& k) {
  Attributes a;
  a.enabled = k.enabled;
  a.not_before = k.not_before;
  a.expires = k.expires;
  a.created = k.created;
  a.updated = k.updated;
  a.exportable = k.exportable;
  return a;
}

KeyVault::KeyVault(store::KeyStore* store, custody::Custody* custody,
                   Clock clock, VaultOptions options)
    : store_(store),
      custody_(custody),
      clock_(std::move(clock)),
      options_(std::move(options)) {}

absl::StatusOr<store::KeyVersion> KeyVault::Store(
    std::string_view vault, std::string_view name, std::string_view version,
    Kty kty, custody::HeldKey held, const KeyProperties& properties,
    std::vector<KeyOp> default_ops) {
  const int64_t now = clock_();
  store::KeyVersion k;
  k.vault = std::string(vault);
  k.name = std::string(name);
  k.version = std::string(version);
  k.kty = std::string(KtyName(kty));
  k.bits = held.bits;
  if (held.curve) {
    k.curve = std::string(crypto::CurveJwkName(*held.curve));
    k.bits = crypto::CurveBits(*held.curve);
  }
  for (KeyOp op : properties.key_ops.value_or(default_ops)) {
    k.key_ops.emplace_back(KeyOpName(op));
  }
  k.public_jwk = held.public_jwk;
  k.sealed = std::move(held.sealed);
  k.enabled = properties.enabled.value_or(true);
  k.not_before = properties.not_before;
  k.expires = properties.expires;
  k.created = now;
  k.updated = now;
  k.exportable = properties.exportable.value_or(false);
  if (properties.tags_json) {
    ASSIGN_OR_RETURN(k.tags_json, NormalizeTags(*properties.tags_json));
  }
  RETURN_IF_ERROR(Attest(*custody_, k));
  absl::Status s = store_->AddVersion(k, options_.recoverable_days);
  if (s.code() == absl::StatusCode::kFailedPrecondition) {
    return WithErrorCode(
        absl::FailedPreconditionError(absl::StrCat(
            "Key ", Sv(name),
            " is currently in a deleted but recoverable state, and its name "
            "cannot be reused; in this state, the key can only be recovered "
            "or purged.")),
        "Conflict", "ObjectIsDeletedButRecoverable");
  }
  RETURN_IF_ERROR(s);
  RETURN_IF_ERROR(Reschedule(vault, name));
  return k;
}

namespace {

// CheckOps validates a key_ops list for a key type: "import" only on an
// RSA-HSM key exchange key (Azure's BYOK specification), and then alone.
absl::Status CheckOps(Kty kty, const std::optional<std::vector<KeyOp>>& ops) {
  if (!ops) return absl::OkStatus();
  bool has_import =
      std::find(ops->begin(), ops->end(), KeyOp::kImport) != ops->end();
  if (has_import) {
    if (kty != Kty::kRsaHsm) {
      return absl::InvalidArgumentError(
          "key_ops 'import' is only valid on an RSA-HSM key exchange key");
    }
    if (ops->size() != 1) {
      return absl::InvalidArgumentError(
          "a key exchange key must have key_ops exactly [\"import\"]");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<store::KeyVersion> KeyVault::Create(
    std::string_view vault, std::string_view name,
    const CreateKeyRequest& request) {
  RETURN_IF_ERROR(ValidateKeyName(name));
  RETURN_IF_ERROR(CheckOps(request.kty, request.properties.key_ops));
  custody::KeyRequest kr;
  kr.kind = KindOf(request.kty);
  switch (kr.kind) {
    case custody::KeyKind::kRsa: {
      kr.bits = request.key_size.value_or(2048);
      RETURN_IF_ERROR(custody::CheckRsaKeySize(kr.bits));
      kr.public_exponent = request.public_exponent.value_or(65537);
      if (kr.public_exponent < 3 || kr.public_exponent % 2 == 0) {
        return absl::InvalidArgumentError(
            "public_exponent must be an odd number of at least 3");
      }
      break;
    }
    case custody::KeyKind::kEc:
      kr.curve = request.curve.value_or(crypto::Curve::kP256);
      if (request.key_size &&
          *request.key_size != crypto::CurveBits(*kr.curve)) {
        return absl::InvalidArgumentError(
            "key_size does not match the curve's size");
      }
      break;
    case custody::KeyKind::kOct:
      kr.bits = request.key_size.value_or(256);
      if (kr.bits != 128 && kr.bits != 192 && kr.bits != 256) {
        return absl::InvalidArgumentError(absl::StrCat(
            "oct key_size must be 128, 192 or 256, not ", kr.bits));
      }
      break;
  }
  if (kr.kind != custody::KeyKind::kEc && request.curve) {
    return absl::InvalidArgumentError("crv is only valid for EC keys");
  }
  ASSIGN_OR_RETURN(std::string version, NewVersion());
  ASSIGN_OR_RETURN(custody::HeldKey held,
                   custody_->Generate(kr, Binding(vault, name, version)));
  return Store(vault, name, version, request.kty, std::move(held),
               request.properties, DefaultKeyOps(kr.kind));
}

absl::StatusOr<custody::HeldKey> KeyVault::ImportByok(
    std::string_view vault, const ImportKeyRequest& request,
    std::span<const uint8_t> binding) {
  if (request.key_hsm->size() > 64 * 1024) {
    return absl::InvalidArgumentError(
        "key_hsm is larger than a BYOK blob can be (64 KiB)");
  }
  std::string text(request.key_hsm->begin(), request.key_hsm->end());
  absl::StatusOr<byok::Blob> blob = byok::ParseBlob(text);
  if (!blob.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key_hsm is not a valid BYOK blob: ", blob.status().message()));
  }
  ASSIGN_OR_RETURN(byok::KeyId kid, byok::ParseKeyId(blob->kid));
  // The whole vault URL must match the one the client addressed (host and
  // port, the default port 443 implied), not just its first label.
  if (request.vault_host.empty() ||
      WithoutDefaultPort(Lower(kid.host)) !=
          WithoutDefaultPort(Lower(request.vault_host))) {
    return absl::InvalidArgumentError(
        absl::StrCat("the blob's kid names a key of another vault (https://",
                     kid.host, "), not of https://", request.vault_host));
  }
  absl::StatusOr<store::KeyVersion> kek =
      store_->GetVersion(vault, kid.name, Lower(kid.version));
  if (!kek.ok()) {
    if (kek.status().code() == absl::StatusCode::kNotFound) {
      return absl::InvalidArgumentError(
          absl::StrCat("the blob's kid ", blob->kid,
                       " does not name a key version of this vault"));
    }
    return kek.status();
  }
  RETURN_IF_ERROR(CheckAttested(*custody_, *kek));
  ASSIGN_OR_RETURN(Kty kek_kty, ParseKty(kek->kty));
  if (!IsKek(kek_kty, kek->bits, OpsOf(*kek))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the key ", kek->name,
        " is not a key exchange key: a KEK is an RSA key of 2048, 3072 or "
        "4096 bits with key_ops exactly [\"import\"]"));
  }
  absl::Status usable = CheckUsable(AttributesOf(*kek), clock_());
  if (!usable.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the key exchange key cannot be used: ", usable.message()));
  }
  custody::KeyRequest expected;
  expected.kind = KindOf(request.kty);
  expected.curve = request.curve;
  // The custody's InvalidArgument is the blob's fault (400); anything else
  // (a damaged KEK record, a token failure) is the server's and keeps its
  // code.
  return custody_->ImportByok(HeldOf(*kek),
                              Binding(vault, kek->name, kek->version),
                              blob->ciphertext, expected, binding);
}

absl::StatusOr<store::KeyVersion> KeyVault::Import(std::string_view vault,
                                                   std::string_view name,
                                                   ImportKeyRequest request) {
  RETURN_IF_ERROR(ValidateKeyName(name));
  RETURN_IF_ERROR(CheckOps(request.kty, request.properties.key_ops));
  if (request.properties.key_ops &&
      std::find(request.properties.key_ops->begin(),
                request.properties.key_ops->end(),
                KeyOp::kImport) != request.properties.key_ops->end()) {
    return absl::InvalidArgumentError(
        "a key exchange key must be created in the vault, not imported");
  }
  ASSIGN_OR_RETURN(std::string version, NewVersion());
  std::vector<uint8_t> binding = Binding(vault, name, version);
  custody::KeyKind kind = KindOf(request.kty);
  custody::HeldKey held;
  if (request.key_hsm) {
    if (!IsHsm(request.kty)) {
      return absl::InvalidArgumentError(
          "a key with key_hsm must have kty RSA-HSM, EC-HSM or oct-HSM");
    }
    ASSIGN_OR_RETURN(held, ImportByok(vault, request, binding));
  } else if (request.private_key) {
    ASSIGN_OR_RETURN(crypto::KeyDescription d,
                     crypto::Describe(request.private_key.get()));
    bool fits =
        (kind == custody::KeyKind::kRsa && d.type == crypto::KeyType::kRsa) ||
        (kind == custody::KeyKind::kEc && d.type == crypto::KeyType::kEc);
    if (!fits) {
      return absl::InvalidArgumentError(
          "the key's material does not match its kty");
    }
    if (d.type == crypto::KeyType::kRsa) {
      RETURN_IF_ERROR(custody::CheckRsaKeySize(d.bits));
    }
    ASSIGN_OR_RETURN(
        held, custody_->ImportPrivate(request.private_key.get(), binding));
  } else if (request.secret) {
    if (kind != custody::KeyKind::kOct) {
      return absl::InvalidArgumentError(
          "the key's material does not match its kty");
    }
    ASSIGN_OR_RETURN(held, custody_->ImportSecret(*request.secret, binding));
  } else {
    return absl::InvalidArgumentError(
        "The property \"key\" must be a valid JsonWebKey object.");
  }
  return Store(vault, name, version, request.kty, std::move(held),
               request.properties, DefaultKeyOps(held.kind));
}

absl::StatusOr<store::KeyVersion> KeyVault::Get(std::string_view vault,
                                                std::string_view name,
                                                std::string_view version) {
  if (!version.empty()) {
    absl::Status v = ValidateVersion(version);
    if (!v.ok()) return KeyNotFound(name);
  }
  absl::StatusOr<store::KeyVersion> k =
      store_->GetVersion(vault, name, version);
  if (!k.ok()) return NotFoundAs(k.status(), name);
  RETURN_IF_ERROR(CheckAttested(*custody_, *k));
  return k;
}

absl::StatusOr<store::KeyVersion> KeyVault::Update(std::string_view vault,
                                                   std::string_view name,
                                                   std::string_view version,
                                                   const KeyProperties& p) {
  ASSIGN_OR_RETURN(store::KeyVersion k, Get(vault, name, version));
  ASSIGN_OR_RETURN(Kty kty, ParseKty(k.kty));
  RETURN_IF_ERROR(CheckOps(kty, p.key_ops));
  if (p.key_ops) {
    bool was_kek = IsKek(kty, k.bits, OpsOf(k));
    bool is_kek = IsKek(kty, k.bits, *p.key_ops);
    if (was_kek != is_kek) {
      return absl::InvalidArgumentError(
          "key_ops cannot turn a key into a key exchange key or back");
    }
    k.key_ops.clear();
    for (KeyOp op : *p.key_ops) k.key_ops.emplace_back(KeyOpName(op));
  }
  if (p.enabled) k.enabled = *p.enabled;
  if (p.not_before) k.not_before = *p.not_before;
  if (p.expires) k.expires = *p.expires;
  if (p.tags_json) {
    ASSIGN_OR_RETURN(k.tags_json, NormalizeTags(*p.tags_json));
  }
  k.updated = clock_();
  RETURN_IF_ERROR(Attest(*custody_, k));
  absl::Status s = store_->UpdateVersion(k);
  if (!s.ok()) return NotFoundAs(s, name);
  return k;
}

absl::StatusOr<store::Page<store::KeyVersion>> KeyVault::List(
    std::string_view vault, std::string_view after, int limit) {
  ASSIGN_OR_RETURN(auto page, store_->ListLatest(vault, after, limit));
  for (const store::KeyVersion& k : page.items) {
    RETURN_IF_ERROR(CheckAttested(*custody_, k));
  }
  return page;
}

absl::StatusOr<store::Page<store::KeyVersion>> KeyVault::ListVersions(
    std::string_view vault, std::string_view name, std::string_view after,
    int limit) {
  auto page = store_->ListVersions(vault, name, after, limit);
  if (!page.ok()) return NotFoundAs(page.status(), name);
  for (const store::KeyVersion& k : page->items) {
    RETURN_IF_ERROR(CheckAttested(*custody_, k));
  }
  return page;
}

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
        {"sealed", Base64UrlEncode(k.sealed)},
        {"enabled", k.enabled},
        {"nbf", k.not_before ? json(*k.not_before) : json(nullptr)},
        {"exp", k.expires ? json(*k.expires) : json(nullptr)},
        {"created", k.created},
        {"updated", k.updated},
        {"exportable", k.exportable},
        {"tags", tags.ok() ? std::move(*tags) : json::object()},
        {"managed", k.managed},
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
      k.bits = v.at("bits").get<int>();
      k.curve = v.at("curve").get<std::string>();
      k.key_ops = v.at("key_ops").get<std::vector<std::string>>();
      k.public_jwk = v.at("public_jwk").get<std::string>();
      ASSIGN_OR_RETURN(k.sealed,
                       Base64UrlDecode(v.at("sealed").get<std::string>()));
      k.enabled = v.at("enabled").get<bool>();
      if (!v.at("nbf").is_null()) k.not_before = v.at("nbf").get<int64_t>();
      if (!v.at("exp").is_null()) k.expires = v.at("exp").get<int64_t>();
      k.created = v.at("created").get<int64_t>();
      k.updated = v.at("updated").get<int64_t>();
      k.exportable = v.at("exportable").get<bool>();
      ASSIGN_OR_RETURN(k.tags_json, TagsFromJson(v.at("tags")));
      k.managed = v.at("managed").get<bool>();
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
      k.sealed = std::move(moved.sealed);
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

absl::StatusOr<store::KeyVersion> KeyVault::Usable(std::string_view vault,
                                                   std::string_view name,
                                                   std::string_view version,
                                                   KeyOp op) {
  ASSIGN_OR_RETURN(store::KeyVersion k, Get(vault, name, version));
  const int64_t now = clock_();
  const std::string_view opname = KeyOpName(op);
  if (!k.enabled && IsPrivateOp(op)) {
    return Forbidden(absl::StrCat("Operation ", Sv(opname),
                                  " is not allowed on a disabled key."),
                     "KeyDisabled");
  }
  if (op != KeyOp::kVerify) {
    if (k.not_before && now < *k.not_before) {
      return Forbidden(absl::StrCat("Operation ", Sv(opname),
                                    " is not allowed: the key is not yet "
                                    "valid (nbf is in the future)."),
                       "KeyNotYetValid");
    }
    if (k.expires && now >= *k.expires) {
      return Forbidden(absl::StrCat("Operation ", Sv(opname),
                                    " is not allowed: the key has expired."),
                       "KeyExpired");
    }
  }
  std::vector<KeyOp> ops = OpsOf(k);
  if (std::find(ops.begin(), ops.end(), op) == ops.end()) {
    return Forbidden(
        absl::StrCat("Operation ", Sv(opname),
                     " is not permitted on this key: its key_ops are [",
                     absl::StrJoin(k.key_ops, ", "), "]."),
        "KeyOperationForbidden");
  }
  return k;
}

absl::StatusOr<std::pair<store::KeyVersion, std::vector<uint8_t>>>
KeyVault::Sign(std::string_view vault, std::string_view name,
               std::string_view version, crypto::SignAlg alg,
               std::span<const uint8_t> digest) {
  ASSIGN_OR_RETURN(store::KeyVersion k,
                   Usable(vault, name, version, KeyOp::kSign));
  if (digest.size() != crypto::DigestBytes(alg)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The digest for ", Sv(crypto::SignAlgName(alg)), " must be ",
        crypto::DigestBytes(alg), " bytes, not ", digest.size()));
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> sig,
                   custody_->Sign(HeldOf(k), Binding(vault, k.name, k.version),
                                  alg, digest));
  return std::make_pair(std::move(k), std::move(sig));
}

absl::StatusOr<bool> KeyVault::Verify(std::string_view vault,
                                      std::string_view name,
                                      std::string_view version,
                                      crypto::SignAlg alg,
                                      std::span<const uint8_t> digest,
                                      std::span<const uint8_t> signature) {
  ASSIGN_OR_RETURN(store::KeyVersion k,
                   Usable(vault, name, version, KeyOp::kVerify));
  if (k.public_jwk.empty()) {
    return absl::InvalidArgumentError(
        "verify needs an RSA or EC key; this key is oct");
  }
  if (digest.size() != crypto::DigestBytes(alg)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The digest for ", Sv(crypto::SignAlgName(alg)), " must be ",
        crypto::DigestBytes(alg), " bytes, not ", digest.size()));
  }
  const std::span<const uint8_t> jwk = AsBytes(k.public_jwk);
  crypto::EvpPkeyPtr pub = public_keys_.Find(jwk, {});
  if (pub == nullptr) {
    ASSIGN_OR_RETURN(pub, crypto::ParsePublicKey(jwk));
    public_keys_.Insert(jwk, {}, pub.get());
  }
  return crypto::VerifyDigest(pub.get(), alg, digest, signature);
}

absl::StatusOr<std::pair<store::KeyVersion, custody::CipherOutput>>
KeyVault::Cipher(std::string_view vault, std::string_view name,
                 std::string_view version, KeyOp op,
                 const custody::CipherInput& input) {
  ASSIGN_OR_RETURN(store::KeyVersion k, Usable(vault, name, version, op));
  custody::HeldKey held = HeldOf(k);
  std::vector<uint8_t> binding = Binding(vault, k.name, k.version);
  absl::StatusOr<custody::CipherOutput> out =
      (op == KeyOp::kEncrypt || op == KeyOp::kWrapKey)
          ? custody_->Encrypt(held, binding, input)
          : custody_->Decrypt(held, binding, input);
  if (!out.ok()) return out.status();
  return std::make_pair(std::move(k), std::move(*out));
}

absl::StatusOr<store::KeyVersion> KeyVault::Rotate(std::string_view vault,
                                                   std::string_view name) {
  ASSIGN_OR_RETURN(store::KeyVersion latest, Get(vault, name, ""));
  ASSIGN_OR_RETURN(Kty kty, ParseKty(latest.kty));
  // Every key rotates the same way; a KEK's key_ops stay [import].
  std::vector<KeyOp> ops = OpsOf(latest);
  CreateKeyRequest req;
  req.kty = kty;
  custody::KeyKind kind = KindOf(kty);
  if (kind == custody::KeyKind::kEc) {
    ASSIGN_OR_RETURN(crypto::Curve c, crypto::ParseCurve(latest.curve));
    req.curve = c;
  } else {
    req.key_size = latest.bits;
  }
  if (kind == custody::KeyKind::kRsa) {
    ASSIGN_OR_RETURN(
        crypto::EvpPkeyPtr pub,
        crypto::ParsePublicKey(std::span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(latest.public_jwk.data()),
            latest.public_jwk.size())));
    ASSIGN_OR_RETURN(crypto::RsaPublicParts parts,
                     crypto::GetRsaPublic(pub.get()));
    uint64_t e = 0;
    for (uint8_t b : parts.e) e = (e << 8) | b;
    if (e > 0 && e <= UINT32_MAX)
      req.public_exponent = static_cast<uint32_t>(e);
  }
  req.properties.key_ops = ops;
  req.properties.tags_json = latest.tags_json;
  req.properties.exportable = latest.exportable;
  ASSIGN_OR_RETURN(store::KeyName n, store_->GetName(vault, name));
  if (!n.rotation_policy_json.empty()) {
    absl::StatusOr<RotationPolicy> p =
        ParseRotationPolicy(n.rotation_policy_json);
    if (p.ok() && p->expiry_time) {
      req.properties.expires = AddDuration(clock_(), *p->expiry_time);
    }
  }
  return Create(vault, latest.name, req);
}

absl::Status KeyVault::Reschedule(std::string_view vault,
                                  std::string_view name) {
  ASSIGN_OR_RETURN(store::KeyName n, store_->GetName(vault, name));
  if (n.rotation_policy_json.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(RotationPolicy p,
                   ParseRotationPolicy(n.rotation_policy_json));
  ASSIGN_OR_RETURN(store::KeyVersion latest,
                   store_->GetVersion(vault, name, ""));
  RETURN_IF_ERROR(CheckAttested(*custody_, latest));
  std::optional<int64_t> due = RotationDue(p, latest.created, latest.expires);
  return store_->SetRotationPolicy(vault, name, n.rotation_policy_json, due);
}

absl::StatusOr<std::string> KeyVault::GetRotationPolicy(
    std::string_view vault, std::string_view name, std::string_view key_url) {
  ASSIGN_OR_RETURN(store::KeyVersion latest, Get(vault, name, ""));
  ASSIGN_OR_RETURN(store::KeyName n, store_->GetName(vault, name));
  std::string id = absl::StrCat(Sv(key_url), "/rotationpolicy");
  if (n.rotation_policy_json.empty()) return DefaultRotationPolicy(id);
  absl::StatusOr<json> parsed = ParseJson(n.rotation_policy_json);
  if (!parsed.ok()) return absl::DataLossError("stored policy damaged");
  json& doc = *parsed;
  doc["id"] = id;
  return doc.dump();
}

absl::StatusOr<std::string> KeyVault::SetRotationPolicy(
    std::string_view vault, std::string_view name, std::string_view body,
    std::string_view key_url) {
  ASSIGN_OR_RETURN(store::KeyVersion latest, Get(vault, name, ""));
  ASSIGN_OR_RETURN(store::KeyName n, store_->GetName(vault, name));
  ASSIGN_OR_RETURN(RotationPolicy p, ParseRotationPolicy(body));
  const int64_t now = clock_();
  p.created = now;
  if (!n.rotation_policy_json.empty()) {  // a replaced policy keeps `created`
    absl::StatusOr<json> old_doc = ParseJson(n.rotation_policy_json);
    if (old_doc.ok() && old_doc->is_object() &&
        old_doc->contains("attributes") &&
        (*old_doc)["attributes"].is_object()) {
      p.created = (*old_doc)["attributes"].value("created", now);
    }
  }
  p.updated = now;
  json doc = PolicyDocument(p);
  std::optional<int64_t> due = RotationDue(p, latest.created, latest.expires);
  absl::Status s = store_->SetRotationPolicy(vault, name, doc.dump(), due);
  if (!s.ok()) return NotFoundAs(s, name);
  doc["id"] = absl::StrCat(Sv(key_url), "/rotationpolicy");
  return doc.dump();
}

absl::StatusOr<std::pair<int, int>> KeyVault::RunDueWork(
    const std::function<absl::Status(const DueWorkEvent&)>& on_work) {
  auto tell = [&](std::string_view work, const std::string& vault,
                  const std::string& name, std::string version,
                  absl::Status status) -> absl::Status {
    if (!on_work) return absl::OkStatus();
    return on_work(DueWorkEvent{std::string(work), vault, name,
                                std::move(version), std::move(status)});
  };
  const int64_t now = clock_();
  int rotated = 0, purged = 0;
  // Done records a success; Failed a failure, and returns when to retry.
  auto id = [](std::string_view work, std::string_view vault,
               std::string_view name) {
    return absl::StrCat(Sv(work), "/", Sv(vault), "/", Lower(name));
  };
  auto done = [&](const std::string& key) {
    std::lock_guard<std::mutex> l(due_mu_);
    due_failures_.erase(key);
  };
  auto failed = [&](std::string_view work, const std::string& vault,
                    const std::string& name,
                    const absl::Status& error) -> int64_t {
    std::lock_guard<std::mutex> l(due_mu_);
    DueWorkFailure& f = due_failures_[id(work, vault, name)];
    f.vault = vault;
    f.name = name;
    f.work = std::string(work);
    f.error = std::string(error.message());
    ++f.failures;
    const int64_t backoff = std::min<int64_t>(
        int64_t{1} << std::min(f.failures - 1, 20), kMaxDueWorkBackoff);
    f.next_attempt = now + backoff;
    Log(LogLevel::kError, "due_work_failed",
        {{"work", f.work},
         {"vault", vault},
         {"key", name},
         {"failures", std::to_string(f.failures)},
         {"retry_in_seconds", std::to_string(backoff)},
         {"error", f.error}});
    return f.next_attempt;
  };
  ASSIGN_OR_RETURN(auto due, store_->DueRotations(now, 100));
  for (const auto& [vault, name] : due) {
    absl::StatusOr<store::KeyVersion> r = Rotate(vault, name);
    RETURN_IF_ERROR(
        tell("rotate", vault, name, r.ok() ? r->version : "", r.status()));
    if (r.ok()) {
      done(id("rotate", vault, name));
      ++rotated;
      continue;
    }
    const int64_t retry = failed("rotate", vault, name, r.status());
    // The policy stays; the next attempt is the retry (persisted, so the
    // query does not return the key again before then).
    absl::StatusOr<store::KeyName> n = store_->GetName(vault, name);
    absl::Status moved = n.ok()
                             ? store_->SetRotationPolicy(
                                   vault, name, n->rotation_policy_json, retry)
                             : n.status();
    if (moved.code() == absl::StatusCode::kNotFound) {
      done(id("rotate", vault, name));  // deleted meanwhile
    } else if (!moved.ok()) {
      return moved;
    }
  }
  // Purges waiting for their retry stay due: ask for that many more, so
  // they never crowd out the others.
  size_t waiting = 0;
  {
    std::lock_guard<std::mutex> l(due_mu_);
    for (const auto& [key, f] : due_failures_) waiting += f.work == "purge";
  }
  ASSIGN_OR_RETURN(auto purges,
                   store_->DuePurges(now, 100 + static_cast<int>(waiting)));
  for (const auto& [vault, name] : purges) {
    const std::string key = id("purge", vault, name);
    {
      std::lock_guard<std::mutex> l(due_mu_);
      auto it = due_failures_.find(key);
      if (it != due_failures_.end() && it->second.next_attempt > now) continue;
    }
    absl::Status s = store_->Purge(vault, name);
    if (s.ok() || s.code() == absl::StatusCode::kNotFound) {
      done(key);
      if (s.ok()) ++purged;
    } else {
      failed("purge", vault, name, s);
    }
    if (s.code() != absl::StatusCode::kNotFound)
      RETURN_IF_ERROR(tell("purge", vault, name, "", s));
  }
  return std::make_pair(rotated, purged);
}

std::vector<DueWorkFailure> KeyVault::DueWorkFailures() const {
  std::lock_guard<std::mutex> l(due_mu_);
  std::vector<DueWorkFailure> out;
  for (const auto& [key, f] : due_failures_) out.push_back(f);
  return out;
}

}  // namespace keyferry::vault
