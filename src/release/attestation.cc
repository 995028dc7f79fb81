#include "release/attestation.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "crypto/sign.h"
#include "release/policy.h"

namespace keyferry::release {
namespace {

using Json = nlohmann::json;

absl::Status Denied(absl::string_view why) {
  return absl::PermissionDeniedError(
      absl::StrCat("The target attestation token was refused: ", why, "."));
}

absl::StatusOr<std::vector<uint8_t>> B64Member(const Json& j,
                                               const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" is missing"));
  }
  absl::StatusOr<std::vector<uint8_t>> v =
      Base64UrlDecode(it->get<std::string>());
  if (!v.ok() || v->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" is not base64url"));
  }
  return v;
}

std::string StrOf(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

absl::StatusOr<crypto::EvpPkeyPtr> RsaFromJwk(const Json& k) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> n, B64Member(k, "n"));
  ASSIGN_OR_RETURN(std::vector<uint8_t> e, B64Member(k, "e"));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, crypto::RsaPublicFromParts(n, e));
  ASSIGN_OR_RETURN(crypto::KeyDescription d, crypto::Describe(key.get()));
  if (d.bits < 2048) {
    return absl::InvalidArgumentError("an RSA key under 2048 bits");
  }
  return key;
}

absl::StatusOr<crypto::EvpPkeyPtr> PublicFromJwk(const Json& k) {
  const std::string kty = StrOf(k, "kty");
  if (kty == "RSA") return RsaFromJwk(k);
  ASSIGN_OR_RETURN(crypto::Curve curve, crypto::ParseCurve(StrOf(k, "crv")));
  ASSIGN_OR_RETURN(std::vector<uint8_t> x, B64Member(k, "x"));
  ASSIGN_OR_RETURN(std::vector<uint8_t> y, B64Member(k, "y"));
  return crypto::EcPublicFromParts(curve, x, y);
}

absl::StatusOr<Json> DecodePart(std::string_view b64) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> raw, Base64UrlDecode(b64));
  ASSIGN_OR_RETURN(Json j, ParseJson(AsString(raw)));
  if (!j.is_object()) return absl::InvalidArgumentError("not an object");
  return j;
}

std::optional<crypto::SignAlg> TokenAlg(std::string_view alg) {
  static constexpr std::pair<std::string_view, crypto::SignAlg> kAlgs[] = {
      {"RS256", crypto::SignAlg::kRs256}, {"RS384", crypto::SignAlg::kRs384},
      {"RS512", crypto::SignAlg::kRs512}, {"PS256", crypto::SignAlg::kPs256},
      {"PS384", crypto::SignAlg::kPs384}, {"PS512", crypto::SignAlg::kPs512},
      {"ES256", crypto::SignAlg::kEs256}, {"ES384", crypto::SignAlg::kEs384},
      {"ES512", crypto::SignAlg::kEs512},
  };
  for (const auto& [name, a] : kAlgs) {
    if (name == alg) return a;
  }
  return std::nullopt;
}

bool IsEncryptionKey(const Json& k) {
  if (!k.is_object() || StrOf(k, "kty") != "RSA") return false;
  if (StrOf(k, "use") == "enc" || StrOf(k, "key_use") == "enc") return true;
  auto ops = k.find("key_ops");
  if (ops == k.end() || !ops->is_array()) return false;
  for (const Json& op : *ops) {
    if (op == Json("encrypt")) return true;
  }
  return false;
}

absl::Status FindWrappingKey(AttestedToken& t) {
  const Json* keys = FindClaim(t.claims, "x-ms-runtime.keys");
  if (keys == nullptr || !keys->is_array()) {
    return Denied("it has no x-ms-runtime.keys claim");
  }
  for (const Json& k : *keys) {
    if (!IsEncryptionKey(k)) continue;
    t.wrapping_kid = StrOf(k, "kid");
    if (t.wrapping_kid.empty()) {
      return Denied("its wrapping key (x-ms-runtime.keys) has no kid");
    }
    absl::StatusOr<crypto::EvpPkeyPtr> key = RsaFromJwk(k);
    if (!key.ok()) {
      return Denied(
          absl::StrCat("its wrapping key (x-ms-runtime.keys) is not "
                       "a usable RSA key: ",
                       key.status().message()));
    }
    t.wrapping_key = *std::move(key);
    return absl::OkStatus();
  }
  return Denied(
      "x-ms-runtime.keys holds no RSA key for encryption (key_ops "
      "\"encrypt\" or use \"enc\")");
}

absl::Status CheckTimes(const Json& claims, int64_t now, int64_t skew) {
  auto exp = claims.find("exp");
  if (exp == claims.end() || !exp->is_number()) {
    return Denied("it has no exp claim");
  }
  if (now >= exp->get<int64_t>() + skew) return Denied("it has expired");
  auto nbf = claims.find("nbf");
  if (nbf != claims.end()) {
    if (!nbf->is_number()) return Denied("its nbf claim is not a number");
    if (now < nbf->get<int64_t>() - skew) return Denied("it is not valid yet");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TrustedAuthorities::Add(std::string issuer,
                                     std::string_view jwks) {
  if (issuer.empty()) {
    return absl::InvalidArgumentError(
        "an attestation authority needs an issuer");
  }
  if (Find(issuer) != nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("attestation authority ", issuer, " is given twice"));
  }
  absl::StatusOr<Json> j = ParseJson(jwks);
  if (!j.ok() || !j->is_object() || !j->contains("keys") ||
      !j->at("keys").is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the JWK Set of attestation authority ", issuer,
                     " is not a JSON object with a \"keys\" array"));
  }
  Authority a;
  a.issuer = std::move(issuer);
  for (const Json& k : j->at("keys")) {
    if (!k.is_object()) continue;
    const std::string kty = StrOf(k, "kty");
    if ((kty != "RSA" && kty != "EC") || StrOf(k, "use") == "enc") continue;
    const std::string kid = StrOf(k, "kid");
    absl::StatusOr<crypto::EvpPkeyPtr> key =
        kid.empty() ? absl::InvalidArgumentError("no kid") : PublicFromJwk(k);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a key of attestation authority ", a.issuer,
                       " is not usable: ", key.status().message()));
    }
    a.keys.push_back(Key{kid, *std::move(key)});
  }
  if (a.keys.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the JWK Set of attestation authority ", a.issuer,
                     " holds no RSA or EC signing key"));
  }
  authorities_.push_back(std::move(a));
  return absl::OkStatus();
}

std::vector<std::string> TrustedAuthorities::Issuers() const {
  std::vector<std::string> out;
  for (const Authority& a : authorities_) out.push_back(a.issuer);
  return out;
}

const TrustedAuthorities::Authority* TrustedAuthorities::Find(
    std::string_view iss) const {
  for (const Authority& a : authorities_) {
    if (SameAuthority(a.issuer, iss)) return &a;
  }
  return nullptr;
}

absl::StatusOr<AttestedToken> VerifyAttestation(
    std::string_view token, const TrustedAuthorities& trusted, int64_t now,
    int64_t skew_seconds) {
  const std::vector<absl::string_view> parts = absl::StrSplit(Sv(token), '.');
  if (parts.size() != 3) return Denied("it is not a compact JWS");
  absl::StatusOr<Json> header = DecodePart(StdSv(parts[0]));
  absl::StatusOr<Json> payload = DecodePart(StdSv(parts[1]));
  absl::StatusOr<std::vector<uint8_t>> sig = Base64UrlDecode(StdSv(parts[2]));
  if (!header.ok() || !payload.ok() || !sig.ok()) {
    return Denied("it is not a compact JWS of JSON objects");
  }
  const std::optional<crypto::SignAlg> alg = TokenAlg(StrOf(*header, "alg"));
  if (!alg.has_value()) {
    return Denied(
        "its alg is not one of RS256/384/512, PS256/384/512, "
        "ES256/384/512");
  }
  const std::string kid = StrOf(*header, "kid");
  if (kid.empty()) return Denied("its header has no kid");
  AttestedToken t;
  t.issuer = StrOf(*payload, "iss");
  const TrustedAuthorities::Authority* a = trusted.Find(t.issuer);
  if (t.issuer.empty() || a == nullptr) {
    return Denied("its issuer is not a trusted attestation authority");
  }
  const TrustedAuthorities::Key* key = nullptr;
  for (const TrustedAuthorities::Key& k : a->keys) {
    if (k.kid == kid) key = &k;
  }
  if (key == nullptr) {
    return Denied(
        absl::StrCat("its kid is not a key of authority ", a->issuer));
  }
  const std::string_view signed_part =
      token.substr(0, parts[0].size() + 1 + parts[1].size());
  absl::StatusOr<bool> ok =
      crypto::VerifyDigest(key->key.get(), *alg,
                           crypto::DigestFor(*alg, AsBytes(signed_part)), *sig);
  if (!ok.ok() || !*ok) return Denied("its signature does not verify");
  RETURN_IF_ERROR(CheckTimes(*payload, now, skew_seconds));
  t.claims = *std::move(payload);
  RETURN_IF_ERROR(FindWrappingKey(t));
  return t;
}

std::vector<std::string> TokenNonces(const nlohmann::json& claims) {
  std::vector<std::string> out;
  const std::string top = StrOf(claims, "nonce");
  if (!top.empty()) out.push_back(top);
  const Json* p = FindClaim(claims, "x-ms-runtime.client-payload.nonce");
  if (p != nullptr && p->is_string() && !p->get<std::string>().empty()) {
    out.push_back(p->get<std::string>());
    absl::StatusOr<std::vector<uint8_t>> raw =
        Base64Decode(p->get<std::string>());
    if (raw.ok() && !raw->empty()) out.push_back(AsString(*raw));
  }
  return out;
}

}  // namespace keyferry::release
