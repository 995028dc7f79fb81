// The keys API's token checks, driven through KeysApi::Handle and
// KeysApi::Operator with hand-made requests (no transport): a token must be
// signed by the deployment's key and name its issuer, its tenant and the
// route's audience, and live at most token_max_lifetime.
#include "http/keys_api.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "auth/jwt.h"
#include "base/strings.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "custody/software_custody.h"
#include "store/sqlite_store.h"
#include "vault/testing.h"

namespace keyferry::http {
namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr char kResource[] = "https://localhost:8443";
constexpr char kIssuer[] = "https://localhost:8443/identity";
constexpr char kTenant[] = "tenant-1";

class KeysApiAccessTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(t_, vault::TestVault::New([] { return kNow; }));
    ASSERT_OK_AND_ASSIGN(key_, crypto::GenerateEc(crypto::Curve::kP256));
    KeysApiOptions o;
    o.vaults = {"myvault"};
    o.tenant = kTenant;
    o.token_key = key_.get();
    o.token_issuer = kIssuer;
    o.token_max_lifetime = 86400;
    o.subscription_id = "sub-1";
    o.clock = [] { return kNow; };
    ASSERT_OK_AND_ASSIGN(Grant g, ParseGrant("officer:*:crypto-officer"));
    o.grants.push_back(g);
    ASSERT_OK_AND_ASSIGN(api_, KeysApi::New(std::move(o), &t_->vault()));
    claims_ = {kIssuer, "officer", kResource, kTenant, kNow, kNow, kNow + 3600};
  }
  void TearDown() override {
    api_.reset();
    t_.reset();
  }

  std::string Token() {
    absl::StatusOr<std::string> t =
        auth::IssueAccessToken(key_.get(), "k1", claims_);
    EXPECT_OK(t);
    return t.value_or("");
  }

  // Get answers GET `target` on `host` (port 8443) with `token`.
  Response Get(std::string_view host, std::string_view target,
               std::string_view token) {
    Request r;
    r.method = "GET";
    r.target = std::string(target);
    EXPECT_OK(ParseTarget(r.target, r));
    r.host = std::string(host);
    r.host_port = 8443;
    r.headers.Add("Host", absl::StrCat(Sv(host), ":8443"));
    if (!token.empty()) {
      r.headers.Add("Authorization", absl::StrCat("Bearer ", Sv(token)));
    }
    return api_->Handle(r);
  }
  Response ListKeys(std::string_view token) {
    return Get("myvault.localhost", "/keys?api-version=7.4", token);
  }
  absl::StatusOr<std::string> Operator(std::string_view token) {
    Request r;
    r.method = "POST";
    r.target = "/sys/seal";
    EXPECT_OK(ParseTarget(r.target, r));
    r.host = "localhost";
    r.host_port = 8443;
    r.headers.Add("Authorization", absl::StrCat("Bearer ", Sv(token)));
    return api_->Operator(r);
  }

  std::unique_ptr<vault::TestVault> t_;
  crypto::EvpPkeyPtr key_;
  std::unique_ptr<KeysApi> api_;
  auth::Claims claims_;
};

TEST_F(KeysApiAccessTokenTest, GoodTokenIsAccepted) {
  const std::string t = Token();
  Response r = ListKeys(t);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_OK(Operator(t));
  claims_.audience = "https://management.core.windows.net/";
  Response arm =
      Get("localhost", "/subscriptions?api-version=2019-11-01", Token());
  EXPECT_EQ(arm.status, 200) << arm.body;
}

TEST_F(KeysApiAccessTokenTest, FailureWrongIssuer) {
  claims_.issuer = "https://elsewhere:8443/identity";
  const std::string t = Token();
  Response r = ListKeys(t);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("issuer (iss)"), std::string::npos) << r.body;
  EXPECT_THAT(Operator(t), StatusHasMessage("issuer (iss)"));
  claims_.audience = "https://management.core.windows.net/";
  EXPECT_EQ(
      Get("localhost", "/subscriptions?api-version=2019-11-01", Token()).status,
      401);
}

TEST_F(KeysApiAccessTokenTest, FailureWrongTenant) {
  claims_.tenant = "tenant-2";
  const std::string t = Token();
  Response r = ListKeys(t);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("tenant (tid)"), std::string::npos) << r.body;
  EXPECT_THAT(Operator(t), StatusHasMessage("tenant (tid)"));
  claims_.audience = "https://management.azure.com/";
  EXPECT_EQ(
      Get("localhost", "/subscriptions?api-version=2019-11-01", Token()).status,
      401);
}

TEST_F(KeysApiAccessTokenTest, LifetimeUpToTheMaximum) {
  claims_.expires = kNow + 86400;
  EXPECT_EQ(ListKeys(Token()).status, 200);
  claims_.expires = kNow + 86401;
  const std::string t = Token();
  Response r = ListKeys(t);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("86400 s maximum"), std::string::npos) << r.body;
  EXPECT_THAT(Operator(t), StatusHasMessage("lifetime"));
}

// The cache of verified tokens answers a repeated token, but never for
// claims the token does not have: a token first seen on a good route is
// refused on the next call once its audience no longer matches.
TEST_F(KeysApiAccessTokenTest, CachedTokenKeepsItsChecks) {
  const std::string t = Token();
  ASSERT_EQ(ListKeys(t).status, 200);
  Request r;
  r.method = "GET";
  r.target = "/keys?api-version=7.4";
  ASSERT_OK(ParseTarget(r.target, r));
  r.host = "myvault.localhost";
  r.host_port = 9443;  // another resource: https://localhost:9443
  r.headers.Add("Host", "myvault.localhost:9443");
  r.headers.Add("Authorization", absl::StrCat("Bearer ", t));
  Response other = api_->Handle(r);
  EXPECT_EQ(other.status, 401);
  EXPECT_NE(other.body.find("audience"), std::string::npos) << other.body;
  EXPECT_EQ(ListKeys(t).status, 200);
}

TEST_F(KeysApiAccessTokenTest, FailureNewWithoutIssuerOrTenant) {
  KeysApiOptions o;
  o.vaults = {"myvault"};
  o.token_key = key_.get();
  o.tenant = kTenant;
  EXPECT_THAT(KeysApi::New(o, &t_->vault()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  o.token_issuer = kIssuer;
  o.tenant = "";
  EXPECT_THAT(KeysApi::New(o, &t_->vault()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry::http
