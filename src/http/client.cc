#include "http/client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keyferry::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct Url {
  std::string host, port, target;
};

absl::StatusOr<Url> ParseUrl(const std::string& url) {
  const std::string kScheme = "https://";
  if (!absl::StartsWith(url, kScheme)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an https:// URL: ", url));
  }
  std::string rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  Url u;
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
    u.port = "443";
  }
  if (u.host.empty() || u.port.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("bad URL: ", url));
  }
  return u;
}

}  // namespace

absl::StatusOr<CallResult> HttpsCall(const CallOptions& o) {
  absl::StatusOr<Url> url = ParseUrl(o.url);
  if (!url.ok()) return url.status();
  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  SSL_CTX* c = ctx.native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  if (o.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(c) != 1) {
      return absl::InternalError("cannot load the system's trusted CAs");
    }
  } else if (SSL_CTX_load_verify_locations(c, o.ca_file.c_str(), nullptr) !=
             1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load CA file ", o.ca_file));
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  SSL* ssl = stream.native_handle();
  SSL_set_tlsext_host_name(ssl, url->host.c_str());
  SSL_set1_host(ssl, url->host.c_str());
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(
      o.connect_address.empty() ? url->host : o.connect_address, url->port, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", url->host, ": ", ec.message()));
  }
  auto& tcp_stream = beast::get_lowest_layer(stream);
  tcp_stream.expires_after(std::chrono::seconds(o.timeout_seconds));
  tcp_stream.connect(endpoints, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to ", url->host, ":", url->port, ": ", ec.message()));
  }
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("TLS with ", url->host, " failed: ", ec.message()));
  }
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(o.method),
                                         url->target, 11};
  req.set(bhttp::field::host, url->host + ":" + url->port);
  for (const auto& [n, v] : o.headers) req.set(n, v);
  if (!o.body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = o.body;
  }
  req.prepare_payload();
  bhttp::write(stream, req, ec);
  if (ec) return absl::UnavailableError(ec.message());
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buffer, res, ec);
  if (ec) return absl::UnavailableError(ec.message());
  return CallResult{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace keyferry::http
