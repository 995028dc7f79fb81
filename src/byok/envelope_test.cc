#include "byok/envelope.h"

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/aes_wrap.h"
#include "crypto/keys.h"

namespace keyferry::byok {
namespace {

using crypto::Curve;
using crypto::KeyType;

SecretBytes Hex(std::string_view h) { return *HexDecodeSecret(h); }

class EnvelopeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kek2048_ = crypto::GenerateRsa(2048)->release();
    kek3072_ = crypto::GenerateRsa(3072)->release();
  }
  static void TearDownTestSuite() {
    EVP_PKEY_free(kek2048_);
    EVP_PKEY_free(kek3072_);
  }
  static EVP_PKEY* kek2048_;
  static EVP_PKEY* kek3072_;
};
EVP_PKEY* EnvelopeTest::kek2048_ = nullptr;
EVP_PKEY* EnvelopeTest::kek3072_ = nullptr;

TEST(LengthTest, KwpWrappedLengthMatchesSpecTable) {
  EXPECT_EQ(KwpWrappedLength(7), 16u);
  EXPECT_EQ(KwpWrappedLength(16), 24u);
  EXPECT_EQ(KwpWrappedLength(32), 40u);
  EXPECT_EQ(KwpWrappedLength(67), 80u);
  EXPECT_EQ(KwpWrappedLength(138), 152u);
  EXPECT_EQ(KwpWrappedLength(1217), 1232u);
  EXPECT_EQ(KwpWrappedLength(2376), 2384u);
}

TEST(LengthTest, CheckCiphertextLengthRules) {
  EXPECT_OK(CheckCiphertextLength(552, 512));
  EXPECT_THAT(CheckCiphertextLength(520, 512), StatusHasMessage("too short"));
  EXPECT_THAT(CheckCiphertextLength(551, 512),
              StatusHasMessage("not a multiple of 8"));
}

TEST(AnalyzeTest, InfersAes256Under4096) {
  ASSERT_OK_AND_ASSIGN(Analysis a, Analyze(552, std::nullopt));
  EXPECT_EQ(a.modulus_bytes, 512u);
  EXPECT_TRUE(a.modulus_inferred);
  EXPECT_EQ(a.c2, 40u);
  EXPECT_THAT(a.fitting_targets, ::testing::Contains("AES-256"));
}

TEST(AnalyzeTest, Rsa4096UnderRsa4096) {
  // The Securosys sample: 2896 = 512 + 2384.
  ASSERT_OK_AND_ASSIGN(Analysis a, Analyze(2896, 512));
  EXPECT_THAT(a.fitting_targets, ::testing::Contains("RSA-4096"));
}

TEST(AnalyzeTest, FailureFitsNothing) {
  EXPECT_FALSE(Analyze(100, std::nullopt).ok());
}

TEST_F(EnvelopeTest, SealOpenAes) {
  SecretBytes key =
      Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  ASSERT_OK_AND_ASSIGN(auto ct, WrapToKek(kek2048_, key));
  EXPECT_EQ(ct.size(), 296u);  // byok-formats.md §1.6
  ASSERT_OK_AND_ASSIGN(SecretBytes back, UnwrapWithKek(kek2048_, ct));
  EXPECT_TRUE(back.ConstantTimeEquals(key));
  ASSERT_OK_AND_ASSIGN(RecoveredKey rk, DecodePayload(back, std::nullopt));
  EXPECT_EQ(rk.type, KeyType::kAes);
  EXPECT_EQ(rk.bits, 256);
}

TEST_F(EnvelopeTest, SealOpenEcPkcs8) {
  ASSERT_OK_AND_ASSIGN(auto ec, crypto::GenerateEc(Curve::kP384));
  ASSERT_OK_AND_ASSIGN(SecretBytes p8, crypto::PrivateKeyToPkcs8Der(ec.get()));
  ASSERT_OK_AND_ASSIGN(auto ct, WrapToKek(kek3072_, p8));
  EXPECT_EQ(ct.size(), 384 + KwpWrappedLength(p8.size()));
  ASSERT_OK_AND_ASSIGN(SecretBytes back, UnwrapWithKek(kek3072_, ct));
  ASSERT_OK_AND_ASSIGN(RecoveredKey rk, DecodePayload(back, false));
  EXPECT_EQ(rk.type, KeyType::kEc);
  EXPECT_EQ(rk.curve, Curve::kP384);
  EXPECT_TRUE(crypto::PublicKeysEqual(rk.pkey.get(), ec.get()));
  EXPECT_EQ(rk.trailing_zeros, 0u);
}

TEST_F(EnvelopeTest, DecodeToleratesSoftHsmTrailingZeros) {
  ASSERT_OK_AND_ASSIGN(auto ec, crypto::GenerateEc(Curve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes p8, crypto::PrivateKeyToPkcs8Der(ec.get()));
  size_t len = p8.size();
  p8.Resize(len + 5);  // zero-filled, as SoftHSM 2.6.1 pads
  ASSERT_OK_AND_ASSIGN(RecoveredKey rk, DecodePayload(p8, false));
  EXPECT_EQ(rk.trailing_zeros, 5u);
  EXPECT_TRUE(crypto::PublicKeysEqual(rk.pkey.get(), ec.get()));
}

TEST_F(EnvelopeTest, FailureNonZeroTrailingBytes) {
  ASSERT_OK_AND_ASSIGN(auto ec, crypto::GenerateEc(Curve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes p8, crypto::PrivateKeyToPkcs8Der(ec.get()));
  size_t len = p8.size();
  p8.Resize(len + 2);
  p8.mutable_data(SecretAccess::Get())[len + 1] = 1;
  EXPECT_FALSE(DecodePayload(p8, false).ok());
}

TEST_F(EnvelopeTest, FailureFlippedOaepByte) {
  SecretBytes key = Hex("00112233445566778899aabbccddeeff");
  ASSERT_OK_AND_ASSIGN(auto ct, WrapToKek(kek2048_, key));
  ct[10] ^= 1;
  EXPECT_THAT(UnwrapWithKek(kek2048_, ct), StatusHasMessage("RSA-OAEP part"));
}

TEST_F(EnvelopeTest, FailureFlippedKwpByte) {
  SecretBytes key = Hex("00112233445566778899aabbccddeeff");
  ASSERT_OK_AND_ASSIGN(auto ct, WrapToKek(kek2048_, key));
  ct[ct.size() - 3] ^= 0x80;
  EXPECT_THAT(UnwrapWithKek(kek2048_, ct), StatusHasMessage("AES-KWP part"));
}

TEST_F(EnvelopeTest, FailureTruncated) {
  SecretBytes key = Hex("00112233445566778899aabbccddeeff");
  ASSERT_OK_AND_ASSIGN(auto ct, WrapToKek(kek2048_, key));
  std::vector<uint8_t> shorter(ct.begin(), ct.end() - 8);  // still 8-aligned
  EXPECT_THAT(UnwrapWithKek(kek2048_, shorter),
              StatusHasMessage("AES-KWP part"));
  std::vector<uint8_t> unaligned(ct.begin(), ct.end() - 1);
  EXPECT_THAT(UnwrapWithKek(kek2048_, unaligned),
              StatusHasMessage("not a multiple of 8"));
  std::vector<uint8_t> oaep_only(ct.begin(), ct.begin() + 256 + 8);
  EXPECT_THAT(UnwrapWithKek(kek2048_, oaep_only),
              StatusHasMessage("too short"));
}

TEST_F(EnvelopeTest, FailureWrongKek) {
  SecretBytes key = Hex("00112233445566778899aabbccddeeff");
  ASSERT_OK_AND_ASSIGN(auto ct, WrapToKek(kek2048_, key));
  ASSERT_OK_AND_ASSIGN(auto other, crypto::GenerateRsa(2048));
  EXPECT_THAT(UnwrapWithKek(other.get(), ct),
              StatusHasMessage("RSA-OAEP part"));
}

TEST(KekTest, FailureKekNotRsa) {
  ASSERT_OK_AND_ASSIGN(auto ec, crypto::GenerateEc(Curve::kP256));
  EXPECT_THAT(KekModulusBytes(ec.get()), StatusHasMessage("RSA"));
}

TEST(KekTest, FailureKekTooSmall) {
  ASSERT_OK_AND_ASSIGN(auto small, crypto::GenerateRsa(1024));
  EXPECT_THAT(KekModulusBytes(small.get()), StatusHasMessage("1024"));
}

}  // namespace
}  // namespace keyferry::byok
