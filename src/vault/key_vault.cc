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
#include "vault/key_vault_internal.h"

namespace keyferry::vault {
namespace internal {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(Sv(s)); }

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

}  // namespace internal

namespace {

using json = nlohmann::json;
using internal::KeyNotFound;
using internal::Lower;
using internal::NotFoundAs;

// WithoutDefaultPort drops an explicit ":443" from "host[:port]".
std::string WithoutDefaultPort(std::string host) {
  if (absl::EndsWith(host, ":443")) host.resize(host.size() - 4);
  return host;
}

// KekUnusable words why a KEK may not import now (empty: it may).
std::string_view KekUnusable(KeyUse use) {
  switch (use) {
    case KeyUse::kDisabled:
      return "Operation is not allowed on a disabled key.";
    case KeyUse::kNotYetValid:
      return "Operation is not allowed: the key is not yet valid (nbf is in "
             "the future).";
    case KeyUse::kExpired:
      return "Operation is not allowed: the key has expired (exp is in the "
             "past).";
    case KeyUse::kOpNotPermitted:  // IsKek: its key_ops are [import]
    case KeyUse::kAllowed:
      break;
  }
  return "";
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
  h.blob = k.blob;
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
  k.blob = std::move(held.blob);
  k.enabled = properties.enabled.value_or(true);
  k.not_before = properties.not_before;
  k.expires = properties.expires;
  k.created = now;
  k.updated = now;
  k.exportable = properties.exportable.value_or(false);
  if (properties.release_policy) {
    ASSIGN_OR_RETURN(k.release_policy,
                     ReleasePolicyRecord(*properties.release_policy));
  }
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
  RETURN_IF_ERROR(CheckExportRules(request.kty, request.properties, *custody_));
  custody::KeyRequest kr;
  kr.kind = KindOf(request.kty);
  kr.exportable = request.properties.exportable.value_or(false);
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
  if (request.key_hsm->size() > size_t{64} * 1024) {
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
  const std::string_view unusable = KekUnusable(
      CheckKeyUse(AttributesOf(*kek), OpsOf(*kek), KeyOp::kImport, clock_()));
  if (!unusable.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key exchange key cannot be used: ", Sv(unusable)));
  }
  custody::KeyRequest expected;
  expected.kind = KindOf(request.kty);
  expected.curve = request.curve;
  expected.exportable = request.properties.exportable.value_or(false);
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
  RETURN_IF_ERROR(CheckExportRules(request.kty, request.properties, *custody_));
  if (request.properties.key_ops &&
      std::find(request.properties.key_ops->begin(),
                request.properties.key_ops->end(),
                KeyOp::kImport) != request.properties.key_ops->end()) {
    return absl::InvalidArgumentError(
        "a key exchange key must be created in the vault, not imported");
  }
  std::string version;
  if (request.version) {
    RETURN_IF_ERROR(ValidateVersion(*request.version));
    version = Lower(*request.version);
  } else {
    ASSIGN_OR_RETURN(version, NewVersion());
  }
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
        held, custody_->ImportPrivate(request.private_key.get(), binding,
                                      request.properties.exportable.value_or(false)));
  } else if (request.secret) {
    if (kind != custody::KeyKind::kOct) {
      return absl::InvalidArgumentError(
          "the key's material does not match its kty");
    }
    ASSIGN_OR_RETURN(held, custody_->ImportSecret(
                               *request.secret, binding,
                               request.properties.exportable.value_or(false)));
  } else {
    return absl::InvalidArgumentError(
        "The property \"key\" must be a valid JsonWebKey object.");
  }
  // Read before the move: argument evaluation order is unspecified.
  std::vector<KeyOp> ops = DefaultKeyOps(held.kind);
  return Store(vault, name, version, request.kty, std::move(held),
               request.properties, std::move(ops));
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
  // Read, change, write only if nobody wrote in between (the store's
  // precondition); a writer that lost the race reads again, so two updates
  // of different fields on two nodes both take effect.
  for (int attempt = 1; attempt <= kUpdateAttempts; ++attempt) {
    ASSIGN_OR_RETURN(const store::KeyVersion before, Get(vault, name, version));
    ASSIGN_OR_RETURN(store::KeyVersion k, Updated(before, p));
    absl::Status s = store_->UpdateVersion(k, before);
    if (s.ok()) return k;
    if (!store::IsChangedMeanwhile(s)) return NotFoundAs(s, name);
  }
  return absl::AbortedError(absl::StrCat(
      "Key ", Sv(name), " was changed by other requests ", kUpdateAttempts,
      " times while this update was applied; try again."));
}

absl::StatusOr<store::KeyVersion> KeyVault::Updated(
    const store::KeyVersion& before, const KeyProperties& p) {
  store::KeyVersion k = before;
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
  RETURN_IF_ERROR(internal::UpdateExportRules(p, k));
  if (p.enabled) k.enabled = *p.enabled;
  if (p.not_before) k.not_before = *p.not_before;
  if (p.expires) k.expires = *p.expires;
  if (p.tags_json) {
    ASSIGN_OR_RETURN(k.tags_json, NormalizeTags(*p.tags_json));
  }
  k.updated = clock_();
  RETURN_IF_ERROR(Attest(*custody_, k));
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

}  // namespace keyferry::vault
