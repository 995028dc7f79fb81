// How keyferryd's listeners and its background work meet the audit log
// (docs/audit.md): fail closed while it cannot be written, and an answer
// with an audit note is sent only once its record is durable.
#ifndef KEYFERRY_SERVER_AUDIT_HOOKS_H_
#define KEYFERRY_SERVER_AUDIT_HOOKS_H_

#include <functional>

#include "audit/audit_log.h"
#include "http/message.h"
#include "vault/key_vault.h"

namespace keyferry::server {

// IsHealthCheck tells whether `r` is GET /healthz.
bool IsHealthCheck(const http::Request& r);

// AuditUnavailable is the answer to every request while the audit log
// cannot be written: nothing is done that would go unrecorded.
http::Response AuditUnavailable();

// FinishHook is http::ServerOptions::finish.
using FinishHook = std::function<void(const http::Request&, http::Response,
                                      std::function<void(http::Response)>)>;

// AuditFinish is the servers' finish hook: an answer with an audit note is
// sent only once its record is durable (logged as a "request" line at debug
// level, error level for a 5xx), and becomes a 503 keeping its request id
// when the record cannot be written. Answers without a note (health,
// metadata, transport errors) go at once. `audit` must outlive the servers.
FinishHook AuditFinish(audit::AuditLog* audit);

// DueWorkRecord is the audit record of one rotation or purge keyferryd ran
// on its own (principal "keyferryd", operation "rotate (policy)" or
// "purge (scheduled)").
audit::Record DueWorkRecord(const vault::DueWorkEvent& event);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_AUDIT_HOOKS_H_
