#include "server/release_setup.h"

#include <stdlib.h>

#include <filesystem>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "release/testing.h"

namespace keyferry::server {
namespace {

class ReleaseSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/kf_release_setup.XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    dir_ = t;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ReleaseSetupTest, AuthoritiesFromJwksFiles) {
  release::test_support::TestIssuer issuer =
      release::test_support::TestIssuer::Ec();
  ASSERT_OK(WriteFileAtomic(dir_ + "/a.json", AsBytes(issuer.Jwks())));
  Config c;
  c.release_authorities = {{"https://a.test/", dir_ + "/a.json"}};
  ASSERT_OK_AND_ASSIGN(auto trusted, LoadReleaseAuthorities(c));
  EXPECT_EQ(trusted->Issuers(), std::vector<std::string>{"https://a.test/"});
  ASSERT_NE(trusted->Find("https://a.test"), nullptr);

  c.release_authorities = {{"https://a.test/", dir_ + "/missing.json"}};
  EXPECT_THAT(LoadReleaseAuthorities(c), StatusHasMessage("cannot read"));
  ASSERT_OK(WriteFileAtomic(dir_ + "/bad.json", AsBytes("{\"keys\":[]}")));
  c.release_authorities = {{"https://a.test/", dir_ + "/bad.json"}};
  EXPECT_THAT(LoadReleaseAuthorities(c),
              StatusHasMessage("config release-authority"));
  c.release_authorities.clear();
  ASSERT_OK_AND_ASSIGN(auto empty, LoadReleaseAuthorities(c));
  EXPECT_TRUE(empty->empty());
}

TEST_F(ReleaseSetupTest, SignerFromTheTlsFiles) {
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr key,
                       crypto::GenerateEc(crypto::Curve::kP256));
  crypto::CertificateFields f{.organization = "keyferry test",
                              .common_name = "myvault.localhost",
                              .days = 30};
  const std::vector<std::string> names{"localhost"};
  ASSERT_OK_AND_ASSIGN(crypto::Certificate cert,
                       crypto::NewConstrainedCa(key.get(), f, names));
  ASSERT_OK_AND_ASSIGN(std::string pem, cert.ToPem());
  ServerTls tls;
  tls.cert = dir_ + "/server.pem";
  tls.key = dir_ + "/server.key";
  ASSERT_OK(WriteFileAtomic(tls.cert, AsBytes(pem)));
  ASSERT_OK(crypto::WritePrivateKeyPemFile(tls.key, key.get()));
  ASSERT_OK_AND_ASSIGN(auto signer, LoadReleaseSigner(tls));
  EXPECT_NE(signer->HeaderJson().find("\"alg\":\"ES256\""), std::string::npos);
  // Another key than the certificate's is refused.
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr other,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ASSERT_OK(crypto::WritePrivateKeyPemFile(tls.key, other.get()));
  EXPECT_THAT(LoadReleaseSigner(tls),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry::server
