#include "auth/identity.h"

#include <nlohmann/json.hpp>

#include "auth/jwt.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/sign.h"

namespace keyferry::auth {
namespace {

constexpr int64_t kNow = 1'800'000'000;

IdentityRequest Req(std::string method,
                    std::map<std::string, std::string> query,
                    std::map<std::string, std::string> headers,
                    std::string body) {
  IdentityRequest r;
  r.method = std::move(method);
  r.query = std::move(query);
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = *crypto::GenerateEc(crypto::Curve::kP256);
    cfg_ = {.issuer = "https://localhost:8443/identity",
            .tenant = "tenant-1",
            .principal = "principal-1",
            .header_secret = "s3cret",
            .key_id = "k1",
            .lifetime_seconds = 3600,
            .legacy_uids = {}};
  }
  Es256Signer Signer() {
    return [this](std::span<const uint8_t> digest) {
      return crypto::SignDigest(key_.get(), crypto::SignAlg::kEs256, digest);
    };
  }
  crypto::EvpPkeyPtr key_;
  IdentityConfig cfg_;
};

TEST_F(IdentityTest, AppService2019Style) {
  IdentityRequest r = Req(
      "GET",
      {{"api-version", "2019-08-01"}, {"resource", "https://localhost:8443"}},
      {{"x-identity-header", "s3cret"}}, "");
  ASSERT_OK_AND_ASSIGN(std::string body,
                       IssueIdentityToken(cfg_, Signer(), r, kNow));
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["token_type"], "Bearer");
  EXPECT_EQ(j["expires_on"], std::to_string(kNow + 3600));
  EXPECT_EQ(j["resource"], "https://localhost:8443");
  ASSERT_OK_AND_ASSIGN(
      Claims c,
      VerifyAccessToken(j["access_token"].get<std::string>(), key_.get(),
                        {.issuer = "https://localhost:8443/identity",
                         .tenant = "tenant-1",
                         .audience = "https://localhost:8443"},
                        kNow));
  EXPECT_EQ(c.subject, "principal-1");
  EXPECT_EQ(c.tenant, "tenant-1");
}

// msrestazure's get_msi_token_webapp (az 2.45 with
// APPSETTING_WEBSITE_SITE_NAME): GET {MSI_ENDPOINT}/?resource=R
// &api-version=2017-09-01 with header "secret", R not percent-encoded.
TEST_F(IdentityTest, AppService2017Style) {
  IdentityRequest r = Req("GET",
                          {{"resource", "https://management.core.windows.net/"},
                           {"api-version", "2017-09-01"}},
                          {{"secret", "s3cret"}}, "");
  EXPECT_EQ(IdentityStyleOf(r), IdentityStyle::kAppService2017);
  ASSERT_OK_AND_ASSIGN(std::string body,
                       IssueIdentityToken(cfg_, Signer(), r, kNow));
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["token_type"], "Bearer");
  EXPECT_EQ(j["resource"], "https://management.core.windows.net/");
  // az's _normalize_expires_on takes an epoch string.
  EXPECT_EQ(j["expires_on"], std::to_string(kNow + 3600));
  ASSERT_OK_AND_ASSIGN(
      Claims c,
      VerifyAccessToken(j["access_token"].get<std::string>(), key_.get(),
                        {.issuer = "https://localhost:8443/identity",
                         .tenant = "tenant-1",
                         .audience = "https://management.core.windows.net/"},
                        kNow));
  EXPECT_EQ(c.subject, "principal-1");
}

TEST_F(IdentityTest, FailureAppService2017Secret) {
  IdentityRequest r = Req(
      "GET",
      {{"resource", "https://localhost:8443"}, {"api-version", "2017-09-01"}},
      {}, "");
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusHasMessage("MSI_SECRET"));
  r.headers["secret"] = "s3creT";
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
  r.headers["secret"] = "s3cret-and-more";
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Each style takes its own header: 2017 does not read X-IDENTITY-HEADER,
  // 2019 does not read secret.
  r.headers = {{"x-identity-header", "s3cret"}};
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
  r.query["api-version"] = "2019-08-01";
  r.headers = {{"secret", "s3cret"}};
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // An empty configured secret opens nothing.
  cfg_.header_secret = "";
  r.headers = {{"x-identity-header", ""}};
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

IdentityRequest LegacyRequest() {
  return Req("POST", {}, {{"metadata", "true"}},
             "resource=https%3A%2F%2Fmanagement.core.windows.net%2F");
}

// The secretless legacy style is off unless the operator names uids; the
// refusal says how to ask instead.
TEST_F(IdentityTest, FailureLegacyMsiDisabledByDefault) {
  IdentityRequest r = LegacyRequest();
  r.peer_uid = 0;
  EXPECT_EQ(IdentityStyleOf(r), IdentityStyle::kLegacyMsi);
  absl::StatusOr<std::string> got = IssueIdentityToken(cfg_, Signer(), r, kNow);
  EXPECT_THAT(got, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(got, StatusHasMessage("disabled"));
  EXPECT_THAT(got, StatusHasMessage("identity-legacy-uids"));
  EXPECT_THAT(got, StatusHasMessage("X-IDENTITY-HEADER"));
}

TEST_F(IdentityTest, LegacyMsiStyleForAnAllowedUid) {
  cfg_.legacy_uids = {0, 1000};
  IdentityRequest r = LegacyRequest();
  r.peer_uid = 1000;
  ASSERT_OK_AND_ASSIGN(std::string body,
                       IssueIdentityToken(cfg_, Signer(), r, kNow));
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["resource"], "https://management.core.windows.net/");
}

TEST_F(IdentityTest, FailureLegacyMsiOtherOrUnknownUid) {
  cfg_.legacy_uids = {1000};
  IdentityRequest r = LegacyRequest();
  r.peer_uid = 65534;
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusHasMessage("uid 65534 may not"));
  r.peer_uid = 0;  // not even root, unless named
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
  r.peer_uid.reset();
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusHasMessage("could not be found"));
}

TEST_F(IdentityTest, FailureSecretHeader) {
  IdentityRequest r =
      Req("GET", {{"resource", "https://localhost:8443"}}, {}, "");
  EXPECT_EQ(IdentityStyleOf(r), IdentityStyle::kAppService2019);
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
  r.headers["x-identity-header"] = "wrong";
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(IdentityTest, FailureMetadataHeaderResourceAndMethod) {
  cfg_.legacy_uids = {1000};
  IdentityRequest r = Req("POST", {}, {}, "resource=x");
  r.peer_uid = 1000;
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusHasMessage("Metadata"));
  r.headers["metadata"] = "true";
  r.body = "";
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), r, kNow),
              StatusHasMessage("no resource"));
  IdentityRequest get = Req("GET", {}, {{"x-identity-header", "s3cret"}}, "");
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), get, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
  IdentityRequest put = Req("PUT", {}, {{"x-identity-header", "s3cret"}}, "");
  EXPECT_EQ(IdentityStyleOf(put), IdentityStyle::kUnknown);
  EXPECT_THAT(IssueIdentityToken(cfg_, Signer(), put, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(IdentityStyleTest, Names) {
  EXPECT_EQ(IdentityStyleName(IdentityStyle::kAppService2019),
            "app-service-2019");
  EXPECT_EQ(IdentityStyleName(IdentityStyle::kAppService2017),
            "app-service-2017");
  EXPECT_EQ(IdentityStyleName(IdentityStyle::kLegacyMsi), "legacy-msi");
  EXPECT_EQ(IdentityStyleName(IdentityStyle::kUnknown), "unknown");
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
