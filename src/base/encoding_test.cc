#include "base/encoding.h"

#include "base/testing.h"

namespace keyferry {
namespace {

using ::testing::ElementsAre;

TEST(HexTest, RoundTrip) {
  std::vector<uint8_t> data = {0x00, 0x7f, 0xa6, 0xff};
  EXPECT_EQ(HexEncode(data), "007fa6ff");
  ASSERT_OK_AND_ASSIGN(auto back, HexDecode("007FA6ff"));
  EXPECT_EQ(back, data);
}

TEST(HexTest, FailureOddLength) {
  EXPECT_THAT(HexDecode("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HexTest, FailureBadDigit) {
  EXPECT_THAT(HexDecode("zz"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// RFC 4648 §10 test vectors.
TEST(Base64Test, Rfc4648Vectors) {
  const char* in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* std_out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                           "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  const char* url_out[] = {"",       "Zg",      "Zm8",     "Zm9v",
                           "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(Base64Encode(AsBytes(in[i])), std_out[i]);
    EXPECT_EQ(Base64UrlEncode(AsBytes(in[i])), url_out[i]);
    ASSERT_OK_AND_ASSIGN(auto a, Base64Decode(std_out[i]));
    EXPECT_EQ(AsString(a), in[i]);
    ASSERT_OK_AND_ASSIGN(auto b, Base64UrlDecode(url_out[i]));
    EXPECT_EQ(AsString(b), in[i]);
    ASSERT_OK_AND_ASSIGN(auto c, Base64UrlDecode(std_out[i]));  // padded
    EXPECT_EQ(AsString(c), in[i]);
  }
}

TEST(Base64Test, UrlAlphabet) {
  std::vector<uint8_t> data = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(Base64UrlEncode(data), "-_-_");
  EXPECT_EQ(Base64Encode(data), "+/+/");
  ASSERT_OK_AND_ASSIGN(auto back, Base64UrlDecode("-_-_"));
  EXPECT_THAT(back, ElementsAre(0xfb, 0xff, 0xbf));
}

TEST(Base64Test, FailureStandardCharsInUrl) {
  EXPECT_THAT(Base64UrlDecode("+/+/"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Base64Test, FailureTruncated) {
  EXPECT_THAT(Base64UrlDecode("Zm9vY"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Base64Test, FailureNonCanonicalBits) {
  EXPECT_THAT(Base64UrlDecode("Zh"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Base64Test, FailureBadPadding) {
  EXPECT_THAT(Base64UrlDecode("Zg="),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Base64UrlDecode("Z==="),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Base64Test, FailureWhitespace) {
  EXPECT_THAT(Base64UrlDecode("Zm9v\nYmFy"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
TEST(LengthPrefixedTest, MagicThenLengthPrefixedFieldsThenRaw) {
  const std::vector<uint8_t> raw = {0xff};
  std::vector<uint8_t> got =
      LengthPrefixed("KF").Add("ab").Add(std::string_view()).Raw(raw).Take();
  const std::vector<uint8_t> want = {'K', 'F', 0, 0, 0, 2,   'a',
                                     'b', 0,   0, 0, 0, 0xff};
  EXPECT_EQ(got, want);
  // Moving a byte across the field boundary changes the encoding.
  EXPECT_NE(LengthPrefixed("").Add("a").Add("bc").Take(),
            LengthPrefixed("").Add("ab").Add("c").Take());
}

}  // namespace keyferry
