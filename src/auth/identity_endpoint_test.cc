#include "auth/identity_endpoint.h"

#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "auth/jwt.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/sign.h"

namespace keyferry::auth {
namespace {

constexpr int64_t kNow = 1'800'000'000;

// Event is one call of the audit hook.
struct Event {
  std::string operation, principal;
  int status;
  std::string code;
};

// Req builds a request for path `segments` (query decoded, header names
// lower-case, as the transport hands them over).
EndpointRequest Req(std::string method, std::vector<std::string> segments,
                    std::map<std::string, std::string> query = {},
                    std::map<std::string, std::string> headers = {},
                    std::string body = "") {
  EndpointRequest r;
  r.path_segments = std::move(segments);
  r.request.method = std::move(method);
  r.request.query = std::move(query);
  r.request.headers = std::move(headers);
  r.request.body = std::move(body);
  return r;
}

class IdentityEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(key_, crypto::GenerateEc(crypto::Curve::kP256));
  }

  // Start makes the service with `legacy_uids`; the fake peer lookup
  // answers `peer_` (or fails when unset) and counts its calls.
  void Start(std::vector<uint32_t> legacy_uids) {
    IdentityEndpointOptions o;
    o.config.issuer = "https://localhost:8443/identity";
    o.config.tenant = "tenant-1";
    o.config.principal = "officer";
    o.config.header_secret = "s3cret";
    o.config.key_id = "k1";
    o.config.legacy_uids = std::move(legacy_uids);
    o.token_key = [this]() -> absl::StatusOr<AccessTokenKey> {
      if (sealed_) return absl::UnavailableError("sealed");
      return AccessTokenKey{"k1",
                            [this](std::span<const uint8_t> digest)
                                -> absl::StatusOr<std::vector<uint8_t>> {
                              if (sign_fails_)
                                return absl::InternalError("the token said no");
                              return crypto::SignDigest(
                                  key_.get(), crypto::SignAlg::kEs256, digest);
                            }};
    };
    o.clock = [] { return kNow; };
    o.peer_uid = [this](const Connection&) -> absl::StatusOr<uint32_t> {
      ++lookups_;
      if (!peer_.has_value()) return absl::NotFoundError("no such socket");
      return *peer_;
    };
    service_ = std::make_unique<IdentityEndpoint>(std::move(o));
  }

  // Handle answers `r` and keeps its audit note as an event.
  EndpointResponse Handle(const EndpointRequest& r) {
    EndpointResponse res = service_->Handle(r);
    if (res.audit) {
      events_.push_back({res.audit->operation, res.audit->principal, res.status,
                         res.error_code});
    }
    return res;
  }

  EndpointRequest Legacy() {
    return Req("POST", {"msi", "token"}, {},
               {{"metadata", "true"},
                {"content-type", "application/x-www-form-urlencoded"}},
               "resource=https%3A%2F%2Flocalhost%3A8443");
  }

  crypto::EvpPkeyPtr key_;
  bool sealed_ = false;
  bool sign_fails_ = false;
  std::unique_ptr<IdentityEndpoint> service_;
  std::optional<uint32_t> peer_;
  int lookups_ = 0;
  std::vector<Event> events_;
};

TEST_F(IdentityEndpointTest, AppService2019And2017StylesAreAudited) {
  Start({});
  EndpointResponse r = Handle(Req(
      "GET", {"msi", "token"},
      {{"api-version", "2019-08-01"}, {"resource", "https://localhost:8443"}},
      {{"x-identity-header", "s3cret"}}));
  EXPECT_EQ(r.status, 200) << r.body;
  // msrestazure appends "/?resource=R&api-version=2017-09-01" to
  // MSI_ENDPOINT, R not encoded.
  EndpointResponse r2 =
      Handle(Req("GET", {"msi", "token", ""},
                 {{"resource", "https://management.core.windows.net/"},
                  {"api-version", "2017-09-01"}},
                 {{"secret", "s3cret"}}));
  ASSERT_EQ(r2.status, 200) << r2.body;
  auto j = nlohmann::json::parse(r2.body);
  EXPECT_EQ(j["resource"], "https://management.core.windows.net/");
  EXPECT_EQ(j["expires_on"], std::to_string(kNow + 3600));
  EXPECT_EQ(lookups_, 0);  // no socket lookup for the secret styles
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].operation, "identity-token:app-service-2019");
  EXPECT_EQ(events_[0].principal, "officer");
  EXPECT_EQ(events_[0].status, 200);
  EXPECT_EQ(events_[0].code, "");
  EXPECT_EQ(events_[1].operation, "identity-token:app-service-2017");
}

TEST_F(IdentityEndpointTest, FailureWrongSecretIs401AndAudited) {
  Start({});
  EndpointResponse r =
      Handle(Req("GET", {"msi", "token", ""},
                 {{"resource", "x"}, {"api-version", "2017-09-01"}},
                 {{"secret", "guess"}}));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"], "unauthorized");
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].operation, "identity-token:app-service-2017");
  EXPECT_EQ(events_[0].status, 401);
  EXPECT_EQ(events_[0].code, "unauthorized");
}

TEST_F(IdentityEndpointTest, FailureLegacyStyleOffByDefault) {
  Start({});
  peer_ = 0;
  EndpointResponse r = Handle(Legacy());
  EXPECT_EQ(r.status, 401);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"], "unauthorized");
  EXPECT_NE(j["error_description"].get<std::string>().find("disabled"),
            std::string::npos);
  EXPECT_EQ(lookups_, 0);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].operation, "identity-token:legacy-msi");
  EXPECT_EQ(events_[0].principal, "officer");
  EXPECT_EQ(events_[0].status, 401);
}

TEST_F(IdentityEndpointTest, LegacyStyleForAnAllowedUid) {
  Start({1000});
  peer_ = 1000;
  EndpointResponse r = Handle(Legacy());
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_OK(VerifyAccessToken(j["access_token"].get<std::string>(), key_.get(),
                              {.issuer = "https://localhost:8443/identity",
                               .tenant = "tenant-1",
                               .audience = "https://localhost:8443"},
                              kNow));
  EXPECT_EQ(lookups_, 1);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].operation, "identity-token:legacy-msi");
  EXPECT_EQ(events_[0].principal, "officer (uid 1000)");
  EXPECT_EQ(events_[0].status, 200);
}

TEST_F(IdentityEndpointTest, FailureLegacyStyleOtherOrUnknownUid) {
  Start({1000});
  peer_ = 65534;
  EndpointResponse r = Handle(Legacy());
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("uid 65534 may not"), std::string::npos) << r.body;
  peer_.reset();
  EXPECT_EQ(Handle(Legacy()).status, 401);
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].principal, "officer (uid 65534)");
  EXPECT_EQ(events_[0].status, 401);
  EXPECT_EQ(events_[1].principal, "officer (uid unknown)");
  EXPECT_EQ(events_[1].code, "unauthorized");
}

// While sealed the token key cannot sign: 503, audited, no token.
TEST_F(IdentityEndpointTest, FailureSealedIs503AndAudited) {
  Start({});
  sealed_ = true;
  EndpointResponse r = Handle(Req(
      "GET", {"msi", "token"},
      {{"api-version", "2019-08-01"}, {"resource", "https://localhost:8443"}},
      {{"x-identity-header", "s3cret"}}));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.body.find("access_token"), std::string::npos);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].status, 503);
  EXPECT_EQ(events_[0].code, "temporarily_unavailable");
}

// A signing failure that is not "try later" is the server's: 500.
TEST_F(IdentityEndpointTest, FailureSigningErrorIs500AndAudited) {
  Start({});
  sign_fails_ = true;
  EndpointResponse r = Handle(Req(
      "GET", {"msi", "token"},
      {{"api-version", "2019-08-01"}, {"resource", "https://localhost:8443"}},
      {{"x-identity-header", "s3cret"}}));
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("server_error"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("access_token"), std::string::npos);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].status, 500);
}

TEST_F(IdentityEndpointTest, OtherPathsAndMethods) {
  Start({});
  EXPECT_EQ(Handle(Req("GET", {"token"})).status, 404);
  EXPECT_TRUE(events_.empty());  // not a token request
  EndpointResponse r = Handle(Req("PUT", {"msi", "token"}, {{"resource", "x"}},
                                  {{"x-identity-header", "s3cret"}}));
  EXPECT_EQ(r.status, 400);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].operation, "identity-token");
  EXPECT_EQ(events_[0].code, "invalid_request");
}

// PeerSocketOwner needs the connection's addresses.
TEST(PeerSocketOwnerTest, FailureWithoutAddresses) {
  Connection c;
  EXPECT_THAT(PeerSocketOwner(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c = {.local_address = "127.0.0.1",
       .local_port = 2,
       .remote_address = "127.0.0.1",
       .remote_port = 1};
  EXPECT_THAT(PeerSocketOwner(c), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace keyferry::auth
