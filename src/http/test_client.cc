#include "http/test_client.h"

// Boost 1.74's asio/awaitable.hpp needs <utility> first (see server.cc).
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

namespace keyferry::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct TestClient::Impl {
  asio::io_context ioc;
  asio::ssl::context ctx{asio::ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<tcp::socket>> stream;
  beast::flat_buffer buffer;
};

TestClient::TestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TestClient::~TestClient() = default;

namespace {

// RunFor runs `ioc` until the one operation started on `stream` completes
// (`done`) or `timeout` passes; then cancels it and waits for its handler.
// Returns whether it completed in time.
bool RunFor(asio::io_context& ioc, beast::ssl_stream<tcp::socket>& stream,
            const bool& done, std::chrono::milliseconds timeout) {
  ioc.restart();
  ioc.run_for(timeout);
  if (done) return true;
  beast::error_code ignored;
  beast::get_lowest_layer(stream).cancel(ignored);
  ioc.restart();
  ioc.run();
  return false;
}

ClientResponse ToClientResponse(bhttp::response<bhttp::string_body>&& res) {
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    out.headers.Add(
        std::string_view(f.name_string().data(), f.name_string().size()),
        std::string_view(f.value().data(), f.value().size()));
  }
  out.body = std::move(res.body());
  out.keep_alive = res.keep_alive();
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestClient>> TestClient::Connect(
    uint16_t port, const ClientOptions& options) {
  auto impl = std::make_unique<Impl>();
  SSL_CTX* ctx = impl->ctx.native_handle();
  if (options.min_version != 0) {
    SSL_CTX_set_min_proto_version(ctx, options.min_version);
  }
  if (options.max_version != 0) {
    SSL_CTX_set_max_proto_version(ctx, options.max_version);
  }
  if (!options.cipher_list.empty()) {
    SSL_CTX_set_cipher_list(ctx, options.cipher_list.c_str());
  }
  if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) !=
      1) {
    return absl::InvalidArgumentError("cannot load CA file");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  impl->stream =
      std::make_unique<beast::ssl_stream<tcp::socket>>(impl->ioc, impl->ctx);
  SSL* ssl = impl->stream->native_handle();
  SSL_set_tlsext_host_name(ssl, options.server_name.c_str());
  SSL_set1_host(ssl, options.server_name.c_str());
  beast::error_code ec;
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  beast::get_lowest_layer(*impl->stream).connect(ep, ec);
  if (ec) return absl::UnavailableError(ec.message());
  impl->stream->handshake(asio::ssl::stream_base::client, ec);
  if (ec) return absl::PermissionDeniedError(ec.message());
  return std::unique_ptr<TestClient>(new TestClient(std::move(impl)));
}

absl::Status TestClient::Send(
    std::string_view method, std::string_view target, std::string_view host,
    std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string req = absl::StrCat(std::string(method), " ", std::string(target),
                                 " HTTP/1.1\r\nHost: ", std::string(host),
                                 "\r\nContent-Length: ", body.size(), "\r\n");
  for (const auto& [n, v] : headers) absl::StrAppend(&req, n, ": ", v, "\r\n");
  absl::StrAppend(&req, "\r\n", std::string(body));
  return SendRaw(req);
}

absl::Status TestClient::SendRaw(std::string_view bytes) {
  beast::error_code ec;
  asio::write(*impl_->stream, asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec) return absl::UnavailableError(ec.message());
  return absl::OkStatus();
}

absl::StatusOr<ClientResponse> TestClient::Read(bool to_head) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.skip(to_head);
  beast::error_code ec;
  bhttp::read(*impl_->stream, impl_->buffer, parser, ec);
  if (ec) return absl::UnavailableError(ec.message());
  return ToClientResponse(parser.release());
}

absl::StatusOr<ClientResponse> TestClient::ReadWithin(
    std::chrono::milliseconds timeout, bool to_head) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.skip(to_head);
  bool done = false;
  beast::error_code result;
  bhttp::async_read(*impl_->stream, impl_->buffer, parser,
                    [&](beast::error_code ec, size_t) {
                      done = true;
                      result = ec;
                    });
  if (!RunFor(impl_->ioc, *impl_->stream, done, timeout)) {
    return absl::DeadlineExceededError("no response in time");
  }
  if (result) return absl::UnavailableError(result.message());
  return ToClientResponse(parser.release());
}

absl::Status TestClient::WaitForClose(std::chrono::milliseconds timeout) {
  if (impl_->buffer.size() > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        impl_->buffer.size(), " unread bytes from the server before close"));
  }
  char byte[256];
  bool done = false;
  beast::error_code result;
  size_t got = 0;
  impl_->stream->async_read_some(asio::buffer(byte),
                                 [&](beast::error_code ec, size_t n) {
                                   done = true;
                                   result = ec;
                                   got = n;
                                 });
  if (!RunFor(impl_->ioc, *impl_->stream, done, timeout)) {
    return absl::DeadlineExceededError("the connection is still open");
  }
  if (got > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the server sent ", got,
                     " more bytes: ", absl::string_view(byte, got)));
  }
  return absl::OkStatus();  // eof, stream_truncated or reset: closed
}

absl::StatusOr<ClientResponse> TestClient::Call(std::string_view method,
                                                std::string_view target,
                                                std::string_view host,
                                                std::string_view body) {
  if (absl::Status s = Send(method, target, host, body); !s.ok()) return s;
  return Read();
}

}  // namespace keyferry::http::testing
