#include "server/console_audit.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "audit/audit_log.h"

namespace keyferry::server {
namespace {

std::string TempDirectory() {
  std::string tmpl = ::testing::TempDir() + "console_audit_XXXXXX";
  char* dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return tmpl;
}

void WriteRecords(const std::string& path, int n) {
  auto log = audit::AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < n; ++i) {
    audit::Record r;
    r.principal = "officer";
    r.vault = "myvault";
    r.operation = "sign";
    r.key = "k" + std::to_string(i);
    r.status = 200;
    ASSERT_TRUE((*log)->AppendAndWait(r).ok());
  }
}

TEST(RecentAudit, NewestFirstAndVerified) {
  const std::string path = TempDirectory() + "/audit.log";
  WriteRecords(path, 5);
  absl::StatusOr<nlohmann::json> out = RecentAudit(path, 3);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)["verified"], true);
  EXPECT_EQ((*out)["records"], 5);
  ASSERT_EQ((*out)["recent"].size(), 3u);
  EXPECT_EQ((*out)["recent"][0]["key"], "k4");
  EXPECT_EQ((*out)["recent"][0]["seq"], 5);
  EXPECT_EQ((*out)["recent"][2]["key"], "k2");
}

TEST(RecentAudit, FailureAlteredRecordIsNotVerified) {
  const std::string path = TempDirectory() + "/audit.log";
  WriteRecords(path, 3);
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  std::string s = text.str();
  size_t at = s.find("\"k1\"");
  ASSERT_NE(at, std::string::npos);
  s.replace(at, 4, "\"kX\"");
  std::ofstream(path, std::ios::trunc) << s;
  absl::StatusOr<nlohmann::json> out = RecentAudit(path, 10);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)["verified"], false);
  EXPECT_NE((*out)["error"].get<std::string>().find("record 2"),
            std::string::npos)
      << (*out)["error"];
  EXPECT_EQ((*out)["recent"].size(), 3u);
}

TEST(RecentAudit, FailureNoLog) {
  const std::string path = TempDirectory() + "/none.log";
  EXPECT_EQ(RecentAudit(path, 10).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace keyferry::server
