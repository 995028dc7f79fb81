// keyferryd's background work: policy rotations and purges past their date
// (vault::KeyVault::RunDueWork), run once a second on a thread of its own.
#ifndef KEYFERRY_SERVER_DUE_WORK_H_
#define KEYFERRY_SERVER_DUE_WORK_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "base/mutex.h"
#include "custody/sealed_custody.h"
#include "vault/key_vault.h"

namespace keyferry::server {

// RunDueWorkOnce runs the vault's due work once, unless `sealed` (may be
// null) is sealed or the audit log is unhealthy (nothing runs unrecorded,
// as for requests). Each rotation or purge is recorded (DueWorkRecord) and
// written before the next; a record that cannot be written stops the run,
// logged as due_work_stopped. A run that did something logs due_work.
void RunDueWorkOnce(vault::KeyVault& vault, audit::AuditLog& audit,
                    const custody::SealedCustody* sealed);

// PeriodicTask runs `tick` every `period` on its own thread, from
// construction until Stop (or destruction); a tick that is running when
// Stop is called finishes first. Thread-safe: Stop may be called from any
// thread but the task's own, more than once.
class PeriodicTask {
 public:
  PeriodicTask(std::function<void()> tick, absl::Duration period);
  ~PeriodicTask();
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  // Stop wakes the thread, waits for a running tick and joins.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  const std::function<void()> tick_;
  const absl::Duration period_;
  keyferry::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started last, by the constructor
};

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_DUE_WORK_H_
