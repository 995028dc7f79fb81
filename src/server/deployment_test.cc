#include "server/deployment.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "store/pg_test_cluster.h"

namespace keyferry::server {
namespace {

using ::testing::ElementsAre;

class DeploymentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kf_deploy.XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_.data_dir = dir_ + "/data";
    config_.audit_log = config_.data_dir + "/audit.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, std::string_view text) {
    ASSERT_OK(EnsureDataDir(config_.data_dir));
    ASSERT_OK(WriteFileAtomic(DataPath(config_, name), AsBytes(text), 0600));
  }

  std::string dir_;
  Config config_;
};

TEST_F(DeploymentTest, ResourceAndIssuerOmitPort443) {
  config_.domain = "vault.example";
  config_.port = 443;
  EXPECT_EQ(Resource(config_), "https://vault.example");
  config_.port = 8443;
  EXPECT_EQ(Issuer(config_), "https://vault.example:8443/identity");
}

TEST_F(DeploymentTest, OpenDeploymentMakesItsFilesOnce) {
  ASSERT_OK_AND_ASSIGN(Deployment first, OpenDeployment(config_));
  EXPECT_EQ(first.tenant.size(), 36u);
  EXPECT_EQ(first.tenant[14], '4');  // a version-4 UUID
  EXPECT_EQ(first.identity_secret.size(), 48u);
  struct stat st {};
  ASSERT_EQ(::stat(config_.data_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_OK_AND_ASSIGN(Deployment again, OpenDeployment(config_));
  EXPECT_EQ(again.tenant, first.tenant);
  EXPECT_EQ(again.identity_secret, first.identity_secret);
}

TEST_F(DeploymentTest, WithAddedVaultsMergesOnce) {
  config_.vaults = {"myvault"};
  Write("vaults", "second\nmyvault\n\n");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> added, AddedVaults(config_));
  EXPECT_THAT(added, ElementsAre("second", "myvault"));
  ASSERT_OK_AND_ASSIGN(Config merged, WithAddedVaults(config_));
  EXPECT_THAT(merged.vaults, ElementsAre("myvault", "second"));
}

TEST_F(DeploymentTest, NoVaultsFileAddsNone) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> added, AddedVaults(config_));
  EXPECT_TRUE(added.empty());
}

TEST_F(DeploymentTest, FreshStoreOfANewDeployment) {
  ASSERT_OK(EnsureDataDir(config_.data_dir));
  ASSERT_OK_AND_ASSIGN(auto store, OpenStore(config_, 0));
  EXPECT_TRUE(store->created());
  ASSERT_OK_AND_ASSIGN(custody::MasterKeyPolicy policy, MasterKeysFor(*store));
  EXPECT_EQ(policy, custody::MasterKeyPolicy::kMustBeNew);
}

// A lost keys.db next to the audit log or the master key is refused, and
// the empty file the attempt made is removed again.
TEST_F(DeploymentTest, FailureLostStoreIsRefused) {
  ASSERT_OK(EnsureDataDir(config_.data_dir));
  EXPECT_THAT(OpenStore(config_, 3),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(std::filesystem::exists(DataPath(config_, "keys.db")));
  Write("master.key", "not checked here");
  absl::StatusOr<std::unique_ptr<store::KeyStore>> store =
      OpenStore(config_, 0);
  EXPECT_THAT(store, StatusHasMessage("master.key exists"));
  EXPECT_THAT(store, StatusHasMessage("this deployment's store is lost"));
  EXPECT_FALSE(std::filesystem::exists(DataPath(config_, "keys.db")));
  config_.custody = "pkcs11";  // master.key is not its master key
  EXPECT_OK(OpenStore(config_, 0));
}

// store = postgres: a database without keyferry's schema next to an
// existing master key is a lost store, refused without making the schema;
// a new deployment makes it; a tool that needs the store refuses an empty
// database.
TEST_F(DeploymentTest, PostgresStoreLostIsRefusedAndNothingMade) {
  ASSERT_OK_AND_ASSIGN(store::TestCluster * cluster,
                       store::TestCluster::Shared());
  ASSERT_OK_AND_ASSIGN(config_.postgres_url, cluster->CreateDatabase());
  config_.store = "postgres";
  EXPECT_THAT(OpenToolStore(config_, /*must_exist=*/true),
              StatusHasMessage("start keyferryd once first"));
  Write("master.key", "not checked here");
  absl::StatusOr<std::unique_ptr<store::KeyStore>> lost = OpenStore(config_, 0);
  EXPECT_THAT(lost, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(lost, StatusHasMessage("this deployment's store is lost"));
  EXPECT_THAT(OpenStore(config_, 0), StatusHasMessage("store is lost"));
  std::filesystem::remove(DataPath(config_, "master.key"));
  ASSERT_OK_AND_ASSIGN(auto made, OpenStore(config_, 0));
  EXPECT_TRUE(made->created());
  made.reset();
  ASSERT_OK_AND_ASSIGN(auto again, OpenToolStore(config_, true));
  EXPECT_FALSE(again->created());
  EXPECT_FALSE(std::filesystem::exists(DataPath(config_, "keys.db")));
}

}  // namespace
}  // namespace keyferry::server
