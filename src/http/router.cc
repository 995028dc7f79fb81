#include "http/router.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/strings.h"
#include "http/azure.h"

namespace keyferry::http {

std::string_view RouteContext::Param(std::string_view name) const {
  for (const auto& [n, v] : params) {
    if (n == name) return v;
  }
  return {};
}

Router::Router(RouterOptions options) : options_(std::move(options)) {
  options_.domain = absl::AsciiStrToLower(Sv(options_.domain));
  for (auto& [host, vault] : options_.aliases) {
    host = absl::AsciiStrToLower(Sv(host));
    vault = absl::AsciiStrToLower(Sv(vault));
  }
}

const std::pair<std::string, std::string>* Router::AliasOf(
    const Request& request) const {
  for (const auto& alias : options_.aliases) {
    if (EqualsIgnoreCase(alias.first, request.host)) return &alias;
  }
  return nullptr;
}

absl::Status Router::Add(std::string_view method, std::string_view pattern,
                         RouteHandler handler, RouteScope scope) {
  if (pattern.empty() || pattern.front() != '/') {
    return absl::InvalidArgumentError("route pattern must start with '/'");
  }
  Route route{std::string(method), {}, std::move(handler), scope};
  std::string_view rest = pattern.substr(1);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view text = rest.substr(0, slash);
    Segment seg;
    if (!text.empty() && text.front() == '{') {
      if (text.size() < 3 || text.back() != '}') {
        return absl::InvalidArgumentError(
            absl::StrCat("bad capture in route pattern ", Sv(pattern)));
      }
      text = text.substr(1, text.size() - 2);
      seg.capture = true;
      if (text.back() == '?') {
        seg.optional = true;
        text.remove_suffix(1);
      }
      seg.text = std::string(text);
    } else {
      seg.text = absl::AsciiStrToLower(Sv(text));
    }
    if (!route.segments.empty() && route.segments.back().optional) {
      return absl::InvalidArgumentError(absl::StrCat(
          "optional capture must be last in route pattern ", Sv(pattern)));
    }
    route.segments.push_back(std::move(seg));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  routes_.push_back(std::move(route));
  return absl::OkStatus();
}

bool Router::Match(const Route& route, const std::vector<std::string>& path,
                   RouteContext* ctx) {
  const auto& segs = route.segments;
  bool optional_absent =
      !segs.empty() && segs.back().optional && path.size() + 1 == segs.size();
  if (path.size() != segs.size() && !optional_absent) return false;
  std::vector<std::pair<std::string, std::string>> params;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (i == path.size()) {  // only the optional capture is left
      params.emplace_back(segs[i].text, "");
      break;
    }
    if (segs[i].capture) {
      if (path[i].empty() && !segs[i].optional) return false;
      params.emplace_back(segs[i].text, path[i]);
    } else if (!EqualsIgnoreCase(segs[i].text, path[i])) {
      return false;
    }
  }
  ctx->params = std::move(params);
  return true;
}

std::optional<std::string> Router::VaultOf(const Request& request) const {
  if (const auto* alias = AliasOf(request)) return alias->second;
  const std::string& host = request.host;
  const std::string& domain = options_.domain;
  if (host.size() <= domain.size() + 1 || !host.ends_with(domain) ||
      host[host.size() - domain.size() - 1] != '.') {
    return std::nullopt;
  }
  std::string vault = host.substr(0, host.size() - domain.size() - 1);
  if (vault.size() < 3 || vault.size() > 24 ||
      vault.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
          std::string::npos) {
    return std::nullopt;
  }
  return vault;
}

std::string Router::ChallengeResource(const Request& request) const {
  std::string parent = options_.domain;
  if (const auto* alias = AliasOf(request)) {
    const std::string& host = alias->first;
    const bool in_domain =
        host.size() > parent.size() + 1 && host.ends_with(parent) &&
        host[host.size() - parent.size() - 1] == '.';
    if (!in_domain) parent = host.substr(host.find('.') + 1);
  }
  std::string r = "https://" + parent;
  if (request.host_port.has_value()) {
    absl::StrAppend(&r, ":", *request.host_port);
  }
  return r;
}

Response Router::Handle(const Request& request) const {
  // First the path as sent; if no route takes it with this method and it
  // ends in '/', the path without the empty last segment.
  std::vector<std::string> path = request.path_segments;
  std::vector<std::string> allowed;  // methods of routes matching the path
  const Route* route = nullptr;
  RouteContext ctx;
  for (int attempt = 0; attempt < 2 && route == nullptr; ++attempt) {
    if (attempt == 1) {
      if (path.size() < 2 || !path.back().empty()) break;
      path.pop_back();
    }
    for (const Route& r : routes_) {
      if (!Match(r, path, &ctx)) continue;
      if (r.method == request.method) {
        route = &r;
        break;
      }
      if (std::find(allowed.begin(), allowed.end(), r.method) ==
          allowed.end()) {
        allowed.push_back(r.method);
      }
    }
  }
  if (route == nullptr && allowed.empty()) {
    return AzureError(404, "NotFound",
                      absl::StrCat("No operation matches ", Sv(request.method),
                                   " ", Sv(request.target), "."));
  }
  if (route == nullptr) {
    Response res =
        AzureError(405, "MethodNotAllowed",
                   absl::StrCat("The method ", Sv(request.method),
                                " is not allowed on this resource."));
    res.headers.Set("Allow", absl::StrJoin(allowed, ", "));
    return res;
  }
  if (route->scope == RouteScope::kVault) {
    std::optional<std::string> vault = VaultOf(request);
    if (!vault.has_value() ||
        (options_.vault_exists && !options_.vault_exists(*vault))) {
      return AzureError(
          404, "VaultNotFound",
          absl::StrCat("No vault is served at host ", Sv(request.host), "."));
    }
    ctx.vault = std::move(*vault);
  }
  return route->handler(request, ctx);
}

}  // namespace keyferry::http
