#include "auth/jwt.h"

#include "absl/strings/str_split.h"
#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/keys.h"

namespace keyferry::auth {
namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr char kAud[] = "https://localhost:8443";

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = *crypto::GenerateEc(crypto::Curve::kP256);
    claims_ = {"https://localhost:8443/identity",
               "oid-1",
               kAud,
               "tenant-1",
               kNow,
               kNow,
               kNow + 3600};
  }
  std::string Issue() { return *IssueToken(key_.get(), "k1", claims_); }
  crypto::EvpPkeyPtr key_;
  Claims claims_;
};

TEST_F(JwtTest, RoundTrip) {
  ASSERT_OK_AND_ASSIGN(Claims c,
                       VerifyToken(Issue(), key_.get(), kAud, kNow + 10));
  EXPECT_EQ(c.subject, "oid-1");
  EXPECT_EQ(c.tenant, "tenant-1");
  EXPECT_EQ(c.expires, kNow + 3600);
  // A trailing slash on either side is the same resource.
  EXPECT_OK(VerifyToken(Issue(), key_.get(), "https://localhost:8443/", kNow));
}

TEST_F(JwtTest, SignatureVerifiesWithOpenSslPublicKeyOnly) {
  auto pub = *crypto::PublicKeyOf(key_.get());
  EXPECT_OK(VerifyToken(Issue(), pub.get(), kAud, kNow));
}

TEST_F(JwtTest, FailureExpiredAndNotYetValid) {
  EXPECT_THAT(VerifyToken(Issue(), key_.get(), kAud, kNow + 3600 + 61),
              StatusHasMessage("expired"));
  EXPECT_THAT(VerifyToken(Issue(), key_.get(), kAud, kNow - 61),
              StatusHasMessage("not yet valid"));
}

TEST_F(JwtTest, FailureWrongAudience) {
  EXPECT_THAT(VerifyToken(Issue(), key_.get(), "https://other:8443", kNow),
              StatusHasMessage("audience"));
}

TEST_F(JwtTest, FailureForgedByAnotherKey) {
  auto other = *crypto::GenerateEc(crypto::Curve::kP256);
  std::string forged = *IssueToken(other.get(), "k1", claims_);
  EXPECT_THAT(VerifyToken(forged, key_.get(), kAud, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(JwtTest, FailureTamperedClaims) {
  std::vector<std::string> p = absl::StrSplit(Issue(), '.');
  claims_.subject = "attacker";
  std::vector<std::string> q = absl::StrSplit(Issue(), '.');
  std::string spliced = p[0] + "." + q[1] + "." + p[2];
  EXPECT_THAT(VerifyToken(spliced, key_.get(), kAud, kNow),
              StatusHasMessage("signature"));
}

TEST_F(JwtTest, FailureAlgNone) {
  std::vector<std::string> p = absl::StrSplit(Issue(), '.');
  std::string none = Base64UrlEncode(AsBytes(R"({"alg":"none","typ":"JWT"})"));
  EXPECT_THAT(VerifyToken(none + "." + p[1] + ".", key_.get(), kAud, kNow),
              StatusHasMessage("alg must be ES256"));
}

TEST_F(JwtTest, FailureGarbage) {
  EXPECT_THAT(VerifyToken("abc", key_.get(), kAud, kNow),
              StatusHasMessage("three parts"));
  EXPECT_THAT(VerifyToken("a.b.c", key_.get(), kAud, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

// VerifiedTokens answers a repeated token from memory, but only for the
// same audience and inside the token's time window.
TEST_F(JwtTest, VerifiedTokensKeepEveryCheck) {
  VerifiedTokens tokens(2);
  const std::string t = Issue();
  ASSERT_OK_AND_ASSIGN(Claims c, tokens.Verify(t, key_.get(), kAud, kNow));
  EXPECT_EQ(c.subject, "oid-1");
  // A hit does not verify the signature again: even a null key answers.
  EXPECT_OK(tokens.Verify(t, nullptr, kAud, kNow + 5));
  // Another audience is another entry, verified in full (and refused).
  EXPECT_THAT(tokens.Verify(t, key_.get(), "https://other:8443", kNow),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // Past exp (+ skew) the cached token is refused.
  EXPECT_THAT(tokens.Verify(t, key_.get(), kAud, kNow + 3600 + 61),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // A forged token is never remembered.
  std::string forged = t;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(tokens.Verify(forged, key_.get(), kAud, kNow).ok());
  EXPECT_FALSE(tokens.Verify(forged, nullptr, kAud, kNow).ok());
  // Capacity: the oldest goes first.
  claims_.subject = "oid-2";
  const std::string t2 = Issue();
  claims_.subject = "oid-3";
  const std::string t3 = Issue();
  ASSERT_OK(tokens.Verify(t, key_.get(), kAud, kNow));
  ASSERT_OK(tokens.Verify(t2, key_.get(), kAud, kNow));
  ASSERT_OK(tokens.Verify(t3, key_.get(), kAud, kNow));
  EXPECT_OK(tokens.Verify(t3, nullptr, kAud, kNow));
  EXPECT_FALSE(tokens.Verify(t, nullptr, kAud, kNow).ok());
}

}  // namespace
}  // namespace keyferry::auth
