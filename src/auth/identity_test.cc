#include "auth/identity.h"

#include <nlohmann/json.hpp>

#include "auth/jwt.h"
#include "base/testing.h"
#include "crypto/keys.h"

namespace keyferry::auth {
namespace {

constexpr int64_t kNow = 1'800'000'000;

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = *crypto::GenerateEc(crypto::Curve::kP256);
    cfg_ = {"https://localhost:8443/identity",
            "tenant-1",
            "principal-1",
            "s3cret",
            "k1",
            3600};
  }
  crypto::EvpPkeyPtr key_;
  IdentityConfig cfg_;
};

TEST_F(IdentityTest, AppServiceStyle) {
  IdentityRequest r{
      "GET",
      {{"api-version", "2019-08-01"}, {"resource", "https://localhost:8443"}},
      {{"x-identity-header", "s3cret"}},
      ""};
  ASSERT_OK_AND_ASSIGN(std::string body,
                       IssueIdentityToken(cfg_, key_.get(), r, kNow));
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["token_type"], "Bearer");
  EXPECT_EQ(j["expires_on"], std::to_string(kNow + 3600));
  EXPECT_EQ(j["resource"], "https://localhost:8443");
  ASSERT_OK_AND_ASSIGN(
      Claims c, VerifyToken(j["access_token"].get<std::string>(), key_.get(),
                            {.issuer = "https://localhost:8443/identity",
                             .tenant = "tenant-1",
                             .audience = "https://localhost:8443"},
                            kNow));
  EXPECT_EQ(c.subject, "principal-1");
  EXPECT_EQ(c.tenant, "tenant-1");
}

TEST_F(IdentityTest, LegacyMsiStyle) {
  IdentityRequest r{"POST",
                    {},
                    {{"metadata", "true"}},
                    "resource=https%3A%2F%2Fmanagement.core.windows.net%2F"};
  ASSERT_OK_AND_ASSIGN(std::string body,
                       IssueIdentityToken(cfg_, key_.get(), r, kNow));
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["resource"], "https://management.core.windows.net/");
}

TEST_F(IdentityTest, FailureSecretHeader) {
  IdentityRequest r{"GET", {{"resource", "https://localhost:8443"}}, {}, ""};
  EXPECT_THAT(IssueIdentityToken(cfg_, key_.get(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
  r.headers["x-identity-header"] = "wrong";
  EXPECT_THAT(IssueIdentityToken(cfg_, key_.get(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(IdentityTest, FailureMetadataHeaderAndResource) {
  IdentityRequest r{"POST", {}, {}, "resource=x"};
  EXPECT_THAT(IssueIdentityToken(cfg_, key_.get(), r, kNow),
              StatusHasMessage("Metadata"));
  r.headers["metadata"] = "true";
  r.body = "";
  EXPECT_THAT(IssueIdentityToken(cfg_, key_.get(), r, kNow),
              StatusHasMessage("no resource"));
}

TEST(FormTest, Decodes) {
  ASSERT_OK_AND_ASSIGN(auto m, ParseFormBody("a=1&b=x+y&c=%2F%3d&d"));
  EXPECT_EQ(m["b"], "x y");
  EXPECT_EQ(m["c"], "/=");
  EXPECT_EQ(m.count("d"), 1u);
  EXPECT_FALSE(ParseFormBody("a=%G1").ok());
}

TEST(SubscriptionsTest, Shape) {
  auto j = nlohmann::json::parse(SubscriptionsBody("t1", "s1"));
  EXPECT_EQ(j["value"][0]["tenantId"], "t1");
  EXPECT_EQ(j["value"][0]["state"], "Enabled");
}

}  // namespace
}  // namespace keyferry::auth
