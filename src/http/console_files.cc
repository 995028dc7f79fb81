#include "http/console_files.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "http/azure.h"

namespace keyferry::http {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

Response WithConsoleHeaders(Response r) {
  AddConsoleSecurityHeaders(r);
  r.headers.Set("Cache-Control", "no-cache");
  return r;
}

}  // namespace

bool IsConsoleFilePath(const Request& request) {
  const std::vector<std::string>& p = request.path_segments;
  if (p.empty() || p[0] != "console") return false;
  if (p.size() == 1) return true;
  if (p.size() == 2) return p[1] != "api";
  // /console/<name>/... is no file; /console/api/... is the JSON API.
  return p[1] != "api";
}

std::string_view ContentTypeOf(std::string_view name) {
  struct Type {
    std::string_view ext;
    std::string_view type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".json", "application/json; charset=utf-8"},
      {".png", "image/png"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const Type& t : kTypes) {
    if (EndsWith(name, t.ext)) return t.type;
  }
  return "application/octet-stream";
}

void AddConsoleSecurityHeaders(Response& r) {
  r.headers.Set("Content-Security-Policy", kConsoleCsp);
  r.headers.Set("X-Frame-Options", "DENY");
  r.headers.Set("X-Content-Type-Options", "nosniff");
  r.headers.Set("Referrer-Policy", "no-referrer");
  r.headers.Set("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.Set("Cross-Origin-Resource-Policy", "same-origin");
}

Response ServeConsoleFile(std::span<const EmbeddedFile> files,
                          const Request& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    Response r = AzureError(405, "MethodNotAllowed",
                            "The console's files are read with GET.");
    r.headers.Set("Allow", "GET, HEAD");
    return WithConsoleHeaders(std::move(r));
  }
  const std::vector<std::string>& p = request.path_segments;
  std::string_view name = "index.html";
  if (p.size() == 2 && !p[1].empty()) name = p[1];
  if (p.size() > 2) name = "";  // no subdirectories
  auto it = std::find_if(files.begin(), files.end(),
                         [&](const EmbeddedFile& f) { return f.name == name; });
  if (name.empty() || it == files.end()) {
    return WithConsoleHeaders(
        AzureError(404, "NotFound", "The console has no such file."));
  }
  Response r;
  r.status = 200;
  r.headers.Set("Content-Type", ContentTypeOf(it->name));
  r.body = std::string(it->data);
  AddStandardHeaders(r);
  return WithConsoleHeaders(std::move(r));
}

}  // namespace keyferry::http
