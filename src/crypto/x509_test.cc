#include "crypto/x509.h"

#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "crypto/keys.h"

namespace keyferry::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const CertificateFields kCaFields = {
    .organization = "keyferry", .common_name = "test CA", .days = 3650};
const CertificateFields kLeafFields = {
    .organization = "keyferry", .common_name = "localhost", .days = 825};
const std::vector<std::string> kSubtrees = {"localhost", "kv.example.com",
                                            "127.0.0.1", "::1"};

// SelfSigned builds a CA with OpenSSL directly, carrying only the
// extensions in `confs` (nid, X509V3 configuration): the shapes keyferry
// does not make itself (no Name Constraints, excluded subtrees).
Certificate SelfSigned(EVP_PKEY* key,
                       const std::vector<std::pair<int, std::string>>& confs) {
  X509Ptr cert(X509_new());
  EXPECT_NE(cert, nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  EXPECT_EQ(X509_NAME_add_entry_by_txt(
                name, "CN", MBSTRING_ASC,
                reinterpret_cast<const unsigned char*>("other CA"), -1, -1, 0),
            1);
  EXPECT_EQ(X509_set_issuer_name(cert.get(), name), 1);
  EXPECT_NE(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60), nullptr);
  EXPECT_NE(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400), nullptr);
  EXPECT_EQ(X509_set_pubkey(cert.get(), key), 1);
  for (const auto& [nid, conf] : confs) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, conf.c_str()));
    EXPECT_NE(ext, nullptr) << conf;
    EXPECT_EQ(X509_add_ext(cert.get(), ext.get(), -1), 1);
  }
  EXPECT_GT(X509_sign(cert.get(), key, EVP_sha256()), 0);
  return Certificate(std::move(cert));
}

// VerifyError runs OpenSSL's chain verification of `leaf` against the
// single trusted `ca` as a TLS server certificate; X509_V_OK on success.
int VerifyError(const Certificate& ca, const Certificate& leaf) {
  std::unique_ptr<X509_STORE, SslDeleter<X509_STORE, X509_STORE_free>> store(
      X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX,
                  SslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>
      ctx(X509_STORE_CTX_new());
  if (store == nullptr || ctx == nullptr ||
      X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr) != 1) {
    return -1;
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

class X509Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(ca_key_, GenerateEc(Curve::kP256));
    ASSERT_OK_AND_ASSIGN(leaf_key_, GenerateEc(Curve::kP256));
    ASSERT_OK_AND_ASSIGN(Certificate ca,
                         NewConstrainedCa(ca_key_.get(), kCaFields, kSubtrees));
    ca_ = std::make_unique<Certificate>(std::move(ca));
  }

  absl::StatusOr<Certificate> Leaf(const std::vector<std::string>& names) {
    return IssueServerCertificate(*ca_, ca_key_.get(), leaf_key_.get(),
                                  kLeafFields, names);
  }

  EvpPkeyPtr ca_key_, leaf_key_;
  std::unique_ptr<Certificate> ca_;
};

class X509FileTest : public X509Test {
 protected:
  void SetUp() override {
    X509Test::SetUp();
    char tmpl[] = "/tmp/kf_x509_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string root_;
};

TEST(X509NamesTest, IpAddressesAndDnsNames) {
  for (const char* ip : {"127.0.0.1", "::1", "10.1.2.3", "fe80::1"}) {
    EXPECT_TRUE(IsIpAddress(ip)) << ip;
  }
  for (const char* dns : {"localhost", "my-vault.kv.example.com", "*.x.y"}) {
    EXPECT_TRUE(IsDnsName(dns)) << dns;
    EXPECT_FALSE(IsIpAddress(dns)) << dns;
  }
  for (const char* bad : {"", "Localhost", "bad name", "a,DNS:evil", "a_b"}) {
    EXPECT_FALSE(IsDnsName(bad)) << bad;
    EXPECT_FALSE(IsIpAddress(bad)) << bad;
  }
  EXPECT_FALSE(IsDnsName(std::string(254, 'a')));
  EXPECT_TRUE(IsDnsName(std::string(253, 'a')));
  EXPECT_FALSE(IsIpAddress("256.0.0.1"));
}

TEST(X509NamesTest, DnsSubtreeAddsLabelsOnTheLeftOnly) {
  EXPECT_TRUE(InDnsSubtree("localhost", "localhost"));
  EXPECT_TRUE(InDnsSubtree("myvault.localhost", "localhost"));
  EXPECT_TRUE(InDnsSubtree("a.b.LOCALHOST", "localhost"));
  EXPECT_TRUE(InDnsSubtree("anything", ""));
  EXPECT_FALSE(InDnsSubtree("xlocalhost", "localhost"));
  EXPECT_FALSE(InDnsSubtree("localhost", "myvault.localhost"));
  EXPECT_FALSE(InDnsSubtree("localhost.evil", "localhost"));
}

TEST_F(X509Test, ConstrainedCaHasCaExtensions) {
  EXPECT_TRUE(ca_->IsCa());
  EXPECT_TRUE(ca_->MatchesKey(ca_key_.get()));
  EXPECT_FALSE(ca_->MatchesKey(leaf_key_.get()));
  EXPECT_TRUE(ca_->SignedBy(ca_key_.get()));
  EXPECT_TRUE(X509_get_key_usage(ca_->get()) & KU_KEY_CERT_SIGN);
  EXPECT_TRUE(X509_get_key_usage(ca_->get()) & KU_CRL_SIGN);
  EXPECT_EQ(X509_get_pathlen(ca_->get()), 0);
  for (int nid : {NID_basic_constraints, NID_key_usage, NID_name_constraints}) {
    int pos = X509_get_ext_by_NID(ca_->get(), nid, -1);
    ASSERT_GE(pos, 0) << OBJ_nid2sn(nid);
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(ca_->get(), pos)), 1)
        << OBJ_nid2sn(nid);
  }
  EXPECT_GE(X509_get_ext_by_NID(ca_->get(), NID_subject_key_identifier, -1), 0);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca_->get()), NID_commonName,
                            cn, sizeof cn);
  EXPECT_STREQ(cn, "test CA");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(ca_->get()),
                          X509_get_issuer_name(ca_->get())),
            0);
}

TEST_F(X509Test, ScopePermitsSubtreesAndExactAddressesOnly) {
  std::string outside = "unchanged";
  EXPECT_EQ(
      ca_->ScopeFor(
          std::vector<std::string>{"localhost", "myvault.localhost",
                                   "a.kv.example.com", "127.0.0.1", "::1"},
          &outside),
      NameConstraintsScope::kPermits);
  EXPECT_EQ(outside, "unchanged");
  for (const char* name : {"evil.example.com", "xlocalhost", "127.0.0.2", "::2",
                           "10.1.2.3", "example.com"}) {
    EXPECT_EQ(
        ca_->ScopeFor(std::vector<std::string>{"localhost", name}, &outside),
        NameConstraintsScope::kTooNarrow)
        << name;
    EXPECT_EQ(outside, name);
  }
  EXPECT_EQ(ca_->ScopeFor(std::vector<std::string>{"evil"}, nullptr),
            NameConstraintsScope::kTooNarrow);
}

TEST_F(X509Test, ScopeOfCasKeyferryDoesNotMake) {
  Certificate plain =
      SelfSigned(ca_key_.get(), {{NID_basic_constraints, "critical,CA:TRUE"}});
  std::string outside;
  EXPECT_EQ(
      plain.ScopeFor(std::vector<std::string>{"anything.example"}, &outside),
      NameConstraintsScope::kUnconstrained);
  EXPECT_TRUE(plain.IsCa());
  Certificate excluded = SelfSigned(
      ca_key_.get(),
      {{NID_basic_constraints, "critical,CA:TRUE"},
       {NID_name_constraints,
        "critical,permitted;DNS:localhost,excluded;DNS:evil.localhost"}});
  EXPECT_EQ(excluded.ScopeFor(std::vector<std::string>{"localhost"}, &outside),
            NameConstraintsScope::kTooNarrow);
  EXPECT_EQ(outside, "(unexpected Name Constraints)");
}

TEST_F(X509Test, ValidForCountsDaysFromNow) {
  CertificateFields fields = kCaFields;
  fields.days = 10;
  ASSERT_OK_AND_ASSIGN(Certificate ca,
                       NewConstrainedCa(ca_key_.get(), fields, kSubtrees));
  EXPECT_TRUE(ca.ValidFor(0));  // notBefore lies in the past
  EXPECT_TRUE(ca.ValidFor(9));
  EXPECT_FALSE(ca.ValidFor(11));
  EXPECT_TRUE(ca_->ValidFor(3649));
  EXPECT_FALSE(ca_->ValidFor(3651));
}

TEST_F(X509Test, ServerCertificateIsSignedByCaAndListsItsNames) {
  ASSERT_OK_AND_ASSIGN(Certificate leaf, Leaf({"localhost", "myvault.localhost",
                                               "127.0.0.1", "::1"}));
  EXPECT_FALSE(leaf.IsCa());
  EXPECT_TRUE(leaf.SignedBy(ca_key_.get()));
  EXPECT_FALSE(leaf.SignedBy(leaf_key_.get()));
  EXPECT_TRUE(leaf.MatchesKey(leaf_key_.get()));
  EXPECT_FALSE(leaf.MatchesKey(ca_key_.get()));
  EXPECT_TRUE(leaf.HasDnsSan("MyVault.localhost"));
  EXPECT_FALSE(leaf.HasDnsSan("other.localhost"));
  EXPECT_FALSE(leaf.HasDnsSan("127.0.0.1"));  // an iPAddress, not a dNSName
  EXPECT_TRUE(leaf.HasIpSan("0:0:0:0:0:0:0:1"));
  EXPECT_FALSE(leaf.HasIpSan("127.0.0.2"));
  EXPECT_FALSE(leaf.HasIpSan("localhost"));
  EXPECT_TRUE(leaf.HasSan("127.0.0.1"));
  EXPECT_TRUE(leaf.HasSan("localhost"));
  EXPECT_FALSE(leaf.HasSan("10.1.2.3"));
  EXPECT_TRUE(X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER);
  EXPECT_TRUE(X509_get_key_usage(leaf.get()) & KU_DIGITAL_SIGNATURE);
  EXPECT_GE(X509_get_ext_by_NID(leaf.get(), NID_authority_key_identifier, -1),
            0);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(leaf.get()),
                          X509_get_subject_name(ca_->get())),
            0);
  EXPECT_EQ(VerifyError(*ca_, leaf), X509_V_OK);
}

TEST_F(X509Test, LeafOutsideTheCaScopeFailsVerification) {
  ASSERT_OK_AND_ASSIGN(Certificate dns, Leaf({"evil.example.com"}));
  EXPECT_EQ(VerifyError(*ca_, dns), X509_V_ERR_PERMITTED_VIOLATION);
  ASSERT_OK_AND_ASSIGN(Certificate ip, Leaf({"192.0.2.7"}));
  EXPECT_EQ(VerifyError(*ca_, ip), X509_V_ERR_PERMITTED_VIOLATION);
  ASSERT_OK_AND_ASSIGN(Certificate inside, Leaf({"other.kv.example.com"}));
  EXPECT_EQ(VerifyError(*ca_, inside), X509_V_OK);
}

TEST_F(X509Test, FailureNamesThatAreNeitherDnsNorIp) {
  EXPECT_THAT(Leaf({"localhost", "bad name,DNS:evil"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Leaf({"Localhost"}),
              StatusHasMessage("not a DNS name or IP address: Localhost"));
  EXPECT_THAT(Leaf({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NewConstrainedCa(ca_key_.get(), kCaFields, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NewConstrainedCa(ca_key_.get(), kCaFields,
                               std::vector<std::string>{"x,excluded;DNS:y"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(X509Test, PemRoundTrip) {
  ASSERT_OK_AND_ASSIGN(std::string pem, ca_->ToPem());
  EXPECT_THAT(pem, StartsWith("-----BEGIN CERTIFICATE-----\n"));
  EXPECT_TRUE(pem.ends_with("-----END CERTIFICATE-----\n"));
  ASSERT_OK_AND_ASSIGN(Certificate back, Certificate::FromPem(pem));
  ASSERT_OK_AND_ASSIGN(std::string again, back.ToPem());
  EXPECT_EQ(again, pem);
  EXPECT_THAT(Certificate::FromPem("garbage"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Certificate::FromPem("garbage", "the input"),
              StatusHasMessage("no certificate in the input"));
}

TEST_F(X509FileTest, ReadPemFileReturnsTheFirstCertificate) {
  ASSERT_OK_AND_ASSIGN(Certificate leaf, Leaf({"localhost"}));
  ASSERT_OK_AND_ASSIGN(std::string leaf_pem, leaf.ToPem());
  ASSERT_OK_AND_ASSIGN(std::string ca_pem, ca_->ToPem());
  const std::string chain = root_ + "/chain.pem";
  ASSERT_OK(WriteFileAtomic(chain, AsBytes(leaf_pem + ca_pem)));
  ASSERT_OK_AND_ASSIGN(Certificate read, Certificate::ReadPemFile(chain));
  ASSERT_OK_AND_ASSIGN(std::string read_pem, read.ToPem());
  EXPECT_EQ(read_pem, leaf_pem);
  EXPECT_THAT(Certificate::ReadPemFile(root_ + "/missing.pem"),
              StatusIs(absl::StatusCode::kNotFound));
  const std::string junk = root_ + "/junk.pem";
  ASSERT_OK(WriteFileAtomic(junk, AsBytes("not a certificate")));
  EXPECT_THAT(Certificate::ReadPemFile(junk),
              StatusHasMessage("no certificate in " + junk));
}

TEST_F(X509FileTest, PrivateKeyFileIsOwnerOnlyPkcs8AndReadsBack) {
  const std::string path = root_ + "/key.pem";
  ASSERT_OK(WritePrivateKeyPemFile(path, leaf_key_.get()));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK_AND_ASSIGN(std::string pem, ReadFile(path));
  EXPECT_THAT(pem, StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr back, ReadPrivateKeyPemFile(path));
  ASSERT_OK_AND_ASSIGN(Certificate leaf, Leaf({"localhost"}));
  EXPECT_TRUE(leaf.MatchesKey(back.get()));
  EXPECT_FALSE(ca_->MatchesKey(back.get()));

  EXPECT_THAT(ReadPrivateKeyPemFile(root_ + "/missing.pem"),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(WriteFileAtomic(path, AsBytes("garbage"), 0600));
  absl::StatusOr<EvpPkeyPtr> junk = ReadPrivateKeyPemFile(path);
  EXPECT_THAT(junk, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(junk, StatusHasMessage("no private key in " + path));
  // A certificate is not a private key either.
  ASSERT_OK_AND_ASSIGN(std::string ca_pem, ca_->ToPem());
  ASSERT_OK(WriteFileAtomic(path, AsBytes(ca_pem), 0600));
  EXPECT_THAT(ReadPrivateKeyPemFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry::crypto
