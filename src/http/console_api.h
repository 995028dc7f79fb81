// The web console's JSON API (docs/console.md, docs/api.md §Console): what
// the console needs that the keys API does not say. Both routes are
// service routes (any host), answer JSON with the console's security
// headers and "Cache-Control: no-store", and errors in Azure's envelope.
//
//   GET /console/api/whoami  any valid token: {"principal", "vault" (the
//       vault this host names, "" for none), "operator" (Crypto Officer on
//       every vault: may read the audit log and seal), "vaults": [{"name",
//       "url", "roles": [role names], "allowed": [operation names]}]}, one
//       entry per vault this node serves, in configuration order. The
//       operation names are the audit log's (create, import, update, delete,
//       recover, purge, backup, restore, rotate, setrotationpolicy, sign,
//       …), computed from the same grants and role table the keys API
//       enforces, so the console shows only what the server would allow.
//   GET /console/api/audit[?limit=N]  operator only (403 otherwise):
//       KeysApiOptions::audit_recent(N), N in 1..500 (default 50). The log
//       holds every vault's records, hence the operator rule. Audited as
//       operation "readaudit".
//
// 401 (with the challenge) for a missing or refused token.
#ifndef KEYFERRY_HTTP_CONSOLE_API_H_
#define KEYFERRY_HTTP_CONSOLE_API_H_

#include <string_view>

#include "absl/status/status.h"
#include "auth/rbac.h"
#include "http/message.h"
#include "http/router.h"

namespace keyferry::http {

class KeysApi;

// IsConsoleAuditPath tells whether `request` is for /console/api/audit.
bool IsConsoleAuditPath(const Request& request);

// OperationName is the audit log's name of `op` ("getrotationpolicy", …).
std::string_view OperationName(auth::Operation op);

// AddConsoleApiRoutes registers the two routes on `router`; `api`
// (borrowed) checks tokens and holds the grants, and must outlive them.
absl::Status AddConsoleApiRoutes(Router& router, const KeysApi& api);

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_CONSOLE_API_H_
