// `keyferryd [serve]`: the vault server. Serve wires the parts in named
// steps (serve.cc): configuration, data directory, audit log, store and
// custody, token key, TLS, the keys API and the /sys seal service, the
// two listeners (keys API; identity endpoint), background work, then waits
// for SIGINT/SIGTERM and shuts down (docs/security-model.md, docs/api.md).
#ifndef KEYFERRY_SERVER_SERVE_H_
#define KEYFERRY_SERVER_SERVE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace keyferry::server {

// Serve runs keyferryd with the configuration flags `args` (config.h) until
// SIGINT or SIGTERM, logging "ready" once both listeners accept and
// "stopped" at the end. Returns OK after a clean stop, or the failure of
// the first start step that failed (InvalidArgument for a bad
// configuration); the parts made until then are closed again.
absl::Status Serve(const std::vector<std::string>& args);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_SERVE_H_
