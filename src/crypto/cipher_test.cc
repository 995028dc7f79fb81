// AES-CBC and RSAES-PKCS1-v1_5 encryption: NIST SP 800-38A F.2 known
// answers, the Wycheproof aes_cbc_pkcs5 vectors (every vector checked;
// SCOPED_TRACE names the failing tcId) and the failure contracts. RSA1_5
// decryption is tested in rsa_pkcs1_test.cc.
#include "crypto/cipher.h"

#include <nlohmann/json.hpp>
#include <string>

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/rsa_pkcs1.h"
#include "crypto/test_vectors.h"

namespace keyferry::crypto {
namespace {

using json = nlohmann::json;

std::vector<uint8_t> Hex(std::string_view h) { return *HexDecode(h); }
SecretBytes SecretHex(std::string_view h) { return *HexDecodeSecret(h); }
std::vector<uint8_t> Bytes(const SecretBytes& s) {
  auto d = s.data(SecretAccess::Get());
  return {d.begin(), d.end()};
}

// NIST SP 800-38A, Appendix F.2: CBC-AES128/192/256, four blocks each.
constexpr char kNistIv[] = "000102030405060708090a0b0c0d0e0f";
constexpr char kNistPlaintext[] =
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

struct NistCase {
  const char* section;
  const char* key;
  const char* ciphertext;
};

const NistCase kNist[] = {
    {"F.2.1/F.2.2 CBC-AES128", "2b7e151628aed2a6abf7158809cf4f3c",
     "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
     "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"},
    {"F.2.3/F.2.4 CBC-AES192",
     "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
     "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
     "571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd"},
    {"F.2.5/F.2.6 CBC-AES256",
     "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
     "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"},
};

TEST(AesCbcTest, NistSp80038aEncrypt) {
  for (const NistCase& c : kNist) {
    SCOPED_TRACE(c.section);
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ct,
                         AesCbcEncrypt(SecretHex(c.key), Hex(kNistIv),
                                       Hex(kNistPlaintext), CbcPadding::kNone));
    EXPECT_EQ(HexEncode(ct), c.ciphertext);
  }
}

TEST(AesCbcTest, NistSp80038aDecrypt) {
  for (const NistCase& c : kNist) {
    SCOPED_TRACE(c.section);
    ASSERT_OK_AND_ASSIGN(SecretBytes pt,
                         AesCbcDecrypt(SecretHex(c.key), Hex(kNistIv),
                                       Hex(c.ciphertext), CbcPadding::kNone));
    EXPECT_EQ(HexEncode(Bytes(pt)), kNistPlaintext);
  }
}

TEST(AesCbcTest, Pkcs7AddsOneToSixteenBytesAndRoundTrips) {
  SecretBytes key = SecretHex(kNist[2].key);
  std::vector<uint8_t> iv = Hex(kNistIv);
  for (size_t n = 0; n <= 33; ++n) {
    SCOPED_TRACE(n);
    std::vector<uint8_t> msg(n, static_cast<uint8_t>(n));
    ASSERT_OK_AND_ASSIGN(auto ct,
                         AesCbcEncrypt(key, iv, msg, CbcPadding::kPkcs7));
    EXPECT_EQ(ct.size(), (n / 16 + 1) * 16);
    ASSERT_OK_AND_ASSIGN(SecretBytes pt,
                         AesCbcDecrypt(key, iv, ct, CbcPadding::kPkcs7));
    EXPECT_EQ(Bytes(pt), msg);
  }
  // The first block of a padded encryption of the NIST plaintext is the
  // NIST answer: padding only adds a fifth block.
  ASSERT_OK_AND_ASSIGN(
      auto ct, AesCbcEncrypt(key, iv, Hex(kNistPlaintext), CbcPadding::kPkcs7));
  EXPECT_EQ(HexEncode(ct).substr(0, 128), kNist[2].ciphertext);
}

TEST(AesCbcTest, FailureBadPaddingIsOneFixedMessage) {
  SecretBytes key = SecretHex(kNist[0].key);
  std::vector<uint8_t> iv = Hex(kNistIv);
  // Blocks ending in padding bytes 0x00, 0x11 and 03 02 03 are not PKCS#7.
  std::vector<std::vector<uint8_t>> bad(3, std::vector<uint8_t>(16, 0x41));
  bad[0][15] = 0x00;
  bad[1][15] = 0x11;
  bad[2][13] = 0x03;
  bad[2][14] = 0x02;
  bad[2][15] = 0x03;
  for (const auto& block : bad) {
    ASSERT_OK_AND_ASSIGN(auto ct,
                         AesCbcEncrypt(key, iv, block, CbcPadding::kNone));
    auto pt = AesCbcDecrypt(key, iv, ct, CbcPadding::kPkcs7);
    ASSERT_FALSE(pt.ok());
    EXPECT_EQ(pt.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(pt.status().message()), "AES-CBC decryption failed");
  }
  // Empty and ragged padded ciphertexts fail the same way.
  EXPECT_THAT(AesCbcDecrypt(key, iv, {}, CbcPadding::kPkcs7),
              StatusHasMessage("AES-CBC decryption failed"));
  EXPECT_THAT(
      AesCbcDecrypt(key, iv, std::vector<uint8_t>(17), CbcPadding::kPkcs7),
      StatusHasMessage("AES-CBC decryption failed"));
}

TEST(AesCbcTest, FailureUnpaddedLengthNotBlockMultiple) {
  SecretBytes key = SecretHex(kNist[0].key);
  std::vector<uint8_t> iv = Hex(kNistIv);
  for (size_t n : {1u, 15u, 17u, 31u}) {
    std::vector<uint8_t> in(n);
    EXPECT_THAT(AesCbcEncrypt(key, iv, in, CbcPadding::kNone),
                StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(AesCbcDecrypt(key, iv, in, CbcPadding::kNone),
                StatusHasMessage("multiple of 16"));
  }
  // Zero bytes is a multiple of 16.
  ASSERT_OK_AND_ASSIGN(auto empty,
                       AesCbcEncrypt(key, iv, {}, CbcPadding::kNone));
  EXPECT_TRUE(empty.empty());
}

TEST(AesCbcTest, FailureBadKeyOrIvLength) {
  std::vector<uint8_t> block(16);
  EXPECT_THAT(
      AesCbcEncrypt(SecretBytes(20), Hex(kNistIv), block, CbcPadding::kNone),
      StatusHasMessage("16, 24 or 32 bytes"));
  EXPECT_THAT(
      AesCbcDecrypt(SecretBytes(20), Hex(kNistIv), block, CbcPadding::kNone),
      StatusHasMessage("16, 24 or 32 bytes"));
  for (size_t n : {0u, 12u, 15u, 17u}) {
    std::vector<uint8_t> iv(n);
    EXPECT_THAT(AesCbcEncrypt(SecretBytes(16), iv, block, CbcPadding::kPkcs7),
                StatusHasMessage("iv must be 16 bytes"));
    EXPECT_THAT(AesCbcDecrypt(SecretBytes(16), iv, block, CbcPadding::kPkcs7),
                StatusHasMessage("iv must be 16 bytes"));
  }
}

json Load(const std::string& name) { return LoadTestVectors(name); }

TEST(WycheproofTest, AesCbcPkcs5) {
  json doc = Load("aes_cbc_pkcs5_test.json");
  int checked = 0, valid = 0, invalid = 0;
  for (const auto& g : doc["testGroups"]) {
    for (const auto& t : g["tests"]) {
      SCOPED_TRACE("aes_cbc_pkcs5_test.json tcId " +
                   std::to_string(t["tcId"].get<int>()));
      SecretBytes key = SecretHex(t["key"].get<std::string>());
      std::vector<uint8_t> iv = Hex(t["iv"].get<std::string>());
      std::vector<uint8_t> msg = Hex(t["msg"].get<std::string>());
      std::vector<uint8_t> ct = Hex(t["ct"].get<std::string>());
      auto pt = AesCbcDecrypt(key, iv, ct, CbcPadding::kPkcs7);
      std::string result = t["result"];
      if (result == "valid") {
        ASSERT_OK(pt);
        EXPECT_EQ(Bytes(*pt), msg);
        ASSERT_OK_AND_ASSIGN(auto enc,
                             AesCbcEncrypt(key, iv, msg, CbcPadding::kPkcs7));
        EXPECT_EQ(enc, ct);
        ++valid;
      } else {
        ASSERT_FALSE(pt.ok());
        EXPECT_EQ(std::string(pt.status().message()),
                  "AES-CBC decryption failed");
        ++invalid;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, doc["numberOfTests"].get<int>());
  EXPECT_EQ(valid, 72);
  EXPECT_EQ(invalid, 144);
}

TEST(RsaPkcs1Test, RoundTripAndLengthLimit) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(std::string jwk, PublicKeyToJwk(key.get()));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr pub, ParsePublicKey(AsBytes(jwk)));
  for (size_t n : {0u, 1u, 32u, 245u}) {
    SCOPED_TRACE(n);
    std::vector<uint8_t> msg(n, 0xa5);
    ASSERT_OK_AND_ASSIGN(auto ct, RsaPkcs1Encrypt(pub.get(), msg));
    EXPECT_EQ(ct.size(), 256u);
    ASSERT_OK_AND_ASSIGN(SecretBytes pt,
                         RsaPkcs1DecryptImplicitRejection(key.get(), ct));
    EXPECT_EQ(Bytes(pt), msg);
    // Encryption is randomized.
    ASSERT_OK_AND_ASSIGN(auto ct2, RsaPkcs1Encrypt(pub.get(), msg));
    EXPECT_NE(ct, ct2);
  }
  EXPECT_THAT(RsaPkcs1Encrypt(pub.get(), std::vector<uint8_t>(246)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RsaPkcs1Test, FailureNotAnRsaKey) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr ec, GenerateEc(Curve::kP256));
  EXPECT_THAT(RsaPkcs1Encrypt(ec.get(), std::vector<uint8_t>(16)),
              StatusHasMessage("needs an RSA key"));
  EXPECT_THAT(RsaPkcs1Encrypt(nullptr, std::vector<uint8_t>(16)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry::crypto
