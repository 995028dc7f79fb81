#include "http/tls_certs.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::http {
namespace {

class TlsCertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kf_tls_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/certs";  // created by EnsureTlsCertificates
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string Read(const std::string& path) {
    absl::StatusOr<std::string> s = ReadFile(path);
    EXPECT_OK(s);
    return s.value_or("");
  }

  // VerifiesFor checks the leaf of server.pem against ca.pem for `host`
  // with OpenSSL's own chain and host-name verification.
  bool VerifiesFor(const TlsFiles& f, const std::string& host) {
    crypto::BioPtr leaf_bio(BIO_new_file(f.server_pem.c_str(), "r"));
    crypto::X509Ptr leaf(
        PEM_read_bio_X509(leaf_bio.get(), nullptr, nullptr, nullptr));
    std::unique_ptr<X509_STORE, crypto::SslDeleter<X509_STORE, X509_STORE_free>>
        store(X509_STORE_new());
    std::unique_ptr<X509_STORE_CTX,
                    crypto::SslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>
        ctx(X509_STORE_CTX_new());
    if (leaf == nullptr || store == nullptr || ctx == nullptr ||
        X509_STORE_load_file(store.get(), f.ca_pem.c_str()) != 1 ||
        X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr) != 1) {
      return false;
    }
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (host.find(':') != std::string::npos || std::isdigit(host[0])) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    }
    return X509_verify_cert(ctx.get()) == 1;
  }

  std::string root_, dir_;
};

TEST_F(TlsCertsTest, FirstRunIssuesCaAndLeafWithPrivateKeyFiles) {
  ASSERT_OK_AND_ASSIGN(
      TlsFiles f, EnsureTlsCertificates(
                      {.dir = dir_, .vault_hosts = {"myvault.localhost"}}));
  EXPECT_TRUE(f.ca_issued);
  EXPECT_TRUE(f.leaf_issued);
  struct stat st;
  ASSERT_EQ(stat(f.server_key_pem.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(f.ca_key_pem.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // The chain file is leaf then CA.
  std::string chain = Read(f.server_pem);
  EXPECT_TRUE(chain.ends_with(Read(f.ca_pem)));
  EXPECT_GT(chain.size(), Read(f.ca_pem).size());
  for (const char* host :
       {"myvault.localhost", "localhost", "127.0.0.1", "::1"}) {
    EXPECT_TRUE(VerifiesFor(f, host)) << host;
  }
  EXPECT_FALSE(VerifiesFor(f, "other.localhost"));
}

TEST_F(TlsCertsTest, CaIsP256WithCaConstraintsAndKeyCertSign) {
  ASSERT_OK_AND_ASSIGN(TlsFiles f, EnsureTlsCertificates({.dir = dir_}));
  crypto::BioPtr bio(BIO_new_file(f.ca_pem.c_str(), "r"));
  crypto::X509Ptr ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN);
  EVP_PKEY* pub = X509_get0_pubkey(ca.get());
  EXPECT_TRUE(EVP_PKEY_is_a(pub, "EC"));
  char group[32] = {};
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(pub, group, sizeof group, &len), 1);
  EXPECT_STREQ(group, "prime256v1");
  // About ten years.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca.get()),
                           X509_get0_notAfter(ca.get())),
            1);
  EXPECT_GE(days, 3649);
  EXPECT_LE(days, 3651);
}

TEST_F(TlsCertsTest, SecondRunReusesEverything) {
  TlsCertOptions opts{.dir = dir_, .vault_hosts = {"myvault.localhost"}};
  ASSERT_OK_AND_ASSIGN(TlsFiles first, EnsureTlsCertificates(opts));
  std::string leaf = Read(first.server_pem);
  std::string ca = Read(first.ca_pem);
  ASSERT_OK_AND_ASSIGN(TlsFiles second, EnsureTlsCertificates(opts));
  EXPECT_FALSE(second.ca_issued);
  EXPECT_FALSE(second.leaf_issued);
  EXPECT_EQ(Read(second.server_pem), leaf);
  EXPECT_EQ(Read(second.ca_pem), ca);
}

TEST_F(TlsCertsTest, NewVaultReissuesLeafWithSameCa) {
  ASSERT_OK_AND_ASSIGN(
      TlsFiles first, EnsureTlsCertificates(
                          {.dir = dir_, .vault_hosts = {"myvault.localhost"}}));
  std::string ca = Read(first.ca_pem);
  std::string leaf = Read(first.server_pem);
  ASSERT_OK_AND_ASSIGN(
      TlsFiles second,
      EnsureTlsCertificates(
          {.dir = dir_,
           .vault_hosts = {"myvault.localhost", "myhsm.localhost"},
           .extra_names = {"host.docker.internal", "10.1.2.3"}}));
  EXPECT_FALSE(second.ca_issued);
  EXPECT_TRUE(second.leaf_issued);
  EXPECT_EQ(Read(second.ca_pem), ca);
  EXPECT_NE(Read(second.server_pem), leaf);
  for (const char* host : {"myvault.localhost", "myhsm.localhost",
                           "host.docker.internal", "10.1.2.3"}) {
    EXPECT_TRUE(VerifiesFor(second, host)) << host;
  }
}

TEST_F(TlsCertsTest, CorruptCaKeyReissuesCaAndLeaf) {
  ASSERT_OK_AND_ASSIGN(TlsFiles first, EnsureTlsCertificates({.dir = dir_}));
  std::string ca = Read(first.ca_pem);
  ASSERT_OK(WriteFileAtomic(first.ca_key_pem, AsBytes("garbage"), 0600));
  ASSERT_OK_AND_ASSIGN(TlsFiles second, EnsureTlsCertificates({.dir = dir_}));
  EXPECT_TRUE(second.ca_issued);
  EXPECT_TRUE(second.leaf_issued);
  EXPECT_NE(Read(second.ca_pem), ca);
  EXPECT_TRUE(VerifiesFor(second, "localhost"));
}

TEST_F(TlsCertsTest, LeafFromAnotherCaIsReissued) {
  ASSERT_OK_AND_ASSIGN(TlsFiles first, EnsureTlsCertificates({.dir = dir_}));
  std::string other_dir = root_ + "/other";
  ASSERT_OK_AND_ASSIGN(TlsFiles other,
                       EnsureTlsCertificates({.dir = other_dir}));
  std::filesystem::copy_file(other.server_pem, first.server_pem,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(other.server_key_pem, first.server_key_pem,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_OK_AND_ASSIGN(TlsFiles again, EnsureTlsCertificates({.dir = dir_}));
  EXPECT_FALSE(again.ca_issued);
  EXPECT_TRUE(again.leaf_issued);
  EXPECT_TRUE(VerifiesFor(again, "localhost"));
}

TEST_F(TlsCertsTest, FailureNameThatIsNeitherDnsNorIp) {
  EXPECT_THAT(EnsureTlsCertificates(
                  {.dir = dir_, .extra_names = {"bad name,DNS:evil"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ca.pem"));
}

TEST(ServerNamesTest, DefaultsFirstThenLowerCasedUniqueNames) {
  EXPECT_THAT(ServerNames({.vault_hosts = {"MyVault.localhost", "localhost"},
                           .extra_names = {"myvault.localhost", "::1", "x.y"}}),
              ::testing::ElementsAre("localhost", "127.0.0.1", "::1",
                                     "myvault.localhost", "x.y"));
}

TEST_F(TlsCertsTest, OpenSslCliVerifiesChainAndListsSans) {
  ASSERT_OK_AND_ASSIGN(
      TlsFiles f, EnsureTlsCertificates(
                      {.dir = dir_, .vault_hosts = {"myvault.localhost"}}));
  std::string verify =
      "openssl verify -purpose sslserver -verify_hostname "
      "myvault.localhost -CAfile " +
      f.ca_pem + " " + f.server_pem + " > " + root_ + "/verify.txt 2>&1";
  EXPECT_EQ(std::system(verify.c_str()), 0) << Read(root_ + "/verify.txt");
  EXPECT_THAT(Read(root_ + "/verify.txt"), ::testing::HasSubstr(": OK"));
  std::string text = "openssl x509 -noout -ext subjectAltName -in " +
                     f.server_pem + " > " + root_ + "/san.txt 2>&1";
  ASSERT_EQ(std::system(text.c_str()), 0);
  std::string san = Read(root_ + "/san.txt");
  EXPECT_THAT(san, ::testing::HasSubstr("DNS:localhost"));
  EXPECT_THAT(san, ::testing::HasSubstr("DNS:myvault.localhost"));
  EXPECT_THAT(san, ::testing::HasSubstr("IP Address:127.0.0.1"));
  EXPECT_THAT(san, ::testing::HasSubstr("IP Address:0:0:0:0:0:0:0:1"));
}

}  // namespace
}  // namespace keyferry::http
