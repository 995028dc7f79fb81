#include "server/deployment.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "store/memory_store.h"
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
  config_.public_port = 443;  // a load balancer's, in front of the nodes
  EXPECT_EQ(Resource(config_), "https://vault.example");
}

TEST_F(DeploymentTest, OpenDeploymentMakesItsValuesOnce) {
  store::MemoryKeyStore store;
  ASSERT_OK_AND_ASSIGN(Deployment first, OpenDeployment(config_, store));
  EXPECT_EQ(first.tenant.size(), 36u);
  EXPECT_EQ(first.tenant[14], '4');  // a version-4 UUID
  EXPECT_EQ(first.identity_secret.size(), 48u);
  struct stat st {};
  ASSERT_EQ(::stat(config_.data_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> meta,
                       store.GetMeta(kTenantMeta));
  EXPECT_EQ(meta, first.tenant);
  ASSERT_OK_AND_ASSIGN(std::string header,
                       ReadFile(DataPath(config_, "identity-header")));
  EXPECT_EQ(header, first.identity_secret + "\n");
  ASSERT_OK_AND_ASSIGN(Deployment again, OpenDeployment(config_, store));
  EXPECT_EQ(again.tenant, first.tenant);
  EXPECT_EQ(again.identity_secret, first.identity_secret);
}

// A second node (its own data directory, the same store) answers with the
// first node's tenant and identity secret, and its files mirror them.
TEST_F(DeploymentTest, SecondNodeSharesTheStoresValues) {
  store::MemoryKeyStore store;
  ASSERT_OK_AND_ASSIGN(Deployment first, OpenDeployment(config_, store));
  Config other = config_;
  other.data_dir = dir_ + "/other";
  ASSERT_OK_AND_ASSIGN(Deployment second, OpenDeployment(other, store));
  EXPECT_EQ(second.tenant, first.tenant);
  EXPECT_EQ(second.identity_secret, first.identity_secret);
  ASSERT_OK_AND_ASSIGN(std::string tenant,
                       ReadFile(DataPath(other, "tenant-id")));
  EXPECT_EQ(tenant, first.tenant + "\n");
}

// An older deployment's files are adopted on the first start on a store;
// a node whose file disagrees with the store gets the store's value.
TEST_F(DeploymentTest, FilesAdoptedThenTheStoreWins) {
  store::MemoryKeyStore store;
  Write("tenant-id", "11111111-2222-4333-8444-555555555555\n");
  Write("identity-header", "00112233445566778899aabbccddeeff0011223344556677");
  ASSERT_OK_AND_ASSIGN(Deployment d, OpenDeployment(config_, store));
  EXPECT_EQ(d.tenant, "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(d.identity_secret,
            "00112233445566778899aabbccddeeff0011223344556677");
  Write("tenant-id", "99999999-2222-4333-8444-555555555555\n");
  ASSERT_OK_AND_ASSIGN(Deployment again, OpenDeployment(config_, store));
  EXPECT_EQ(again.tenant, "11111111-2222-4333-8444-555555555555");
  ASSERT_OK_AND_ASSIGN(std::string file,
                       ReadFile(DataPath(config_, "tenant-id")));
  EXPECT_EQ(file, "11111111-2222-4333-8444-555555555555\n");
}

TEST_F(DeploymentTest, AddedVaultsAreSharedAndMergedOnce) {
  store::MemoryKeyStore store;
  config_.vaults = {"myvault"};
  Write("vaults", "second\nmyvault\n\n");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> legacy,
                       LegacyAddedVaults(config_));
  EXPECT_THAT(legacy, ElementsAre("second", "myvault"));
  ASSERT_OK_AND_ASSIGN(Config merged, WithAddedVaults(config_));
  EXPECT_THAT(merged.vaults, ElementsAre("myvault", "second"));
  ASSERT_OK(OpenDeployment(config_, store).status());
  EXPECT_THAT(config_.vaults, ElementsAre("myvault", "second"));
  ASSERT_OK_AND_ASSIGN(bool added, AddVault(store, "third"));
  EXPECT_TRUE(added);
  ASSERT_OK_AND_ASSIGN(added, AddVault(store, "third"));
  EXPECT_FALSE(added);
  // Another node took index 3 first: the next add takes index 4.
  ASSERT_OK(store.SetMetaIfAbsent(absl::StrCat(kAddedVaultMeta, 3), "racer"));
  ASSERT_OK_AND_ASSIGN(added, AddVault(store, "fourth"));
  EXPECT_TRUE(added);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> all, AddedVaults(store));
  EXPECT_THAT(all,
              ElementsAre("second", "myvault", "third", "racer", "fourth"));
  Config other = config_;
  other.data_dir = dir_ + "/other";
  other.vaults = {"myvault"};
  ASSERT_OK(OpenDeployment(other, store).status());
  EXPECT_THAT(other.vaults,
              ElementsAre("myvault", "second", "third", "racer", "fourth"));
}

TEST_F(DeploymentTest, NoVaultsFileAddsNone) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> added,
                       LegacyAddedVaults(config_));
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

// store = postgres: three nodes starting at once on one new database (each
// its own connection pool and data directory) all end with the same tenant
// id and identity secret: SetMetaIfAbsent keeps the first writer's.
TEST_F(DeploymentTest, PostgresNodesStartingTogetherAgree) {
  ASSERT_OK_AND_ASSIGN(store::TestCluster * cluster,
                       store::TestCluster::Shared());
  ASSERT_OK_AND_ASSIGN(config_.postgres_url, cluster->CreateDatabase());
  config_.store = "postgres";
  ASSERT_OK(EnsureDataDir(config_.data_dir));
  ASSERT_OK(OpenStore(config_, 0).status());  // the schema, as node 1 makes it
  constexpr int kNodes = 3;
  std::vector<Config> configs(kNodes, config_);
  std::vector<absl::StatusOr<Deployment>> got(kNodes,
                                              absl::UnknownError("not run"));
  std::vector<std::thread> nodes;
  for (int i = 0; i < kNodes; ++i) {
    configs[i].data_dir = absl::StrCat(dir_, "/node", i);
    nodes.emplace_back([&, i] {
      absl::StatusOr<std::unique_ptr<store::KeyStore>> s =
          OpenToolStore(configs[i], /*must_exist=*/true);
      got[i] = s.ok() ? OpenDeployment(configs[i], **s)
                      : absl::StatusOr<Deployment>(s.status());
    });
  }
  for (std::thread& t : nodes) t.join();
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_OK(got[i].status());
    EXPECT_EQ(got[i]->tenant, got[0]->tenant) << "node " << i;
    EXPECT_EQ(got[i]->identity_secret, got[0]->identity_secret);
    ASSERT_OK_AND_ASSIGN(std::string file,
                         ReadFile(DataPath(configs[i], "identity-header")));
    EXPECT_EQ(file, got[0]->identity_secret + "\n");
  }
}

}  // namespace
}  // namespace keyferry::server
