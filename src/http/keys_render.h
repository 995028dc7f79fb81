// Response rendering of the keys API: the JSON shapes of KeyBundle, KeyItem,
// DeletedKeyBundle and list pages (docs/api.md), the Answer a handler
// returns, and the one place where an Answer or an error status becomes an
// http::Response (the Azure error envelope, with the Azure code on
// Response::error_code). Pure functions; thread-safe.
#ifndef KEYFERRY_HTTP_KEYS_RENDER_H_
#define KEYFERRY_HTTP_KEYS_RENDER_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "http/azure.h"
#include "http/message.h"
#include "store/key_store.h"
#include "vault/key_vault.h"

namespace keyferry::http::keys {

// View is what a rendering depends on besides the key: the vault (its
// recovery settings and custody platform), the request's api-version (newer
// versions show more attributes) and the vault URL the client addressed.
struct View {
  const vault::KeyVault& vault;
  ApiVersion api;
  std::string vault_url;  // https://host[:port]
};

// VaultUrl is "https://host[:port]" as `request` addressed us.
std::string VaultUrl(const Request& request);

// Kid is the key identifier of version `k` under vault URL `url`.
std::string Kid(const store::KeyVersion& k, std::string_view url);

// KeyBundle is {"key": JWK with kid, "attributes", "tags"?, "managed"?}.
nlohmann::json KeyBundle(const View& view, const store::KeyVersion& k);

// KeyItem is a list entry: {"kid", "attributes", "tags"?, "managed"?}; the
// kid names the version only `with_version` (lists of versions).
nlohmann::json KeyItem(const View& view, const store::KeyVersion& k,
                       bool with_version);

// AddDeleted adds recoveryId, deletedDate and scheduledPurgeDate of the
// deleted key `name` to a bundle or item.
void AddDeleted(const View& view, const store::KeyName& name,
                nlohmann::json& out);

// DeletedKeyBundle is KeyBundle of the latest version plus AddDeleted.
nlohmann::json DeletedKeyBundle(const View& view, const vault::DeletedKey& d);

// ListPage is {"value": `items`, "nextLink": null or a link to the page
// after `next` under `path` (e.g. "/keys"), of `limit` items}; a non-empty
// `prefix` (GET /keys?prefix=, keys_handlers.h) is carried into the link.
nlohmann::json ListPage(const View& view, nlohmann::json items,
                        std::string_view path,
                        const std::optional<std::string>& next, int limit,
                        std::string_view prefix = "");

// Answer is what a keys API handler returns on success.
struct Answer {
  int status = 200;
  std::string body;  // serialized JSON; empty for 204
  // The key name and version the answer is about (for a create, import,
  // rotate or restore: the version made), for the audit note; unset when
  // the route's own parameters name it.
  std::optional<std::pair<std::string, std::string>> about;

  // Json is 200 with `j`.
  static Answer Json(const nlohmann::json& j);
  // About is 200 with `j`, about version `k`.
  static Answer About(const nlohmann::json& j, const store::KeyVersion& k);
  // Serialized is 200 with `json`, already serialized.
  static Answer Serialized(std::string json);
  // NoContent is 204 without a body.
  static Answer NoContent();
};

// ErrorResponse is the Azure error answer for a non-OK `status`: HTTP status
// and code by HttpStatusFor / AzureCodeFor unless the status carries its
// own code (base/error_code.h); Response::error_code is always set.
Response ErrorResponse(const absl::Status& status);

// Render turns a handler's result into the Response: the Answer's JSON
// (with the audit note naming the key it is about, when set) or
// ErrorResponse.
Response Render(const absl::StatusOr<Answer>& answer);

}  // namespace keyferry::http::keys

#endif  // KEYFERRY_HTTP_KEYS_RENDER_H_
