#include "server/console_audit.h"

#include <fstream>
#include <string_view>
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
  const std::streamoff from = size > kTailBytes ? size - kTailBytes : 0;
  in.seekg(from);
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

// VerifyChain is audit::Verify as JSON, tried again while the last line is
// caught mid-write.
json VerifyChain(const std::string& path) {
  absl::StatusOr<audit::VerifyResult> v = audit::Verify(path);
  for (int attempt = 0; attempt < 2 && !v.ok() &&
                        absl::StrContains(v.status().message(), "incomplete");
       ++attempt) {
    v = audit::Verify(path);
  }
  if (!v.ok()) {
    return {{"verified", false}, {"error", std::string(v.status().message())}};
  }
  return {{"verified", true}, {"records", v->records}, {"head", v->last_hash}};
}

}  // namespace

absl::StatusOr<json> RecentAudit(const std::string& path, int limit) {
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

}  // namespace keyferry::server
