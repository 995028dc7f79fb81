#include "http/tls_certs.h"

#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/keys.h"
#include "crypto/ssl_ptr.h"
#include "crypto/x509.h"

namespace keyferry::http {
namespace {

using crypto::Certificate;
using crypto::EvpPkeyPtr;
using crypto::IsIpAddress;
using crypto::NameConstraintsScope;

constexpr int kCaDays = 3650;
constexpr int kLeafDays = 825;
constexpr int kRenewDays = 30;

const crypto::CertificateFields kCaFields = {.organization = "keyferry",
                                             .common_name = "keyferry local CA",
                                             .days = kCaDays};
const crypto::CertificateFields kLeafFields = {
    .organization = "keyferry", .common_name = "localhost", .days = kLeafDays};

// PermittedSubtrees returns the CA's Name Constraints (RFC 5280 §4.2.1.10)
// for `names` (ServerNames): each IP address as a single-address subtree,
// and each DNS name not already inside another's subtree. keyferryd passes
// the vault domain among the names, so every <vault>.<domain>, including
// vaults added later, stays inside the domain's subtree.
std::vector<std::string> PermittedSubtrees(
    const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& n : names) {
    if (IsIpAddress(n)) {
      out.push_back(n);
      continue;
    }
    bool inside = false;
    for (const std::string& m : names) {
      inside =
          inside || (m != n && !IsIpAddress(m) && crypto::InDnsSubtree(n, m));
    }
    if (!inside) out.push_back(n);
  }
  return out;
}

struct Ca {
  Certificate cert;
  EvpPkeyPtr key;
};

absl::StatusOr<Ca> IssueCa(const TlsFiles& files,
                           const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, crypto::GenerateEc(crypto::Curve::kP256));
  ASSIGN_OR_RETURN(
      Certificate cert,
      crypto::NewConstrainedCa(key.get(), kCaFields, PermittedSubtrees(names)));
  ASSIGN_OR_RETURN(std::string pem, cert.ToPem());
  RETURN_IF_ERROR(crypto::WritePrivateKeyPemFile(files.ca_key_pem, key.get()));
  RETURN_IF_ERROR(WriteFileAtomic(files.ca_pem, AsBytes(pem), 0644));
  return Ca{std::move(cert), std::move(key)};
}

// LoadCa returns the stored CA when it is usable, nullopt otherwise.
std::optional<Ca> LoadCa(const TlsFiles& files) {
  absl::StatusOr<Certificate> cert = Certificate::ReadPemFile(files.ca_pem);
  absl::StatusOr<EvpPkeyPtr> key =
      crypto::ReadPrivateKeyPemFile(files.ca_key_pem);
  if (!cert.ok() || !key.ok() || !cert->MatchesKey(key->get()) ||
      !cert->IsCa() || !cert->ValidFor(kRenewDays)) {
    return std::nullopt;
  }
  return Ca{std::move(*cert), std::move(*key)};
}

// LeafFits reports whether the stored leaf can be reused under `ca`.
bool LeafFits(const TlsFiles& files, const Ca& ca,
              const std::vector<std::string>& names) {
  absl::StatusOr<Certificate> leaf = Certificate::ReadPemFile(files.server_pem);
  absl::StatusOr<EvpPkeyPtr> key =
      crypto::ReadPrivateKeyPemFile(files.server_key_pem);
  bool fits = leaf.ok() && key.ok() && leaf->MatchesKey(key->get()) &&
              leaf->SignedBy(ca.key.get()) && leaf->ValidFor(kRenewDays);
  for (size_t i = 0; fits && i < names.size(); ++i) {
    fits = leaf->HasSan(names[i]);
  }
  return fits;
}

absl::Status IssueLeaf(const TlsFiles& files, const Ca& ca,
                       const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, crypto::GenerateEc(crypto::Curve::kP256));
  ASSIGN_OR_RETURN(Certificate cert,
                   crypto::IssueServerCertificate(
                       ca.cert, ca.key.get(), key.get(), kLeafFields, names));
  ASSIGN_OR_RETURN(std::string leaf_pem, cert.ToPem());
  ASSIGN_OR_RETURN(std::string ca_pem, ca.cert.ToPem());
  // Key first: a crash in between leaves a leaf that fails LeafFits and is
  // reissued on the next start.
  RETURN_IF_ERROR(
      crypto::WritePrivateKeyPemFile(files.server_key_pem, key.get()));
  return WriteFileAtomic(files.server_pem, AsBytes(leaf_pem + ca_pem), 0644);
}

// CheckKeyFileIfPresent is CheckPrivateKeyFile for a file keyferryd made
// and may make again: a missing file is fine.
absl::Status CheckKeyFileIfPresent(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    return absl::OkStatus();
  }
  return CheckPrivateKeyFile(path);
}

}  // namespace

absl::Status CheckPrivateKeyFile(const std::string& path) {
  absl::Status s = CheckOwnerOnly(path, "TLS private key file");
  if (absl::IsNotFound(s)) {
    return absl::NotFoundError(
        absl::StrCat("cannot stat TLS private key file ", path));
  }
  return s;
}

TlsFiles TlsFilesIn(const std::string& dir) {
  TlsFiles f;
  f.ca_pem = dir + "/ca.pem";
  f.ca_key_pem = dir + "/ca-key.pem";
  f.server_pem = dir + "/server.pem";
  f.server_key_pem = dir + "/server-key.pem";
  return f;
}

std::vector<std::string> ServerNames(const TlsCertOptions& options) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  for (const auto* list : {&options.vault_hosts, &options.extra_names}) {
    for (const std::string& n : *list) {
      std::string lower = absl::AsciiStrToLower(Sv(n));
      if (std::find(names.begin(), names.end(), lower) == names.end()) {
        names.push_back(std::move(lower));
      }
    }
  }
  return names;
}

absl::StatusOr<TlsFiles> EnsureTlsCertificates(const TlsCertOptions& options) {
  std::vector<std::string> names = ServerNames(options);
  for (const std::string& n : names) {
    if (!IsIpAddress(n) && !crypto::IsDnsName(n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a DNS name or IP address: ", n));
    }
  }
  std::error_code ec;
  if (std::filesystem::create_directories(options.dir, ec)) {
    std::filesystem::permissions(options.dir, std::filesystem::perms::owner_all,
                                 ec);
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("creating ", options.dir, ": ", ec.message()));
  }
  TlsFiles files = TlsFilesIn(options.dir);
  RETURN_IF_ERROR(CheckKeyFileIfPresent(files.ca_key_pem));
  RETURN_IF_ERROR(CheckKeyFileIfPresent(files.server_key_pem));
  std::optional<Ca> ca = LoadCa(files);
  std::string outside;
  switch (ca.has_value() ? ca->cert.ScopeFor(names, &outside)
                         : NameConstraintsScope::kPermits) {
    case NameConstraintsScope::kPermits:
      break;
    case NameConstraintsScope::kUnconstrained:
      // Kept: clients trust this CA, and a new one would break every one of
      // them while the old one stays in their trust stores anyway.
      Log(LogLevel::kWarning, "tls_ca_unconstrained",
          {{"path", files.ca_pem},
           {"note",
            "this CA has no Name Constraints: whoever steals ca-key.pem can "
            "issue certificates for any host that its clients accept. Remove "
            "ca.pem and ca-key.pem to get a constrained CA at the next "
            "start, trust the new ca.pem and stop trusting the old one"}});
      break;
    case NameConstraintsScope::kTooNarrow:
      Log(LogLevel::kWarning, "tls_ca_replaced",
          {{"path", files.ca_pem},
           {"reason",
            absl::StrCat("its Name Constraints do not permit ", outside)},
           {"note", "clients must trust the new ca.pem"}});
      ca.reset();
      break;
  }
  if (!ca.has_value()) {
    ASSIGN_OR_RETURN(Ca fresh, IssueCa(files, names));
    ca = std::move(fresh);
    files.ca_issued = true;
    Log(LogLevel::kInfo, "tls_ca_issued", {{"path", files.ca_pem}});
  }
  if (files.ca_issued || !LeafFits(files, *ca, names)) {
    RETURN_IF_ERROR(IssueLeaf(files, *ca, names));
    files.leaf_issued = true;
    Log(LogLevel::kInfo, "tls_leaf_issued",
        {{"path", files.server_pem}, {"names", std::to_string(names.size())}});
  }
  return files;
}

}  // namespace keyferry::http
