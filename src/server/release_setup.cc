#include "server/release_setup.h"

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "crypto/x509.h"

namespace keyferry::server {

absl::StatusOr<std::unique_ptr<release::TrustedAuthorities>>
LoadReleaseAuthorities(const Config& c) {
  auto out = std::make_unique<release::TrustedAuthorities>();
  for (const auto& [issuer, path] : c.release_authorities) {
    absl::StatusOr<std::string> jwks = ReadFile(path);
    if (!jwks.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config release-authority: cannot read the JWK Set ",
                       path, ": ", jwks.status().message()));
    }
    absl::Status added = out->Add(issuer, *jwks);
    if (!added.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config release-authority: ", path, ": ", added.message()));
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<release::ReleaseSigner>> LoadReleaseSigner(
    const ServerTls& tls) {
  ASSIGN_OR_RETURN(std::string chain, ReadFile(tls.cert));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key,
                   crypto::ReadPrivateKeyPemFile(tls.key));
  return release::ReleaseSigner::New(chain, std::move(key));
}

}  // namespace keyferry::server
