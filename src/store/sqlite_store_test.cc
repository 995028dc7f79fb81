#include "store/sqlite_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace keyferry::store {
namespace {

using ::testing::ElementsAre;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kf_store_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/keys.db";
    ASSERT_OK_AND_ASSIGN(store_, SqliteKeyStore::Open({.path = path_}));
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static KeyVersion Version(std::string name, std::string version,
                            int64_t created = 100) {
    KeyVersion k;
    k.vault = "myvault";
    k.name = std::move(name);
    k.version = std::move(version);
    k.kty = "EC";
    k.bits = 256;
    k.curve = "P-256";
    k.key_ops = {"sign", "verify"};
    k.public_jwk = R"({"kty":"EC"})";
    k.blob = {1, 2, 3, 0, 4};
    k.created = created;
    k.updated = created;
    k.tags_json = R"({"a":"b"})";
    return k;
  }

  std::string dir_, path_;
  std::unique_ptr<SqliteKeyStore> store_;
};

TEST_F(SqliteStoreTest, AddThenGetLatestAndByVersionCaseInsensitive) {
  ASSERT_OK(store_->AddVersion(Version("MyKey", std::string(32, 'a')), 90));
  ASSERT_OK(store_->AddVersion(Version("mykey", std::string(32, 'b'), 200), 7));
  ASSERT_OK_AND_ASSIGN(KeyVersion latest,
                       store_->GetVersion("myvault", "MYKEY", ""));
  EXPECT_EQ(latest.version, std::string(32, 'b'));
  EXPECT_EQ(latest.name, "MyKey");  // the name as first created
  EXPECT_EQ(latest.blob, (std::vector<uint8_t>{1, 2, 3, 0, 4}));
  EXPECT_THAT(latest.key_ops, ElementsAre("sign", "verify"));
  EXPECT_EQ(latest.curve, "P-256");
  EXPECT_EQ(latest.tags_json, R"({"a":"b"})");
  EXPECT_FALSE(latest.expires.has_value());
  ASSERT_OK_AND_ASSIGN(
      KeyVersion first,
      store_->GetVersion("myvault", "mykey", std::string(32, 'A')));
  EXPECT_EQ(first.created, 100);
  ASSERT_OK_AND_ASSIGN(KeyName n, store_->GetName("myvault", "mykey"));
  EXPECT_EQ(n.recoverable_days, 90);  // fixed when the name was created
  EXPECT_THAT(store_->GetVersion("myvault", "mykey", std::string(32, 'c')),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetVersion("othervault", "mykey", ""),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->AddVersion(Version("mykey", std::string(32, 'b')), 90),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

// Concurrent writers share commits (group commit); each still gets its own
// result, a failing write in a batch does not undo the others, and every
// acknowledged write is there after reopening.
TEST_F(SqliteStoreTest, ConcurrentWritesKeepTheirOwnResults) {
  constexpr int kThreads = 8, kPerThread = 150;
  std::vector<std::thread> threads;
  std::vector<int> ok(kThreads, 0), dup(kThreads, 0), other(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string name =
            "k" + std::to_string(t) + "-" + std::to_string(i);
        const std::string version(32, static_cast<char>('a' + i % 6));
        absl::Status s = store_->AddVersion(Version(name, version), 90);
        (s.ok() ? ok[t] : other[t])++;
        // The same version again must fail alone, inside a shared batch.
        s = store_->AddVersion(Version(name, version), 90);
        (s.code() == absl::StatusCode::kAlreadyExists ? dup[t] : other[t])++;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(ok[t], kPerThread);
    EXPECT_EQ(dup[t], kPerThread);
    EXPECT_EQ(other[t], 0);
  }
  store_.reset();
  ASSERT_OK_AND_ASSIGN(store_, SqliteKeyStore::Open({.path = path_}));
  ASSERT_OK_AND_ASSIGN(int64_t count, store_->CountKeys("myvault"));
  EXPECT_EQ(count, kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK_AND_ASSIGN(
        KeyVersion k,
        store_->GetVersion("myvault", "k" + std::to_string(t) + "-7", ""));
    EXPECT_EQ(k.version, std::string(32, 'b'));
  }
}

// OpenDbFiles counts this process's file descriptors on `path`: one per
// SQLite connection to the database (the writer and each reader).
int OpenDbFiles(const std::string& path) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec) == path) ++n;
  }
  return n;
}

// With readers = 2, five concurrent reads: two hold a connection (parked in
// the test hook) while the other three wait; none opens a third connection.
// The test proceeds on events from the hook, never on elapsed time; the
// timeouts only bound a failure.
TEST_F(SqliteStoreTest, ReaderPoolNeverExceedsItsLimit) {
  constexpr int kLimit = 2, kReads = 5;
  std::mutex mu;
  std::condition_variable cv;
  int borrowed = 0, waiting_events = 0, max_in_use = 0, max_open = 0;
  bool release = false;
  SqliteKeyStore* store = nullptr;
  auto hook = [&](ReaderEvent e) {
    std::unique_lock<std::mutex> l(mu);
    ReaderPoolState st = store->reader_pool_state();
    max_in_use = std::max(max_in_use, st.in_use);
    max_open = std::max(max_open, st.open);
    if (e == ReaderEvent::kWaiting) ++waiting_events;
    if (e == ReaderEvent::kBorrowed) ++borrowed;
    cv.notify_all();
    if (e == ReaderEvent::kBorrowed) cv.wait(l, [&] { return release; });
  };
  ASSERT_OK(store_->AddVersion(Version("k", std::string(32, 'a')), 90));
  store_.reset();
  ASSERT_OK_AND_ASSIGN(
      store_,
      SqliteKeyStore::Open(
          {.path = path_, .readers = kLimit, .on_reader_for_test = hook}));
  store = store_.get();
  const int files_before = OpenDbFiles(path_);  // the writer's

  std::vector<absl::StatusOr<KeyVersion>> got(kReads,
                                              absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kReads; ++i) {
    threads.emplace_back(
        [&, i] { got[i] = store->GetVersion("myvault", "k", ""); });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    const bool parked = cv.wait_for(l, std::chrono::seconds(30), [&] {
      return borrowed == kLimit && waiting_events == kReads - kLimit;
    });
    EXPECT_TRUE(parked) << "borrowed " << borrowed << ", waiting "
                        << waiting_events;
    ReaderPoolState st = store->reader_pool_state();
    EXPECT_EQ(st.open, kLimit);
    EXPECT_EQ(st.in_use, kLimit);
    EXPECT_EQ(st.waiting, kReads - kLimit);
    EXPECT_EQ(OpenDbFiles(path_), files_before + kLimit);
    release = true;
    cv.notify_all();
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kReads; ++i) {
    ASSERT_OK(got[i]);
    EXPECT_EQ(got[i]->version, std::string(32, 'a'));
  }
  EXPECT_EQ(borrowed, kReads);
  EXPECT_EQ(max_in_use, kLimit);
  EXPECT_EQ(max_open, kLimit);
  ReaderPoolState after = store->reader_pool_state();
  EXPECT_EQ(after.open, kLimit);  // kept for reuse
  EXPECT_EQ(after.in_use, 0);
  EXPECT_EQ(after.waiting, 0);
  EXPECT_EQ(OpenDbFiles(path_), files_before + kLimit);
}

// One reader connection serves any number of threads, one read at a time.
TEST_F(SqliteStoreTest, SingleReaderServesManyThreads) {
  ASSERT_OK(store_->AddVersion(Version("k", std::string(32, 'a')), 90));
  store_.reset();
  std::atomic<int> inside{0}, max_inside{0};
  auto hook = [&](ReaderEvent e) {
    if (e != ReaderEvent::kBorrowed) return;
    int now = ++inside;
    int seen = max_inside.load();
    while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
    }
    --inside;
  };
  ASSERT_OK_AND_ASSIGN(store_,
                       SqliteKeyStore::Open({.path = path_,
                                             .readers = 0,  // as 1
                                             .on_reader_for_test = hook}));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (store_->GetVersion("myvault", "k", "").ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(max_inside.load(), 1);
  EXPECT_EQ(store_->reader_pool_state().open, 1);
}

TEST_F(SqliteStoreTest, UpdateChangesOnlyMutableFields) {
  KeyVersion k = Version("k", std::string(32, 'a'));
  ASSERT_OK(store_->AddVersion(k, 90));
  const KeyVersion original = k;
  k.enabled = false;
  k.expires = 5000;
  k.tags_json = "{}";
  k.key_ops = {"verify"};
  k.updated = 300;
  k.blob = {9, 9};  // not mutable: must be ignored
  ASSERT_OK(store_->UpdateVersion(k, original));
  ASSERT_OK_AND_ASSIGN(KeyVersion got, store_->GetVersion("myvault", "k", ""));
  EXPECT_FALSE(got.enabled);
  EXPECT_EQ(got.expires, 5000);
  EXPECT_EQ(got.updated, 300);
  EXPECT_EQ(got.created, 100);
  EXPECT_THAT(got.key_ops, ElementsAre("verify"));
  EXPECT_EQ(got.blob, (std::vector<uint8_t>{1, 2, 3, 0, 4}));
  k.version = std::string(32, 'f');
  EXPECT_THAT(store_->UpdateVersion(k, original),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SqliteStoreTest, ListLatestPagesInNameOrder) {
  for (int i = 0; i < 7; ++i) {
    std::string name = "key-" + std::to_string(6 - i);
    ASSERT_OK(store_->AddVersion(Version(name, std::string(32, 'a')), 90));
    ASSERT_OK(store_->AddVersion(Version(name, std::string(32, 'b')), 90));
  }
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  while (true) {
    ASSERT_OK_AND_ASSIGN(auto page, store_->ListLatest("myvault", cursor, 3));
    ++pages;
    for (const KeyVersion& k : page.items) {
      seen.push_back(k.name);
      EXPECT_EQ(k.version, std::string(32, 'b'));
    }
    if (!page.next) break;
    cursor = *page.next;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ElementsAre("key-0", "key-1", "key-2", "key-3", "key-4",
                                "key-5", "key-6"));
}

TEST_F(SqliteStoreTest, ListVersionsPagesInCreationOrder) {
  for (char c : std::string("fedcba")) {
    ASSERT_OK(store_->AddVersion(Version("k", std::string(32, c)), 90));
  }
  ASSERT_OK_AND_ASSIGN(auto p1, store_->ListVersions("myvault", "k", "", 4));
  ASSERT_EQ(p1.items.size(), 4u);
  EXPECT_EQ(p1.items[0].version, std::string(32, 'f'));
  ASSERT_TRUE(p1.next.has_value());
  ASSERT_OK_AND_ASSIGN(auto p2,
                       store_->ListVersions("myvault", "k", *p1.next, 4));
  ASSERT_EQ(p2.items.size(), 2u);
  EXPECT_EQ(p2.items[1].version, std::string(32, 'a'));
  EXPECT_FALSE(p2.next.has_value());
  EXPECT_THAT(store_->ListVersions("myvault", "k", "garbage", 4),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SqliteStoreTest, SoftDeleteRecoverPurge) {
  ASSERT_OK(store_->AddVersion(Version("k", std::string(32, 'a')), 7));
  ASSERT_OK(store_->MarkDeleted("myvault", "K", 1000, 2000));
  EXPECT_THAT(store_->GetVersion("myvault", "k", ""),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->AddVersion(Version("k", std::string(32, 'b')), 90),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store_->MarkDeleted("myvault", "k", 1, 2),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(auto deleted, store_->ListDeleted("myvault", "", 10));
  ASSERT_EQ(deleted.items.size(), 1u);
  EXPECT_EQ(deleted.items[0].first.deleted_date, 1000);
  EXPECT_EQ(deleted.items[0].first.scheduled_purge_date, 2000);
  EXPECT_EQ(deleted.items[0].second.version, std::string(32, 'a'));
  ASSERT_OK_AND_ASSIGN(auto due, store_->DuePurges(2000, 10));
  EXPECT_EQ(due.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto not_due, store_->DuePurges(1999, 10));
  EXPECT_TRUE(not_due.empty());

  ASSERT_OK(store_->Recover("myvault", "k"));
  ASSERT_OK(store_->GetVersion("myvault", "k", "").status());
  EXPECT_THAT(store_->Recover("myvault", "k"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Purge("myvault", "k"),
              StatusIs(absl::StatusCode::kNotFound));  // active: not purgeable

  ASSERT_OK(store_->MarkDeleted("myvault", "k", 1000, 2000));
  ASSERT_OK(store_->Purge("myvault", "k"));
  EXPECT_THAT(store_->GetName("myvault", "k"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->AllVersions("myvault", "k"),
              StatusIs(absl::StatusCode::kNotFound));
  // The name is free again.
  ASSERT_OK(store_->AddVersion(Version("k", std::string(32, 'a')), 90));
}

TEST_F(SqliteStoreTest, RestoreIsAllOrNothing) {
  std::vector<KeyVersion> versions = {Version("r", std::string(32, '1')),
                                      Version("r", std::string(32, '2'))};
  ASSERT_OK(store_->Restore(versions, 90));
  ASSERT_OK_AND_ASSIGN(KeyVersion latest,
                       store_->GetVersion("myvault", "r", ""));
  EXPECT_EQ(latest.version, std::string(32, '2'));
  EXPECT_THAT(store_->Restore(versions, 90),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // A duplicate version inside the batch fails and leaves nothing behind.
  std::vector<KeyVersion> bad = {Version("s", std::string(32, '1')),
                                 Version("s", std::string(32, '1'))};
  EXPECT_FALSE(store_->Restore(bad, 90).ok());
  EXPECT_THAT(store_->GetName("myvault", "s"),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(int64_t n, store_->CountKeys("myvault"));
  EXPECT_EQ(n, 1);
}

TEST_F(SqliteStoreTest, RotationPolicyAndDueRotations) {
  ASSERT_OK(store_->AddVersion(Version("a", std::string(32, 'a')), 90));
  ASSERT_OK(store_->AddVersion(Version("b", std::string(32, 'a')), 90));
  ASSERT_OK(store_->SetRotationPolicy("myvault", "a", R"({"p":1})", 500));
  ASSERT_OK(
      store_->SetRotationPolicy("myvault", "b", R"({"p":2})", std::nullopt));
  ASSERT_OK_AND_ASSIGN(auto due, store_->DueRotations(500, 10));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].second, "a");
  ASSERT_OK_AND_ASSIGN(auto early, store_->DueRotations(499, 10));
  EXPECT_TRUE(early.empty());
  ASSERT_OK_AND_ASSIGN(KeyName n, store_->GetName("myvault", "b"));
  EXPECT_EQ(n.rotation_policy_json, R"({"p":2})");
  EXPECT_FALSE(n.next_rotation.has_value());
  EXPECT_THAT(store_->SetRotationPolicy("myvault", "zz", "{}", 1),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SqliteStoreTest, DataSurvivesReopenAndFileIsPrivate) {
  ASSERT_OK(store_->AddVersion(Version("durable", std::string(32, 'a')), 90));
  store_.reset();
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_OK_AND_ASSIGN(store_, SqliteKeyStore::Open({.path = path_}));
  ASSERT_OK_AND_ASSIGN(KeyVersion k,
                       store_->GetVersion("myvault", "durable", ""));
  EXPECT_EQ(k.blob, (std::vector<uint8_t>{1, 2, 3, 0, 4}));
}

TEST_F(SqliteStoreTest, RefusesNewerSchemaAndMemoryDatabase) {
  store_.reset();
  {
    // Simulate a database written by a newer keyferryd.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "UPDATE meta SET v='99' WHERE k='schema_version'",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_THAT(SqliteKeyStore::Open({.path = path_}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(SqliteKeyStore::Open({.path = ":memory:"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry::store
