// The web console's static files (docs/console.md): HTML, CSS and ES
// modules from the repository's console/ directory, embedded in keyferryd
// at build time (cmake/embed_files.cmake), served under /console/ with a
// strict Content-Security-Policy. Nothing is read from disk at run time.
// All functions are thread-safe (the files are constant).
#ifndef KEYFERRY_HTTP_CONSOLE_FILES_H_
#define KEYFERRY_HTTP_CONSOLE_FILES_H_

#include <span>
#include <string_view>

#include "http/message.h"

namespace keyferry::http {

// EmbeddedFile is one console file: its plain name ("app.js") and bytes.
struct EmbeddedFile {
  std::string_view name;
  std::string_view data;
};

// EmbeddedConsoleFiles returns the files built into this binary (defined
// by the generated console_assets.cc).
std::span<const EmbeddedFile> EmbeddedConsoleFiles();

// kConsoleCsp is the Content-Security-Policy of every console answer: only
// this origin's scripts, styles, images and connections; no inline script
// or style, no eval, no framing, no plugins, no <base>.
inline constexpr std::string_view kConsoleCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// IsConsoleFilePath tells whether `request` asks for a console file:
// path /console, /console/ or /console/<name> (any method), but not the
// console's JSON API under /console/api/.
bool IsConsoleFilePath(const Request& request);

// ContentTypeOf returns the Content-Type for a file name by its extension
// (html, js, mjs, css, svg, json, png, txt; UTF-8 for text), or
// "application/octet-stream".
std::string_view ContentTypeOf(std::string_view name);

// AddConsoleSecurityHeaders sets the CSP above, X-Frame-Options: DENY,
// X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and
// Cross-Origin-Opener-Policy / Cross-Origin-Resource-Policy: same-origin.
void AddConsoleSecurityHeaders(Response& response);

// ServeConsoleFile answers a request IsConsoleFilePath accepts, from
// `files`: /console and /console/ give index.html; /console/<name> the
// file of exactly that name (names are looked up, never joined to a
// path, so "..", "%2F" or an absolute name cannot reach anything else).
// GET and HEAD only (405 with Allow otherwise); 404 NotFound for an
// unknown name. Every answer carries AddConsoleSecurityHeaders and
// "Cache-Control: no-cache" (the files change with the binary: a browser
// asks again rather than run an old console against a new server).
Response ServeConsoleFile(std::span<const EmbeddedFile> files,
                          const Request& request);

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_CONSOLE_FILES_H_
