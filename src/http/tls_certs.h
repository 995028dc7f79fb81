// Local TLS material for keyferryd: a private CA and a server certificate it
// signs, created on first start and reused while they still fit. Files in
// `dir` (see docs/http-server.md):
//   ca.pem          CA certificate (ECDSA P-256, 10 years, CA:TRUE
//                   pathlen:0, keyCertSign, Name Constraints)
//   ca-key.pem      CA private key, PKCS#8 PEM, mode 0600 (to reissue the
//                   leaf)
//   server.pem      leaf then CA certificate (the chain the server sends)
//   server-key.pem  leaf private key, PKCS#8 PEM, mode 0600
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
//
// A new CA carries a critical Name Constraints extension (RFC 5280
// §4.2.1.10) whose permitted subtrees are exactly the leaf's names: each IP
// address of ServerNames(options), and each DNS name not already inside
// another's subtree (a DNS subtree covers the name and every name with
// labels added on the left, so "localhost" covers "myvault.localhost"). A
// certificate this CA's key signs for any other name fails verification.
// basicConstraints has pathlen:0, so it cannot make a working sub-CA either.
//
// The CA is reused when ca.pem and ca-key.pem parse, match and stay valid for
// 30 more days, and its Name Constraints permit every name the leaf needs;
// a CA whose constraints are too narrow (the domain or the names changed) is
// replaced by a new one (logged: clients must trust the new ca.pem). A CA
// without Name Constraints (made before keyferry added them) is kept, since
// clients trust it, and a warning is logged at every start saying how to
// replace it. The leaf is reused when it is signed by that CA, matches
// server-key.pem, stays valid for 30 more days and its SANs cover
// ServerNames(options); otherwise a new leaf (825 days) is issued by the same
// CA.
//
// PermissionDenied (see CheckPrivateKeyFile), before any file in `dir` is
// read or written, when ca-key.pem or server-key.pem exists with access for
// group or others. InvalidArgument for a name that is neither a DNS name nor an
// IP address; Internal/NotFound-style errors from OpenSSL or the file system
// otherwise. Private keys never leave zeroizing buffers.
absl::StatusOr<TlsFiles> EnsureTlsCertificates(const TlsCertOptions& options);

// CheckPrivateKeyFile returns OK when `path` (a TLS private key: generated or
// the operator's tls-key) grants nothing to group or others (0600, 0400…).
// PermissionDenied "TLS private key file <path> is accessible to group or
// others (mode 0644); it must be 0600 or stricter" otherwise; NotFound when
// it cannot be stat'ed. Reads nothing from the file.
absl::Status CheckPrivateKeyFile(const std::string& path);

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_TLS_CERTS_H_
