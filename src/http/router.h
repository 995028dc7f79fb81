// Router: dispatches requests by method and path pattern, and resolves the
// vault from the Host header. Build it (Add) before serving; Handle is then
// thread-safe because it only reads.
//
// Patterns are '/'-separated segments: literals match case-insensitively
// ("wrapkey" matches "wrapKey"), "{name}" captures one segment, and a final
// "{name?}" may also be empty or absent, so "/keys/{name}/{version?}" serves
// GET /keys/k, /keys/k/ (latest) and /keys/k/<v>. A request path that ends in
// '/' and matches no pattern is retried without the empty last segment.
//
// Host resolution: "<vault>.<domain>[:port]" names vault <vault> (lower-cased;
// 3-24 letters, digits, '-'), and so does a host named in `aliases`. Vault
// routes answer 404 VaultNotFound when the host names no vault or
// `vault_exists` rejects it. Service routes (for example ARM's /subscriptions
// on "<domain>") accept any host.
#ifndef KEYFERRY_HTTP_ROUTER_H_
#define KEYFERRY_HTTP_ROUTER_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "http/message.h"

namespace keyferry::http {

// RouteContext carries what the router extracted for one request.
struct RouteContext {
  std::string vault;  // lower-case vault name; empty for service routes
  std::vector<std::pair<std::string, std::string>> params;  // decoded captures

  // Param returns the capture named `name` ("" when absent or empty).
  std::string_view Param(std::string_view name) const;
};

using RouteHandler =
    std::function<Response(const Request&, const RouteContext&)>;

enum class RouteScope { kVault, kService };

struct RouterOptions {
  // domain is the parent of every vault host: vaults are "<vault>.<domain>".
  std::string domain = "localhost";
  // vault_exists, when set, says whether a vault name is served; unset means
  // every well-formed name is. Called concurrently.
  std::function<bool(std::string_view vault)> vault_exists = {};
  // aliases are other host names of vaults: {host, vault}, host without a
  // port, compared case-insensitively. A host outside `domain` gets its own
  // parent as challenge resource (ChallengeResource), since the SDKs demand
  // the resource be a strict parent of the host they call.
  std::vector<std::pair<std::string, std::string>> aliases = {};
};

class Router {
 public:
  explicit Router(RouterOptions options);

  // Add registers `handler` for `method` (exact, upper case) and `pattern`
  // (see above). InvalidArgument for a pattern that does not start with '/',
  // an unclosed capture, or "{x?}" that is not the last segment.
  absl::Status Add(std::string_view method, std::string_view pattern,
                   RouteHandler handler, RouteScope scope = RouteScope::kVault);

  // Handle dispatches `request`. Without a matching path: 404 NotFound. With
  // a matching path but no route for the method: 405 MethodNotAllowed with
  // an Allow header. Vault route on a host naming no served vault: 404
  // VaultNotFound. All errors use the Azure envelope (azure.h).
  Response Handle(const Request& request) const;

  // VaultOf returns the vault named by the request's host (an alias's
  // vault, or <vault> of "<vault>.<domain>" with a well-formed name), or
  // nullopt. It does not consult `vault_exists`.
  std::optional<std::string> VaultOf(const Request& request) const;

  // ChallengeResource returns "https://<domain>[:port]" with the port of the
  // request's Host header: the `resource` for ChallengeResponse, a strict
  // parent of the vault host as the SDKs demand. For an alias outside
  // `domain` the parent is the alias's own ("kv.test.internal" gives
  // "https://test.internal[:port]").
  std::string ChallengeResource(const Request& request) const;

 private:
  struct Segment {
    std::string text;  // lower-case literal, or capture name
    bool capture = false;
    bool optional = false;
  };
  struct Route {
    std::string method;
    std::vector<Segment> segments;
    RouteHandler handler;
    RouteScope scope;
  };

  static bool Match(const Route& route, const std::vector<std::string>& path,
                    RouteContext* ctx);

  // AliasOf returns the alias entry whose host is the request's, or null.
  const std::pair<std::string, std::string>* AliasOf(
      const Request& request) const;

  RouterOptions options_;
  std::vector<Route> routes_;
};

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_ROUTER_H_
