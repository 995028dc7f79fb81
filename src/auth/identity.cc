#include "auth/identity.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "auth/jwt.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::auth {
namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> FormDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size() || Hex(s[i + 1]) < 0 || Hex(s[i + 2]) < 0) {
        return absl::InvalidArgumentError("bad percent-escape in form body");
      }
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

const std::string* Find(const std::map<std::string, std::string>& m,
                        const char* k) {
  auto it = m.find(k);
  return it == m.end() ? nullptr : &it->second;
}

// SecretMatches compares in time independent of where the strings differ.
bool SecretMatches(const std::string* got, const std::string& want) {
  if (want.empty() || got == nullptr || got->size() != want.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff |= static_cast<unsigned char>((*got)[i] ^ want[i]);
  }
  return diff == 0;
}

constexpr char kLegacyDisabled[] =
    "the legacy MSI style (POST with 'Metadata: true' and no secret) is "
    "disabled on this keyferryd. Ask with the identity secret instead: GET "
    "with header X-IDENTITY-HEADER (IDENTITY_ENDPOINT and IDENTITY_HEADER), "
    "or for az 2.45 set APPSETTING_WEBSITE_SITE_NAME and MSI_SECRET (the "
    "secret is in <data-dir>/identity-header). An operator can allow the "
    "secretless style for chosen local uids with identity-legacy-uids";

// LegacyAllowed decides whether a secretless legacy request may have a
// token: the style enabled, 'Metadata: true', and a peer uid in the list.
absl::Status LegacyAllowed(const IdentityConfig& config,
                           const IdentityRequest& r) {
  if (config.legacy_uids.empty()) {
    return absl::PermissionDeniedError(kLegacyDisabled);
  }
  const std::string* meta = Find(r.headers, "metadata");
  if (meta == nullptr || *meta != "true") {
    return absl::PermissionDeniedError(
        "the legacy MSI endpoint requires 'Metadata: true'");
  }
  if (!r.peer_uid.has_value()) {
    return absl::PermissionDeniedError(
        "the legacy MSI style needs the uid of the client's socket, which "
        "could not be found");
  }
  if (std::find(config.legacy_uids.begin(), config.legacy_uids.end(),
                *r.peer_uid) == config.legacy_uids.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("uid ", *r.peer_uid,
                     " may not use the legacy MSI style (identity-legacy-uids "
                     "names the uids that may); send the identity secret"));
  }
  return absl::OkStatus();
}

}  // namespace

IdentityStyle IdentityStyleOf(const IdentityRequest& r) {
  if (r.method == "GET") {
    const std::string* version = Find(r.query, "api-version");
    return version != nullptr && *version == "2017-09-01"
               ? IdentityStyle::kAppService2017
               : IdentityStyle::kAppService2019;
  }
  if (r.method == "POST") return IdentityStyle::kLegacyMsi;
  return IdentityStyle::kUnknown;
}

std::string_view IdentityStyleName(IdentityStyle style) {
  switch (style) {
    case IdentityStyle::kAppService2019:
      return "app-service-2019";
    case IdentityStyle::kAppService2017:
      return "app-service-2017";
    case IdentityStyle::kLegacyMsi:
      return "legacy-msi";
    case IdentityStyle::kUnknown:
      break;
  }
  return "unknown";
}

absl::StatusOr<std::map<std::string, std::string>> ParseFormBody(
    std::string_view body) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair :
       absl::StrSplit(Sv(body), '&', absl::SkipEmpty())) {
    size_t eq = pair.find('=');
    ASSIGN_OR_RETURN(std::string k, FormDecode(pair.substr(0, eq)));
    std::string v;
    if (eq != absl::string_view::npos) {
      ASSIGN_OR_RETURN(v, FormDecode(pair.substr(eq + 1)));
    }
    out[k] = v;
  }
  return out;
}

absl::StatusOr<std::string> IssueIdentityToken(const IdentityConfig& config,
                                               const Es256Signer& sign,
                                               const IdentityRequest& r,
                                               int64_t now) {
  std::string resource;
  switch (IdentityStyleOf(r)) {
    case IdentityStyle::kAppService2019:
      if (!SecretMatches(Find(r.headers, "x-identity-header"),
                         config.header_secret)) {
        return absl::PermissionDeniedError(
            "the X-IDENTITY-HEADER header is missing or does not match "
            "IDENTITY_HEADER");
      }
      if (const std::string* res = Find(r.query, "resource")) resource = *res;
      break;
    case IdentityStyle::kAppService2017:
      if (!SecretMatches(Find(r.headers, "secret"), config.header_secret)) {
        return absl::PermissionDeniedError(
            "the secret header is missing or does not match MSI_SECRET");
      }
      if (const std::string* res = Find(r.query, "resource")) resource = *res;
      break;
    case IdentityStyle::kLegacyMsi: {
      RETURN_IF_ERROR(LegacyAllowed(config, r));
      ASSIGN_OR_RETURN(auto form, ParseFormBody(r.body));
      if (const std::string* res = Find(form, "resource")) resource = *res;
      if (resource.empty()) {
        if (const std::string* res = Find(r.query, "resource")) resource = *res;
      }
      break;
    }
    case IdentityStyle::kUnknown:
      return absl::InvalidArgumentError(
          "the identity endpoint answers GET and POST only");
  }
  if (resource.empty()) {
    return absl::InvalidArgumentError("the request names no resource");
  }
  Claims c;
  c.issuer = config.issuer;
  c.subject = config.principal;
  c.audience = resource;
  c.tenant = config.tenant;
  c.issued_at = now;
  c.not_before = now;
  c.expires = now + config.lifetime_seconds;
  ASSIGN_OR_RETURN(std::string token, IssueAccessToken(sign, config.key_id, c));
  nlohmann::json body = {
      {"access_token", token},
      {"token_type", "Bearer"},
      {"expires_on", std::to_string(c.expires)},
      {"expires_in", std::to_string(config.lifetime_seconds)},
      {"resource", resource}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string SubscriptionsBody(std::string_view tenant,
                              std::string_view subscription_id) {
  nlohmann::json sub = {
      {"id", absl::StrCat("/subscriptions/", Sv(subscription_id))},
      {"subscriptionId", std::string(subscription_id)},
      {"tenantId", std::string(tenant)},
      {"displayName", "keyferry local"},
      {"state", "Enabled"}};
  nlohmann::json body = {{"value", nlohmann::json::array({sub})}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace keyferry::auth
