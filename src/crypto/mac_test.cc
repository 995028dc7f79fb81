#include "crypto/mac.h"

#include <gtest/gtest.h>

#include <string>

#include "base/encoding.h"

namespace keyferry::crypto {
namespace {

std::vector<uint8_t> Hex(std::string_view h) {
  absl::StatusOr<std::vector<uint8_t>> b = HexDecode(h);
  EXPECT_TRUE(b.ok());
  return b.value_or(std::vector<uint8_t>());
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// FIPS 180-2 Appendix B.1.
TEST(Sha256, Abc) {
  EXPECT_EQ(HexEncode(Sha256(Bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// RFC 4231 §4.2 and §4.3 (test cases 1 and 2), HMAC-SHA-256.
TEST(HmacSha256, Rfc4231Vectors) {
  absl::StatusOr<std::vector<uint8_t>> t1 = HmacSha256(
      SecretBytes(std::vector<uint8_t>(20, 0x0b)), Bytes("Hi There"));
  ASSERT_TRUE(t1.ok());
  EXPECT_EQ(HexEncode(*t1),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  absl::StatusOr<std::vector<uint8_t>> t2 = HmacSha256(
      SecretBytes(Bytes("Jefe")), Bytes("what do ya want for nothing?"));
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(HexEncode(*t2),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(VerifyHmacSha256, AcceptsTheTagAndRefusesAnyOther) {
  SecretBytes key(Bytes("Jefe"));
  std::vector<uint8_t> tag =
      Hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  auto data = Bytes("what do ya want for nothing?");
  EXPECT_TRUE(VerifyHmacSha256(key, data, tag).ok());
  tag[31] ^= 1;
  EXPECT_EQ(VerifyHmacSha256(key, data, tag).code(),
            absl::StatusCode::kDataLoss);
  tag.pop_back();
  EXPECT_EQ(VerifyHmacSha256(key, data, tag).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyHmacSha256(key, data, {}).code(),
            absl::StatusCode::kDataLoss);
}

// RFC 5869 Appendix A.1 (test case 1).
TEST(HkdfSha256, Rfc5869TestCase1) {
  std::vector<uint8_t> salt = Hex("000102030405060708090a0b0c");
  std::vector<uint8_t> info = Hex("f0f1f2f3f4f5f6f7f8f9");
  absl::StatusOr<SecretBytes> okm = HkdfSha256(
      SecretBytes(std::vector<uint8_t>(22, 0x0b)), salt,
      std::string_view(reinterpret_cast<const char*>(info.data()), info.size()),
      42);
  ASSERT_TRUE(okm.ok());
  EXPECT_EQ(HexEncode(okm->data(SecretAccess::Get())),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865");
}

TEST(HkdfSha256, FailureBadLength) {
  SecretBytes ikm(std::vector<uint8_t>(32, 1));
  EXPECT_EQ(HkdfSha256(ikm, {}, "x", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256(ikm, {}, "x", 255 * 32 + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// RFC 7914 §12, the second and third vectors.
TEST(Scrypt, Rfc7914Vectors) {
  absl::StatusOr<SecretBytes> dk =
      Scrypt(SecretBytes(Bytes("password")), Bytes("NaCl"),
             {.n = 1024, .r = 8, .p = 16}, 64);
  ASSERT_TRUE(dk.ok()) << dk.status();
  EXPECT_EQ(HexEncode(dk->data(SecretAccess::Get())),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
            "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
  dk = Scrypt(SecretBytes(Bytes("pleaseletmein")), Bytes("SodiumChloride"),
              {.n = 16384, .r = 8, .p = 1}, 64);
  ASSERT_TRUE(dk.ok()) << dk.status();
  EXPECT_EQ(HexEncode(dk->data(SecretAccess::Get())),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
            "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
}

TEST(Scrypt, FailureInvalidParameters) {
  SecretBytes pw(Bytes("pw"));
  EXPECT_EQ(
      Scrypt(pw, Bytes("s"), {.n = 1000, .r = 8, .p = 1}, 32).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Scrypt(pw, Bytes("s"), {.n = 1024, .r = 0, .p = 1}, 32).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Scrypt(pw, Bytes("s"), {.n = 1024, .r = 8, .p = 1}, 0).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keyferry::crypto
