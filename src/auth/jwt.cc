#include "auth/jwt.h"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/mac.h"
#include "crypto/sign.h"

namespace keyferry::auth {
namespace {

using json = nlohmann::json;

absl::Status Denied(std::string_view why) {
  return absl::UnauthenticatedError(
      absl::StrCat("access token rejected: ", Sv(why)));
}

absl::StatusOr<json> ParseObject(std::string_view b64) {
  auto raw = Base64UrlDecode(b64);
  if (!raw.ok()) return Denied("a part is not base64url");
  absl::StatusOr<json> j = ParseJson(std::string_view(
      reinterpret_cast<const char*>(raw->data()), raw->size()));
  if (!j.ok()) return Denied("a part is not JSON");
  if (!j->is_object()) return Denied("a part is not a JSON object");
  return j;
}

std::string_view TrimSlash(std::string_view s) {
  if (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

}  // namespace

absl::StatusOr<std::string> IssueAccessToken(EVP_PKEY* key,
                                             std::string_view key_id,
                                             const Claims& c) {
  return IssueAccessToken(
      [key](std::span<const uint8_t> digest) {
        return crypto::SignDigest(key, crypto::SignAlg::kEs256, digest);
      },
      key_id, c);
}

absl::StatusOr<std::string> IssueAccessToken(const Es256Signer& sign,
                                             std::string_view key_id,
                                             const Claims& c) {
  json header = {
      {"alg", "ES256"}, {"typ", "JWT"}, {"kid", std::string(key_id)}};
  json body = {{"iss", c.issuer},     {"sub", c.subject}, {"oid", c.subject},
               {"aud", c.audience},   {"tid", c.tenant},  {"iat", c.issued_at},
               {"nbf", c.not_before}, {"exp", c.expires}};
  std::string h = header.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string b = body.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string signing_input = absl::StrCat(Base64UrlEncode(AsBytes(h)), ".",
                                           Base64UrlEncode(AsBytes(b)));
  ASSIGN_OR_RETURN(std::vector<uint8_t> sig,
                   sign(crypto::Sha256(AsBytes(signing_input))));
  if (sig.size() != 64) {
    return absl::InternalError("the token signer returned no ES256 signature");
  }
  return absl::StrCat(signing_input, ".", Base64UrlEncode(sig));
}

int64_t AccessTokenLifetime(const Claims& c) {
  return c.expires - std::min(c.not_before, c.issued_at);
}

absl::Status CheckClaims(const Claims& c, const AccessTokenRequirements& want,
                         int64_t now) {
  if (c.issuer != want.issuer) {
    return Denied("issuer (iss) is not this keyferryd's");
  }
  if (c.tenant != want.tenant) {
    return Denied("tenant (tid) is not this deployment's");
  }
  if (TrimSlash(c.audience) != TrimSlash(want.audience)) {
    return Denied("audience does not match this vault's resource");
  }
  if (AccessTokenLifetime(c) > want.max_lifetime_seconds) {
    return Denied(absl::StrCat("lifetime (exp - nbf/iat) exceeds the ",
                               want.max_lifetime_seconds, " s maximum"));
  }
  if (now >= c.expires + want.skew_seconds) return Denied("token expired");
  if (now + want.skew_seconds < c.not_before) {
    return Denied("token not yet valid");
  }
  return absl::OkStatus();
}

absl::StatusOr<Claims> VerifyAccessToken(std::string_view token, EVP_PKEY* key,
                                         const AccessTokenRequirements& want,
                                         int64_t now) {
  if (key == nullptr) return Denied("no token key is loaded yet");
  std::vector<absl::string_view> parts = absl::StrSplit(Sv(token), '.');
  if (parts.size() != 3) return Denied("not a compact JWS (three parts)");
  ASSIGN_OR_RETURN(json header, ParseObject(StdSv(parts[0])));
  if (!header.contains("alg") || header["alg"] != "ES256") {
    return Denied("alg must be ES256");
  }
  auto sig = Base64UrlDecode(StdSv(parts[2]));
  if (!sig.ok()) return Denied("signature is not base64url");
  std::string signing_input = absl::StrCat(parts[0], ".", parts[1]);
  auto ok = crypto::VerifyDigest(key, crypto::SignAlg::kEs256,
                                 crypto::Sha256(AsBytes(signing_input)), *sig);
  if (!ok.ok() || !*ok) return Denied("signature does not verify");
  ASSIGN_OR_RETURN(json body, ParseObject(StdSv(parts[1])));
  Claims c;
  auto str = [&](const char* k) {
    return body.contains(k) && body[k].is_string() ? body[k].get<std::string>()
                                                   : "";
  };
  auto num = [&](const char* k) -> std::optional<int64_t> {
    if (!body.contains(k) || !body[k].is_number_integer()) return std::nullopt;
    return body[k].get<int64_t>();
  };
  c.issuer = str("iss");
  c.subject = str("oid").empty() ? str("sub") : str("oid");
  c.audience = str("aud");
  c.tenant = str("tid");
  auto exp = num("exp");
  if (!exp) return Denied("no exp claim");
  c.expires = *exp;
  c.not_before = num("nbf").value_or(0);
  c.issued_at = num("iat").value_or(0);
  if (c.subject.empty()) return Denied("no subject (oid/sub) claim");
  RETURN_IF_ERROR(CheckClaims(c, want, now));
  return c;
}

absl::StatusOr<Claims> VerifiedAccessTokens::Verify(
    std::string_view token, EVP_PKEY* key, const AccessTokenRequirements& want,
    int64_t now) {
  const std::string id(token);
  std::optional<Claims> cached;
  claims_.Lookup(id, [&](const Claims& c) { cached = c; });
  if (cached) {
    if (now < cached->expires + want.skew_seconds) {
      RETURN_IF_ERROR(CheckClaims(*cached, want, now));
      return *cached;
    }
    claims_.Erase(id);  // past its window: verify (and refuse) afresh
  }
  ASSIGN_OR_RETURN(Claims c, VerifyAccessToken(token, key, want, now));
  claims_.Insert(id, c);
  return c;
}

}  // namespace keyferry::auth
