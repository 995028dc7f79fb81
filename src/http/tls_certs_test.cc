#include "http/tls_certs.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "base/encoding.h"
#include "base/file.h"
#include "base/log.h"
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

  // Sh runs `cmd` with a shell and returns its exit status; Out() is what
  // it printed (stdout and stderr).
  int Sh(const std::string& cmd) {
    int rc = std::system((cmd + " > " + root_ + "/sh.txt 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  std::string Out() { return Read(root_ + "/sh.txt"); }

  // SignLeafWithCa has the OpenSSL CLI, holding only ca.pem and ca-key.pem,
  // issue a server certificate for `san` (e.g. "DNS:evil.example.com") into
  // root_/<name>.pem, as a thief of the CA key would.
  void SignLeafWithCa(const TlsFiles& f, const std::string& name,
                      const std::string& san) {
    const std::string base = root_ + "/" + name;
    ASSERT_OK(WriteFileAtomic(
        base + ".ext", AsBytes("basicConstraints=critical,CA:FALSE\n"
                               "keyUsage=critical,digitalSignature\n"
                               "extendedKeyUsage=serverAuth\nsubjectAltName=" +
                               san + "\n")));
    ASSERT_EQ(
        Sh("openssl req -new -newkey ec -pkeyopt "
           "ec_paramgen_curve:P-256 -nodes -keyout " +
           base + "-key.pem -subj /CN=" + name + " -out " + base + ".csr"),
        0)
        << Out();
    ASSERT_EQ(Sh("openssl x509 -req -in " + base + ".csr -CA " + f.ca_pem +
                 " -CAkey " + f.ca_key_pem + " -set_serial 7 -days 30" +
                 " -extfile " + base + ".ext -out " + base + ".pem"),
              0)
        << Out();
  }

  std::string root_, dir_;
};

// The lines keyferry logs while a test runs (SetLogSink takes a function).
std::vector<std::string>* captured_log = nullptr;
void CaptureLog(std::string_view line) {
  if (captured_log != nullptr) captured_log->emplace_back(line);
}

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
      TlsFiles first,
      EnsureTlsCertificates({.dir = dir_,
                             .vault_hosts = {"myvault.kv.example.com"},
                             .extra_names = {"kv.example.com"}}));
  std::string ca = Read(first.ca_pem);
  std::string leaf = Read(first.server_pem);
  // A vault added later lies in the domain's subtree: same CA.
  ASSERT_OK_AND_ASSIGN(
      TlsFiles second,
      EnsureTlsCertificates(
          {.dir = dir_,
           .vault_hosts = {"myvault.kv.example.com", "myhsm.kv.example.com"},
           .extra_names = {"kv.example.com"}}));
  EXPECT_FALSE(second.ca_issued);
  EXPECT_TRUE(second.leaf_issued);
  EXPECT_EQ(Read(second.ca_pem), ca);
  EXPECT_NE(Read(second.server_pem), leaf);
  for (const char* host :
       {"myvault.kv.example.com", "myhsm.kv.example.com", "kv.example.com"}) {
    EXPECT_TRUE(VerifiesFor(second, host)) << host;
  }
}

TEST_F(TlsCertsTest, NamesOutsideTheCaConstraintsReplaceTheCa) {
  ASSERT_OK_AND_ASSIGN(
      TlsFiles first, EnsureTlsCertificates(
                          {.dir = dir_, .vault_hosts = {"myvault.localhost"}}));
  std::string ca = Read(first.ca_pem);
  ASSERT_OK_AND_ASSIGN(
      TlsFiles second,
      EnsureTlsCertificates(
          {.dir = dir_,
           .vault_hosts = {"myvault.localhost", "myhsm.localhost"},
           .extra_names = {"host.docker.internal", "10.1.2.3"}}));
  // The old CA may not vouch for host.docker.internal or 10.1.2.3: a leaf
  // with them under it would fail everywhere, so a new CA is made.
  EXPECT_TRUE(second.ca_issued);
  EXPECT_TRUE(second.leaf_issued);
  EXPECT_NE(Read(second.ca_pem), ca);
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

TEST_F(TlsCertsTest, CaCarriesCriticalNameConstraintsForItsNamesOnly) {
  ASSERT_OK_AND_ASSIGN(
      TlsFiles f,
      EnsureTlsCertificates({.dir = dir_,
                             .vault_hosts = {"myvault.kv.example.com"},
                             .extra_names = {"kv.example.com", "10.1.2.3"}}));
  ASSERT_EQ(Sh("openssl x509 -noout -ext nameConstraints,basicConstraints "
               "-in " +
               f.ca_pem),
            0)
      << Out();
  std::string text = Out();
  EXPECT_THAT(text, ::testing::HasSubstr("Name Constraints: critical"));
  EXPECT_THAT(text, ::testing::HasSubstr("pathlen:0"));
  for (const char* permitted :
       {"DNS:localhost", "DNS:kv.example.com", "IP:127.0.0.1/255.255.255.255",
        "IP:10.1.2.3/255.255.255.255",
        "IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF"}) {
    EXPECT_THAT(text, ::testing::HasSubstr(permitted));
  }
  // The vault host lies inside the domain's subtree; nothing is excluded.
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("myvault")));
  EXPECT_THAT(text, ::testing::Not(::testing::HasSubstr("Excluded")));
}

TEST_F(TlsCertsTest, OpenSslCliRefusesALeafTheStolenCaKeySignsForOtherHosts) {
  ASSERT_OK_AND_ASSIGN(
      TlsFiles f, EnsureTlsCertificates({.dir = dir_,
                                         .vault_hosts = {"myvault.localhost"},
                                         .extra_names = {"localhost"}}));
  const std::string ca = Read(f.ca_pem);
  const std::string server = Read(f.server_pem);
  ASSERT_EQ(Sh("openssl verify -purpose sslserver -CAfile " + f.ca_pem + " " +
               f.server_pem),
            0)
      << Out();
  EXPECT_THAT(Out(), ::testing::HasSubstr(": OK"));

  SignLeafWithCa(f, "evil", "DNS:evil.example.com");
  EXPECT_NE(Sh("openssl verify -purpose sslserver -CAfile " + f.ca_pem + " " +
               root_ + "/evil.pem"),
            0)
      << Out();
  EXPECT_THAT(Out(), ::testing::HasSubstr("permitted subtree violation"));
  SignLeafWithCa(f, "evilip", "IP:192.0.2.7");
  EXPECT_NE(Sh("openssl verify -purpose sslserver -CAfile " + f.ca_pem + " " +
               root_ + "/evilip.pem"),
            0)
      << Out();
  EXPECT_THAT(Out(), ::testing::HasSubstr("permitted subtree violation"));
  // Inside the domain the key still works: that is the scope it is for.
  SignLeafWithCa(f, "inside", "DNS:other.localhost");
  EXPECT_EQ(Sh("openssl verify -purpose sslserver -CAfile " + f.ca_pem + " " +
               root_ + "/inside.pem"),
            0)
      << Out();
  // Nothing keyferry wrote changed.
  EXPECT_EQ(Read(f.ca_pem), ca);
  EXPECT_EQ(Read(f.server_pem), server);
}

TEST_F(TlsCertsTest, LegacyCaWithoutNameConstraintsIsKeptWithAWarning) {
  // A CA as keyferry made them before Name Constraints.
  std::filesystem::create_directories(dir_);
  ASSERT_EQ(Sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
               "-nodes -keyout " +
               dir_ + "/ca-key.pem -out " + dir_ +
               "/ca.pem -days 3650 -subj '/O=keyferry/CN=keyferry local CA' "
               "-addext basicConstraints=critical,CA:TRUE "
               "-addext keyUsage=critical,keyCertSign,cRLSign"),
            0)
      << Out();
  ASSERT_EQ(chmod((dir_ + "/ca-key.pem").c_str(), 0600), 0);
  const std::string ca = Read(dir_ + "/ca.pem");
  const std::string ca_key = Read(dir_ + "/ca-key.pem");
  std::vector<std::string> log;
  captured_log = &log;
  SetLogSink(CaptureLog);
  absl::StatusOr<TlsFiles> f = EnsureTlsCertificates(
      {.dir = dir_, .vault_hosts = {"myvault.localhost"}});
  SetLogSink(nullptr);
  captured_log = nullptr;
  ASSERT_OK(f);
  EXPECT_FALSE(f->ca_issued);
  EXPECT_TRUE(f->leaf_issued);
  EXPECT_EQ(Read(f->ca_pem), ca);
  EXPECT_EQ(Read(f->ca_key_pem), ca_key);
  EXPECT_TRUE(VerifiesFor(*f, "myvault.localhost"));
  EXPECT_THAT(log,
              ::testing::Contains(::testing::AllOf(
                  ::testing::HasSubstr("\"event\":\"tls_ca_unconstrained\""),
                  ::testing::HasSubstr("Remove ca.pem and ca-key.pem"))));
  // The next start keeps it too (and warns again).
  ASSERT_OK_AND_ASSIGN(
      TlsFiles again, EnsureTlsCertificates(
                          {.dir = dir_, .vault_hosts = {"myvault.localhost"}}));
  EXPECT_FALSE(again.ca_issued);
  EXPECT_FALSE(again.leaf_issued);
}

TEST_F(TlsCertsTest, FailureKeyFileReadableByOthersChangesNothing) {
  ASSERT_OK_AND_ASSIGN(TlsFiles f, EnsureTlsCertificates({.dir = dir_}));
  for (const std::string& key : {f.server_key_pem, f.ca_key_pem}) {
    SCOPED_TRACE(key);
    const std::vector<std::string> paths = {f.ca_pem, f.ca_key_pem,
                                            f.server_pem, f.server_key_pem};
    std::vector<std::string> before;
    for (const std::string& p : paths) before.push_back(Read(p));
    ASSERT_EQ(chmod(key.c_str(), 0644), 0);
    absl::StatusOr<TlsFiles> refused = EnsureTlsCertificates({.dir = dir_});
    EXPECT_THAT(refused, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_EQ(refused.status().message(),
              "TLS private key file " + key +
                  " is accessible to group or others (mode 0644); it must be "
                  "0600 or stricter");
    for (size_t i = 0; i < paths.size(); ++i) {
      EXPECT_EQ(Read(paths[i]), before[i]) << paths[i];
    }
    struct stat st;
    ASSERT_EQ(stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);  // not silently "fixed"
    ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  }
  ASSERT_OK_AND_ASSIGN(TlsFiles again, EnsureTlsCertificates({.dir = dir_}));
  EXPECT_FALSE(again.ca_issued);
  EXPECT_FALSE(again.leaf_issued);
}

TEST_F(TlsCertsTest, CheckPrivateKeyFileAllowsOwnerOnly) {
  const std::string key = root_ + "/operator-key.pem";
  ASSERT_OK(WriteFileAtomic(key, AsBytes("not parsed"), 0600));
  EXPECT_OK(CheckPrivateKeyFile(key));
  ASSERT_EQ(chmod(key.c_str(), 0400), 0);
  EXPECT_OK(CheckPrivateKeyFile(key));
  for (mode_t mode : {0640, 0604, 0660, 0444}) {
    ASSERT_EQ(chmod(key.c_str(), mode), 0);
    char want[32];
    std::snprintf(want, sizeof want, "(mode %04o)",
                  static_cast<unsigned>(mode));
    absl::Status s = CheckPrivateKeyFile(key);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_THAT(s, StatusHasMessage(std::string(want)));
  }
  EXPECT_THAT(CheckPrivateKeyFile(root_ + "/missing.pem"),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace keyferry::http
