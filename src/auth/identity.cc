#include "auth/identity.h"

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

}  // namespace

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
  if (r.method == "GET") {
    const std::string* secret = Find(r.headers, "x-identity-header");
    if (config.header_secret.empty() || secret == nullptr ||
        *secret != config.header_secret) {
      return absl::PermissionDeniedError(
          "the X-IDENTITY-HEADER header is missing or does not match "
          "IDENTITY_HEADER");
    }
    if (const std::string* res = Find(r.query, "resource")) resource = *res;
  } else if (r.method == "POST") {
    const std::string* meta = Find(r.headers, "metadata");
    if (meta == nullptr || *meta != "true") {
      return absl::PermissionDeniedError(
          "the legacy MSI endpoint requires 'Metadata: true'");
    }
    ASSIGN_OR_RETURN(auto form, ParseFormBody(r.body));
    if (const std::string* res = Find(form, "resource")) resource = *res;
    if (resource.empty()) {
      if (const std::string* res = Find(r.query, "resource")) resource = *res;
    }
  } else {
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
  ASSIGN_OR_RETURN(std::string token, IssueToken(sign, config.key_id, c));
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
