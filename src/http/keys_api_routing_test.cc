// The keys API's route table: method, path and api-version to operation
// (named by the audit note every keys answer carries), the router's 404 and
// 405, unknown vault hosts, and the order of the checks before a handler.
#include <string>

#include "http/keys_api.h"
#include "http/keys_api_testing.h"

namespace keyferry::http {
namespace {

struct RouteCase {
  const char* method;
  const char* target;  // without the query
  const char* operation;
  const char* key;
  const char* version;
};

const RouteCase kRoutes[] = {
    {"POST", "/keys/k1/create", "create", "k1", ""},
    {"PUT", "/keys/k1", "import", "k1", ""},
    {"GET", "/keys", "list", "", ""},
    {"GET", "/keys/", "list", "", ""},
    {"GET", "/keys/k1/versions", "listversions", "k1", ""},
    {"GET", "/keys/k1/rotationpolicy", "getrotationpolicy", "k1", ""},
    {"PUT", "/keys/k1/rotationPolicy", "setrotationpolicy", "k1", ""},
    {"POST", "/keys/k1/rotate", "rotate", "k1", ""},
    {"POST", "/keys/k1/backup", "backup", "k1", ""},
    {"POST", "/keys/restore", "restore", "", ""},
    {"POST", "/keys/k1/v1/sign", "sign", "k1", "v1"},
    {"POST", "/keys/k1//sign", "sign", "k1", ""},
    {"POST", "/keys/k1/v1/verify", "verify", "k1", "v1"},
    {"POST", "/keys/k1/v1/encrypt", "encrypt", "k1", "v1"},
    {"POST", "/keys/k1/v1/decrypt", "decrypt", "k1", "v1"},
    {"POST", "/keys/k1/v1/wrapKey", "wrapkey", "k1", "v1"},
    {"POST", "/keys/k1//unwrapkey", "unwrapkey", "k1", ""},
    {"GET", "/keys/k1", "get", "k1", ""},
    {"GET", "/keys/k1/", "get", "k1", ""},
    {"GET", "/keys/k1/v1", "get", "k1", "v1"},
    {"PATCH", "/keys/k1/v1", "update", "k1", "v1"},
    {"DELETE", "/keys/k1", "delete", "k1", ""},
    {"GET", "/deletedkeys", "listdeleted", "", ""},
    {"GET", "/deletedkeys/k1", "getdeleted", "k1", ""},
    {"POST", "/deletedkeys/k1/recover", "recover", "k1", ""},
    {"DELETE", "/deletedkeys/k1", "purge", "k1", ""},
    {"POST", "/rng", "rng", "", ""},
};

using KeysApiRoutingTest = KeysApiFixture;

TEST_F(KeysApiRoutingTest, MethodAndPathNameTheOperation) {
  for (const RouteCase& c : kRoutes) {
    // A reader reaches every route: admitted or refused, the answer names
    // the route's operation.
    Response r = Send(c.method, absl::StrCat(c.target, "?api-version=7.4"),
                      "{}", "reader");
    SCOPED_TRACE(
        absl::StrCat(c.method, " ", c.target, ": ", r.status, " ", r.body));
    EXPECT_NE(r.error_code, "NotFound");
    EXPECT_NE(r.error_code, "MethodNotAllowed");
    ASSERT_TRUE(r.audit.has_value());
    EXPECT_EQ(r.audit->operation, c.operation);
    EXPECT_EQ(r.audit->key, c.key);
    EXPECT_EQ(r.audit->version, c.version);
    EXPECT_EQ(r.audit->principal, "reader");
  }
}

TEST_F(KeysApiRoutingTest, CreatedVersionIsAudited) {
  Response r = Send("POST", "/keys/k1/create?api-version=7.4",
                    R"({"kty":"EC","crv":"P-256"})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.audit.has_value());
  EXPECT_EQ(r.audit->operation, "create");
  EXPECT_EQ(r.audit->key, "k1");
  EXPECT_FALSE(r.audit->version.empty());
  EXPECT_NE(r.body.find(r.audit->version), std::string::npos);
  EXPECT_EQ(r.error_code, "");
}

TEST_F(KeysApiRoutingTest, UnknownPathIsNotFound) {
  for (const char* target : {"/nothing", "/keys/k1/v1/sign/more",
                             "/keys/k1/v1/frobnicate", "/deletedkeys/k/x"}) {
    Response r = Send("POST", absl::StrCat(target, "?api-version=7.4"));
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.error_code, "NotFound") << target;
    EXPECT_FALSE(r.audit.has_value()) << target;
  }
}

TEST_F(KeysApiRoutingTest, WrongMethodIsNotAllowed) {
  struct {
    const char* method;
    const char* target;
    const char* allow;
  } cases[] = {
      {"POST", "/keys", "GET"},
      {"PUT", "/deletedkeys", "GET"},
      // GET /keys/k1/rotate is a get of version "rotate": another method.
      {"PUT", "/keys/k1/rotate", "POST, GET, PATCH"},
      {"POST", "/deletedkeys/k1", "GET, DELETE"},
      {"DELETE", "/keys/k1/rotationpolicy", "GET, PUT, PATCH"},
      {"POST", "/keys/k1/v1", "GET, PATCH"},
      {"GET", "/rng", "POST"},
  };
  for (const auto& c : cases) {
    Response r = Send(c.method, absl::StrCat(c.target, "?api-version=7.4"));
    EXPECT_EQ(r.status, 405) << c.method << " " << c.target;
    EXPECT_EQ(r.error_code, "MethodNotAllowed");
    EXPECT_EQ(r.headers.Get("Allow").value_or(""), c.allow)
        << c.method << " " << c.target;
  }
}

TEST_F(KeysApiRoutingTest, UnknownVaultHostIsVaultNotFound) {
  for (const char* host :
       {"novault.localhost", "localhost", "x.localhost", "myvault.elsewhere"}) {
    Response r = Send("GET", "/keys?api-version=7.4", "", "officer", host);
    EXPECT_EQ(r.status, 404) << host;
    EXPECT_EQ(r.error_code, "VaultNotFound") << host;
  }
}

TEST_F(KeysApiRoutingTest, ApiVersionIsCheckedAfterTheToken) {
  Response missing = Send("GET", "/keys");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.error_code, "BadParameter");
  EXPECT_NE(missing.body.find("'api-version' query parameter is missing"),
            std::string::npos);
  Response unknown = Send("GET", "/keys?api-version=7.9");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("The specified version (7.9)"),
            std::string::npos);
  for (const char* v : {"7.0", "7.4-preview.1", "2016-10-01", "2025-07-01"}) {
    EXPECT_EQ(Send("GET", absl::StrCat("/keys?api-version=", v)).status, 200)
        << v;
  }
  // Without a token the challenge comes first, whatever the api-version.
  Response anon = Send("GET", "/keys?api-version=7.9", "", "");
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(anon.error_code, "Unauthorized");
  EXPECT_NE(anon.headers.Get("WWW-Authenticate")
                .value_or("")
                .find("resource=\"https://localhost:8443\""),
            std::string::npos);
  ASSERT_TRUE(anon.audit.has_value());
  EXPECT_EQ(anon.audit->principal, "");
  EXPECT_EQ(anon.audit->operation, "list");
}

TEST_F(KeysApiRoutingTest, ApiVersionShapesAttributes) {
  ASSERT_EQ(Send("POST", "/keys/k1/create?api-version=7.4",
                 R"({"kty":"EC","crv":"P-256"})")
                .status,
            200);
  auto attributes = [&](const char* v) {
    Response r = Send("GET", absl::StrCat("/keys/k1?api-version=", v));
    EXPECT_EQ(r.status, 200) << r.body;
    return nlohmann::json::parse(r.body)["attributes"];
  };
  EXPECT_FALSE(attributes("7.0").contains("recoverableDays"));
  EXPECT_TRUE(attributes("7.1").contains("recoverableDays"));
  EXPECT_FALSE(attributes("7.2").contains("exportable"));
  EXPECT_TRUE(attributes("7.3").contains("exportable"));
}

TEST_F(KeysApiRoutingTest, ServiceRoutesAnswerOnAnyHost) {
  Response h = Send("GET", "/healthz", "", "", "localhost");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, R"({"status":"ok"})");
  EXPECT_FALSE(h.audit.has_value());
  Response m = Send("GET", "//metadata/endpoints", "", "", "localhost");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("management.core.windows.net"), std::string::npos);
  Response s =
      Send("GET", "/subscriptions?api-version=2019-11-01", "", "", "localhost");
  EXPECT_EQ(s.status, 401);
  EXPECT_EQ(s.error_code, "Unauthorized");
  Request r;
  r.method = "GET";
  r.target = "/subscriptions";
  ASSERT_OK(ParseTarget(r.target, r));
  r.host = "localhost";
  r.host_port = 8443;
  r.headers.Add("Authorization", "Bearer not-a-token");
  Response refused = api_->Handle(r);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.error_code, "InvalidAuthenticationToken");
}

}  // namespace
}  // namespace keyferry::http
