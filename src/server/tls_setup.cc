#include "server/tls_setup.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/status.h"
#include "http/tls_certs.h"
#include "server/deployment.h"

namespace keyferry::server {
namespace {

constexpr char kBegin[] = "-----BEGIN CERTIFICATE-----";

int CountCertificates(const std::string& pem) {
  int n = 0;
  for (size_t at = pem.find(kBegin); at != std::string::npos;
       at = pem.find(kBegin, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

absl::StatusOr<ServerTls> PrepareTls(const Config& c) {
  if (!c.tls_cert.empty()) {
    RETURN_IF_ERROR(http::CheckPrivateKeyFile(c.tls_key));
    return ServerTls{
        .cert = c.tls_cert, .key = c.tls_key, .ca = "", .names = {}};
  }
  http::TlsCertOptions tls;
  tls.dir = DataPath(c, "tls");
  for (const std::string& v : c.vaults) {
    tls.vault_hosts.push_back(absl::StrCat(v, ".", c.domain));
  }
  tls.extra_names.push_back(c.domain);
  for (const std::string& n : c.tls_names) tls.extra_names.push_back(n);
  for (const auto& alias : c.vault_aliases) {
    tls.extra_names.push_back(alias.first);
  }
  ASSIGN_OR_RETURN(http::TlsFiles files, http::EnsureTlsCertificates(tls));
  return ServerTls{.cert = files.server_pem,
                   .key = files.server_key_pem,
                   .ca = files.ca_pem,
                   .names = http::ServerNames(tls)};
}

absl::StatusOr<int> WriteCaBundle(const std::string& path,
                                  const std::string& ca_pem,
                                  const std::string& system_bundle) {
  ASSIGN_OR_RETURN(std::string system, ReadFile(system_bundle));
  ASSIGN_OR_RETURN(std::string ours, ReadFile(ca_pem));
  if (CountCertificates(ours) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(ca_pem, " holds no PEM certificate"));
  }
  std::string bundle = system;
  if (!bundle.empty() && !absl::EndsWith(bundle, "\n")) bundle += "\n";
  absl::StrAppend(&bundle, "# keyferryd's private CA (", ca_pem, ")\n", ours);
  RETURN_IF_ERROR(WriteFileAtomic(path, AsBytes(bundle), 0644));
  return CountCertificates(system);
}

}  // namespace keyferry::server
