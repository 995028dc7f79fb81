#include "server/audit_hooks.h"

#include <string>
#include <string_view>
#include <utility>

#include "base/log.h"
#include "http/azure.h"

namespace keyferry::server {

bool IsHealthCheck(const http::Request& r) {
  return r.path_segments.size() == 1 && r.path_segments[0] == "healthz";
}

http::Response AuditUnavailable() {
  return http::AzureError(
      503, "ServiceUnavailable",
      "keyferryd cannot write its audit log (the disk may be full); no "
      "request is served until it can");
}

FinishHook AuditFinish(audit::AuditLog* audit) {
  return [audit](const http::Request&, http::Response res,
                 std::function<void(http::Response)> send) {
    if (!res.audit.has_value()) return send(std::move(res));
    audit::Record rec;
    rec.principal = res.audit->principal;
    rec.vault = res.audit->vault;
    rec.operation = res.audit->operation;
    rec.key = res.audit->key;
    rec.version = res.audit->version;
    rec.status = res.status;
    rec.error_code = res.error_code;
    rec.request_id = std::string(
        res.headers.Get("x-ms-request-id").value_or(std::string_view()));
    // One line per request at debug level (the audit log is the record of
    // every request); server errors always.
    const LogLevel level =
        res.status >= 500 ? LogLevel::kError : LogLevel::kDebug;
    if (LogEnabled(level)) {
      Log(level, "request",
          {{"vault", rec.vault},
           {"principal", rec.principal},
           {"op", rec.operation},
           {"key", rec.key},
           {"status", std::to_string(rec.status)},
           {"code", rec.error_code}});
    }
    audit->AppendDurable(
        std::move(rec), [res = std::move(res),
                         send = std::move(send)](absl::Status written) mutable {
          if (written.ok()) return send(std::move(res));
          // The operation ran and its record stays queued (written, with the
          // operation's own status, once the log recovers): the 503 keeps
          // the request id the record carries, so the two can be matched.
          http::Response refused = AuditUnavailable();
          if (auto id = res.headers.Get("x-ms-request-id")) {
            refused.headers.Set("x-ms-request-id", *id);
          }
          send(std::move(refused));
        });
  };
}

audit::Record DueWorkRecord(const vault::DueWorkEvent& e) {
  audit::Record rec;
  rec.principal = "keyferryd";
  rec.vault = e.vault;
  rec.operation = e.work == "rotate" ? "rotate (policy)" : "purge (scheduled)";
  rec.key = e.name;
  rec.version = e.version;
  rec.status = http::HttpStatusFor(e.status);
  if (!e.status.ok()) rec.error_code = http::AzureCodeFor(e.status);
  return rec;
}

}  // namespace keyferry::server
