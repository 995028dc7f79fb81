#include "server/console_audit.h"

#include <chrono>
#include <exception>
#include <fstream>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::server {
namespace {

using json = nlohmann::json;

constexpr std::streamoff kTailBytes = std::streamoff{1} << 20;

// TailLines returns the complete lines in the last kTailBytes of `path`.
absl::StatusOr<std::vector<std::string>> TailLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no audit log at ", path));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (!in || size < 0) {  // not a seekable file (a directory, a pipe)
    return absl::FailedPreconditionError(
        absl::StrCat("cannot find the size of the audit log ", path));
  }
  const std::streamoff from = size > kTailBytes ? size - kTailBytes : 0;
  in.seekg(from);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot seek in the audit log ", path));
  }
  std::string text(static_cast<size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  std::vector<std::string> lines;
  size_t start = 0;
  if (from > 0) {  // the first line read is only the end of a line
    size_t nl = text.find('\n');
    start = nl == std::string::npos ? text.size() : nl + 1;
  }
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;  // being written: not complete
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// VerifyChain is audit::Verify as JSON, tried again (after 20 ms, then
// 50 ms: time for the writer to finish the line) while the last line is
// caught mid-write.
json VerifyChain(const std::string& path) {
  constexpr std::chrono::milliseconds kBackOff[] = {
      std::chrono::milliseconds(20), std::chrono::milliseconds(50)};
  absl::StatusOr<audit::VerifyResult> v = audit::Verify(path);
  for (std::chrono::milliseconds wait : kBackOff) {
    if (v.ok() || !absl::StrContains(v.status().message(), "incomplete")) {
      break;
    }
    std::this_thread::sleep_for(wait);
    v = audit::Verify(path);
  }
  if (!v.ok()) {
    return {{"verified", false}, {"error", std::string(v.status().message())}};
  }
  return {{"verified", true}, {"records", v->records}, {"head", v->last_hash}};
}

absl::StatusOr<json> Recent(const std::string& path, int limit) {
  ASSIGN_OR_RETURN(std::vector<std::string> lines, TailLines(path));
  json recent = json::array();
  for (auto it = lines.rbegin();
       it != lines.rend() && recent.size() < static_cast<size_t>(limit); ++it) {
    json record = json::parse(*it, nullptr, /*allow_exceptions=*/false);
    if (record.is_object()) recent.push_back(std::move(record));
  }
  json out = VerifyChain(path);
  out["recent"] = std::move(recent);
  return out;
}

}  // namespace

absl::StatusOr<json> RecentAudit(const std::string& path, int limit) noexcept {
  // A console route must not throw (std::string, std::ifstream and json may).
  try {
    return Recent(path, limit);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("cannot read the audit log ", path, ": ", e.what()));
  }
}

}  // namespace keyferry::server
