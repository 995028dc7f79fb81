// X.509 certificates for keyferryd's local TLS material: a self-signed CA
// with Name Constraints, server certificates it issues, PEM files for both
// and for their private keys, and the checks that decide whether a stored
// certificate can be reused. The policy (which names, which files, when to
// reissue) lives in http/tls_certs.h; this file only builds and reads.
//
// Names are DNS names (IsDnsName) or textual IP addresses (IsIpAddress).
// Every function borrows its EVP_PKEY* arguments; returned values are owned
// by the caller. Certificates are signed with SHA-256.
#ifndef KEYFERRY_CRYPTO_X509_H_
#define KEYFERRY_CRYPTO_X509_H_

#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {

// IsIpAddress reports whether `name` is a textual IPv4 or IPv6 address.
bool IsIpAddress(std::string_view name);

// IsDnsName reports whether `name` is 1 to 253 characters drawn from
// lower-case letters, digits, '.', '-' and '*': what keyferry writes into a
// dNSName. Upper case is refused; callers lower-case first.
bool IsDnsName(std::string_view name);

// InDnsSubtree reports whether DNS name `name` lies in the RFC 5280
// §4.2.1.10 dNSName subtree `base`: equal to it, or `base` with labels added
// on the left ("a.b.localhost" is in "localhost", "xlocalhost" is not).
// Case-insensitive; an empty `base` contains every name.
bool InDnsSubtree(std::string_view name, std::string_view base);

// CertificateFields are the parts of a new certificate other than its
// extensions: subject "O=`organization`, CN=`common_name`", a random
// positive 16-byte serial number, notBefore one hour ago (clock skew) and
// notAfter `days` days from now.
struct CertificateFields {
  std::string organization = {};
  std::string common_name = {};
  int days = 0;
};

// NameConstraintsScope tells how a CA certificate's Name Constraints
// extension relates to a list of names (Certificate::ScopeFor).
enum class NameConstraintsScope {
  kUnconstrained,  // no Name Constraints extension at all
  kPermits,        // every name lies inside one of its permitted subtrees
  kTooNarrow,      // some name does not, or the extension is one keyferry
                   // does not write (excluded subtrees, no permitted
                   // subtrees, undecodable)
};

// Certificate owns one X.509 certificate. Movable, not copyable; a moved-from
// Certificate may only be destroyed or assigned to. The const methods only
// read the certificate and are safe to call from several threads at once.
class Certificate {
 public:
  // Certificate takes ownership of `cert`, which must not be null.
  explicit Certificate(X509Ptr cert);

  // FromPem parses the first "-----BEGIN CERTIFICATE-----" block of `pem`.
  // InvalidArgument "no certificate in <what>: <reason>" when there is none.
  static absl::StatusOr<Certificate> FromPem(std::string_view pem,
                                             std::string_view what = "PEM");
  // ReadPemFile is FromPem on the contents of the file at `path` (for a
  // chain file, the first certificate, i.e. the leaf). NotFound when the
  // file cannot be read; InvalidArgument "no certificate in <path>: …".
  static absl::StatusOr<Certificate> ReadPemFile(const std::string& path);

  // ToPem returns the certificate as one PEM block ending in a newline.
  // Internal when OpenSSL fails to encode it.
  absl::StatusOr<std::string> ToPem() const;

  // ValidFor reports whether the certificate is valid now (notBefore has
  // passed) and still `days` days from now (notAfter is later than that).
  bool ValidFor(int days) const;
  // IsCa reports whether the certificate may sign others (OpenSSL's
  // X509_check_ca: basicConstraints CA:TRUE or an old-style CA).
  bool IsCa() const;
  // MatchesKey reports whether private key `key` belongs to this
  // certificate's public key.
  bool MatchesKey(EVP_PKEY* key) const;
  // SignedBy reports whether the certificate's signature verifies with the
  // public half of `issuer_key`.
  bool SignedBy(EVP_PKEY* issuer_key) const;
  // HasDnsSan reports whether a subjectAltName dNSName equals `name`
  // (case-insensitively; a wildcard entry is compared as text, not matched).
  bool HasDnsSan(std::string_view name) const;
  // HasIpSan reports whether a subjectAltName iPAddress equals textual IP
  // address `ip`. False when `ip` is not an IP address.
  bool HasIpSan(const std::string& ip) const;
  // HasSan is HasIpSan for an IP address and HasDnsSan otherwise.
  bool HasSan(const std::string& name) const;

  // ScopeFor compares this (CA) certificate's Name Constraints with
  // `names`. On kTooNarrow `*outside` (when not null) gets the first name
  // not permitted, "(unexpected Name Constraints)" for excluded or missing
  // permitted subtrees, or is left as it was for an undecodable extension.
  // An IP subtree permits the addresses its mask covers; a DNS subtree as
  // InDnsSubtree; an IP address never lies in a DNS subtree or vice versa.
  NameConstraintsScope ScopeFor(std::span<const std::string> names,
                                std::string* outside) const;

  // get returns the owned X509, borrowed, for callers that hand it to
  // OpenSSL (a TLS context, a verification store, tests).
  X509* get() const { return cert_.get(); }

 private:
  X509Ptr cert_;
};

// NewConstrainedCa returns a self-signed CA certificate for `key` with
// `fields` and these extensions:
//   basicConstraints  critical, CA:TRUE, pathlen:0
//   keyUsage          critical, keyCertSign, cRLSign
//   nameConstraints   critical, permitted subtrees exactly `permitted`: a
//                     dNSName subtree for each DNS name, a single-address
//                     subtree (/32 or /128) for each IP address
//   subjectKeyIdentifier
// InvalidArgument when `permitted` is empty or holds something that is
// neither IsDnsName nor IsIpAddress; Internal when OpenSSL fails.
absl::StatusOr<Certificate> NewConstrainedCa(
    EVP_PKEY* key, const CertificateFields& fields,
    std::span<const std::string> permitted);

// IssueServerCertificate returns a TLS server certificate for the public
// half of `key`, issued (subject of `ca` as issuer) and signed by `ca_key`,
// with `fields` and these extensions:
//   basicConstraints  critical, CA:FALSE
//   keyUsage          critical, digitalSignature
//   extendedKeyUsage  serverAuth
//   subjectKeyIdentifier, authorityKeyIdentifier (keyid, always)
//   subjectAltName    `names` in order: IP addresses as iPAddress, the rest
//                     as dNSName
// It does not check that `ca_key` belongs to `ca` or that `ca`'s Name
// Constraints permit `names` (ScopeFor). InvalidArgument when `names` is
// empty or holds something that is neither IsDnsName nor IsIpAddress;
// Internal when OpenSSL fails.
absl::StatusOr<Certificate> IssueServerCertificate(
    const Certificate& ca, EVP_PKEY* ca_key, EVP_PKEY* key,
    const CertificateFields& fields, std::span<const std::string> names);

// PemChainToDer returns the DER of every "-----BEGIN CERTIFICATE-----"
// block of `pem`, in order (a chain file: leaf first). InvalidArgument when
// there is none or a block does not parse.
absl::StatusOr<std::vector<std::vector<uint8_t>>> PemChainToDer(
    std::string_view pem);

// ReadPrivateKeyPemFile reads a PEM private key (PKCS#8, or the traditional
// RSA/EC forms) from `path` into a zeroizing buffer and decodes it. NotFound
// when the file cannot be read; InvalidArgument "no private key in <path>:
// <reason>" when it holds no private key.
absl::StatusOr<EvpPkeyPtr> ReadPrivateKeyPemFile(const std::string& path);

// WritePrivateKeyPemFile writes `key` as unencrypted PKCS#8 PEM ("-----BEGIN
// PRIVATE KEY-----") to `path` with mode 0600, atomically (WriteFileAtomic:
// on failure `path` is left as it was). The encoding never leaves zeroizing
// buffers.
absl::Status WritePrivateKeyPemFile(const std::string& path, EVP_PKEY* key);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_X509_H_
