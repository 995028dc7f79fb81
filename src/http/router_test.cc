#include "http/router.h"

#include "base/testing.h"
#include "http/azure.h"

namespace keyferry::http {
namespace {

Request MakeRequest(std::string method, std::string target,
                    std::string host_header) {
  Request req;
  req.method = std::move(method);
  req.target = std::move(target);
  EXPECT_OK(ParseTarget(req.target, req));
  EXPECT_OK(ParseHost(host_header, req.host, req.host_port));
  return req;
}

// Echo answers "<route>|vault|name|version" so tests see what matched.
RouteHandler Echo(std::string route) {
  return [route](const Request&, const RouteContext& ctx) {
    Response r;
    r.body = route + "|" + ctx.vault + "|" + std::string(ctx.Param("name")) +
             "|" + std::string(ctx.Param("version"));
    return r;
  };
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest()
      : router_(RouterOptions{
            .domain = "localhost",
            .vault_exists = [](std::string_view v) { return v != "gone"; }}) {
    EXPECT_OK(router_.Add("GET", "/keys/{name}/{version?}", Echo("get")));
    EXPECT_OK(router_.Add("PATCH", "/keys/{name}/{version}", Echo("update")));
    EXPECT_OK(router_.Add("PUT", "/keys/{name}", Echo("import")));
    EXPECT_OK(router_.Add("POST", "/keys/{name}/create", Echo("create")));
    EXPECT_OK(
        router_.Add("POST", "/keys/{name}/{version}/wrapkey", Echo("wrap")));
    EXPECT_OK(router_.Add("GET", "/keys", Echo("list")));
    EXPECT_OK(router_.Add("GET", "/subscriptions", Echo("arm"),
                          RouteScope::kService));
  }
  Response Call(std::string method, std::string target,
                std::string host = "myvault.localhost:8443") {
    return router_.Handle(
        MakeRequest(std::move(method), std::move(target), std::move(host)));
  }
  Router router_;
};

TEST_F(RouterTest, EmptyVersionSegmentMeansLatest) {
  EXPECT_EQ(Call("GET", "/keys/k1/?api-version=7.4").body, "get|myvault|k1|");
  EXPECT_EQ(Call("GET", "/keys/k1").body, "get|myvault|k1|");
  EXPECT_EQ(Call("GET", "/keys/k1/abc123").body, "get|myvault|k1|abc123");
}

TEST_F(RouterTest, LiteralSegmentsIgnoreCase) {
  EXPECT_EQ(Call("POST", "/KEYS/k1/v1/wrapKey").body, "wrap|myvault|k1|v1");
  EXPECT_EQ(Call("POST", "/Keys/k1/Create").body, "create|myvault|k1|");
}

TEST_F(RouterTest, CapturesKeepCaseAndAreDecoded) {
  EXPECT_EQ(Call("GET", "/keys/My%2DKey/V1").body, "get|myvault|My-Key|V1");
}

TEST_F(RouterTest, TrailingSlashFallsBackToShorterRoute) {
  EXPECT_EQ(Call("PUT", "/keys/k1/").body, "import|myvault|k1|");
  EXPECT_EQ(Call("GET", "/keys/").body, "list|myvault||");
}

TEST_F(RouterTest, RequiredCaptureRejectsEmptySegment) {
  EXPECT_EQ(Call("PATCH", "/keys/k1/").status, 405);  // only GET has {version?}
  EXPECT_EQ(Call("PATCH", "/keys/k1/").headers.Get("Allow").value_or(""),
            "GET, PUT");
  EXPECT_EQ(Call("POST", "/keys//create").status, 404);
}

TEST_F(RouterTest, FailureUnknownPathIs404NotFound) {
  Response r = Call("GET", "/secrets/s1");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, ::testing::HasSubstr(R"("code":"NotFound")"));
}

TEST_F(RouterTest, FailureWrongMethodIs405WithAllow) {
  Response r = Call("DELETE", "/keys/k1/v1/wrapkey");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.Get("Allow").value_or(""), "POST");
  EXPECT_THAT(r.body, ::testing::HasSubstr(R"("code":"MethodNotAllowed")"));
  EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), kJsonContentType);
}

TEST_F(RouterTest, FailureUnknownVaultIs404VaultNotFound) {
  Response gone = Call("GET", "/keys/k1/", "gone.localhost:8443");
  EXPECT_EQ(gone.status, 404);
  EXPECT_THAT(gone.body, ::testing::HasSubstr(R"("code":"VaultNotFound")"));
  EXPECT_EQ(Call("GET", "/keys/k1/", "localhost:8443").status, 404);
  EXPECT_EQ(Call("GET", "/keys/k1/", "a.b.localhost").status, 404);
  EXPECT_EQ(Call("GET", "/keys/k1/", "myvault.example.com").status, 404);
  EXPECT_EQ(Call("GET", "/keys/k1/", "x.localhost").status, 404);  // too short
}

TEST_F(RouterTest, VaultHostIsCaseInsensitive) {
  EXPECT_EQ(Call("GET", "/keys/k1/", "MyVault.LOCALHOST").body,
            "get|myvault|k1|");
}

TEST_F(RouterTest, ServiceRouteAcceptsAnyHost) {
  EXPECT_EQ(
      Call("GET", "/subscriptions?api-version=2019-11-01", "localhost:8443")
          .body,
      "arm|||");
}

TEST_F(RouterTest, ChallengeResourceIsParentWithPort) {
  EXPECT_EQ(router_.ChallengeResource(
                MakeRequest("GET", "/", "myvault.localhost:8443")),
            "https://localhost:8443");
  EXPECT_EQ(
      router_.ChallengeResource(MakeRequest("GET", "/", "myvault.localhost")),
      "https://localhost");
}

TEST(RouterOptionsTest, CustomDomainAndAnyVault) {
  Router router(RouterOptions{.domain = "KV.Local"});
  ASSERT_OK(router.Add("GET", "/keys", Echo("list")));
  Request req = MakeRequest("GET", "/keys", "whatever.kv.local");
  EXPECT_EQ(router.Handle(req).body, "list|whatever||");
  EXPECT_EQ(router.VaultOf(req).value_or(""), "whatever");
}

TEST(RouterOptionsTest, AliasesServeTheirVaultWithTheirOwnParent) {
  Router router(RouterOptions{
      .domain = "localhost",
      .vault_exists = [](std::string_view v) { return v == "myvault"; },
      .aliases = {{"KV.Test.Internal", "MyVault"},
                  {"other.localhost", "myvault"},
                  {"stale.test.internal", "gone"}}});
  ASSERT_OK(router.Add("GET", "/keys", Echo("list")));
  Request outside = MakeRequest("GET", "/keys", "kv.test.internal:9443");
  EXPECT_EQ(router.Handle(outside).body, "list|myvault||");
  EXPECT_EQ(router.ChallengeResource(outside), "https://test.internal:9443");
  // An alias inside the domain keeps the domain as its parent.
  Request inside = MakeRequest("GET", "/keys", "other.localhost:9443");
  EXPECT_EQ(router.Handle(inside).body, "list|myvault||");
  EXPECT_EQ(router.ChallengeResource(inside), "https://localhost:9443");
  // An alias of a vault not served is still refused.
  Response gone =
      router.Handle(MakeRequest("GET", "/keys", "stale.test.internal"));
  EXPECT_EQ(gone.status, 404);
  EXPECT_THAT(gone.body, ::testing::HasSubstr("VaultNotFound"));
  // A host that only ends like an alias is no alias.
  Request near = MakeRequest("GET", "/keys", "xkv.test.internal");
  EXPECT_EQ(router.Handle(near).status, 404);
  EXPECT_EQ(router.ChallengeResource(near), "https://localhost");
}

TEST(RouterPatternTest, FailureBadPatterns) {
  Router router(RouterOptions{});
  EXPECT_THAT(router.Add("GET", "keys", Echo("x")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Add("GET", "/keys/{name", Echo("x")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Add("GET", "/keys/{v?}/x", Echo("x")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry::http
