#include "server/access_token_signer.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "auth/signing_key.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/sign.h"

namespace keyferry::server {
namespace {

using json = nlohmann::json;

// The token key's custody blob is bound to this name, which no key of a
// vault can have (vault bindings are vault/name/version).
constexpr std::string_view kBinding = "keyferryd:token-signing-key";

std::span<const uint8_t> Binding() { return AsBytes(kBinding); }

// TagInput is what the record's tag covers: a domain prefix, then the key
// id, the public JWK and the custody blob, each length-prefixed.
std::vector<uint8_t> TagInput(const std::string& kid, const std::string& jwk,
                              const std::vector<uint8_t>& blob) {
  return LengthPrefixed("KFT1").Add(kid).Add(jwk).Add(blob).Take();
}

absl::StatusOr<std::string> Encode(custody::Custody& custody,
                                   const std::string& kid,
                                   const custody::HeldKey& held) {
  ASSIGN_OR_RETURN(
      std::vector<uint8_t> tag,
      custody.AuthenticateRecord(TagInput(kid, held.public_jwk, held.blob)));
  return json{{"kid", kid},
              {"public_jwk", held.public_jwk},
              {"sealed", Base64UrlEncode(held.blob)},
              {"tag", Base64UrlEncode(tag)}}
      .dump();
}

}  // namespace

auth::Es256Signer AccessTokenSigner::signer() const {
  return [this](std::span<const uint8_t> digest) {
    return custody_->Sign(held_, Binding(), crypto::SignAlg::kEs256, digest);
  };
}

absl::StatusOr<std::string> AccessTokenSigner::Issue(
    const auth::Claims& claims) const {
  return auth::IssueAccessToken(signer(), key_id_, claims);
}

absl::StatusOr<std::unique_ptr<AccessTokenSigner>>
AccessTokenSigner::LoadOrCreate(store::KeyStore& store,
                                custody::Custody& custody,
                                const std::string& legacy_pem_path,
                                bool may_create) {
  ASSIGN_OR_RETURN(std::optional<std::string> text,
                   store.GetMeta(kAccessTokenKeyMeta));
  bool migrated = false;
  if (!text.has_value() && !may_create) {
    return absl::DataLossError(
        "the store's token signing key record is missing: the database was "
        "altered outside keyferryd (restore keys.db from your backup)");
  }
  if (!text.has_value()) {
    // First start of this store (or of this version): make the key in the
    // custody, or take over the plain PEM an older keyferryd wrote.
    std::string kid;
    custody::HeldKey held;
    absl::StatusOr<crypto::EvpPkeyPtr> legacy =
        auth::LoadLegacySigningKey(legacy_pem_path);
    if (legacy.ok()) {
      ASSIGN_OR_RETURN(held, custody.ImportPrivate(legacy->get(), Binding(),
                                                   /*exportable=*/false));
      ASSIGN_OR_RETURN(kid, auth::AccessTokenKeyId(legacy->get()));
      migrated = true;
    } else if (legacy.status().code() == absl::StatusCode::kNotFound) {
      ASSIGN_OR_RETURN(held, custody.Generate({custody::KeyKind::kEc, 256,
                                               crypto::Curve::kP256},
                                              Binding()));
      ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                       crypto::ParsePublicKey(AsBytes(held.public_jwk)));
      ASSIGN_OR_RETURN(kid, auth::AccessTokenKeyId(pub.get()));
    } else {
      return legacy.status();
    }
    ASSIGN_OR_RETURN(std::string encoded, Encode(custody, kid, held));
    ASSIGN_OR_RETURN(text, store.SetMetaIfAbsent(kAccessTokenKeyMeta, encoded));
  }
  // Whatever the store holds now (ours, or a key another node stored
  // first) is checked like any stored record.
  absl::StatusOr<json> j = ParseJson(*text);
  if (!j.ok() || !j->is_object() || !(*j)["kid"].is_string() ||
      !(*j)["public_jwk"].is_string() || !(*j)["sealed"].is_string() ||
      !(*j)["tag"].is_string()) {
    return absl::DataLossError(
        "the store's token signing key record is damaged");
  }
  auto signer = std::unique_ptr<AccessTokenSigner>(new AccessTokenSigner());
  signer->custody_ = &custody;
  signer->key_id_ = (*j)["kid"].get<std::string>();
  signer->held_.kind = custody::KeyKind::kEc;
  signer->held_.bits = 256;
  signer->held_.curve = crypto::Curve::kP256;
  signer->held_.public_jwk = (*j)["public_jwk"].get<std::string>();
  absl::StatusOr<std::vector<uint8_t>> blob =
      Base64UrlDecode((*j)["sealed"].get<std::string>());
  absl::StatusOr<std::vector<uint8_t>> tag =
      Base64UrlDecode((*j)["tag"].get<std::string>());
  if (!blob.ok() || !tag.ok()) {
    return absl::DataLossError(
        "the store's token signing key record is damaged");
  }
  signer->held_.blob = std::move(*blob);
  absl::Status verified = custody.VerifyRecord(
      TagInput(signer->key_id_, signer->held_.public_jwk, signer->held_.blob),
      *tag);
  if (verified.code() == absl::StatusCode::kDataLoss) {
    return absl::DataLossError(
        "the store's token signing key record fails its integrity check: the "
        "database was altered outside keyferryd");
  }
  RETURN_IF_ERROR(verified);
  ASSIGN_OR_RETURN(signer->public_key_,
                   crypto::ParsePublicKey(AsBytes(signer->held_.public_jwk)));
  ASSIGN_OR_RETURN(std::string kid,
                   auth::AccessTokenKeyId(signer->public_key_.get()));
  if (kid != signer->key_id_) {
    return absl::DataLossError("the token signing key's id does not match it");
  }
  // The custody must sign under the stored public key.
  ASSIGN_OR_RETURN(std::vector<uint8_t> probe, crypto::RandomBytes(32));
  ASSIGN_OR_RETURN(std::vector<uint8_t> sig, signer->signer()(probe));
  ASSIGN_OR_RETURN(bool good,
                   crypto::VerifyDigest(signer->public_key_.get(),
                                        crypto::SignAlg::kEs256, probe, sig));
  if (!good) {
    return absl::DataLossError(
        "the token signing key does not sign under its stored public key");
  }
  // The plain PEM goes once the store holds its key: right after the
  // migration, or at a later start if that one was interrupted (then only
  // if the file is that same key; anything else there is left alone).
  if (!migrated && std::filesystem::is_regular_file(
                       std::filesystem::symlink_status(legacy_pem_path))) {
    absl::StatusOr<crypto::EvpPkeyPtr> left =
        auth::LoadLegacySigningKey(legacy_pem_path);
    absl::StatusOr<std::string> left_kid =
        left.ok() ? auth::AccessTokenKeyId(left->get())
                  : absl::StatusOr<std::string>(left.status());
    migrated = left_kid.ok() && *left_kid == signer->key_id_;
    if (!migrated) {
      Log(LogLevel::kWarning, "token_key_file_ignored",
          {{"path", legacy_pem_path},
           {"why", "not this deployment's token key; never used"}});
    }
  }
  if (migrated) {
    RETURN_IF_ERROR(ShredFile(legacy_pem_path));
    Log(LogLevel::kInfo, "token_key_migrated",
        {{"removed", legacy_pem_path},
         {"kid", signer->key_id_},
         {"now", "held by the custody"}});
  }
  return signer;
}

}  // namespace keyferry::server
