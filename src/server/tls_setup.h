// keyferryd's TLS material: the operator's certificate, or the one its own
// private CA issues for the vault hosts (http/tls_certs.h), and the CA
// bundle clients trust (`keyferryd ca`).
#ifndef KEYFERRY_SERVER_TLS_SETUP_H_
#define KEYFERRY_SERVER_TLS_SETUP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace keyferry::server {

// ServerTls names the listeners' certificate and key files, the CA clients
// must trust (empty for the operator's own certificate) and the names the
// generated certificate covers (empty for the operator's).
struct ServerTls {
  std::string cert, key, ca;
  std::vector<std::string> names;
};

// PrepareTls returns the operator's tls-cert/tls-key (the key file's mode
// checked, as for master.key), or else the certificate of keyferryd's own
// private CA in <data-dir>/tls, made or renewed for the vault hosts, the
// domain and tls-names.
absl::StatusOr<ServerTls> PrepareTls(const Config& c);

// The system's CA bundle on Debian (ca-certificates).
inline constexpr char kSystemCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";

// WriteCaBundle writes `system_bundle`'s certificates followed by
// `ca_pem`'s to `path` (atomically, mode 0644), so one file serves
// REQUESTS_CA_BUNDLE or NODE_EXTRA_CA_CERTS-style settings that replace the
// system's trust. Returns how many certificates came from the system
// bundle. NotFound when a file is missing; InvalidArgument when `ca_pem`
// holds no certificate.
absl::StatusOr<int> WriteCaBundle(const std::string& path,
                                  const std::string& ca_pem,
                                  const std::string& system_bundle);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_TLS_SETUP_H_
