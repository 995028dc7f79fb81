// pg::Conn's prepared statements against a real PostgreSQL 15
// (pg_test_cluster): one PQprepare per connection and SQL text, reused on
// the server (pg_prepared_statements), forgotten on Reset, prepared again
// after the backend was terminated or the server dropped them; Script stays
// unprepared.
#include "store/pg_db.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/testing.h"
#include "gtest/gtest.h"
#include "store/pg_test_cluster.h"

namespace keyferry::store::pg {
namespace {

constexpr char kSelect[] = "SELECT $1::int + 1";

class PgDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(TestCluster * cluster, TestCluster::Shared());
    ASSERT_OK_AND_ASSIGN(std::string url, cluster->CreateDatabase());
    ASSERT_OK_AND_ASSIGN(info_, ConnInfo::Parse(url));
  }

  // Plans returns, as the server of `c` sees them, how many statements
  // with text `sql` that session has prepared and how often they ran
  // (generic + custom plans), asked on `c` itself.
  std::pair<int64_t, int64_t> Plans(Conn& c, const char* sql) {
    absl::StatusOr<Result> r = c.Exec(
        "test",
        "SELECT count(*), coalesce(sum(generic_plans + custom_plans), 0) "
        "FROM pg_prepared_statements WHERE statement = $1",
        {sql});
    EXPECT_OK(r.status());
    if (!r.ok()) return {-1, -1};
    return {r->Int(0, 0), r->Int(0, 1)};
  }

  ConnInfo info_;
};

TEST_F(PgDbTest, SameTextIsPreparedOnceAndReused) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> c, Conn::Open(info_));
  const size_t before = c->prepared();
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(Result r, c->Exec("test", kSelect, {i}));
    EXPECT_EQ(r.Int(0, 0), i + 1);
  }
  EXPECT_EQ(c->prepared(), before + 1);
  auto [statements, runs] = Plans(*c, kSelect);
  EXPECT_EQ(statements, 1);
  EXPECT_EQ(runs, 3);
}

// The health check's reconnect gives up after 2 s whatever the operator's
// conninfo says (PostgresKeyStore::Ping); without an override the
// conninfo's value holds, and 10 s when it has none.
TEST_F(PgDbTest, ConnectTimeoutOverrideWinsOverTheConninfos) {
  ASSERT_OK_AND_ASSIGN(ConnInfo slow,
                       ConnInfo::Parse(info_.conninfo + " connect_timeout=30"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> plain, Conn::Open(info_));
  EXPECT_EQ(plain->Option("connect_timeout"), "10");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> operators, Conn::Open(slow));
  EXPECT_EQ(operators->Option("connect_timeout"), "30");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> probe, Conn::Open(slow, 2));
  EXPECT_EQ(probe->Option("connect_timeout"), "2");
  ASSERT_OK_AND_ASSIGN(Result r, probe->Exec("test", kSelect, {1}));
  EXPECT_EQ(r.Int(0, 0), 2);
}

TEST_F(PgDbTest, ScriptIsNotPrepared) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> c, Conn::Open(info_));
  const size_t before = c->prepared();
  ASSERT_OK(c->Script("test", "SELECT 41; SELECT 42"));
  EXPECT_EQ(c->prepared(), before);
  EXPECT_EQ(Plans(*c, "SELECT 41; SELECT 42").first, 0);
}

TEST_F(PgDbTest, WorksAgainAfterTheBackendWasTerminated) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> c, Conn::Open(info_));
  ASSERT_OK(c->Exec("test", kSelect, {1}).status());
  const int old_pid = c->backend_pid();

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> other, Conn::Open(info_));
  ASSERT_OK_AND_ASSIGN(Result killed,
                       other->Exec("test", "SELECT pg_terminate_backend($1)",
                                   {int64_t{old_pid}}));
  EXPECT_TRUE(killed.Bool(0, 0));

  absl::StatusOr<Result> lost = c->Exec("test", kSelect, {2});
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(c->ok());
  ASSERT_TRUE(c->Reset());
  EXPECT_NE(c->backend_pid(), old_pid);
  EXPECT_EQ(c->prepared(), 0u);  // a new session has none

  ASSERT_OK_AND_ASSIGN(Result r, c->Exec("test", kSelect, {2}));
  EXPECT_EQ(r.Int(0, 0), 3);
  ASSERT_OK(c->Exec("test", kSelect, {3}).status());
  auto [statements, runs] = Plans(*c, kSelect);
  EXPECT_EQ(statements, 1);
  EXPECT_EQ(runs, 2);
}

TEST_F(PgDbTest, PoolReplacesATerminatedConnection) {
  Pool pool(info_, 1);
  int old_pid = 0;
  {
    ASSERT_OK_AND_ASSIGN(Pool::Lease c, pool.Borrow());
    ASSERT_OK(c->Exec("test", kSelect, {1}).status());
    old_pid = c->backend_pid();
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> other, Conn::Open(info_));
  ASSERT_OK(other->Run("test", "SELECT pg_terminate_backend($1)",
                       {int64_t{old_pid}}));
  {
    // The idle connection does not know yet: its first statement fails.
    ASSERT_OK_AND_ASSIGN(Pool::Lease c, pool.Borrow());
    EXPECT_EQ(c->Exec("test", kSelect, {1}).status().code(),
              absl::StatusCode::kUnavailable);
  }
  ASSERT_OK_AND_ASSIGN(Pool::Lease c, pool.Borrow());
  EXPECT_NE(c->backend_pid(), old_pid);
  ASSERT_OK_AND_ASSIGN(Result r, c->Exec("test", kSelect, {5}));
  EXPECT_EQ(r.Int(0, 0), 6);
  EXPECT_EQ(Plans(*c, kSelect).first, 1);
}

TEST_F(PgDbTest, StatementsDroppedByTheServerArePreparedAgain) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> c, Conn::Open(info_));
  ASSERT_OK(c->Exec("test", kSelect, {1}).status());
  ASSERT_OK(c->Script("test", "DEALLOCATE ALL"));
  // Outside a transaction: prepared again and run.
  ASSERT_OK_AND_ASSIGN(Result r, c->Exec("test", kSelect, {7}));
  EXPECT_EQ(r.Int(0, 0), 8);
  EXPECT_EQ(Plans(*c, kSelect).first, 1);

  // Inside one the failure aborts it: the error is returned, the cache
  // forgotten, and the next transaction works.
  ASSERT_OK(c->Script("test", "BEGIN; DEALLOCATE ALL"));
  absl::StatusOr<Result> failed = c->Exec("test", kSelect, {1});
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(c->sqlstate(), "26000");
  EXPECT_EQ(c->prepared(), 0u);
  ASSERT_OK(c->Script("test", "ROLLBACK"));
  ASSERT_OK_AND_ASSIGN(Result again, c->Exec("test", kSelect, {9}));
  EXPECT_EQ(again.Int(0, 0), 10);
}

TEST_F(PgDbTest, FailedPrepareIsNotRemembered) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> c, Conn::Open(info_));
  const size_t before = c->prepared();
  const char* bad = "SELECT * FROM no_such_table_yet";
  EXPECT_FALSE(c->Exec("test", bad).ok());
  EXPECT_EQ(c->prepared(), before);
  ASSERT_OK(c->Script("test", "CREATE TABLE no_such_table_yet (x int)"));
  ASSERT_OK_AND_ASSIGN(Result r, c->Exec("test", bad));
  EXPECT_EQ(r.rows(), 0);
  EXPECT_EQ(c->prepared(), before + 1);
}

TEST_F(PgDbTest, DistinctTextsBeyondTheCapRunUnprepared) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> c, Conn::Open(info_));
  std::vector<std::string> texts;
  for (size_t i = 0; i < Conn::kMaxPrepared + 5; ++i) {
    texts.push_back(absl::StrCat("SELECT ", i));
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(Result r, c->Exec("test", texts[i].c_str()));
    EXPECT_EQ(r.Int(0, 0), static_cast<int64_t>(i));
  }
  EXPECT_EQ(c->prepared(), Conn::kMaxPrepared);
  ASSERT_OK(c->Script("test", "SELECT 1"));  // unprepared either way
  ASSERT_OK_AND_ASSIGN(
      Result r, c->Exec("test", "SELECT 1"));  // a cached text still works
  EXPECT_EQ(r.Int(0, 0), 1);
}

TEST_F(PgDbTest, BatchRunsEachStatementInOrder) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> c, Conn::Open(info_));
  ASSERT_OK(c->Script("test", "CREATE TABLE t (k int PRIMARY KEY)"));
  ASSERT_OK_AND_ASSIGN(
      std::vector<Result> r,
      c->Batch("test", {{"INSERT INTO t VALUES ($1)", {1}},
                        {"INSERT INTO t VALUES ($1) RETURNING k + 10", {2}},
                        {"SELECT count(*) FROM t", {}}}));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].affected(), 1);
  EXPECT_EQ(r[1].Int(0, 0), 12);
  EXPECT_EQ(r[2].Int(0, 0), 2);  // saw both inserts: its own snapshot
  EXPECT_TRUE(c->idle());
  // The same texts again: prepared once each.
  ASSERT_OK(c->Batch("test", {{"INSERT INTO t VALUES ($1)", {3}}}).status());
  EXPECT_EQ(Plans(*c, "INSERT INTO t VALUES ($1)"),
            (std::pair<int64_t, int64_t>{1, 2}));
}

TEST_F(PgDbTest, BatchStopsAtTheFirstFailure) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> c, Conn::Open(info_));
  ASSERT_OK(c->Script("test", "CREATE TABLE t (k int PRIMARY KEY)"));
  ASSERT_OK(c->Script("test", "BEGIN"));
  absl::StatusOr<std::vector<Result>> r =
      c->Batch("test", {{"INSERT INTO t VALUES ($1)", {1}},
                        {"INSERT INTO t VALUES ($1)", {1}},
                        {"INSERT INTO t VALUES ($1)", {2}}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(c->sqlstate(), "23505");
  ASSERT_OK(c->Script("test", "ROLLBACK"));
  // Outside a transaction the batch is one implicit transaction: the
  // failure takes the first insert with it, the third never ran.
  EXPECT_FALSE(c->Batch("test", {{"INSERT INTO t VALUES ($1)", {5}},
                                 {"INSERT INTO t VALUES ($1)", {5}},
                                 {"INSERT INTO t VALUES ($1)", {6}}})
                   .ok());
  ASSERT_OK_AND_ASSIGN(Result left, c->Exec("test", "SELECT count(*) FROM t"));
  EXPECT_EQ(left.Int(0, 0), 0);
}

TEST_F(PgDbTest, BatchOnATerminatedBackendIsUnavailable) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> c, Conn::Open(info_));
  ASSERT_OK(c->Batch("test", {{kSelect, {1}}, {kSelect, {2}}}).status());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Conn> other, Conn::Open(info_));
  ASSERT_OK(other->Run("test", "SELECT pg_terminate_backend($1)",
                       {int64_t{c->backend_pid()}}));
  absl::StatusOr<std::vector<Result>> lost =
      c->Batch("test", {{kSelect, {1}}, {kSelect, {2}}});
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(c->Reset());
  ASSERT_OK_AND_ASSIGN(std::vector<Result> r,
                       c->Batch("test", {{kSelect, {1}}, {kSelect, {2}}}));
  EXPECT_EQ(r[1].Int(0, 0), 3);
}

}  // namespace
}  // namespace keyferry::store::pg
