#include "crypto/aead.h"

#include "base/encoding.h"
#include "base/testing.h"

namespace keyferry::crypto {
namespace {

// Test case 16 of McGrew and Viega, "The Galois/Counter Mode of Operation"
// (AES-256, 60-byte plaintext, 20-byte AAD).
constexpr char kKey[] =
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr char kIv[] = "cafebabefacedbaddecaf888";
constexpr char kPt[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr char kAad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr char kCt[] =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
constexpr char kTag[] = "76fc6ece0f4e1768cddf8853bb2d551b";

TEST(AesGcmTest, McGrewViegaCase16) {
  SecretBytes key = *HexDecodeSecret(kKey);
  auto iv = *HexDecode(kIv);
  ASSERT_OK_AND_ASSIGN(GcmCiphertext s, AesGcmEncrypt(key, iv, *HexDecode(kPt),
                                                      *HexDecode(kAad)));
  EXPECT_EQ(HexEncode(s.ciphertext), kCt);
  EXPECT_EQ(HexEncode(s.tag), kTag);
  ASSERT_OK_AND_ASSIGN(SecretBytes pt, AesGcmDecrypt(key, iv, s.ciphertext,
                                                     s.tag, *HexDecode(kAad)));
  EXPECT_TRUE(pt.ConstantTimeEquals(*HexDecodeSecret(kPt)));
}

TEST(AesGcmTest, FailureTamperedTagCiphertextOrAad) {
  SecretBytes key = *HexDecodeSecret(kKey);
  auto iv = *HexDecode(kIv);
  auto aad = *HexDecode(kAad);
  ASSERT_OK_AND_ASSIGN(GcmCiphertext s,
                       AesGcmEncrypt(key, iv, *HexDecode(kPt), aad));
  auto tag = s.tag;
  tag[0] ^= 1;
  EXPECT_THAT(AesGcmDecrypt(key, iv, s.ciphertext, tag, aad),
              StatusHasMessage("authentication failed"));
  auto ct = s.ciphertext;
  ct[5] ^= 1;
  EXPECT_FALSE(AesGcmDecrypt(key, iv, ct, s.tag, aad).ok());
  aad[0] ^= 1;
  EXPECT_FALSE(AesGcmDecrypt(key, iv, s.ciphertext, s.tag, aad).ok());
}

TEST(AesGcmTest, FailureBadSizes) {
  SecretBytes key(20);
  std::vector<uint8_t> iv(12);
  EXPECT_THAT(AesGcmEncrypt(key, iv, {}, {}), StatusHasMessage("16, 24 or 32"));
  SecretBytes good(32);
  std::vector<uint8_t> short_iv(8);
  EXPECT_FALSE(AesGcmEncrypt(good, short_iv, {}, {}).ok());
}

}  // namespace
}  // namespace keyferry::crypto
