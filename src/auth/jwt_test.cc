#include "auth/jwt.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/keys.h"

namespace keyferry::auth {
namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr char kAud[] = "https://localhost:8443";
constexpr char kIss[] = "https://localhost:8443/identity";
constexpr char kTenant[] = "tenant-1";

// Want is what keyferryd at https://localhost:8443 requires, for `aud`.
AccessTokenRequirements Want(std::string_view aud = kAud) {
  return {.issuer = kIss, .tenant = kTenant, .audience = aud};
}

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = *crypto::GenerateEc(crypto::Curve::kP256);
    claims_ = {kIss, "oid-1", kAud, kTenant, kNow, kNow, kNow + 3600};
  }
  std::string Issue() { return *IssueAccessToken(key_.get(), "k1", claims_); }
  crypto::EvpPkeyPtr key_;
  Claims claims_;
};

TEST_F(JwtTest, DeeplyNestedPartsAreRefusedNotRecursed) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string deep_b64 = Base64UrlEncode(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(deep.data()), deep.size()));
  std::vector<std::string> parts = absl::StrSplit(Issue(), '.');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_THAT(
      VerifyAccessToken(absl::StrCat(deep_b64, ".", parts[1], ".", parts[2]),
                        key_.get(), Want(), kNow),
      StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(
      VerifyAccessToken(absl::StrCat(parts[0], ".", deep_b64, ".", parts[2]),
                        key_.get(), Want(), kNow),
      StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(JwtTest, RoundTrip) {
  ASSERT_OK_AND_ASSIGN(
      Claims c, VerifyAccessToken(Issue(), key_.get(), Want(), kNow + 10));
  EXPECT_EQ(c.subject, "oid-1");
  EXPECT_EQ(c.tenant, "tenant-1");
  EXPECT_EQ(c.expires, kNow + 3600);
  // A trailing slash on either side is the same resource.
  EXPECT_OK(VerifyAccessToken(Issue(), key_.get(),
                              Want("https://localhost:8443/"), kNow));
}

TEST_F(JwtTest, SignatureVerifiesWithOpenSslPublicKeyOnly) {
  auto pub = *crypto::PublicKeyOf(key_.get());
  EXPECT_OK(VerifyAccessToken(Issue(), pub.get(), Want(), kNow));
}

TEST_F(JwtTest, FailureExpiredAndNotYetValid) {
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), Want(), kNow + 3600 + 61),
              StatusHasMessage("expired"));
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), Want(), kNow - 61),
              StatusHasMessage("not yet valid"));
}

TEST_F(JwtTest, FailureWrongAudience) {
  EXPECT_THAT(
      VerifyAccessToken(Issue(), key_.get(), Want("https://other:8443"), kNow),
      StatusHasMessage("audience"));
}

TEST_F(JwtTest, FailureWrongIssuer) {
  AccessTokenRequirements want = Want();
  want.issuer = "https://other:8443/identity";
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), want, kNow),
              StatusHasMessage("issuer (iss)"));
  claims_.issuer = "https://login.microsoftonline.com/tenant-1/v2.0";
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), Want(), kNow),
              StatusHasMessage("issuer (iss)"));
  claims_.issuer = "";
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), Want(), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(JwtTest, FailureWrongTenant) {
  AccessTokenRequirements want = Want();
  want.tenant = "tenant-2";
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), want, kNow),
              StatusHasMessage("tenant (tid)"));
  claims_.tenant = "";
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), Want(), kNow),
              StatusHasMessage("tenant (tid)"));
}

TEST_F(JwtTest, LifetimeExactlyTheMaximumIsAccepted) {
  claims_.expires = kNow + kDefaultMaxAccessTokenLifetime;
  EXPECT_EQ(AccessTokenLifetime(claims_), kDefaultMaxAccessTokenLifetime);
  EXPECT_OK(VerifyAccessToken(Issue(), key_.get(), Want(), kNow));
  AccessTokenRequirements want = Want();
  want.max_lifetime_seconds = 3600;
  claims_.expires = kNow + 3600;
  EXPECT_OK(VerifyAccessToken(Issue(), key_.get(), want, kNow));
}

TEST_F(JwtTest, FailureLifetimeTooLong) {
  claims_.expires = kNow + kDefaultMaxAccessTokenLifetime + 1;
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), Want(), kNow),
              StatusHasMessage("exceeds the 86400 s maximum"));
  // An iat earlier than nbf counts: the longer of the two spans.
  claims_.expires = kNow + 3600;
  claims_.issued_at = kNow + 3600 - kDefaultMaxAccessTokenLifetime - 1;
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), Want(), kNow),
              StatusHasMessage("lifetime"));
  // And an nbf earlier than iat.
  claims_.issued_at = kNow;
  claims_.not_before = kNow + 3600 - kDefaultMaxAccessTokenLifetime - 1;
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), Want(), kNow),
              StatusHasMessage("lifetime"));
  // A configured maximum below the default.
  claims_.not_before = kNow;
  AccessTokenRequirements want = Want();
  want.max_lifetime_seconds = 3599;
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), want, kNow),
              StatusHasMessage("exceeds the 3599 s maximum"));
}

// A token without nbf and iat has no start: its lifetime is unbounded.
TEST_F(JwtTest, FailureNoNbfNorIat) {
  claims_.not_before = 0;
  claims_.issued_at = 0;
  EXPECT_THAT(VerifyAccessToken(Issue(), key_.get(), Want(), kNow),
              StatusHasMessage("lifetime"));
}

TEST_F(JwtTest, FailureForgedByAnotherKey) {
  auto other = *crypto::GenerateEc(crypto::Curve::kP256);
  std::string forged = *IssueAccessToken(other.get(), "k1", claims_);
  EXPECT_THAT(VerifyAccessToken(forged, key_.get(), Want(), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(JwtTest, FailureTamperedClaims) {
  std::vector<std::string> p = absl::StrSplit(Issue(), '.');
  claims_.subject = "attacker";
  std::vector<std::string> q = absl::StrSplit(Issue(), '.');
  std::string spliced = p[0] + "." + q[1] + "." + p[2];
  EXPECT_THAT(VerifyAccessToken(spliced, key_.get(), Want(), kNow),
              StatusHasMessage("signature"));
}

TEST_F(JwtTest, FailureAlgNone) {
  std::vector<std::string> p = absl::StrSplit(Issue(), '.');
  std::string none = Base64UrlEncode(AsBytes(R"({"alg":"none","typ":"JWT"})"));
  EXPECT_THAT(
      VerifyAccessToken(none + "." + p[1] + ".", key_.get(), Want(), kNow),
      StatusHasMessage("alg must be ES256"));
}

TEST_F(JwtTest, FailureGarbage) {
  EXPECT_THAT(VerifyAccessToken("abc", key_.get(), Want(), kNow),
              StatusHasMessage("three parts"));
  EXPECT_THAT(VerifyAccessToken("a.b.c", key_.get(), Want(), kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

// VerifiedAccessTokens answers a repeated token from memory, but only for the
// same audience and inside the token's time window.
TEST_F(JwtTest, VerifiedTokensKeepEveryCheck) {
  VerifiedAccessTokens tokens(2);
  const std::string t = Issue();
  ASSERT_OK_AND_ASSIGN(Claims c, tokens.Verify(t, key_.get(), Want(), kNow));
  EXPECT_EQ(c.subject, "oid-1");
  // A hit does not verify the signature again: even a null key answers.
  EXPECT_OK(tokens.Verify(t, nullptr, Want(), kNow + 5));
  // A hit still checks every claim against the call's requirements: another
  // audience, issuer, tenant or a shorter maximum lifetime is refused, and
  // the entry stays good for the requirements it meets.
  EXPECT_THAT(tokens.Verify(t, nullptr, Want("https://other:8443"), kNow),
              StatusHasMessage("audience"));
  AccessTokenRequirements other_iss = Want();
  other_iss.issuer = "https://other:8443/identity";
  EXPECT_THAT(tokens.Verify(t, nullptr, other_iss, kNow),
              StatusHasMessage("issuer (iss)"));
  AccessTokenRequirements other_tid = Want();
  other_tid.tenant = "tenant-2";
  EXPECT_THAT(tokens.Verify(t, nullptr, other_tid, kNow),
              StatusHasMessage("tenant (tid)"));
  AccessTokenRequirements short_max = Want();
  short_max.max_lifetime_seconds = 600;
  EXPECT_THAT(tokens.Verify(t, nullptr, short_max, kNow),
              StatusHasMessage("lifetime"));
  EXPECT_OK(tokens.Verify(t, nullptr, Want(), kNow + 6));
  // Past exp (+ skew) the cached token is refused.
  EXPECT_THAT(tokens.Verify(t, key_.get(), Want(), kNow + 3600 + 61),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // A forged token is never remembered.
  std::string forged = t;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(tokens.Verify(forged, key_.get(), Want(), kNow).ok());
  EXPECT_FALSE(tokens.Verify(forged, nullptr, Want(), kNow).ok());
  // Capacity: the oldest goes first.
  claims_.subject = "oid-2";
  const std::string t2 = Issue();
  claims_.subject = "oid-3";
  const std::string t3 = Issue();
  ASSERT_OK(tokens.Verify(t, key_.get(), Want(), kNow));
  ASSERT_OK(tokens.Verify(t2, key_.get(), Want(), kNow));
  ASSERT_OK(tokens.Verify(t3, key_.get(), Want(), kNow));
  EXPECT_OK(tokens.Verify(t3, nullptr, Want(), kNow));
  EXPECT_FALSE(tokens.Verify(t, nullptr, Want(), kNow).ok());
}

}  // namespace
}  // namespace keyferry::auth
