#include "audit/audit_log.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"

namespace keyferry::audit {
namespace {

using ::testing::HasSubstr;
using ojson = nlohmann::ordered_json;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kf_audit_test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/audit.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static Record Rec(int i) {
    Record r;
    r.principal = "user-" + std::to_string(i);
    r.vault = "main";
    r.operation = "sign";
    r.key = "key-" + std::to_string(i);
    r.version = "v1";
    r.status = 200;
    r.request_id = "req-" + std::to_string(i);
    return r;
  }

  // WriteRecords appends `n` records to the log and closes it.
  void WriteRecords(int n) {
    auto log = AuditLog::Open(path_);
    ASSERT_OK(log);
    for (int i = 0; i < n; ++i) (*log)->Append(Rec(i));
    ASSERT_OK((*log)->Flush());
  }

  std::vector<std::string> Lines() {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  void SetLines(const std::vector<std::string>& lines) {
    std::ofstream out(path_, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
  }

  std::string dir_;
  std::string path_;
};

std::string Sha256Hex(const std::string& s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
  return HexEncode(std::span<const uint8_t>(d, n));
}

// Canonical rebuilds a line from its parsed fields with a correct hash over
// them, as an attacker who knows the format would.
std::string Rehash(ojson j) {
  j.erase("hash");
  std::string body = j.dump();
  return body.substr(0, body.size() - 1) + ",\"hash\":\"" + Sha256Hex(body) +
         "\"}";
}

TEST_F(AuditLogTest, AppendFlushVerify) {
  AuditLogOptions o;
  o.head_interval = std::chrono::milliseconds(0);  // the head after every write
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_, o));
  EXPECT_EQ(log->last_seq(), 0u);
  for (int i = 0; i < 3; ++i) log->Append(Rec(i));
  EXPECT_EQ(log->last_seq(), 3u);
  ASSERT_OK(log->Flush());

  auto lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  ojson first = ojson::parse(lines[0]);
  std::vector<std::string> keys;
  for (const auto& [k, v] : first.items()) keys.push_back(k);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"seq", "time", "principal", "vault",
                                      "operation", "key", "version", "status",
                                      "error", "request_id", "prev", "hash"}));
  EXPECT_EQ(first["seq"], 1);
  EXPECT_EQ(first["prev"], kGenesisHash);
  EXPECT_EQ(first["principal"], "user-0");
  EXPECT_EQ(first["status"], 200);
  // RFC 3339 UTC with milliseconds: 2024-01-02T03:04:05.678Z
  std::string time = first["time"];
  EXPECT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time.back(), 'Z');
  EXPECT_EQ(ojson::parse(lines[1])["prev"], first["hash"]);

  // The documented hash definition, computed independently.
  std::string body = lines[0].substr(0, lines[0].find(",\"hash\":\"")) + "}";
  EXPECT_EQ(first["hash"], Sha256Hex(body));

  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 3u);
  EXPECT_EQ(result.last_hash, ojson::parse(lines[2])["hash"]);
  ASSERT_OK_AND_ASSIGN(auto with_head, Verify(path_, result.last_hash));
  EXPECT_EQ(with_head.records, 3u);

  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(HeadPath(path_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK_AND_ASSIGN(auto head, ReadFile(HeadPath(path_)));
  EXPECT_EQ(head, "{\"seq\":3,\"hash\":\"" + result.last_hash + "\"}\n");
}

TEST_F(AuditLogTest, KeepsCallerTime) {
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
  Record r = Rec(1);
  r.time = "2024-01-02T03:04:05.678Z";
  log->Append(r);
  ASSERT_OK(log->Flush());
  EXPECT_EQ(ojson::parse(Lines()[0])["time"], "2024-01-02T03:04:05.678Z");
}

TEST_F(AuditLogTest, EmptyLogVerifies) {
  { ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_)); }
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 0u);
  EXPECT_EQ(result.last_hash, kGenesisHash);
  EXPECT_THAT(Verify(dir_ + "/missing.log"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AuditLogTest, ReopenContinuesChain) {
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
    log->Append(Rec(0));
    log->Append(Rec(1));
    // No explicit Flush: the destructor flushes.
  }
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
    EXPECT_EQ(log->last_seq(), 2u);
    log->Append(Rec(2));
  }
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(ojson::parse(lines[2])["seq"], 3);
  EXPECT_EQ(ojson::parse(lines[2])["prev"], ojson::parse(lines[1])["hash"]);
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 3u);
}

TEST_F(AuditLogTest, SecondOpenIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
  EXPECT_THAT(AuditLog::Open(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(AuditLogTest, AlteringAnyFieldIsDetected) {
  WriteRecords(5);
  const auto original = Lines();
  ojson j = ojson::parse(original[2]);
  for (const auto& [field, value] : j.items()) {
    SCOPED_TRACE(field);
    ojson altered = j;
    if (value.is_number()) {
      altered[field] = value.get<int64_t>() + 1;
    } else if (field == "prev" || field == "hash") {
      std::string h = value;
      h[0] = h[0] == 'a' ? 'b' : 'a';
      altered[field] = h;
    } else {
      altered[field] = value.get<std::string>() + "x";
    }
    auto lines = original;
    lines[2] = altered.dump();
    SetLines(lines);
    auto result = Verify(path_);
    EXPECT_THAT(result, StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(result,
                StatusHasMessage("record 3: hash does not match its contents "
                                 "(altered)"))
        << result.status();
  }
  // A byte-level edit that breaks the canonical form.
  auto lines = original;
  lines[2].insert(1, " ");
  SetLines(lines);
  EXPECT_THAT(Verify(path_),
              StatusHasMessage("line 3 is not a valid audit record"));
  lines[2] = "not json";
  SetLines(lines);
  EXPECT_THAT(Verify(path_),
              StatusHasMessage("line 3 is not a valid audit record"));
}

TEST_F(AuditLogTest, RehashedRecordBreaksTheChain) {
  WriteRecords(5);
  auto lines = Lines();
  ojson j = ojson::parse(lines[2]);
  j["prev"] = kGenesisHash;
  lines[2] = Rehash(j);
  SetLines(lines);
  auto result = Verify(path_);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(result, StatusHasMessage(
                          "record 3: prev does not match record 2 (removed "
                          "or reordered)"))
      << result.status();
}

TEST_F(AuditLogTest, DeletingAMiddleLineIsDetected) {
  WriteRecords(5);
  auto lines = Lines();
  lines.erase(lines.begin() + 2);
  SetLines(lines);
  auto result = Verify(path_);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(result, StatusHasMessage("record 3: seq 4 follows 2"))
      << result.status();
}

TEST_F(AuditLogTest, SwappingLinesIsDetected) {
  WriteRecords(5);
  auto lines = Lines();
  std::swap(lines[1], lines[2]);
  SetLines(lines);
  auto result = Verify(path_);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(result, StatusHasMessage("record 2: seq 3 follows 1"))
      << result.status();
}

TEST_F(AuditLogTest, TruncatingTheTailIsDetectedByTheHead) {
  WriteRecords(5);
  ASSERT_OK_AND_ASSIGN(auto full, Verify(path_));
  auto lines = Lines();
  lines.resize(3);
  SetLines(lines);
  auto result = Verify(path_);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(result,
              StatusHasMessage("the log ends at record 3 but its head says 5 "
                               "(records removed from the end)"))
      << result.status();
  // The log refuses to resume over a truncated chain.
  EXPECT_THAT(AuditLog::Open(path_), StatusIs(absl::StatusCode::kDataLoss));

  // Without the head file only an externally kept head catches it.
  std::filesystem::remove(HeadPath(path_));
  ASSERT_OK_AND_ASSIGN(auto shortened, Verify(path_));
  EXPECT_EQ(shortened.records, 3u);
  auto with_external = Verify(path_, full.last_hash);
  EXPECT_THAT(with_external, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(with_external, StatusHasMessage("no record has the expected "
                                              "head hash"));
}

TEST_F(AuditLogTest, HeadHashMismatchIsDetected) {
  WriteRecords(3);
  ASSERT_OK(WriteFileAtomic(
      HeadPath(path_),
      AsBytes("{\"seq\":3,\"hash\":\"" + std::string(kGenesisHash) + "\"}\n"),
      0600));
  EXPECT_THAT(Verify(path_), StatusHasMessage("record 3: hash differs from "
                                              "the one the head file "
                                              "records"));
  EXPECT_THAT(AuditLog::Open(path_), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(AuditLogTest, PartialTrailingLineIsTruncatedAtOpen) {
  WriteRecords(3);
  {
    std::ofstream out(path_, std::ios::app);
    out << "{\"seq\":4,\"time\":\"2024-";
  }
  EXPECT_THAT(Verify(path_), StatusHasMessage("line 4 is incomplete"));
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
    EXPECT_EQ(log->last_seq(), 3u);
    log->Append(Rec(3));
  }
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 4u);
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 4u);
}

TEST_F(AuditLogTest, PartialOnlyLineIsTruncatedAtOpen) {
  {
    std::ofstream out(path_);
    out << "{\"seq\":1,";
  }
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
    EXPECT_EQ(log->last_seq(), 0u);
    log->Append(Rec(0));
  }
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 1u);
}

TEST_F(AuditLogTest, CorruptLastRecordFailsOpen) {
  WriteRecords(3);
  auto lines = Lines();
  lines[2] = "garbage";
  SetLines(lines);
  EXPECT_THAT(AuditLog::Open(path_), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(AuditLogTest, ConcurrentAppends) {
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 1000; ++i) log->Append(Rec(t * 1000 + i));
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(log->last_seq(), 8000u);
  }
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 8000u);
}

TEST_F(AuditLogTest, OddCharactersAreEscaped) {
  const std::vector<std::string> odd = {"quote\"",
                                        "line\nbreak",
                                        "tab\there",
                                        "back\\slash",
                                        "ctl\x01\x1f",
                                        "ключ 🔑",
                                        "\xff\xfe not utf-8",
                                        "</script>",
                                        ""};
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
    for (const auto& s : odd) {
      Record r = Rec(0);
      r.principal = s;
      r.key = s;
      r.error_code = s;
      log->Append(r);
    }
  }
  auto lines = Lines();
  ASSERT_EQ(lines.size(), odd.size());
  EXPECT_EQ(ojson::parse(lines[0])["principal"], "quote\"");
  EXPECT_EQ(ojson::parse(lines[1])["key"], "line\nbreak");
  EXPECT_EQ(ojson::parse(lines[5])["principal"], "ключ 🔑");
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, odd.size());
  // Reopening resumes after a record full of escapes.
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
    EXPECT_EQ(log->last_seq(), odd.size());
  }
}

// WaitForLines polls the file until it has `n` lines or a generous deadline
// passes; the test asserts the outcome, not the timing.
bool WaitForLines(const std::string& path, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto text = ReadFile(path);
    if (text.ok() && static_cast<size_t>(
                         std::count(text->begin(), text->end(), '\n')) >= n) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST_F(AuditLogTest, BackgroundFlushWithoutExplicitFlush) {
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_));
  log->Append(Rec(0));
  log->Append(Rec(1));
  EXPECT_TRUE(WaitForLines(path_, 2));
  // The head follows the flush.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(HeadPath(path_)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 2u);
}

// AppendDurable answers only once the record is in the file and synced.
TEST_F(AuditLogTest, AppendDurableAnswersAfterTheSync) {
  std::atomic<int> syncs{0};
  AuditLogOptions o;
  o.sync_fn = [&](int fd) {
    ++syncs;
    return fdatasync(fd);
  };
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_, o));
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(log->AppendAndWait(Rec(i)));
    // The record is in the file when the answer comes.
    auto lines = Lines();
    ASSERT_EQ(lines.size(), static_cast<size_t>(i + 1));
    EXPECT_EQ(ojson::parse(lines.back())["key"], "key-" + std::to_string(i));
  }
  EXPECT_GE(syncs.load(), 20);
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 20u);
}

// Many writers share writes and syncs (group commit). A sync here takes
// 2 ms, as a loaded disk's does, so while one runs the other writers'
// records gather: far fewer syncs than records.
TEST_F(AuditLogTest, ConcurrentDurableAppendsShareSyncs) {
  std::atomic<int> syncs{0};
  AuditLogOptions o;
  o.sync_fn = [&](int fd) {
    ++syncs;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return fdatasync(fd);
  };
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_, o));
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 100; ++i) {
          EXPECT_OK(log->AppendAndWait(Rec(t * 100 + i)));
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 800u);
  // Eight writers each waiting for their own record: batches of several.
  EXPECT_LE(syncs.load(), 400);
}

// kWrite: the answer waits for the write only; the file is synced at most
// once a second (and at close), not per batch.
TEST_F(AuditLogTest, WriteDurabilityAnswersAfterTheWriteAndSyncsLater) {
  std::atomic<int> syncs{0};
  std::atomic<off_t> synced_size{-1};
  AuditLogOptions o;
  o.durability = AuditDurability::kWrite;
  o.head_interval = std::chrono::milliseconds(0);
  o.sync_fn = [&](int fd) {
    ++syncs;
    struct stat st;
    fstat(fd, &st);
    synced_size = st.st_size;
    return fdatasync(fd);
  };
  {
    ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_, o));
    for (int i = 0; i < 20; ++i) {
      ASSERT_OK(log->AppendAndWait(Rec(i)));
      ASSERT_EQ(Lines().size(), static_cast<size_t>(i + 1));
    }
    EXPECT_LT(syncs.load(), 20);  // not once per record
    // The head never names a record that was only written, not synced.
    auto head = ReadFile(HeadPath(path_));
    if (head.ok()) {
      const uint64_t named = ojson::parse(*head)["seq"].get<uint64_t>();
      EXPECT_LE(named * 1, static_cast<uint64_t>(Lines().size()));
      std::string upto;
      for (uint64_t i = 0; i < named; ++i) upto += Lines()[i] + "\n";
      EXPECT_LE(static_cast<off_t>(upto.size()), synced_size.load());
    }
  }
  // Close syncs everything written, however recent.
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(synced_size.load(), st.st_size);
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 20u);
}

// A full disk: the write fails part-way. The caller is told (Unavailable),
// the log turns unhealthy, the partial write is cut off, and the record is
// written, in chain order, once the disk has room again.
TEST_F(AuditLogTest, FailureDiskFullFailsClosedAndRecovers) {
  std::atomic<bool> full{false};
  AuditLogOptions o;
  // No background retry during the test: it flushes by hand, so nothing
  // writes while it reads the file.
  o.retry_interval = std::chrono::hours(1);
  o.write_fn = [&](int fd, const void* data, size_t size) -> ssize_t {
    if (full) {
      // Half of it lands, then ENOSPC, as a real full disk does.
      ssize_t n = write(fd, data, size / 2);
      if (n < 0) return n;
      errno = ENOSPC;
      return -1;
    }
    return write(fd, data, size);
  };
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_, o));
  ASSERT_OK(log->AppendAndWait(Rec(0)));
  EXPECT_TRUE(log->healthy());
  full = true;
  absl::Status s = log->AppendAndWait(Rec(1));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_FALSE(log->healthy());
  // While unhealthy: answered at once, not durable, but kept.
  EXPECT_EQ(log->AppendAndWait(Rec(2)).code(), absl::StatusCode::kUnavailable);
  log->NoteRefused();
  log->NoteRefused();
  // The file holds only whole records: the one before the disk filled.
  ASSERT_OK_AND_ASSIGN(auto partial, Verify(path_));
  EXPECT_EQ(partial.records, 1u);
  EXPECT_EQ(log->Flush().code(), absl::StatusCode::kUnavailable);  // full
  full = false;
  ASSERT_OK(log->Flush());  // records 1 and 2; the summary is buffered
  EXPECT_TRUE(log->healthy());
  ASSERT_OK(log->AppendAndWait(Rec(4)));
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(ojson::parse(lines[1])["key"], "key-1");
  EXPECT_EQ(ojson::parse(lines[2])["key"], "key-2");
  EXPECT_EQ(ojson::parse(lines[3])["operation"], "audit-log-unavailable");
  EXPECT_EQ(ojson::parse(lines[3])["key"],
            "2 requests refused, 0 records lost");
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 5u);
}

// A failed sync is a failed write too: the batch is cut off and rewritten.
TEST_F(AuditLogTest, FailureSyncErrorIsRetried) {
  std::atomic<int> fail_syncs{1};
  AuditLogOptions o;
  o.retry_interval = std::chrono::milliseconds(5);
  o.sync_fn = [&](int fd) {
    if (fail_syncs.fetch_sub(1) > 0) {
      errno = EIO;
      return -1;
    }
    return fdatasync(fd);
  };
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_, o));
  EXPECT_EQ(log->AppendAndWait(Rec(0)).code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(WaitForLines(path_, 2));  // the record and the summary
  ASSERT_OK_AND_ASSIGN(auto result, Verify(path_));
  EXPECT_EQ(result.records, 2u);
  auto lines = Lines();
  EXPECT_EQ(ojson::parse(lines[0])["key"], "key-0");  // written once only
}

// Past its memory bound the log keeps no more records and says so.
TEST_F(AuditLogTest, FailureMemoryBoundCountsLostRecords) {
  std::atomic<bool> full{true};
  AuditLogOptions o;
  o.retry_interval = std::chrono::milliseconds(5);
  o.max_buffer_bytes = 1000;  // about four records, kept up to 4000 bytes
  o.write_fn = [&](int fd, const void* data, size_t size) -> ssize_t {
    if (full) {
      errno = ENOSPC;
      return -1;
    }
    return write(fd, data, size);
  };
  ASSERT_OK_AND_ASSIGN(auto log, AuditLog::Open(path_, o));
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(log->AppendAndWait(Rec(i)).code(),
              absl::StatusCode::kUnavailable);
  }
  EXPECT_FALSE(log->healthy());
  full = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!log->healthy() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(log->healthy());
  ASSERT_OK(log->AppendAndWait(Rec(99)));
  auto lines = Lines();
  ASSERT_GE(lines.size(), 3u);
  const size_t kept = lines.size() - 2;  // minus the summary and Rec(99)
  EXPECT_LT(kept, 40u);
  EXPECT_EQ(
      ojson::parse(lines[kept])["key"],
      "0 requests refused, " + std::to_string(40 - kept) + " records lost");
  ASSERT_OK(Verify(path_).status());
}

}  // namespace
}  // namespace keyferry::audit
