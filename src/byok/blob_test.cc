#include "byok/blob.h"

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/strings.h"
#include "base/testing.h"

namespace keyferry::byok {
namespace {

constexpr char kKid[] =
    "https://myvault.localhost:8443/keys/KEKforBYOK/"
    "0123456789abcdef0123456789abcdef";

std::string Make(std::string_view ct_in,
                 std::string_view enc_in = kEncRsaAesKeyWrap,
                 std::string_view kid_in = kKid) {
  absl::string_view ct = Sv(ct_in), enc = Sv(enc_in), kid = Sv(kid_in);
  return absl::StrCat(
      R"({ "schema_version": "1.0.0",
  "header": { "kid": ")",
      kid, R"(", "alg": "dir", "enc": ")", enc, R"(" },
  "ciphertext": ")",
      ct, R"(", "generator": "test; pretty printed" })");
}

TEST(KeyIdTest, ParsesFullIdentifier) {
  ASSERT_OK_AND_ASSIGN(KeyId id, ParseKeyId(kKid));
  EXPECT_EQ(id.host, "myvault.localhost:8443");
  EXPECT_EQ(id.name, "KEKforBYOK");
  EXPECT_EQ(id.version, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(id.ToString(), kKid);
}

TEST(KeyIdTest, FailureNoVersion) {
  EXPECT_THAT(ParseKeyId("https://v.vault.azure.net/keys/kek"),
              StatusHasMessage("version"));
  EXPECT_THAT(ParseKeyId("https://v.vault.azure.net/keys/kek/abc"),
              StatusHasMessage("32 hexadecimal"));
}

TEST(KeyIdTest, FailureNotHttps) {
  EXPECT_THAT(ParseKeyId("http://v/keys/k/0123456789abcdef0123456789abcdef"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyIdTest, FailureBadName) {
  EXPECT_THAT(ParseKeyId("https://v/keys/a_b/0123456789abcdef0123456789abcdef"),
              StatusHasMessage("key name"));
}

TEST(BlobTest, RoundTripUnpadded) {
  Blob blob;
  blob.kid = kKid;
  blob.ciphertext = {1, 2, 3, 4, 5};
  blob.generator = "keyferry 0.1.0; SoftHSM";
  std::string text = SerializeBlob(blob);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('='), std::string::npos);
  EXPECT_NE(text.find(R"("ciphertext":"AQIDBAU")"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(Blob back, ParseBlob(text));
  EXPECT_EQ(back.kid, blob.kid);
  EXPECT_EQ(back.ciphertext, blob.ciphertext);
  EXPECT_EQ(back.generator, blob.generator);
  EXPECT_FALSE(back.ciphertext_was_padded);
  EXPECT_EQ(text.rfind(R"({"schema_version":"1.0.0","header":{"kid":)", 0), 0u);
}

TEST(BlobTest, AcceptsPaddedAndPrettyPrinted) {
  ASSERT_OK_AND_ASSIGN(Blob blob, ParseBlob(Make("AQIDBA==")));
  EXPECT_TRUE(blob.ciphertext_was_padded);
  EXPECT_EQ(blob.ciphertext, (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(blob.generator, "test; pretty printed");
}

TEST(BlobTest, FailureWrongEnc) {
  EXPECT_THAT(ParseBlob(Make("AQID", "RSA_AES_KEY_WRAP_256")),
              StatusHasMessage("header.enc"));
}

TEST(BlobTest, FailureStandardBase64) {
  EXPECT_THAT(ParseBlob(Make("+/+/")), StatusHasMessage("base64url"));
}

TEST(BlobTest, FailureDeeplyNested) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THAT(ParseBlob(deep), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseBlob(absl::StrCat(R"({"schema_version":"1.0.0","header":)",
                                     deep, "}")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BlobTest, FailureNotJson) {
  EXPECT_THAT(ParseBlob("{\"schema_version\": "), StatusHasMessage("JSON"));
  EXPECT_THAT(ParseBlob("[]"), StatusHasMessage("object"));
}

TEST(BlobTest, FailureMissingFields) {
  EXPECT_THAT(ParseBlob(R"({"schema_version":"1.0.0"})"),
              StatusHasMessage("header"));
  EXPECT_THAT(ParseBlob(R"({"schema_version":"2.0.0"})"),
              StatusHasMessage("schema_version"));
}

TEST(BlobTest, FailureKidWithoutVersion) {
  EXPECT_THAT(ParseBlob(Make("AQID", kEncRsaAesKeyWrap,
                             "https://v.localhost/keys/kek")),
              StatusHasMessage("version"));
}

TEST(BlobTest, FailureOversized) {
  std::string big(kMaxBlobBytes + 1, ' ');
  EXPECT_THAT(ParseBlob(big), StatusHasMessage("larger than"));
}

TEST(BlobTest, ErrorNeverQuotesCiphertext) {
  auto st = ParseBlob(Make("QUJD!EFG"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(std::string(st.status().message()).find("QUJD"), std::string::npos);
}

}  // namespace
}  // namespace keyferry::byok
