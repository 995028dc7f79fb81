#include "server/identity_http.h"

#include <nlohmann/json.hpp>

#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/sign.h"

namespace keyferry::server {
namespace {

http::Request Req(
    std::string method, std::string target,
    std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  EXPECT_OK(http::ParseTarget(r.target, r));
  for (const auto& [k, v] : headers) r.headers.Add(k, v);
  return r;
}

TEST(IdentityHttpTest, ToEndpointRequestDecodesAndLowerCases) {
  http::Request r =
      Req("GET",
          "/msi/token/?resource=https://management.core.windows.net/"
          "&api-version=2017-09-01",
          {{"Secret", "s3cret"}});
  r.body = "b";
  r.local_address = "127.0.0.1";
  r.local_port = 8081;
  r.remote_address = "127.0.0.2";
  r.remote_port = 40000;
  auth::EndpointRequest e = ToEndpointRequest(r);
  EXPECT_EQ(e.path_segments, (std::vector<std::string>{"msi", "token", ""}));
  EXPECT_EQ(e.request.method, "GET");
  EXPECT_EQ(e.request.query["resource"],
            "https://management.core.windows.net/");
  EXPECT_EQ(e.request.query["api-version"], "2017-09-01");
  EXPECT_EQ(e.request.headers["secret"], "s3cret");
  EXPECT_EQ(e.request.body, "b");
  EXPECT_EQ(e.connection.local_port, 8081);
  EXPECT_EQ(e.connection.remote_address, "127.0.0.2");
  EXPECT_EQ(e.connection.remote_port, 40000);
}

TEST(IdentityHttpTest, ToHttpResponseCarriesCodeAndAuditNote) {
  http::Response res = ToHttpResponse(
      {.status = 401,
       .body = "{}",
       .error_code = "unauthorized",
       .audit = auth::EndpointAudit{.operation = "identity-token:legacy-msi",
                                    .principal = "officer (uid 7)"}});
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(res.body, "{}");
  EXPECT_EQ(res.error_code, "unauthorized");
  ASSERT_TRUE(res.audit.has_value());
  EXPECT_EQ(res.audit->operation, "identity-token:legacy-msi");
  EXPECT_EQ(res.audit->principal, "officer (uid 7)");
  auth::EndpointResponse not_found;
  not_found.status = 404;
  not_found.body = "{}";
  EXPECT_FALSE(ToHttpResponse(not_found).audit.has_value());
}

// The whole path: an http::Request answered by the endpoint, audited.
TEST(IdentityHttpTest, HandleIdentityIssuesAToken) {
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr key,
                       crypto::GenerateEc(crypto::Curve::kP256));
  auth::IdentityEndpointOptions o;
  o.config.issuer = "https://localhost:8443/identity";
  o.config.tenant = "tenant-1";
  o.config.principal = "officer";
  o.config.header_secret = "s3cret";
  o.token_key = [&key]() -> absl::StatusOr<auth::AccessTokenKey> {
    return auth::AccessTokenKey{
        "k1", [&key](std::span<const uint8_t> digest) {
          return crypto::SignDigest(key.get(), crypto::SignAlg::kEs256, digest);
        }};
  };
  o.clock = [] { return int64_t{1'800'000'000}; };
  auth::IdentityEndpoint endpoint(std::move(o));
  http::Response r = HandleIdentity(
      endpoint,
      Req("GET",
          "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Flocalhost"
          "%3A8443",
          {{"X-IDENTITY-HEADER", "s3cret"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(nlohmann::json::parse(r.body).contains("access_token"));
  ASSERT_TRUE(r.audit.has_value());
  EXPECT_EQ(r.audit->operation, "identity-token:app-service-2019");
  EXPECT_EQ(r.audit->principal, "officer");
  EXPECT_EQ(HandleIdentity(endpoint, Req("GET", "/token")).status, 404);
}

}  // namespace
}  // namespace keyferry::server
