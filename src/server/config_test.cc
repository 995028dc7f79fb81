#include "server/config.h"

#include <unistd.h>

#include <algorithm>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"

namespace keyferry::server {
namespace {

TEST(ConfigTest, Defaults) {
  ASSERT_OK_AND_ASSIGN(Config c, LoadConfig({}));
  EXPECT_EQ(c.listen_address, "127.0.0.1");
  EXPECT_EQ(c.port, 8443);
  EXPECT_EQ(c.domain, "localhost");
  EXPECT_EQ(c.vaults, std::vector<std::string>{"myvault"});
  EXPECT_FALSE(c.data_dir.empty());
}

TEST(ConfigTest, FileThenFlagsOverride) {
  char t[] = "/tmp/kf_config.XXXXXX";
  std::string dir = mkdtemp(t);
  ASSERT_OK(WriteFileAtomic(dir + "/kf.conf", AsBytes(R"(
# keyferryd test configuration
listen = 0.0.0.0:9443
vaults = alpha, beta-2
domain = KV.Example.com
data-dir = /var/lib/keyferry
)")));
  ASSERT_OK_AND_ASSIGN(Config c,
                       LoadConfig({"--listen", "[::1]:7443", "--config",
                                   dir + "/kf.conf", "--threads=4"}));
  EXPECT_EQ(c.listen_address, "::1");  // the flag wins over the file
  EXPECT_EQ(c.port, 7443);
  EXPECT_EQ(c.vaults, (std::vector<std::string>{"alpha", "beta-2"}));
  EXPECT_EQ(c.domain, "kv.example.com");
  EXPECT_EQ(c.data_dir, "/var/lib/keyferry");
  EXPECT_EQ(c.threads, 4);
}

TEST(ConfigTest, AuditDurabilityIsSyncUnlessAskedOtherwise) {
  ASSERT_OK_AND_ASSIGN(Config d, LoadConfig({}));
  EXPECT_EQ(d.audit_durability, "sync");
  ASSERT_OK_AND_ASSIGN(Config w, LoadConfig({"--audit-durability", "write"}));
  EXPECT_EQ(w.audit_durability, "write");
}

// public-port: the load balancer's port, which tokens name; 0 (unset)
// means the listen port.
TEST(ConfigTest, PublicPortOfALoadBalancer) {
  ASSERT_OK_AND_ASSIGN(Config plain, LoadConfig({"--listen", "0.0.0.0:8443"}));
  EXPECT_EQ(plain.public_port, 0);
  ASSERT_OK_AND_ASSIGN(Config c, LoadConfig({"--listen", "0.0.0.0:8443",
                                             "--public-port", "443"}));
  EXPECT_EQ(c.port, 8443);
  EXPECT_EQ(c.public_port, 443);
  EXPECT_THAT(LoadConfig({"--public-port", "0"}),
              StatusHasMessage("public-port"));
  EXPECT_THAT(LoadConfig({"--public-port", "65536"}),
              StatusHasMessage("public-port"));
}

TEST(ConfigTest, TlsNamesAreListedLowerCasedAndOnlyForTheGeneratedCertificate) {
  ASSERT_OK_AND_ASSIGN(Config none, LoadConfig({}));
  EXPECT_TRUE(none.tls_names.empty());
  ASSERT_OK_AND_ASSIGN(
      Config c, LoadConfig({"--tls-names", " KV.Test.Internal, 10.1.2.3,"}));
  EXPECT_EQ(c.tls_names,
            (std::vector<std::string>{"kv.test.internal", "10.1.2.3"}));
  EXPECT_THAT(LoadConfig({"--tls-names", "x.test", "--tls-cert", "/c.pem",
                          "--tls-key", "/k.pem"}),
              StatusHasMessage("tls-names"));
}

TEST(ConfigTest, VaultAliasesNameServedVaultsOnce) {
  ASSERT_OK_AND_ASSIGN(
      Config c, LoadConfig({"--vaults", "myvault,second", "--vault-alias",
                            " KV.Test.Internal=MyVault, other.localhost=second"}));
  EXPECT_EQ(c.vault_aliases,
            (std::vector<std::pair<std::string, std::string>>{
                {"kv.test.internal", "myvault"},
                {"other.localhost", "second"}}));
  for (const char* bad :
       {"kv=myvault", "kv.test:8443=myvault", "kv.test.internal", "=myvault",
        "kv..test=myvault", "-kv.test=myvault", "kv.test.internal=nosuch",
        "myvault.localhost=myvault",
        "a.test.internal=myvault,a.test.internal=myvault"}) {
    EXPECT_THAT(LoadConfig({"--vault-alias", bad}),
                StatusHasMessage("vault-alias"))
        << bad;
  }
}

TEST(ConfigTest, FailureBadValues) {
  EXPECT_THAT(LoadConfig({"--listen", "8443"}),
              StatusHasMessage("address:port"));
  EXPECT_THAT(LoadConfig({"--listen", "h:70000"}),
              StatusHasMessage("0 to 65535"));
  EXPECT_THAT(LoadConfig({"--vaults", "My_Vault"}),
              StatusHasMessage("not 3-24"));
  EXPECT_THAT(LoadConfig({"--tls-cert", "/x.pem"}),
              StatusHasMessage("go together"));
  EXPECT_THAT(LoadConfig({"--custody", "cloud"}),
              StatusHasMessage("not available"));
  EXPECT_THAT(LoadConfig({"--identity-listen", "0.0.0.0:8081"}),
              StatusHasMessage("loopback"));
  EXPECT_THAT(LoadConfig({"--frobnicate", "1"}),
              StatusHasMessage("unknown option"));
  EXPECT_THAT(LoadConfig({"--audit-durability", "never"}),
              StatusHasMessage("sync or write"));
  EXPECT_THAT(LoadConfig({"--listen"}), StatusHasMessage("needs a value"));
  Config c;
  EXPECT_THAT(ParseConfigText("listen 1", c),
              StatusHasMessage("config line 1"));
}

TEST(ConfigTest, Pkcs11CustodyAndAuditLog) {
  ASSERT_OK_AND_ASSIGN(
      Config c,
      LoadConfig({"--data-dir", "/d", "--custody", "pkcs11", "--pkcs11-token",
                  "pkcs11:token=prod", "--pkcs11-pin-file", "/etc/kf/pin"}));
  EXPECT_EQ(c.custody, "pkcs11");
  EXPECT_EQ(c.pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(c.pkcs11_token, "pkcs11:token=prod");
  EXPECT_EQ(c.pkcs11_pin_file, "/etc/kf/pin");
  EXPECT_EQ(c.audit_log, "/d/audit.log");
  ASSERT_OK_AND_ASSIGN(Config d,
                       LoadConfig({"--audit-log", "/var/log/kf.log"}));
  EXPECT_EQ(d.audit_log, "/var/log/kf.log");
  EXPECT_THAT(LoadConfig({"--custody", "pkcs11"}),
              StatusHasMessage("needs the token"));
}

TEST(ConfigTest, AccessTokenMaxLifetime) {
  ASSERT_OK_AND_ASSIGN(Config c, LoadConfig({}));
  EXPECT_EQ(c.token_max_lifetime, 86400);
  EXPECT_OK(CheckAccessTokenLifetime(c, 86400));
  EXPECT_OK(CheckAccessTokenLifetime(c, -120));  // an expired token, for tests
  EXPECT_THAT(CheckAccessTokenLifetime(c, 86401),
              StatusHasMessage("above token-max-lifetime (86400 s)"));
  EXPECT_THAT(CheckAccessTokenLifetime(c, 86401),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(Config d, LoadConfig({"--token-max-lifetime", "3600"}));
  EXPECT_EQ(d.token_max_lifetime, 3600);
  EXPECT_THAT(CheckAccessTokenLifetime(d, 3601), StatusHasMessage("3600 s"));
  EXPECT_THAT(LoadConfig({"--token-max-lifetime", "3599"}),
              StatusHasMessage("3600 to 2592000"));
  EXPECT_THAT(LoadConfig({"--token-max-lifetime", "2592001"}),
              StatusHasMessage("3600 to 2592000"));
  EXPECT_THAT(LoadConfig({"--token-max-lifetime", "1d"}),
              StatusHasMessage("token-max-lifetime"));
}

TEST(ConfigTest, IdentityLegacyUids) {
  ASSERT_OK_AND_ASSIGN(Config off, LoadConfig({}));
  EXPECT_TRUE(off.identity_legacy_uids.empty());  // refused by default
  ASSERT_OK_AND_ASSIGN(
      Config c, LoadConfig({"--identity-legacy-uids", "1000, self,0,1000"}));
  // Duplicates (self may be 0 or 1000 here) are dropped, order kept.
  std::vector<uint32_t> want = {1000};
  for (uint32_t u : {static_cast<uint32_t>(::geteuid()), 0u}) {
    if (std::find(want.begin(), want.end(), u) == want.end()) want.push_back(u);
  }
  EXPECT_EQ(c.identity_legacy_uids, want);
  ASSERT_OK_AND_ASSIGN(
      Config empty, LoadConfig({"--identity-legacy-uids=", "--threads", "1"}));
  EXPECT_TRUE(empty.identity_legacy_uids.empty());
  EXPECT_THAT(LoadConfig({"--identity-legacy-uids", "root"}),
              StatusHasMessage("not a numeric uid or 'self'"));
  EXPECT_THAT(LoadConfig({"--identity-legacy-uids", "-1"}),
              StatusHasMessage("not a numeric uid"));
  EXPECT_THAT(LoadConfig({"--identity-legacy-uids", "4294967295"}),
              StatusHasMessage("not a numeric uid"));
}

TEST(ConfigTest, PreloadFromFileAndFlag) {
  ASSERT_OK_AND_ASSIGN(Config d, LoadConfig({}));
  EXPECT_EQ(d.preload, "");
  Config c;
  ASSERT_OK(ParseConfigText("preload = /tmp/keys.json\n", c));
  EXPECT_EQ(c.preload, "/tmp/keys.json");
  ASSERT_OK_AND_ASSIGN(Config f, LoadConfig({"--preload", "fixtures.json"}));
  EXPECT_EQ(f.preload, "fixtures.json");
}

TEST(ConfigTest, AllowCoreDumpsIsOffUnlessExactlyTrue) {
  ASSERT_OK_AND_ASSIGN(Config d, LoadConfig({}));
  EXPECT_FALSE(d.allow_core_dumps);
  Config c;
  ASSERT_OK(ParseConfigText("allow-core-dumps = true\n", c));
  EXPECT_TRUE(c.allow_core_dumps);
  ASSERT_OK(ParseConfigText("allow-core-dumps = false\n", c));
  EXPECT_FALSE(c.allow_core_dumps);
  ASSERT_OK_AND_ASSIGN(Config f, LoadConfig({"--allow-core-dumps=true"}));
  EXPECT_TRUE(f.allow_core_dumps);
  // Anything else is refused and leaves the setting as it was.
  for (const char* v : {"yes", "1", "TRUE", ""}) {
    Config k;
    EXPECT_THAT(ParseConfigText(std::string("allow-core-dumps = ") + v, k),
                StatusHasMessage("true or false"))
        << v;
    EXPECT_FALSE(k.allow_core_dumps) << v;
  }
}

TEST(ConfigTest, PostgresStoreUrlFromFileFlagOrEnvironment) {
  ::unsetenv("KEYFERRY_POSTGRES_URL");
  EXPECT_THAT(LoadConfig({"--store", "postgres"}),
              StatusHasMessage("postgres-url"));
  ASSERT_OK_AND_ASSIGN(
      Config flag,
      LoadConfig({"--store", "postgres", "--postgres-url",
                  "host=/run/pg dbname=kf", "--postgres-pool", "8"}));
  EXPECT_EQ(flag.postgres_url, "host=/run/pg dbname=kf");
  EXPECT_EQ(flag.postgres_pool, 8);
  ::setenv("KEYFERRY_POSTGRES_URL", "postgresql://kf:envpw@db/kf", 1);
  ASSERT_OK_AND_ASSIGN(Config env, LoadConfig({"--store=postgres"}));
  EXPECT_EQ(env.postgres_url, "postgresql://kf:envpw@db/kf");
  ::unsetenv("KEYFERRY_POSTGRES_URL");
  // A password in the config file is allowed.
  Config file;
  ASSERT_OK(ParseConfigText(
      "store = postgres\npostgres-url = host=db password=filepw\n", file));
  EXPECT_EQ(file.postgres_url, "host=db password=filepw");
  EXPECT_THAT(LoadConfig({"--postgres-pool", "0"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(LoadConfig({"--store", "mysql"}),
              StatusHasMessage("sqlite, postgres"));
}

// A password on the command line would show in `ps`: refused, and the
// message does not repeat it.
TEST(ConfigTest, FailurePostgresPasswordOnTheCommandLine) {
  for (const char* url :
       {"host=db password=S3cretPw dbname=kf", "postgresql://kf:S3cretPw@db/kf",
        "postgresql://db/kf?password=S3cretPw", "password=S3cretPw host"}) {
    absl::StatusOr<Config> c =
        LoadConfig({"--store", "postgres", "--postgres-url", url});
    EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument)) << url;
    EXPECT_THAT(std::string(c.status().message()),
                ::testing::Not(::testing::HasSubstr("S3cretPw")));
  }
}

TEST(ConfigTest, HelpListsEveryKey) {
  std::string help = HelpText();
  for (const auto& k : kConfigKeys) {
    EXPECT_NE(help.find(std::string("--") + k.name), std::string::npos)
        << k.name;
  }
}

}  // namespace
}  // namespace keyferry::server
