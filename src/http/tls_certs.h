// Local TLS material for keyferryd: a private CA and a server certificate it
// signs, created on first start and reused while they still fit. Files in
// `dir` (see docs/http-server.md):
//   ca.pem          CA certificate (ECDSA P-256, 10 years, CA:TRUE,
//   keyCertSign) ca-key.pem      CA private key, PKCS#8 PEM, mode 0600 (to
//   reissue the leaf) server.pem      leaf then CA certificate (the chain the
//   server sends) server-key.pem  leaf private key, PKCS#8 PEM, mode 0600
// All files are written with WriteFileAtomic. Not thread-safe across
// processes sharing `dir`.
#ifndef KEYFERRY_HTTP_TLS_CERTS_H_
#define KEYFERRY_HTTP_TLS_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::http {

struct TlsCertOptions {
  std::string dir = {};  // created (0700) when missing
  // vault_hosts are full host names such as "myvault.localhost".
  std::vector<std::string> vault_hosts = {};
  // extra_names are further DNS names or IP addresses for the leaf.
  std::vector<std::string> extra_names = {};
};

struct TlsFiles {
  std::string ca_pem, ca_key_pem, server_pem, server_key_pem;  // paths
  bool ca_issued = false;    // a new CA was created by this call
  bool leaf_issued = false;  // a new leaf was created by this call
};

// TlsFilesIn returns the four paths inside `dir` (flags false).
TlsFiles TlsFilesIn(const std::string& dir);

// ServerNames returns the leaf's required SANs: "localhost", "127.0.0.1",
// "::1", then `vault_hosts` and `extra_names` (lower-cased DNS names,
// duplicates dropped).
std::vector<std::string> ServerNames(const TlsCertOptions& options);

// EnsureTlsCertificates makes sure `options.dir` holds a usable CA and leaf.
// The CA is reused when ca.pem and ca-key.pem parse, match and stay valid for
// 30 more days; otherwise a new CA is made. The leaf is reused when it is
// signed by that CA, matches server-key.pem, stays valid for 30 more days and
// its SANs cover ServerNames(options); otherwise a new leaf (825 days) is
// issued by the same CA. InvalidArgument for a name that is neither a DNS
// name nor an IP address; Internal/NotFound-style errors from OpenSSL or the
// file system otherwise. Private keys never leave zeroizing buffers.
absl::StatusOr<TlsFiles> EnsureTlsCertificates(const TlsCertOptions& options);

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_TLS_CERTS_H_
