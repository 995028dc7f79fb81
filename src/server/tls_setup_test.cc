#include "server/tls_setup.h"

#include <sys/stat.h>
#include <unistd.h>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"

namespace keyferry::server {
namespace {

class TlsSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/kf_tls_setup.XXXXXX";
    dir_ = mkdtemp(t);
  }
  void TearDown() override { ASSERT_EQ(system(("rm -rf " + dir_).c_str()), 0); }
  std::string dir_;
};

TEST_F(TlsSetupTest, GeneratedCertificateCoversTheVaultsTheDomainAndTlsNames) {
  ASSERT_OK_AND_ASSIGN(
      Config c, LoadConfig({"--data-dir", dir_, "--vaults", "alpha,beta",
                            "--tls-names", "kv.test.internal,10.1.2.3"}));
  ASSERT_OK_AND_ASSIGN(ServerTls tls, PrepareTls(c));
  EXPECT_EQ(tls.ca, dir_ + "/tls/ca.pem");
  EXPECT_EQ(tls.names, (std::vector<std::string>{
                           "localhost", "127.0.0.1", "::1", "alpha.localhost",
                           "beta.localhost", "kv.test.internal", "10.1.2.3"}));
}

TEST_F(TlsSetupTest, GeneratedCertificateCoversVaultAliases) {
  ASSERT_OK_AND_ASSIGN(
      Config c, LoadConfig({"--data-dir", dir_, "--tls-names", "10.1.2.3",
                            "--vault-alias", "kv.test.internal=myvault"}));
  ASSERT_OK_AND_ASSIGN(ServerTls tls, PrepareTls(c));
  EXPECT_EQ(tls.names, (std::vector<std::string>{
                           "localhost", "127.0.0.1", "::1", "myvault.localhost",
                           "10.1.2.3", "kv.test.internal"}));
}

TEST_F(TlsSetupTest, OperatorCertificateHasNoCaAndNoNames) {
  ASSERT_OK(WriteFileAtomic(dir_ + "/k.pem", AsBytes("key"), 0600));
  ASSERT_OK_AND_ASSIGN(
      Config c, LoadConfig({"--data-dir", dir_, "--tls-cert", dir_ + "/c.pem",
                            "--tls-key", dir_ + "/k.pem"}));
  ASSERT_OK_AND_ASSIGN(ServerTls tls, PrepareTls(c));
  EXPECT_EQ(tls.cert, dir_ + "/c.pem");
  EXPECT_TRUE(tls.ca.empty());
  EXPECT_TRUE(tls.names.empty());
}

TEST_F(TlsSetupTest, BundleIsTheSystemCertificatesThenOurs) {
  const std::string cert =
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  ASSERT_OK(WriteFileAtomic(dir_ + "/system.pem", AsBytes(cert + cert)));
  ASSERT_OK(WriteFileAtomic(dir_ + "/ca.pem", AsBytes(cert)));
  ASSERT_OK_AND_ASSIGN(int n,
                       WriteCaBundle(dir_ + "/bundle.pem", dir_ + "/ca.pem",
                                     dir_ + "/system.pem"));
  EXPECT_EQ(n, 2);
  ASSERT_OK_AND_ASSIGN(std::string bundle, ReadFile(dir_ + "/bundle.pem"));
  EXPECT_EQ(bundle, cert + cert + "# keyferryd's private CA (" + dir_ +
                        "/ca.pem)\n" + cert);
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/bundle.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(TlsSetupTest, FailureMissingSystemBundleOrNoCertificateWritesNothing) {
  ASSERT_OK(WriteFileAtomic(dir_ + "/ca.pem", AsBytes("not a certificate\n")));
  ASSERT_OK(WriteFileAtomic(dir_ + "/system.pem", AsBytes("")));
  EXPECT_THAT(
      WriteCaBundle(dir_ + "/b1.pem", dir_ + "/ca.pem", dir_ + "/system.pem"),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      WriteCaBundle(dir_ + "/b2.pem", dir_ + "/ca.pem", dir_ + "/missing.pem"),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_NE(access((dir_ + "/b1.pem").c_str(), F_OK), 0);
  EXPECT_NE(access((dir_ + "/b2.pem").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace keyferry::server
