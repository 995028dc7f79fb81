#include "release/result.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "base/encoding.h"
#include "base/testing.h"
#include "byok/envelope.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "crypto/x509.h"

namespace keyferry::release {
namespace {

using Json = nlohmann::json;

TEST(ReleaseEncTest, NamesAndHashes) {
  for (ReleaseEnc e :
       {ReleaseEnc::kCkmRsaAesKeyWrap, ReleaseEnc::kRsaAesKeyWrap256,
        ReleaseEnc::kRsaAesKeyWrap384}) {
    ASSERT_OK_AND_ASSIGN(ReleaseEnc back, ParseReleaseEnc(ReleaseEncName(e)));
    EXPECT_EQ(back, e);
  }
  EXPECT_EQ(OaepHashOf(ReleaseEnc::kCkmRsaAesKeyWrap), crypto::OaepHash::kSha1);
  EXPECT_EQ(OaepHashOf(ReleaseEnc::kRsaAesKeyWrap256),
            crypto::OaepHash::kSha256);
  EXPECT_EQ(OaepHashOf(ReleaseEnc::kRsaAesKeyWrap384),
            crypto::OaepHash::kSha384);
  EXPECT_THAT(ParseReleaseEnc("RSA-OAEP"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyHsmTest, ShapeAndOpensWithTheWrappingKey) {
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr wrapping, crypto::GenerateRsa(2048));
  const SecretBytes secret(std::vector<uint8_t>(32, 0x5a));
  ASSERT_OK_AND_ASSIGN(
      std::vector<uint8_t> ct,
      byok::WrapToKek(wrapping.get(), secret, crypto::OaepHash::kSha256));
  const std::string hsm = KeyHsm("kid-1", ReleaseEnc::kRsaAesKeyWrap256, ct);
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> raw, Base64UrlDecode(hsm));
  const std::string text = AsString(raw);
  EXPECT_EQ(
      text.rfind(R"({"schema_version":"1.0","header":{"kid":"kid-1",)"
                 R"("alg":"dir","enc":"RSA_AES_KEY_WRAP_256"},"ciphertext":")",
                 0),
      0u)
      << text;
  Json j = Json::parse(text);
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> back,
                       Base64UrlDecode(j["ciphertext"].get<std::string>()));
  ASSERT_OK_AND_ASSIGN(
      SecretBytes opened,
      byok::UnwrapWithKek(wrapping.get(), back, crypto::OaepHash::kSha256));
  EXPECT_TRUE(opened.ConstantTimeEquals(secret));
}

struct TestCert {
  std::string pem;
  crypto::EvpPkeyPtr key;
};

TestCert SelfSigned(crypto::EvpPkeyPtr key) {
  crypto::CertificateFields f;
  f.organization = "keyferry test";
  f.common_name = "vault.test";
  f.days = 30;
  const std::vector<std::string> names{"vault.test"};
  absl::StatusOr<crypto::Certificate> ca =
      crypto::NewConstrainedCa(key.get(), f, names);
  EXPECT_OK(ca);
  return TestCert{*ca->ToPem(), std::move(key)};
}

void CheckSigned(const TestCert& c, const char* alg) {
  ASSERT_OK_AND_ASSIGN(
      crypto::EvpPkeyPtr copy,
      crypto::ParsePrivateKey(*crypto::PrivateKeyToPem(c.key.get())));
  ASSERT_OK_AND_ASSIGN(auto signer, ReleaseSigner::New(c.pem, std::move(copy)));
  ASSERT_OK_AND_ASSIGN(std::string jws, signer->Sign(R"({"a":1})"));
  std::vector<std::string> parts = absl::StrSplit(jws, '.');
  ASSERT_EQ(parts.size(), 3u);
  Json h = Json::parse(AsString(*Base64UrlDecode(parts[0])));
  EXPECT_EQ(h["alg"], alg);
  EXPECT_EQ(h["typ"], "JWT");
  ASSERT_OK_AND_ASSIGN(auto chain, crypto::PemChainToDer(c.pem));
  EXPECT_EQ(h["x5c"][0], Base64Encode(chain[0]));
  EXPECT_EQ(h["x5t"], Base64UrlEncode(crypto::Sha1(chain[0])));
  EXPECT_EQ(h["x5t#S256"], Base64UrlEncode(crypto::Sha256(chain[0])));
  EXPECT_EQ(h["kid"].get<std::string>().size(), 40u);
  EXPECT_EQ(h.dump().find(R"({"alg")"), 0u);
  EXPECT_EQ(AsString(*Base64UrlDecode(parts[1])), R"({"a":1})");
  ASSERT_OK_AND_ASSIGN(crypto::SignAlg sa, crypto::ParseSignAlg(alg));
  const std::string in = parts[0] + "." + parts[1];
  ASSERT_OK_AND_ASSIGN(
      bool ok,
      crypto::VerifyDigest(c.key.get(), sa, crypto::Sha256(AsBytes(in)),
                           *Base64UrlDecode(parts[2])));
  EXPECT_TRUE(ok);
}

TEST(ReleaseSignerTest, Rs256WithAnRsaCertificate) {
  CheckSigned(SelfSigned(*crypto::GenerateRsa(2048)), "RS256");
}

TEST(ReleaseSignerTest, Es256WithAnEcCertificate) {
  CheckSigned(SelfSigned(*crypto::GenerateEc(crypto::Curve::kP256)), "ES256");
}

TEST(ReleaseSignerTest, FailureKeyOfAnotherCertificate) {
  TestCert c = SelfSigned(*crypto::GenerateEc(crypto::Curve::kP256));
  EXPECT_THAT(
      ReleaseSigner::New(c.pem, *crypto::GenerateEc(crypto::Curve::kP256)),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      ReleaseSigner::New("no pem", *crypto::GenerateEc(crypto::Curve::kP256)),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry::release
