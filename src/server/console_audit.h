// What the console's audit page shows (http/console_api.h): the most
// recent records of keyferryd's audit log and whether its chain verifies,
// computed here with audit::Verify over the whole file (docs/audit.md §4).
#ifndef KEYFERRY_SERVER_CONSOLE_AUDIT_H_
#define KEYFERRY_SERVER_CONSOLE_AUDIT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace keyferry::server {

// RecentAudit reads the log at `path` (the one keyferryd writes) and
// returns {"verified": bool, "records": N (the chain's length, when
// verified), "head": hash (when verified), "error": message (when not),
// "recent": [record objects, newest first, at most `limit`]}. The records
// are the last complete lines of the file (at most the last 1 MiB is
// read); a line that does not parse is skipped (Verify reports it). A
// record being written while the file is read can make the last line
// incomplete: Verify is then tried again, up to three times, before the
// chain is reported broken. NotFound when there is no log.
absl::StatusOr<nlohmann::json> RecentAudit(const std::string& path, int limit);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_CONSOLE_AUDIT_H_
