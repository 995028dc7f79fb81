#include "server/due_work.h"

#include <string>
#include <utility>

#include "base/log.h"
#include "server/audit_hooks.h"

namespace keyferry::server {

void RunDueWorkOnce(vault::KeyVault& vault, audit::AuditLog& audit,
                    const custody::SealedCustody* sealed) {
  if (sealed != nullptr && sealed->sealed()) return;  // nothing to do
  if (!audit.healthy()) return;  // nothing unrecorded, as requests
  // Rotations and purges keyferryd makes on its own are audited like
  // requests (principal "keyferryd"), and written before the next: a
  // record that cannot be written stops the run, so no more work is done
  // unrecorded until the audit log is back.
  absl::StatusOr<std::pair<int, int>> done =
      vault.RunDueWork([&audit](const vault::DueWorkEvent& e) {
        return audit.AppendAndWait(DueWorkRecord(e));
      });
  if (!done.ok()) {
    Log(LogLevel::kError, "due_work_stopped",
        {{"error", std::string(done.status().message())}});
  } else if (done->first + done->second > 0) {
    Log(LogLevel::kInfo, "due_work",
        {{"rotated", std::to_string(done->first)},
         {"purged", std::to_string(done->second)}});
  }
}

PeriodicTask::PeriodicTask(std::function<void()> tick, absl::Duration period)
    : tick_(std::move(tick)), period_(period), thread_([this] { Loop(); }) {}

PeriodicTask::~PeriodicTask() { Stop(); }

void PeriodicTask::Stop() {
  {
    keyferry::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void PeriodicTask::Loop() {
  mu_.Lock();
  // AwaitWithTimeout returns true when stopping_ became true, false when
  // the period passed.
  while (!mu_.AwaitWithTimeout(keyferry::Condition(&stopping_), period_)) {
    mu_.Unlock();
    tick_();
    mu_.Lock();
  }
  mu_.Unlock();
}

}  // namespace keyferry::server
