// Secure Key Release's setup in keyferryd: the attestation authorities the
// operator trusts (release-authority settings) and the signer of release
// results (the listeners' TLS certificate and key).
#ifndef KEYFERRY_SERVER_RELEASE_SETUP_H_
#define KEYFERRY_SERVER_RELEASE_SETUP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "release/attestation.h"
#include "release/result.h"
#include "server/config.h"
#include "server/tls_setup.h"

namespace keyferry::server {

// LoadReleaseAuthorities reads the JWK Set file of every release-authority
// of `c`. InvalidArgument naming the setting for a file that cannot be read
// or is not a usable JWK Set (release::TrustedAuthorities::Add). An empty
// set when none is configured.
absl::StatusOr<std::unique_ptr<release::TrustedAuthorities>>
LoadReleaseAuthorities(const Config& c);

// LoadReleaseSigner makes the signer of release results from the TLS chain
// and key files `tls` names (release::ReleaseSigner::New).
absl::StatusOr<std::unique_ptr<release::ReleaseSigner>> LoadReleaseSigner(
    const ServerTls& tls);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_RELEASE_SETUP_H_
