// The KeyStore contract (key_store.h), run against every implementation:
// SqliteKeyStore, PostgresKeyStore (on a PostgreSQL 15 cluster this test
// process starts, a fresh database per test) and the MemoryKeyStore fake,
// so the fake is proven to answer as the real stores do.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/memory_store.h"
#include "store/pg_test_cluster.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace keyferry::store {
namespace {

using ::testing::ElementsAre;

struct SqliteFactory {
  std::string dir;
  std::unique_ptr<KeyStore> Make() {
    char tmpl[] = "/tmp/kf_contract_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return nullptr;
    dir = tmpl;
    auto s = SqliteKeyStore::Open({.path = dir + "/k.db"});
    return s.ok() ? std::move(*s) : nullptr;
  }
  ~SqliteFactory() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

struct PostgresFactory {
  std::unique_ptr<KeyStore> Make() {
    absl::StatusOr<TestCluster*> cluster = TestCluster::Shared();
    if (!cluster.ok()) {
      ADD_FAILURE() << cluster.status();
      return nullptr;
    }
    absl::StatusOr<std::string> url = (*cluster)->CreateDatabase();
    if (!url.ok()) {
      ADD_FAILURE() << url.status();
      return nullptr;
    }
    auto s = PostgresKeyStore::Open({.url = *url});
    if (!s.ok()) ADD_FAILURE() << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
};

struct MemoryFactory {
  std::unique_ptr<KeyStore> Make() {
    return std::make_unique<MemoryKeyStore>();
  }
};

template <typename Factory>
class KeyStoreContractTest : public ::testing::Test {
 public:
  void SetUp() override {
    store_ = factory_.Make();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override { store_.reset(); }

  static KeyVersion Version(std::string name, std::string version) {
    KeyVersion k;
    k.vault = "v";
    k.name = std::move(name);
    k.version = std::move(version);
    k.kty = "EC";
    k.bits = 256;
    k.curve = "P-256";
    k.key_ops = {"sign", "verify"};
    k.public_jwk = R"({"kty":"EC"})";
    k.blob = {1, 2, 3};
    k.created = k.updated = 100;
    return k;
  }
  static std::vector<std::string> Names(const std::vector<KeyVersion>& v) {
    std::vector<std::string> out;
    for (const KeyVersion& k : v) out.push_back(k.name);
    return out;
  }

  Factory factory_;
  std::unique_ptr<KeyStore> store_;
};

using Stores = ::testing::Types<SqliteFactory, PostgresFactory, MemoryFactory>;
TYPED_TEST_SUITE(KeyStoreContractTest, Stores);

TYPED_TEST(KeyStoreContractTest, NamesAreCaseInsensitiveAndKeepFirstSpelling) {
  KeyStore& s = *this->store_;
  ASSERT_OK(s.AddVersion(this->Version("MyKey", "a1"), 7));
  ASSERT_OK(s.AddVersion(this->Version("MYKEY", "b2"), 9));
  ASSERT_OK_AND_ASSIGN(KeyVersion latest, s.GetVersion("v", "mykey", ""));
  EXPECT_EQ(latest.version, "b2");
  EXPECT_EQ(latest.name, "MyKey");
  ASSERT_OK_AND_ASSIGN(KeyVersion a, s.GetVersion("v", "MYKEY", "A1"));
  EXPECT_EQ(a.version, "a1");
  ASSERT_OK_AND_ASSIGN(KeyName n, s.GetName("v", "mYkEy"));
  EXPECT_EQ(n.recoverable_days, 7);
  EXPECT_THAT(s.AddVersion(this->Version("mykey", "a1"), 7),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(s.GetVersion("v", "mykey", "zz"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(s.GetVersion("other", "mykey", ""),
              StatusIs(absl::StatusCode::kNotFound));
}

TYPED_TEST(KeyStoreContractTest, ListLatestPagesInNameOrder) {
  KeyStore& s = *this->store_;
  for (const char* n : {"c", "A", "b", "d"}) {
    ASSERT_OK(s.AddVersion(this->Version(n, "01"), 7));
  }
  ASSERT_OK(s.MarkDeleted("v", "c", 1, 2));
  ASSERT_OK_AND_ASSIGN(Page<KeyVersion> p1, s.ListLatest("v", "", 2));
  EXPECT_THAT(this->Names(p1.items), ElementsAre("A", "b"));
  ASSERT_TRUE(p1.next.has_value());
  ASSERT_OK_AND_ASSIGN(Page<KeyVersion> p2, s.ListLatest("v", *p1.next, 2));
  EXPECT_THAT(this->Names(p2.items), ElementsAre("d"));
  EXPECT_FALSE(p2.next.has_value());
  ASSERT_OK_AND_ASSIGN(auto deleted, s.ListDeleted("v", "", 10));
  ASSERT_EQ(deleted.items.size(), 1u);
  EXPECT_EQ(deleted.items[0].first.name, "c");
  EXPECT_EQ(deleted.items[0].first.scheduled_purge_date, 2);
}

TYPED_TEST(KeyStoreContractTest, ListVersionsPagesInCreationOrder) {
  KeyStore& s = *this->store_;
  for (const char* v : {"03", "01", "02"}) {
    ASSERT_OK(s.AddVersion(this->Version("k", v), 7));
  }
  ASSERT_OK_AND_ASSIGN(Page<KeyVersion> p1, s.ListVersions("v", "K", "", 2));
  ASSERT_EQ(p1.items.size(), 2u);
  EXPECT_EQ(p1.items[0].version, "03");
  EXPECT_EQ(p1.items[1].version, "01");
  ASSERT_TRUE(p1.next.has_value());
  ASSERT_OK_AND_ASSIGN(Page<KeyVersion> p2,
                       s.ListVersions("v", "k", *p1.next, 2));
  ASSERT_EQ(p2.items.size(), 1u);
  EXPECT_EQ(p2.items[0].version, "02");
  EXPECT_FALSE(p2.next.has_value());
  EXPECT_THAT(s.ListVersions("v", "k", "x", 2),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.ListVersions("v", "none", "", 2),
              StatusIs(absl::StatusCode::kNotFound));
}

TYPED_TEST(KeyStoreContractTest, UpdateChangesOnlyMutableFields) {
  KeyStore& s = *this->store_;
  ASSERT_OK(s.AddVersion(this->Version("k", "01"), 7));
  KeyVersion u = this->Version("K", "01");
  u.enabled = false;
  u.expires = 500;
  u.tags_json = R"({"x":"y"})";
  u.blob = {9};
  u.kty = "RSA";
  u.release_policy = R"({"data":"e30"})";
  ASSERT_OK(s.UpdateVersion(u, this->Version("k", "01")));
  ASSERT_OK_AND_ASSIGN(KeyVersion got, s.GetVersion("v", "k", "01"));
  EXPECT_EQ(got.release_policy, R"({"data":"e30"})");
  EXPECT_FALSE(got.enabled);
  EXPECT_EQ(got.expires, 500);
  EXPECT_EQ(got.tags_json, R"({"x":"y"})");
  EXPECT_EQ(got.blob, std::vector<uint8_t>({1, 2, 3}));
  EXPECT_EQ(got.kty, "EC");
  EXPECT_THAT(s.UpdateVersion(this->Version("k", "02"),
                              this->Version("k", "02")),
              StatusIs(absl::StatusCode::kNotFound));
}

// Optimistic concurrency (docs/storage.md §6.5): a write based on a read
// that another writer has since overtaken is refused and changes nothing.
TYPED_TEST(KeyStoreContractTest, UpdateBasedOnAStaleReadIsRefused) {
  KeyStore& s = *this->store_;
  const KeyVersion original = this->Version("k", "01");
  ASSERT_OK(s.AddVersion(original, 7));
  KeyVersion disabled = original;
  disabled.enabled = false;
  disabled.updated = 11;
  ASSERT_OK(s.UpdateVersion(disabled, original));
  KeyVersion tagged = original;  // still based on the first read
  tagged.tags_json = R"({"a":"b"})";
  tagged.updated = 12;
  absl::Status stale = s.UpdateVersion(tagged, original);
  EXPECT_TRUE(IsChangedMeanwhile(stale)) << stale;
  ASSERT_OK_AND_ASSIGN(KeyVersion got, s.GetVersion("v", "k", "01"));
  EXPECT_FALSE(got.enabled);
  EXPECT_EQ(got.tags_json, "{}");
  EXPECT_EQ(got.updated, 11);
  // Based on the current state it goes through.
  tagged.enabled = false;
  ASSERT_OK(s.UpdateVersion(tagged, got));
  ASSERT_OK_AND_ASSIGN(got, s.GetVersion("v", "k", "01"));
  EXPECT_EQ(got.tags_json, R"({"a":"b"})");
  EXPECT_FALSE(IsChangedMeanwhile(absl::FailedPreconditionError("deleted")));
}

TYPED_TEST(KeyStoreContractTest, PingAnswers) {
  EXPECT_OK(this->store_->Ping());
}

TYPED_TEST(KeyStoreContractTest, SoftDeleteRecoverPurge) {
  KeyStore& s = *this->store_;
  ASSERT_OK(s.AddVersion(this->Version("k", "01"), 7));
  ASSERT_OK(s.MarkDeleted("v", "K", 10, 20));
  EXPECT_THAT(s.GetVersion("v", "k", ""),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(s.AddVersion(this->Version("k", "02"), 7),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(s.MarkDeleted("v", "k", 10, 20),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(auto due, s.DuePurges(20, 10));
  EXPECT_EQ(due.size(), 1u);
  ASSERT_OK(s.Recover("v", "k"));
  ASSERT_OK(s.GetVersion("v", "k", "").status());
  EXPECT_THAT(s.Purge("v", "k"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(s.MarkDeleted("v", "k", 10, 20));
  ASSERT_OK(s.Purge("v", "k"));
  EXPECT_THAT(s.GetName("v", "k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(s.AllVersions("v", "k"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(int64_t n, s.CountKeys("v"));
  EXPECT_EQ(n, 0);
}

TYPED_TEST(KeyStoreContractTest, RestoreIsAllOrNothing) {
  KeyStore& s = *this->store_;
  // A duplicate version inside the restore fails it as a whole.
  EXPECT_THAT(
      s.Restore({this->Version("k", "01"), this->Version("k", "01")}, 7),
      StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(s.GetName("v", "k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(
      s.Restore({this->Version("k", "01"), this->Version("j", "02")}, 7),
      StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(s.Restore({this->Version("k", "01"), this->Version("k", "02")}, 7));
  ASSERT_OK_AND_ASSIGN(KeyVersion latest, s.GetVersion("v", "k", ""));
  EXPECT_EQ(latest.version, "02");
  EXPECT_THAT(s.Restore({this->Version("K", "03")}, 7),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK_AND_ASSIGN(auto all, s.AllVersions("v", "k"));
  EXPECT_EQ(all.size(), 2u);
}

TYPED_TEST(KeyStoreContractTest, RotationPolicyAndDueRotations) {
  KeyStore& s = *this->store_;
  ASSERT_OK(s.AddVersion(this->Version("a", "01"), 7));
  ASSERT_OK(s.AddVersion(this->Version("b", "01"), 7));
  ASSERT_OK(s.SetRotationPolicy("v", "B", "{}", 50));
  ASSERT_OK(s.SetRotationPolicy("v", "a", "{}", 40));
  ASSERT_OK_AND_ASSIGN(auto due, s.DueRotations(50, 10));
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].second, "a");
  EXPECT_EQ(due[1].second, "b");
  ASSERT_OK_AND_ASSIGN(auto one, s.DueRotations(45, 10));
  EXPECT_EQ(one.size(), 1u);
  ASSERT_OK_AND_ASSIGN(KeyName n, s.GetName("v", "b"));
  EXPECT_EQ(n.next_rotation, 50);
  EXPECT_EQ(n.rotation_policy_json, "{}");
  EXPECT_THAT(s.SetRotationPolicy("v", "none", "{}", 1),
              StatusIs(absl::StatusCode::kNotFound));
}

// The due-rotation lease: of two claims on one due time only the first
// wins; a rescheduled, unknown or deleted key is never claimed.
TYPED_TEST(KeyStoreContractTest, ClaimRotationOnce) {
  KeyStore& s = *this->store_;
  ASSERT_OK(s.AddVersion(this->Version("a", "01"), 7));
  ASSERT_OK(s.SetRotationPolicy("v", "a", "{}", 40));
  ASSERT_OK_AND_ASSIGN(bool first, s.ClaimRotation("v", "A", 40, 340));
  ASSERT_OK_AND_ASSIGN(bool second, s.ClaimRotation("v", "a", 40, 345));
  EXPECT_TRUE(first);
  EXPECT_FALSE(second);
  ASSERT_OK_AND_ASSIGN(KeyName n, s.GetName("v", "a"));
  EXPECT_EQ(n.next_rotation, 340);
  EXPECT_EQ(n.rotation_policy_json, "{}");
  ASSERT_OK_AND_ASSIGN(auto not_yet, s.DueRotations(339, 10));
  EXPECT_TRUE(not_yet.empty());
  ASSERT_OK_AND_ASSIGN(auto expired, s.DueRotations(340, 10));
  EXPECT_EQ(expired.size(), 1u);
  ASSERT_OK_AND_ASSIGN(bool unknown, s.ClaimRotation("v", "none", 40, 340));
  EXPECT_FALSE(unknown);
  ASSERT_OK(s.MarkDeleted("v", "a", 10, 20));
  ASSERT_OK_AND_ASSIGN(bool deleted, s.ClaimRotation("v", "a", 340, 640));
  EXPECT_FALSE(deleted);
}

TYPED_TEST(KeyStoreContractTest, MetaFirstWriterWins) {
  KeyStore& s = *this->store_;
  ASSERT_OK_AND_ASSIGN(auto none, s.GetMeta("x"));
  EXPECT_FALSE(none.has_value());
  ASSERT_OK_AND_ASSIGN(std::string a, s.SetMetaIfAbsent("x", "1"));
  ASSERT_OK_AND_ASSIGN(std::string b, s.SetMetaIfAbsent("x", "2"));
  EXPECT_EQ(a, "1");
  EXPECT_EQ(b, "1");
  ASSERT_OK_AND_ASSIGN(bool has, s.HasVersions());
  EXPECT_FALSE(has);
  // Untagged versions outside an upgraded store are DataLoss, unchanged.
  ASSERT_OK(s.AddVersion(this->Version("k", "01"), 7));
  EXPECT_THAT(s.AuthenticateVersions(
                  [](const KeyVersion&) { return std::vector<uint8_t>{1}; }),
              StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(KeyVersion k, s.GetVersion("v", "k", ""));
  EXPECT_TRUE(k.attest.empty());
}

// The fake's own seams: an injected failure changes nothing.
TEST(MemoryKeyStoreTest, InjectedFaultsChangeNothing) {
  MemoryKeyStore s;
  KeyVersion k = KeyStoreContractTest<MemoryFactory>::Version("k", "01");
  s.FailCommit(absl::UnavailableError("disk full"));
  EXPECT_THAT(s.AddVersion(k, 7), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(s.GetName("v", "k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(s.commits(), 0);
  ASSERT_OK(s.AddVersion(k, 7));  // one shot
  s.FailCommit(absl::UnavailableError("disk full"), 2);
  ASSERT_OK(s.SetRotationPolicy("v", "k", "{}", 5));
  EXPECT_THAT(s.MarkDeleted("v", "k", 1, 2),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK_AND_ASSIGN(KeyName n, s.GetName("v", "k"));
  EXPECT_FALSE(n.deleted);
  s.FailReads(absl::DataLossError("damaged record"));
  EXPECT_THAT(s.GetVersion("v", "k", ""),
              StatusIs(absl::StatusCode::kDataLoss));
  s.ClearFaults();
  s.FailOp("Purge", absl::InternalError("boom"));
  ASSERT_OK(s.MarkDeleted("v", "k", 1, 2));
  EXPECT_THAT(s.Purge("v", "k"), StatusIs(absl::StatusCode::kInternal));
  ASSERT_OK(s.GetName("v", "k").status());
  EXPECT_EQ(s.commits(), 3);
}

}  // namespace
}  // namespace keyferry::store
