// TestClient: a blocking HTTPS/1.1 client for http_test, on Beast over
// OpenSSL. Verifies the server certificate against a CA file and a host
// name; can be pinned to old TLS versions to test refusal. Test-only.
#ifndef KEYFERRY_HTTP_TEST_CLIENT_H_
#define KEYFERRY_HTTP_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "http/message.h"

namespace keyferry::http::testing {

struct ClientOptions {
  std::string ca_file = {};      // verification on, against this CA
  std::string server_name = {};  // SNI and the name the certificate must carry
  int min_version = 0;           // e.g. TLS1_1_VERSION; 0 keeps the default
  int max_version = 0;
  std::string cipher_list = {};  // e.g. "DEFAULT:@SECLEVEL=0" for TLS 1.1
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  bool keep_alive = false;
};

class TestClient {
 public:
  // Connect opens TCP to 127.0.0.1:`port` and completes the TLS handshake.
  // Unavailable when TCP fails; PermissionDenied (message from OpenSSL) when
  // the handshake fails.
  static absl::StatusOr<std::unique_ptr<TestClient>> Connect(
      uint16_t port, const ClientOptions& options);
  ~TestClient();

  // Send writes a request with Content-Length (and the given extra headers).
  absl::Status Send(
      std::string_view method, std::string_view target, std::string_view host,
      std::string_view body = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {});
  // SendRaw writes bytes as they are.
  absl::Status SendRaw(std::string_view bytes);
  // Read reads one response; `to_head` says it answers a HEAD request (no
  // body follows whatever Content-Length says). Unavailable when the
  // connection is closed.
  absl::StatusOr<ClientResponse> Read(bool to_head = false);
  // ReadWithin is Read bounded by `timeout`: DeadlineExceeded when no whole
  // response arrived in time (the connection is then unusable).
  absl::StatusOr<ClientResponse> ReadWithin(std::chrono::milliseconds timeout,
                                            bool to_head = false);
  // WaitForClose waits up to `timeout` for the server to end the connection
  // (TLS close_notify, or TCP FIN or reset). OK when it did with no byte
  // sent before it; FailedPrecondition when response bytes came instead
  // (or were left unread); DeadlineExceeded when neither happened in time.
  absl::Status WaitForClose(std::chrono::milliseconds timeout);
  // Call is Send then Read.
  absl::StatusOr<ClientResponse> Call(std::string_view method,
                                      std::string_view target,
                                      std::string_view host,
                                      std::string_view body = "");

 private:
  struct Impl;
  explicit TestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyferry::http::testing

#endif  // KEYFERRY_HTTP_TEST_CLIENT_H_
