// Process-wide protections keyferryd applies at start, before it reads any
// secret (docs/security-model.md).
#ifndef KEYFERRY_SERVER_PROCESS_H_
#define KEYFERRY_SERVER_PROCESS_H_

#include "absl/status/status.h"

namespace keyferry::server {

// RestrictCoreDumps keeps key material out of core files and away from
// same-user debuggers, unless `allow_core_dumps` (config allow-core-dumps):
//   - RLIMIT_CORE soft and hard limits set to 0, so no core file is written
//     and the process cannot raise the limit again (that needs
//     CAP_SYS_RESOURCE);
//   - prctl(PR_SET_DUMPABLE, 0): no core file even if the limit were
//     raised, no ptrace attach by other processes of the same user without
//     CAP_SYS_PTRACE, and /proc/<pid>/{mem,environ,maps,…} owned by root.
// With `allow_core_dumps` nothing is changed. With `log_outcome` (the
// server) one log line says what holds; the one-shot commands (token, init)
// pass false so that their output stays the one line or token they print.
// Internal naming the failing call when the kernel refuses (keyferryd then
// does not start).
absl::Status RestrictCoreDumps(bool allow_core_dumps, bool log_outcome);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_PROCESS_H_
