// Secure Key Release (docs/api.md §Secure Key Release): the export rules of
// create, import and update, and the release itself.

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/error_code.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"
#include "release/attestation.h"
#include "release/policy.h"
#include "vault/attest.h"
#include "vault/key_vault.h"
#include "vault/key_vault_internal.h"

namespace keyferry::vault {
namespace {

using json = nlohmann::json;

absl::Status Skr(absl::string_view code_and_text) {
  return absl::InvalidArgumentError(code_and_text);
}

absl::Status Forbidden(std::string message, std::string_view inner = "") {
  return WithErrorCode(absl::PermissionDeniedError(message), "Forbidden",
                       inner);
}

constexpr char kNeedsPolicy[] =
    "AKV.SKR.1004: Exportable keys must have release policy.";
constexpr char kPolicyNeedsExportable[] =
    "AKV.SKR.1005: Non-exportable keys must not have release policy.";

// CheckUsableForRelease applies enabled, nbf and exp to a release.
absl::Status CheckUsableForRelease(const store::KeyVersion& k, int64_t now) {
  if (!k.enabled) {
    return Forbidden("Operation release is not allowed on a disabled key.",
                     "KeyDisabled");
  }
  if (k.not_before && now < *k.not_before) {
    return Forbidden(
        "Operation release is not allowed: the key is not yet valid (nbf is "
        "in the future).",
        "KeyNotYetValid");
  }
  if (k.expires && now >= *k.expires) {
    return Forbidden("Operation release is not allowed: the key has expired.",
                     "KeyExpired");
  }
  return absl::OkStatus();
}

absl::StatusOr<release::Policy> StoredPolicy(std::string_view record) {
  std::optional<ReleasePolicyInput> in = ReleasePolicyInputOf(record);
  if (!in.has_value()) {
    return absl::DataLossError("the stored release policy is unreadable");
  }
  return release::ParsePolicy(in->data);
}

}  // namespace

absl::StatusOr<std::string> ReleasePolicyRecord(
    const ReleasePolicyInput& input) {
  if (input.content_type.has_value() &&
      *input.content_type != release::kPolicyContentType) {
    return Skr(
        absl::StrCat("The property \"release_policy.contentType\" must be \"",
                     release::kPolicyContentType, "\"."));
  }
  absl::StatusOr<release::Policy> p = release::ParsePolicy(input.data);
  if (!p.ok()) {
    return Skr(
        absl::StrCat("The property \"release_policy.data\" is not a "
                     "valid key release policy: ",
                     p.status().message()));
  }
  nlohmann::ordered_json r = nlohmann::ordered_json::object();
  r["contentType"] = release::kPolicyContentType;
  r["data"] = Base64UrlEncode(AsBytes(release::PolicyJson(*p)));
  r["immutable"] = input.immutable;
  return r.dump();
}

std::optional<ReleasePolicyInput> ReleasePolicyInputOf(
    std::string_view record) {
  if (record.empty()) return std::nullopt;
  absl::StatusOr<json> j = ParseJson(record);
  if (!j.ok() || !j->is_object()) return std::nullopt;
  auto data = j->find("data");
  if (data == j->end() || !data->is_string()) return std::nullopt;
  absl::StatusOr<std::vector<uint8_t>> raw =
      Base64UrlDecode(data->get<std::string>());
  if (!raw.ok()) return std::nullopt;
  ReleasePolicyInput in;
  in.content_type = j->value("contentType", std::string());
  in.data = AsString(*raw);
  in.immutable = j->value("immutable", false);
  return in;
}

bool ReleasePolicyImmutable(std::string_view record) {
  std::optional<ReleasePolicyInput> in = ReleasePolicyInputOf(record);
  return in.has_value() && in->immutable;
}

absl::Status CheckExportRules(Kty kty, const KeyProperties& p,
                              const custody::Custody& custody) {
  const bool exportable = p.exportable.value_or(false);
  if (exportable && !p.release_policy.has_value()) return Skr(kNeedsPolicy);
  if (!exportable && p.release_policy.has_value()) {
    return Skr(kPolicyNeedsExportable);
  }
  if (!exportable) return absl::OkStatus();
  if (!IsHsm(kty)) {
    return Skr(
        "AKV.SKR.1006: Only keys of type RSA-HSM, EC-HSM and oct-HSM can be "
        "exportable.");
  }
  if (!custody.CanRelease()) {
    return Skr(
        absl::StrCat("Exportable keys are not supported by this keyferryd's ",
                     custody.Kind(), " custody: it cannot release keys."));
  }
  return ReleasePolicyRecord(*p.release_policy).status();
}

namespace internal {

absl::Status UpdateExportRules(const KeyProperties& p, store::KeyVersion& k) {
  if (p.exportable.has_value() && *p.exportable != k.exportable) {
    return Skr("AKV.SKR.1014: Cannot modify the exportable state of a key.");
  }
  if (!p.release_policy.has_value()) return absl::OkStatus();
  if (!k.exportable) return Skr(kPolicyNeedsExportable);
  if (ReleasePolicyImmutable(k.release_policy)) {
    return Skr(
        "AKV.SKR.1020: Immutable Key Release Policy cannot be modified.");
  }
  ASSIGN_OR_RETURN(k.release_policy, ReleasePolicyRecord(*p.release_policy));
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<Released> KeyVault::Release(
    std::string_view vault, std::string_view name, std::string_view version,
    const release::TrustedAuthorities& trusted, const ReleaseRequest& request) {
  ASSIGN_OR_RETURN(store::KeyVersion k, Get(vault, name, version));
  const int64_t now = clock_();
  RETURN_IF_ERROR(CheckUsableForRelease(k, now));
  if (!k.exportable) {
    return Forbidden(
        absl::StrCat("Key ", k.name,
                     " is not exportable: only keys created or imported with "
                     "attributes.exportable = true can be released."));
  }
  if (k.release_policy.empty()) {
    return Forbidden(absl::StrCat("Key ", k.name, " has no release policy."));
  }
  ASSIGN_OR_RETURN(release::Policy policy, StoredPolicy(k.release_policy));
  absl::StatusOr<release::AttestedToken> token =
      release::VerifyAttestation(request.target, trusted, now);
  if (!token.ok()) return Forbidden(std::string(token.status().message()));
  if (request.nonce.has_value()) {
    const std::vector<std::string> nonces = release::TokenNonces(token->claims);
    if (std::find(nonces.begin(), nonces.end(), *request.nonce) ==
        nonces.end()) {
      return Forbidden(
          "The request's nonce is not the nonce of the target attestation "
          "token (its nonce claim or x-ms-runtime.client-payload.nonce).");
    }
  }
  const release::Evaluation e =
      release::Evaluate(policy, token->issuer, token->claims);
  if (!e.allowed) {
    return Forbidden(absl::StrCat(
        "The target attestation token does not satisfy the key's release "
        "policy: ",
        e.why, "."));
  }
  ASSIGN_OR_RETURN(
      std::vector<uint8_t> ciphertext,
      custody_->WrapForRelease(HeldOf(k), Binding(vault, k.name, k.version),
                               token->wrapping_key.get(),
                               release::OaepHashOf(request.enc)));
  Released out;
  out.key_hsm = release::KeyHsm(token->wrapping_kid, request.enc, ciphertext);
  out.issuer = token->issuer;
  out.wrapping_kid = token->wrapping_kid;
  out.key = std::move(k);
  return out;
}

}  // namespace keyferry::vault
