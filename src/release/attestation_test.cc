#include "release/attestation.h"

#include <string>

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "crypto/sign.h"
#include "release/testing.h"

namespace keyferry::release {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;

constexpr char kIss[] = "https://attest.example/";
constexpr int64_t kNow = 1'800'000'000;

std::string B64(std::string_view s) { return Base64UrlEncode(AsBytes(s)); }

using Issuer = test_support::TestIssuer;
using test_support::WrappingJwk;

class AttestationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(trusted_.Add(kIss, issuer_.Jwks()));
    ASSERT_OK_AND_ASSIGN(wrapping_, crypto::GenerateRsa(2048));
  }
  Json Payload() const {
    return Json{{"iss", kIss},
                {"exp", kNow + 600},
                {"nbf", kNow - 10},
                {"x-ms-runtime",
                 {{"keys", Json::array({WrappingJwk(wrapping_.get())})}}}};
  }
  Issuer issuer_ = Issuer::Rsa();
  TrustedAuthorities trusted_;
  crypto::EvpPkeyPtr wrapping_;
};

TEST_F(AttestationTest, VerifiesAndFindsTheWrappingKey) {
  ASSERT_OK_AND_ASSIGN(
      AttestedToken t,
      VerifyAttestation(issuer_.Mint(Payload()), trusted_, kNow));
  EXPECT_EQ(t.issuer, kIss);
  EXPECT_EQ(t.wrapping_kid, "TpmEphemeralEncryptionKey");
  EXPECT_TRUE(crypto::PublicKeysEqual(t.wrapping_key.get(), wrapping_.get()));
  EXPECT_EQ(t.claims.at("nbf"), kNow - 10);
}

TEST_F(AttestationTest, EcIssuerAndIssuerWithoutTrailingSlash) {
  Issuer ec = Issuer::Ec();
  TrustedAuthorities trusted;
  ASSERT_OK(trusted.Add("https://attest.example", ec.Jwks()));
  EXPECT_OK(VerifyAttestation(ec.Mint(Payload()), trusted, kNow));
}

TEST_F(AttestationTest, FirstEncryptionKeyIsChosen) {
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr other, crypto::GenerateRsa(2048));
  Json p = Payload();
  Json sig_only = WrappingJwk(other.get(), "signing");
  sig_only.erase("key_ops");
  sig_only["key_ops"] = Json::array({"verify"});
  Json by_use = WrappingJwk(wrapping_.get(), "by-use");
  by_use.erase("key_ops");
  by_use["use"] = "enc";
  p["x-ms-runtime"]["keys"] =
      Json::array({sig_only, by_use, WrappingJwk(other.get(), "later")});
  ASSERT_OK_AND_ASSIGN(AttestedToken t,
                       VerifyAttestation(issuer_.Mint(p), trusted_, kNow));
  EXPECT_EQ(t.wrapping_kid, "by-use");
  EXPECT_TRUE(crypto::PublicKeysEqual(t.wrapping_key.get(), wrapping_.get()));
}

void ExpectRefused(const absl::StatusOr<AttestedToken>& t, const char* why) {
  EXPECT_THAT(t, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(t, StatusHasMessage(why));
}

TEST_F(AttestationTest, FailureWrongIssuer) {
  Json p = Payload();
  p["iss"] = "https://evil.example/";
  ExpectRefused(VerifyAttestation(issuer_.Mint(p), trusted_, kNow),
                "not a trusted attestation authority");
  p.erase("iss");
  ExpectRefused(VerifyAttestation(issuer_.Mint(p), trusted_, kNow),
                "not a trusted attestation authority");
}

TEST_F(AttestationTest, FailureSignedByAnotherKey) {
  Issuer impostor = Issuer::Rsa(issuer_.kid);  // same kid, other key
  ExpectRefused(VerifyAttestation(impostor.Mint(Payload()), trusted_, kNow),
                "signature does not verify");
}

TEST_F(AttestationTest, FailureAlteredPayload) {
  std::string token = issuer_.Mint(Payload());
  Json p = Payload();
  p["x-ms-runtime"]["keys"][0]["kid"] = "swapped";
  const size_t a = token.find('.'), b = token.rfind('.');
  token = token.substr(0, a + 1) + B64(p.dump()) + token.substr(b);
  ExpectRefused(VerifyAttestation(token, trusted_, kNow),
                "signature does not verify");
}

TEST_F(AttestationTest, FailureKidNotInJwks) {
  Json h{{"kid", "unknown"}};
  ExpectRefused(VerifyAttestation(issuer_.Mint(Payload(), h), trusted_, kNow),
                "kid is not a key of authority");
  Json p = Payload();
  std::string no_kid = B64(R"({"alg":"RS256"})") + "." + B64(p.dump()) + ".AA";
  ExpectRefused(VerifyAttestation(no_kid, trusted_, kNow), "no kid");
}

TEST_F(AttestationTest, FailureAlgNoneAndOthers) {
  const std::string body = B64(Payload().dump());
  ExpectRefused(VerifyAttestation(
                    B64(R"({"alg":"none","kid":"sig-1"})") + "." + body + ".",
                    trusted_, kNow),
                "its alg is not one of");
  ExpectRefused(VerifyAttestation(B64(R"({"alg":"HS256","kid":"sig-1"})") +
                                      "." + body + ".AAAA",
                                  trusted_, kNow),
                "its alg is not one of");
  // An ES256 header on the RSA key: the key does not fit the alg.
  Json h{{"alg", "ES256"}};
  ExpectRefused(VerifyAttestation(issuer_.Mint(Payload(), h), trusted_, kNow),
                "signature does not verify");
}

TEST_F(AttestationTest, FailureNotAJws) {
  ExpectRefused(VerifyAttestation("abc", trusted_, kNow), "not a compact JWS");
  ExpectRefused(VerifyAttestation("a.b.c", trusted_, kNow), "compact JWS");
  ExpectRefused(
      VerifyAttestation(B64("[1]") + "." + B64("{}") + ".AA", trusted_, kNow),
      "compact JWS");
}

TEST_F(AttestationTest, FailureExpiredNotYetValidNoExp) {
  Json p = Payload();
  p["exp"] = kNow - 61;
  ExpectRefused(VerifyAttestation(issuer_.Mint(p), trusted_, kNow), "expired");
  p["exp"] = kNow - 59;  // within the skew
  EXPECT_OK(VerifyAttestation(issuer_.Mint(p), trusted_, kNow));
  p = Payload();
  p["nbf"] = kNow + 61;
  ExpectRefused(VerifyAttestation(issuer_.Mint(p), trusted_, kNow),
                "not valid yet");
  p["nbf"] = kNow + 59;
  EXPECT_OK(VerifyAttestation(issuer_.Mint(p), trusted_, kNow));
  p.erase("exp");
  ExpectRefused(VerifyAttestation(issuer_.Mint(p), trusted_, kNow), "no exp");
}

TEST_F(AttestationTest, FailureNoUsableWrappingKey) {
  Json p = Payload();
  p.erase("x-ms-runtime");
  ExpectRefused(VerifyAttestation(issuer_.Mint(p), trusted_, kNow),
                "no x-ms-runtime.keys");
  p = Payload();
  p["x-ms-runtime"]["keys"][0].erase("key_ops");
  ExpectRefused(VerifyAttestation(issuer_.Mint(p), trusted_, kNow),
                "holds no RSA key for encryption");
  p = Payload();
  p["x-ms-runtime"]["keys"][0].erase("kid");
  ExpectRefused(VerifyAttestation(issuer_.Mint(p), trusted_, kNow), "no kid");
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr small, crypto::GenerateRsa(1024));
  p = Payload();
  p["x-ms-runtime"]["keys"][0] = WrappingJwk(small.get());
  ExpectRefused(VerifyAttestation(issuer_.Mint(p), trusted_, kNow),
                "not a usable RSA key");
}

TEST(TrustedAuthoritiesTest, FailureBadJwks) {
  TrustedAuthorities t;
  EXPECT_THAT(t.Add("", Issuer::Rsa().Jwks()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(t.Add("https://a/", "{}"), StatusHasMessage("\"keys\" array"));
  EXPECT_THAT(
      t.Add("https://a/", R"({"keys":[{"kty":"oct","k":"AA","kid":"x"}]})"),
      StatusHasMessage("no RSA or EC signing key"));
  EXPECT_THAT(
      t.Add("https://a/", R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})"),
      StatusHasMessage("not usable"));
  ASSERT_OK(t.Add("https://a/", Issuer::Rsa().Jwks()));
  EXPECT_THAT(t.Add("https://a", Issuer::Rsa().Jwks()),
              StatusHasMessage("given twice"));
  EXPECT_EQ(t.Issuers(), std::vector<std::string>{"https://a/"});
}

TEST(TokenNoncesTest, TopLevelAndClientPayload) {
  EXPECT_TRUE(TokenNonces(Json::object()).empty());
  Json c{{"nonce", "n1"},
         {"x-ms-runtime", {{"client-payload", {{"nonce", "MTIzNA=="}}}}}};
  EXPECT_EQ(TokenNonces(c),
            (std::vector<std::string>{"n1", "MTIzNA==", "1234"}));
}

}  // namespace
}  // namespace keyferry::release
