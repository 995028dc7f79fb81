// The console's JSON API (console_api.h) and the keys list's prefix
// extension, through KeysApi::Handle on a real vault.
#include "http/console_api.h"

#include <algorithm>
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
  }
  EXPECT_EQ(Send("GET", "/console/api/audit", "", "").status, 401);
  // The fixture gives no audit reader: an operator gets 404, not data.
  EXPECT_EQ(Send("GET", "/console/api/audit").status, 404);
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

TEST_F(ConsoleApiTest, FailureBadPrefix) {
  Response r = Send("GET", "/keys?api-version=7.4&prefix=a%2Fb");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(keys::PrefixCursor("b"), "a~");
  EXPECT_EQ(keys::PrefixCursor("beta-"), "beta,~");
}

}  // namespace
}  // namespace keyferry::http
