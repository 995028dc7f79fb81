#include "http/keys_render.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/strings.h"

namespace keyferry::http::keys {
namespace {

using json = nlohmann::json;

bool IsHsmKty(std::string_view kty) {
  return kty.size() > 4 && kty.substr(kty.size() - 4) == "-HSM";
}

json KeyJson(const store::KeyVersion& k, std::string_view url) {
  json key = json::object();
  if (!k.public_jwk.empty()) {
    absl::StatusOr<json> parsed = ParseJson(k.public_jwk);
    if (parsed.ok() && parsed->is_object()) key = std::move(*parsed);
  }
  key["kid"] = Kid(k, url);
  key["kty"] = k.kty;
  key["key_ops"] = k.key_ops;
  return key;
}

json Attributes(const View& view, const store::KeyVersion& k) {
  const vault::VaultOptions& o = view.vault.options();
  json a = {{"enabled", k.enabled},
            {"created", k.created},
            {"updated", k.updated},
            {"recoveryLevel", o.recovery_level}};
  if (k.not_before) a["nbf"] = *k.not_before;
  if (k.expires) a["exp"] = *k.expires;
  if (view.api.level >= ApiLevel::k7_1) {
    a["recoverableDays"] = o.recoverable_days;
  }
  if (view.api.level >= ApiLevel::k7_3) a["exportable"] = k.exportable;
  if (view.api.level >= ApiLevel::k7_5 && IsHsmKty(k.kty)) {
    a["hsmPlatform"] = view.vault.custody().Platform();
  }
  return a;
}

void AddTags(json& out, const store::KeyVersion& k) {
  if (k.tags_json.empty() || k.tags_json == "{}") return;
  absl::StatusOr<json> t = ParseJson(k.tags_json);
  if (t.ok()) out["tags"] = std::move(*t);
}

}  // namespace

std::string VaultUrl(const Request& r) {
  std::string u = "https://" + r.host;
  if (r.host_port) absl::StrAppend(&u, ":", *r.host_port);
  return u;
}

std::string Kid(const store::KeyVersion& k, std::string_view url) {
  return absl::StrCat(Sv(url), "/keys/", k.name, "/", k.version);
}

json KeyBundle(const View& view, const store::KeyVersion& k) {
  json b = {{"key", KeyJson(k, view.vault_url)},
            {"attributes", Attributes(view, k)}};
  AddTags(b, k);
  if (k.managed) b["managed"] = true;
  return b;
}

json KeyItem(const View& view, const store::KeyVersion& k, bool with_version) {
  std::string kid = absl::StrCat(view.vault_url, "/keys/", k.name);
  if (with_version) absl::StrAppend(&kid, "/", k.version);
  json i = {{"kid", kid}, {"attributes", Attributes(view, k)}};
  AddTags(i, k);
  if (k.managed) i["managed"] = true;
  return i;
}

void AddDeleted(const View& view, const store::KeyName& n, json& out) {
  out["recoveryId"] = absl::StrCat(view.vault_url, "/deletedkeys/", n.name);
  out["deletedDate"] = n.deleted_date;
  out["scheduledPurgeDate"] = n.scheduled_purge_date;
}

json DeletedKeyBundle(const View& view, const vault::DeletedKey& d) {
  json out = KeyBundle(view, d.latest);
  AddDeleted(view, d.name, out);
  return out;
}

json ListPage(const View& view, json items, std::string_view path,
              const std::optional<std::string>& next, int limit,
              std::string_view prefix) {
  json out = {{"value", std::move(items)}, {"nextLink", nullptr}};
  if (next) {
    out["nextLink"] = absl::StrCat(
        view.vault_url, Sv(path), "?api-version=", view.api.text,
        "&$skiptoken=", Base64UrlEncode(AsBytes(*next)), "&maxresults=", limit,
        prefix.empty() ? "" : "&prefix=", Sv(prefix));
  }
  return out;
}

Answer Answer::Json(const json& j) { return Answer{200, j.dump(), {}}; }

Answer Answer::About(const json& j, const store::KeyVersion& k) {
  return Answer{200, j.dump(), std::make_pair(k.name, k.version)};
}

Answer Answer::Serialized(std::string json) {
  return Answer{200, std::move(json), {}};
}

Answer Answer::NoContent() { return Answer{204, "", {}}; }

Response ErrorResponse(const absl::Status& status) {
  return StatusResponse(status);
}

Response Render(const absl::StatusOr<Answer>& answer) {
  if (!answer.ok()) return ErrorResponse(answer.status());
  Response r;
  if (answer->status == 204) {
    r.status = 204;
    AddStandardHeaders(r);
  } else {
    r = JsonResponse(answer->status, answer->body);
  }
  if (answer->about.has_value()) {
    r.audit.emplace();
    r.audit->key = answer->about->first;
    r.audit->version = answer->about->second;
  }
  return r;
}

}  // namespace keyferry::http::keys
