// The console's JSON API (console_api.h) and the keys list's prefix
// extension, through KeysApi::Handle on a real vault.
#include "http/console_api.h"

#include <algorithm>
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "http/console_files.h"
#include "http/keys_api_testing.h"
#include "http/keys_request.h"

namespace keyferry::http {
namespace {

using json = nlohmann::json;

class ConsoleApiTest : public KeysApiFixture {
 protected:
  json Body(const Response& r) {
    return json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  }
  std::vector<std::string> Allowed(const json& who, std::string_view vault) {
    for (const json& v : who["vaults"]) {
      if (v["name"] == vault)
        return v["allowed"].get<std::vector<std::string>>();
    }
    return {};
  }
  void Create(std::string_view name) {
    Response r = Send(
        "POST", absl::StrCat("/keys/", Sv(name), "/create?api-version=7.4"),
        R"({"kty":"EC","crv":"P-256"})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
};

TEST_F(ConsoleApiTest, WhoAmIListsVaultsRolesAndAllowedOperations) {
  Response r = Send("GET", "/console/api/whoami", "", "reader");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("Cache-Control").value_or(""), "no-store");
  EXPECT_EQ(r.headers.Get("Content-Security-Policy").value_or(""), kConsoleCsp);
  json who = Body(r);
  EXPECT_EQ(who["principal"], "reader");
  EXPECT_EQ(who["vault"], "myvault");
  EXPECT_EQ(who["operator"], false);
  ASSERT_EQ(who["vaults"].size(), 2u);
  EXPECT_EQ(who["vaults"][0]["url"], "https://myvault.localhost:8443");
  EXPECT_EQ(who["vaults"][0]["roles"], json::array({"Key Vault Reader"}));
  EXPECT_EQ(Allowed(who, "myvault"),
            (std::vector<std::string>{"get", "list", "listdeleted",
                                      "getdeleted", "getrotationpolicy"}));
}

TEST_F(ConsoleApiTest, WhoAmIFollowsTheGrantsPerVault) {
  json who =
      Body(Send("GET", "/console/api/whoami", "", "elsewhere", "localhost"));
  EXPECT_EQ(who["vault"], "");  // the parent domain names no vault
  EXPECT_TRUE(Allowed(who, "myvault").empty());
  std::vector<std::string> other = Allowed(who, "othervault");
  EXPECT_NE(std::find(other.begin(), other.end(), "purge"), other.end());
  EXPECT_EQ(who["operator"], false);
  EXPECT_EQ(Body(Send("GET", "/console/api/whoami"))["operator"], true);
}

class ConsoleApiAliasTest : public ConsoleApiTest {
 protected:
  void Configure(KeysApiOptions& o) override {
    o.vault_aliases = {{"kv.localhost", "myvault"}};
  }
};

TEST_F(ConsoleApiAliasTest, WhoAmIThroughAnAliasLinksTheAliasHost) {
  json who =
      Body(Send("GET", "/console/api/whoami", "", "reader", "KV.localhost"));
  EXPECT_EQ(who["vault"], "myvault");
  ASSERT_EQ(who["vaults"].size(), 2u);
  EXPECT_EQ(who["vaults"][0]["name"], "myvault");
  EXPECT_EQ(who["vaults"][0]["url"], "https://kv.localhost:8443");
  EXPECT_EQ(who["vaults"][1]["url"], "https://othervault.localhost:8443");
  // Through the vault's own host: its own name.
  json direct = Body(Send("GET", "/console/api/whoami", "", "reader"));
  EXPECT_EQ(direct["vaults"][0]["url"], "https://myvault.localhost:8443");
}

TEST_F(ConsoleApiTest, FailureWhoAmIWithoutTokenIs401) {
  Response r = Send("GET", "/console/api/whoami", "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(r.headers.Has("WWW-Authenticate"));
  EXPECT_EQ(Body(r)["error"]["code"], "Unauthorized");
}

TEST_F(ConsoleApiTest, FailureAuditOnlyForOperators) {
  for (const char* who : {"reader", "user", "elsewhere"}) {
    Response r = Send("GET", "/console/api/audit", "", who);
    EXPECT_EQ(r.status, 403) << who;
    EXPECT_EQ(Body(r)["error"]["code"], "Forbidden") << who;
    ASSERT_TRUE(r.audit.has_value());
    EXPECT_EQ(r.audit->operation, "readaudit");
    EXPECT_EQ(r.audit->principal, who);  // who was refused is recorded
  }
  Response anonymous = Send("GET", "/console/api/audit", "", "");
  EXPECT_EQ(anonymous.status, 401);
  ASSERT_TRUE(anonymous.audit.has_value());
  EXPECT_EQ(anonymous.audit->principal, "");
  // The fixture gives no audit reader: an operator gets 404, not data.
  EXPECT_EQ(Send("GET", "/console/api/audit").status, 404);
}

TEST_F(ConsoleApiTest, AuditReadRunsOffTheIoThreadInAnySpelling) {
  for (const char* target :
       {"/console/api/audit", "/console/api/audit/", "/console/api/AUDIT",
        "/Console/Api/Audit/?limit=3"}) {
    Request r;
    r.method = "GET";
    r.target = target;
    ASSERT_OK(ParseTarget(r.target, r));
    EXPECT_TRUE(IsConsoleAuditPath(r)) << target;
    EXPECT_TRUE(KeysApi::MayBlock(r)) << target;
    // The router takes the same spelling to the audit route (403 for a
    // Reader, not 404).
    EXPECT_EQ(Send("GET", target, "", "reader").status, 403) << target;
  }
  Request whoami;
  whoami.method = "GET";
  whoami.target = "/console/api/whoami/";
  ASSERT_OK(ParseTarget(whoami.target, whoami));
  EXPECT_FALSE(KeysApi::MayBlock(whoami));
}

class ConsoleApiThrowingReaderTest : public ConsoleApiTest {
 protected:
  void Configure(KeysApiOptions& o) override {
    // A reader that fails by throwing, as std::string or a stream may.
    o.audit_recent = [](int) -> absl::StatusOr<json> {
      throw std::length_error("basic_string::_M_create");
    };
  }
};

TEST_F(ConsoleApiThrowingReaderTest, FailureThrowingReaderIs500NotACrash) {
  Response r;
  EXPECT_NO_THROW(r = Send("GET", "/console/api/audit"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.headers.Get("Content-Security-Policy").value_or(""), kConsoleCsp);
  ASSERT_TRUE(r.audit.has_value());
  EXPECT_EQ(r.audit->principal, "officer");
}

TEST_F(ConsoleApiTest, OperationNamesAreTheAuditLogs) {
  EXPECT_EQ(OperationName(auth::Operation::kSetRotationPolicy),
            "setrotationpolicy");
  EXPECT_EQ(OperationName(auth::Operation::kGetRandom), "rng");
}

TEST_F(ConsoleApiTest, ListPrefixPagesOnlyMatchingNames) {
  for (const char* n :
       {"alpha", "beta-1", "beta-2", "beta-3", "Beta-4", "betb", "gamma"}) {
    Create(n);
  }
  Response r = Send("GET", "/keys?api-version=7.4&maxresults=2&prefix=BETA-");
  ASSERT_EQ(r.status, 200) << r.body;
  json page = Body(r);
  ASSERT_EQ(page["value"].size(), 2u);
  EXPECT_NE(page["value"][0]["kid"].get<std::string>().find("/keys/beta-1"),
            std::string::npos);
  std::string link = page["nextLink"];
  EXPECT_NE(link.find("&prefix=beta-"), std::string::npos) << link;
  std::string target = link.substr(link.find("/keys?"));
  json second = Body(Send("GET", target));
  ASSERT_EQ(second["value"].size(), 2u) << second.dump();
  EXPECT_NE(second["value"][1]["kid"].get<std::string>().find("/keys/Beta-4"),
            std::string::npos)
      << second.dump();
  EXPECT_TRUE(second["nextLink"].is_null()) << second.dump();
  json none = Body(Send("GET", "/keys?api-version=7.4&prefix=zz"));
  EXPECT_TRUE(none["value"].empty());
  EXPECT_TRUE(none["nextLink"].is_null());
}

TEST_F(ConsoleApiTest, ListPrefixUpperCaseSkipTokenContinues) {
  for (const char* n : {"beta-1", "beta-2", "beta-3"}) Create(n);
  // A client's cursor in upper case ("BETA-1") continues after beta-1, as
  // the store compares it; it does not restart at the prefix.
  json page = Body(Send("GET",
                        absl::StrCat("/keys?api-version=7.4&prefix=beta-",
                                     "&$skiptoken=QkVUQS0x")));
  ASSERT_EQ(page["value"].size(), 2u) << page.dump();
  EXPECT_NE(page["value"][0]["kid"].get<std::string>().find("/keys/beta-2"),
            std::string::npos)
      << page.dump();
}

TEST_F(ConsoleApiTest, FailureBadPrefix) {
  Response r = Send("GET", "/keys?api-version=7.4&prefix=a%2Fb");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(keys::PrefixCursor("b"), "a~");
  EXPECT_EQ(keys::PrefixCursor("beta-"), "beta,~");
}

}  // namespace
}  // namespace keyferry::http
