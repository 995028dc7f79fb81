#include "server/process.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace keyferry::server {

absl::Status RestrictCoreDumps(bool allow_core_dumps, bool log_outcome) {
  if (allow_core_dumps) {
    if (!log_outcome) return absl::OkStatus();
    struct rlimit rl = {};
    std::string limit = "unknown";
    if (getrlimit(RLIMIT_CORE, &rl) == 0) {
      limit = rl.rlim_cur == RLIM_INFINITY ? "unlimited"
                                           : std::to_string(rl.rlim_cur);
    }
    Log(LogLevel::kWarning, "core_dumps_allowed",
        {{"rlimit_core", limit},
         {"dumpable", std::to_string(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))},
         {"note",
          "allow-core-dumps = true: a core file or a debugger attached to "
          "keyferryd can read the master key and every key in use"}});
    return absl::OkStatus();
  }
  const struct rlimit zero = {0, 0};
  if (setrlimit(RLIMIT_CORE, &zero) != 0) {
    return absl::InternalError(
        absl::StrCat("setrlimit(RLIMIT_CORE, 0): ", std::strerror(errno)));
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return absl::InternalError(
        absl::StrCat("prctl(PR_SET_DUMPABLE, 0): ", std::strerror(errno)));
  }
  if (log_outcome) {
    Log(LogLevel::kInfo, "core_dumps_disabled",
        {{"rlimit_core", "0"}, {"dumpable", "0"}});
  }
  return absl::OkStatus();
}

}  // namespace keyferry::server
