// The software custody's cipher operations (encrypt, decrypt, wrap) against
// independent primitives and known answers, and the cipher algorithm table.
#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "byok/envelope.h"
#include "crypto/aead.h"
#include "crypto/aes_wrap.h"
#include "crypto/cipher.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"
#include "crypto/rsa_pkcs1.h"
#include "crypto/sign.h"
#include "custody/master_key.h"
#include "custody/software_custody.h"
#include "custody/software_custody_testing.h"

namespace keyferry::custody {
namespace {

using test_support::B;
using test_support::SoftwareCustodyTest;

std::vector<uint8_t> Hex(std::string_view h) { return *HexDecode(h); }
SecretBytes SecretHex(std::string_view h) { return *HexDecodeSecret(h); }

constexpr CipherAlg kAllAlgs[] = {
    CipherAlg::kRsa15,
    CipherAlg::kRsaOaep,
    CipherAlg::kRsaOaep256,
    CipherAlg::kA128Gcm,
    CipherAlg::kA192Gcm,
    CipherAlg::kA256Gcm,
    CipherAlg::kA128Kw,
    CipherAlg::kA192Kw,
    CipherAlg::kA256Kw,
    CipherAlg::kA128Cbc,
    CipherAlg::kA192Cbc,
    CipherAlg::kA256Cbc,
    CipherAlg::kA128CbcPad,
    CipherAlg::kA192CbcPad,
    CipherAlg::kA256CbcPad,
    CipherAlg::kCkmAesKeyWrap,
    CipherAlg::kCkmAesKeyWrapPad,
};

TEST(CipherAlgTest, NamesRoundTrip) {
  const char* names[] = {"RSA1_5",
                         "RSA-OAEP",
                         "RSA-OAEP-256",
                         "A128GCM",
                         "A192GCM",
                         "A256GCM",
                         "A128KW",
                         "A192KW",
                         "A256KW",
                         "A128CBC",
                         "A192CBC",
                         "A256CBC",
                         "A128CBCPAD",
                         "A192CBCPAD",
                         "A256CBCPAD",
                         "CKM_AES_KEY_WRAP",
                         "CKM_AES_KEY_WRAP_PAD"};
  ASSERT_EQ(std::size(names), std::size(kAllAlgs));
  for (size_t i = 0; i < std::size(names); ++i) {
    SCOPED_TRACE(names[i]);
    ASSERT_OK_AND_ASSIGN(CipherAlg a, ParseCipherAlg(names[i]));
    EXPECT_EQ(a, kAllAlgs[i]);
    EXPECT_EQ(CipherAlgName(a), names[i]);
    EXPECT_EQ(IsRsaCipher(a), i < 3);
  }
  for (const char* bad : {"", "rsa-oaep", "A512GCM", "RSA-OAEP-384", "A256KWP",
                          "CKM_AES_KEY_WRAP_PAD "}) {
    EXPECT_THAT(ParseCipherAlg(bad),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(CipherAlgTest, KeyBytes) {
  EXPECT_EQ(CipherKeyBytes(CipherAlg::kRsaOaep256), 0);
  EXPECT_EQ(CipherKeyBytes(CipherAlg::kA128Gcm), 16);
  EXPECT_EQ(CipherKeyBytes(CipherAlg::kA192Kw), 24);
  EXPECT_EQ(CipherKeyBytes(CipherAlg::kA256CbcPad), 32);
  EXPECT_EQ(CipherKeyBytes(CipherAlg::kA192Cbc), 24);
  EXPECT_EQ(CipherKeyBytes(CipherAlg::kCkmAesKeyWrap), 0);
  EXPECT_EQ(CipherKeyBytes(CipherAlg::kCkmAesKeyWrapPad), 0);
}

// In builds a CipherInput; `iv`, `aad` and `tag` default to empty.
CipherInput In(CipherAlg alg, std::vector<uint8_t> value,
               std::vector<uint8_t> iv = {}, std::vector<uint8_t> aad = {},
               std::vector<uint8_t> tag = {}) {
  CipherInput in;
  in.alg = alg;
  in.value = std::move(value);
  in.iv = std::move(iv);
  in.aad = std::move(aad);
  in.tag = std::move(tag);
  return in;
}

class CipherTest : public SoftwareCustodyTest {
 protected:
  void SetUp() override {
    SoftwareCustodyTest::SetUp();
    ASSERT_OK_AND_ASSIGN(rsa_key_, crypto::GenerateRsa(2048));
    ASSERT_OK_AND_ASSIGN(rsa_, custody_->ImportPrivate(rsa_key_.get(), bind_, false));
    for (int bits : {128, 192, 256}) {
      ASSERT_OK_AND_ASSIGN(
          HeldKey k,
          custody_->Generate({KeyKind::kOct, bits, std::nullopt}, bind_));
      oct_.push_back(std::move(k));
    }
  }
  // KeyFor is a key that fits `alg`: RSA, or oct of the size it names (any
  // size for the CKM_* wraps: the 192-bit one).
  const HeldKey& KeyFor(CipherAlg alg) const {
    if (IsRsaCipher(alg)) return rsa_;
    int n = CipherKeyBytes(alg);
    return oct_[n == 16 ? 0 : n == 32 ? 2 : 1];
  }
  absl::StatusOr<CipherOutput> Enc(const HeldKey& k, CipherInput in) {
    return custody_->Encrypt(k, bind_, in);
  }
  absl::StatusOr<CipherOutput> Dec(const HeldKey& k, CipherInput in) {
    return custody_->Decrypt(k, bind_, in);
  }
  crypto::EvpPkeyPtr rsa_key_;
  HeldKey rsa_;
  std::vector<HeldKey> oct_;  // 128, 192, 256 bits
};

TEST_F(CipherTest, EveryAlgorithmRoundTrips) {
  for (CipherAlg alg : kAllAlgs) {
    SCOPED_TRACE(CipherAlgName(alg));
    const bool any_length =
        IsRsaCipher(alg) || alg == CipherAlg::kA128Gcm ||
        alg == CipherAlg::kA192Gcm || alg == CipherAlg::kA256Gcm ||
        alg == CipherAlg::kA128CbcPad || alg == CipherAlg::kA192CbcPad ||
        alg == CipherAlg::kA256CbcPad || alg == CipherAlg::kCkmAesKeyWrapPad;
    std::vector<size_t> lengths = {32, 48};
    if (any_length) lengths.insert(lengths.end(), {1, 21});
    for (size_t n : lengths) {
      SCOPED_TRACE(n);
      CipherInput in = In(alg, std::vector<uint8_t>(n));
      for (size_t i = 0; i < n; ++i) in.value[i] = static_cast<uint8_t>(i * 7);
      ASSERT_OK_AND_ASSIGN(CipherOutput ct, Enc(KeyFor(alg), in));
      EXPECT_NE(ct.value, in.value);
      CipherInput back = In(alg, ct.value, ct.iv, {}, ct.tag);
      switch (alg) {
        case CipherAlg::kA128Gcm:
        case CipherAlg::kA192Gcm:
        case CipherAlg::kA256Gcm:
          EXPECT_EQ(ct.iv.size(), 12u);
          EXPECT_EQ(ct.tag.size(), 16u);
          EXPECT_EQ(ct.value.size(), n);
          break;
        case CipherAlg::kA128Cbc:
        case CipherAlg::kA192Cbc:
        case CipherAlg::kA256Cbc:
          EXPECT_EQ(ct.iv.size(), 16u);
          EXPECT_EQ(ct.value.size(), n);
          break;
        case CipherAlg::kA128CbcPad:
        case CipherAlg::kA192CbcPad:
        case CipherAlg::kA256CbcPad:
          EXPECT_EQ(ct.iv.size(), 16u);
          EXPECT_EQ(ct.value.size(), (n / 16 + 1) * 16);
          break;
        case CipherAlg::kA128Kw:
        case CipherAlg::kA192Kw:
        case CipherAlg::kA256Kw:
        case CipherAlg::kCkmAesKeyWrap:
          EXPECT_EQ(ct.value.size(), n + 8);
          EXPECT_TRUE(ct.iv.empty());
          break;
        case CipherAlg::kCkmAesKeyWrapPad:
          EXPECT_EQ(ct.value.size(), (n + 7) / 8 * 8 + 8);
          break;
        default:
          EXPECT_EQ(ct.value.size(), 256u);
          EXPECT_TRUE(ct.iv.empty());
          EXPECT_TRUE(ct.tag.empty());
      }
      ASSERT_OK_AND_ASSIGN(CipherOutput pt, Dec(KeyFor(alg), back));
      EXPECT_EQ(pt.value, in.value);
    }
  }
}

TEST_F(CipherTest, CkmWrapsTakeEveryAesKeySize) {
  std::vector<uint8_t> key_bytes(32, 0x5a);
  for (const HeldKey& k : oct_) {
    SCOPED_TRACE(k.bits);
    for (CipherAlg alg :
         {CipherAlg::kCkmAesKeyWrap, CipherAlg::kCkmAesKeyWrapPad}) {
      ASSERT_OK_AND_ASSIGN(CipherOutput w, Enc(k, In(alg, key_bytes)));
      ASSERT_OK_AND_ASSIGN(CipherOutput u, Dec(k, In(alg, w.value)));
      EXPECT_EQ(u.value, key_bytes);
    }
  }
}

TEST_F(CipherTest, FailureGcmTamper) {
  CipherInput in =
      In(CipherAlg::kA256Gcm, B("attack at dawn"), {}, B("header"));
  ASSERT_OK_AND_ASSIGN(CipherOutput ct, Enc(oct_[2], in));
  const CipherInput good = In(in.alg, ct.value, ct.iv, in.aad, ct.tag);
  ASSERT_OK_AND_ASSIGN(CipherOutput pt, Dec(oct_[2], good));
  EXPECT_EQ(pt.value, in.value);

  std::vector<CipherInput> bad(5, good);
  bad[0].tag[0] ^= 1;
  bad[1].aad[0] ^= 1;
  bad[2].value[3] ^= 0x80;
  bad[3].iv[11] ^= 1;
  bad[4].aad.clear();
  for (const CipherInput& b : bad) {
    auto r = Dec(oct_[2], b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(r.status().message()),
              "AES-GCM authentication failed");
  }
  // The same ciphertext does not open under another 256-bit key.
  ASSERT_OK_AND_ASSIGN(
      HeldKey other,
      custody_->Generate({KeyKind::kOct, 256, std::nullopt}, bind_));
  EXPECT_THAT(Dec(other, good),
              StatusHasMessage("AES-GCM authentication failed"));
}

TEST_F(CipherTest, GcmNonceIsFreshUnlessGiven) {
  CipherInput in = In(CipherAlg::kA128Gcm, B("same message"));
  ASSERT_OK_AND_ASSIGN(CipherOutput a, Enc(oct_[0], in));
  ASSERT_OK_AND_ASSIGN(CipherOutput b, Enc(oct_[0], in));
  EXPECT_NE(a.iv, b.iv);
  EXPECT_NE(a.value, b.value);
  in.iv = a.iv;
  ASSERT_OK_AND_ASSIGN(CipherOutput c, Enc(oct_[0], in));
  EXPECT_EQ(c.iv, a.iv);
  EXPECT_EQ(c.value, a.value);
  EXPECT_EQ(c.tag, a.tag);
}

TEST_F(CipherTest, RsaMatchesIndependentPrimitives) {
  ASSERT_OK_AND_ASSIGN(auto pub,
                       crypto::ParsePublicKey(AsBytes(rsa_.public_jwk)));
  std::vector<uint8_t> msg = B("a 32-byte content encryption key");
  // Made outside the custody, opened inside.
  ASSERT_OK_AND_ASSIGN(
      auto oaep256,
      crypto::RsaOaepEncrypt(pub.get(), crypto::OaepHash::kSha256, msg));
  ASSERT_OK_AND_ASSIGN(CipherOutput a,
                       Dec(rsa_, In(CipherAlg::kRsaOaep256, oaep256)));
  EXPECT_EQ(a.value, msg);
  ASSERT_OK_AND_ASSIGN(
      auto oaep1,
      crypto::RsaOaepEncrypt(pub.get(), crypto::OaepHash::kSha1, msg));
  ASSERT_OK_AND_ASSIGN(CipherOutput b,
                       Dec(rsa_, In(CipherAlg::kRsaOaep, oaep1)));
  EXPECT_EQ(b.value, msg);
  ASSERT_OK_AND_ASSIGN(auto pkcs1, crypto::RsaPkcs1Encrypt(pub.get(), msg));
  ASSERT_OK_AND_ASSIGN(CipherOutput c, Dec(rsa_, In(CipherAlg::kRsa15, pkcs1)));
  EXPECT_EQ(c.value, msg);
  // The hashes are really SHA-1 and SHA-256: a ciphertext of one does not
  // open as the other.
  EXPECT_THAT(Dec(rsa_, In(CipherAlg::kRsaOaep, oaep256)),
              StatusHasMessage("RSA-OAEP decryption failed"));
  EXPECT_THAT(Dec(rsa_, In(CipherAlg::kRsaOaep256, oaep1)),
              StatusHasMessage("RSA-OAEP decryption failed"));

  // Made inside the custody, opened outside with the imported private key.
  ASSERT_OK_AND_ASSIGN(CipherOutput e256,
                       Enc(rsa_, In(CipherAlg::kRsaOaep256, msg)));
  ASSERT_OK_AND_ASSIGN(
      SecretBytes d256,
      crypto::RsaOaepDecrypt(rsa_key_.get(), crypto::OaepHash::kSha256,
                             e256.value));
  EXPECT_TRUE(d256.ConstantTimeEquals(SecretBytes(msg)));
  EXPECT_FALSE(crypto::RsaOaepDecrypt(rsa_key_.get(), crypto::OaepHash::kSha1,
                                      e256.value)
                   .ok());
  ASSERT_OK_AND_ASSIGN(CipherOutput e1,
                       Enc(rsa_, In(CipherAlg::kRsaOaep, msg)));
  ASSERT_OK_AND_ASSIGN(SecretBytes d1,
                       crypto::RsaOaepDecrypt(
                           rsa_key_.get(), crypto::OaepHash::kSha1, e1.value));
  EXPECT_TRUE(d1.ConstantTimeEquals(SecretBytes(msg)));
  ASSERT_OK_AND_ASSIGN(CipherOutput e15, Enc(rsa_, In(CipherAlg::kRsa15, msg)));
  ASSERT_OK_AND_ASSIGN(
      SecretBytes d15,
      crypto::RsaPkcs1DecryptImplicitRejection(rsa_key_.get(), e15.value));
  EXPECT_TRUE(d15.ConstantTimeEquals(SecretBytes(msg)));
}

// RSA1_5 implicit rejection (draft-irtf-cfrg-rsa-guidance): a ciphertext
// with bad padding is answered, not refused, with a message derived from the
// key and the ciphertext: the same every time, of a plausible length, and
// another for another key.
TEST_F(CipherTest, Rsa15BadPaddingDecryptsToAStableSyntheticMessage) {
  ASSERT_OK_AND_ASSIGN(auto pub,
                       crypto::ParsePublicKey(AsBytes(rsa_.public_jwk)));
  const std::vector<uint8_t> msg = B("a 32-byte content encryption key");
  ASSERT_OK_AND_ASSIGN(auto good, crypto::RsaPkcs1Encrypt(pub.get(), msg));
  ASSERT_OK_AND_ASSIGN(CipherOutput valid,
                       Dec(rsa_, In(CipherAlg::kRsa15, good)));
  EXPECT_EQ(valid.value, msg);
  std::vector<uint8_t> bad = good;
  bad[128] ^= 0x01;
  ASSERT_OK_AND_ASSIGN(CipherOutput a, Dec(rsa_, In(CipherAlg::kRsa15, bad)));
  ASSERT_OK_AND_ASSIGN(CipherOutput b, Dec(rsa_, In(CipherAlg::kRsa15, bad)));
  EXPECT_EQ(a.value, b.value);
  EXPECT_NE(a.value, msg);
  EXPECT_LE(a.value.size(), 245u);
  // A short ciphertext is read left-padded: still an answer.
  EXPECT_OK(Dec(rsa_, In(CipherAlg::kRsa15, B("short"))));
  // The same ciphertext under another key (same size, same vault).
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr other_key, crypto::GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(HeldKey other,
                       custody_->ImportPrivate(other_key.get(), bind_, false));
  bad[0] = 0;  // below either modulus
  ASSERT_OK_AND_ASSIGN(CipherOutput mine,
                       Dec(rsa_, In(CipherAlg::kRsa15, bad)));
  ASSERT_OK_AND_ASSIGN(CipherOutput theirs,
                       Dec(other, In(CipherAlg::kRsa15, bad)));
  EXPECT_NE(mine.value, theirs.value);
}

TEST_F(CipherTest, RsaEncryptWithoutPublicJwkUsesThePrivateKey) {
  HeldKey k = rsa_;
  k.public_jwk.clear();
  std::vector<uint8_t> msg = B("no jwk");
  ASSERT_OK_AND_ASSIGN(CipherOutput ct,
                       Enc(k, In(CipherAlg::kRsaOaep256, msg)));
  ASSERT_OK_AND_ASSIGN(CipherOutput pt,
                       Dec(k, In(CipherAlg::kRsaOaep256, ct.value)));
  EXPECT_EQ(pt.value, msg);
}

TEST_F(CipherTest, Rfc3394KnownAnswers) {
  // RFC 3394 §4.6: 256-bit KEK wrapping 256 bits of key data, and §4.1:
  // 128-bit KEK wrapping 128 bits.
  struct Case {
    CipherAlg alg;
    const char* kek;
    const char* data;
    const char* wrapped;
  } cases[] = {
      {CipherAlg::kA256Kw,
       "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
       "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f",
       "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b"
       "9b7a02dd21"},
      {CipherAlg::kCkmAesKeyWrap,
       "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
       "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f",
       "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b"
       "9b7a02dd21"},
      {CipherAlg::kA128Kw, "000102030405060708090a0b0c0d0e0f",
       "00112233445566778899aabbccddeeff",
       "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(CipherAlgName(c.alg));
    ASSERT_OK_AND_ASSIGN(HeldKey k,
                         custody_->ImportSecret(SecretHex(c.kek), bind_, false));
    ASSERT_OK_AND_ASSIGN(CipherOutput w, Enc(k, In(c.alg, Hex(c.data))));
    EXPECT_EQ(HexEncode(w.value), c.wrapped);
    ASSERT_OK_AND_ASSIGN(CipherOutput u, Dec(k, In(c.alg, Hex(c.wrapped))));
    EXPECT_EQ(HexEncode(u.value), c.data);
  }
}

TEST_F(CipherTest, Rfc5649KnownAnswer) {
  // RFC 5649 §6, 192-bit KEK: CKM_AES_KEY_WRAP_PAD takes any AES key size.
  ASSERT_OK_AND_ASSIGN(
      HeldKey k,
      custody_->ImportSecret(
          SecretHex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"),
          bind_, false));
  struct {
    const char* key;
    const char* wrapped;
  } cases[] = {
      {"c37b7e6492584340bed12207808941155068f738",
       "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
      {"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
  };
  for (const auto& c : cases) {
    ASSERT_OK_AND_ASSIGN(CipherOutput w,
                         Enc(k, In(CipherAlg::kCkmAesKeyWrapPad, Hex(c.key))));
    EXPECT_EQ(HexEncode(w.value), c.wrapped);
    ASSERT_OK_AND_ASSIGN(CipherOutput u, Dec(k, In(CipherAlg::kCkmAesKeyWrapPad,
                                                   Hex(c.wrapped))));
    EXPECT_EQ(HexEncode(u.value), c.key);
  }
}

TEST_F(CipherTest, AesMatchesIndependentPrimitives) {
  // NIST SP 800-38A F.2.5: CBC-AES256, first two blocks.
  const SecretBytes key = SecretHex(
      "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  const std::vector<uint8_t> iv = Hex("000102030405060708090a0b0c0d0e0f");
  const std::vector<uint8_t> pt =
      Hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
  ASSERT_OK_AND_ASSIGN(HeldKey k, custody_->ImportSecret(key, bind_, false));
  ASSERT_OK_AND_ASSIGN(CipherOutput cbc,
                       Enc(k, In(CipherAlg::kA256Cbc, pt, iv)));
  EXPECT_EQ(HexEncode(cbc.value),
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d");
  EXPECT_EQ(cbc.iv, iv);

  ASSERT_OK_AND_ASSIGN(CipherOutput cbcpad,
                       Enc(k, In(CipherAlg::kA256CbcPad, pt, iv)));
  ASSERT_OK_AND_ASSIGN(
      auto want_pad,
      crypto::AesCbcEncrypt(key, iv, pt, crypto::CbcPadding::kPkcs7));
  EXPECT_EQ(cbcpad.value, want_pad);

  const std::vector<uint8_t> nonce = Hex("cafebabefacedbaddecaf888");
  const std::vector<uint8_t> aad = B("aad");
  ASSERT_OK_AND_ASSIGN(CipherOutput gcm,
                       Enc(k, In(CipherAlg::kA256Gcm, pt, nonce, aad)));
  ASSERT_OK_AND_ASSIGN(crypto::GcmCiphertext want_gcm,
                       crypto::AesGcmEncrypt(key, nonce, pt, aad));
  EXPECT_EQ(gcm.value, want_gcm.ciphertext);
  EXPECT_EQ(gcm.tag, want_gcm.tag);

  ASSERT_OK_AND_ASSIGN(CipherOutput kw, Enc(k, In(CipherAlg::kA256Kw, pt)));
  ASSERT_OK_AND_ASSIGN(auto want_kw, crypto::KwWrap(key, SecretBytes(pt)));
  EXPECT_EQ(kw.value, want_kw);
  ASSERT_OK_AND_ASSIGN(CipherOutput kwp,
                       Enc(k, In(CipherAlg::kCkmAesKeyWrapPad, pt)));
  ASSERT_OK_AND_ASSIGN(auto want_kwp, crypto::KwpWrap(key, SecretBytes(pt)));
  EXPECT_EQ(kwp.value, want_kwp);
  // For a multiple of 8 bytes RFC 5649 differs from RFC 3394 (another IV).
  EXPECT_NE(kwp.value, kw.value);
}

TEST_F(CipherTest, FailureWrongKeyKindOrSize) {
  ASSERT_OK_AND_ASSIGN(
      HeldKey ec,
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP256}, bind_));
  struct Case {
    const HeldKey* key;
    CipherAlg alg;
    std::vector<std::string> words;
  } cases[] = {
      {&oct_[2], CipherAlg::kRsaOaep256, {"RSA-OAEP-256", "RSA key", "oct"}},
      {&oct_[0], CipherAlg::kRsa15, {"RSA1_5", "RSA key", "oct"}},
      {&ec, CipherAlg::kRsaOaep, {"RSA-OAEP", "RSA key", "EC"}},
      {&rsa_, CipherAlg::kA256Gcm, {"A256GCM", "oct", "RSA"}},
      {&ec, CipherAlg::kCkmAesKeyWrap, {"CKM_AES_KEY_WRAP", "oct", "EC"}},
      {&oct_[0], CipherAlg::kA256Gcm, {"A256GCM", "256-bit", "128 bits"}},
      {&oct_[2], CipherAlg::kA128Kw, {"A128KW", "128-bit", "256 bits"}},
      {&oct_[1], CipherAlg::kA256CbcPad, {"A256CBCPAD", "256-bit", "192"}},
      {&oct_[2], CipherAlg::kA192Cbc, {"A192CBC", "192-bit", "256 bits"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(CipherAlgName(c.alg));
    CipherInput in =
        In(c.alg, std::vector<uint8_t>(32), std::vector<uint8_t>(16));
    for (bool encrypt : {true, false}) {
      auto r = encrypt ? Enc(*c.key, in) : Dec(*c.key, in);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
      for (const std::string& w : c.words) {
        EXPECT_THAT(r, StatusHasMessage(w));
      }
    }
  }
}

TEST_F(CipherTest, FailureMalformedInput) {
  using Code = absl::StatusCode;
  const HeldKey& a256 = oct_[2];
  EXPECT_THAT(
      Enc(a256, In(CipherAlg::kA256Gcm, B("x"), std::vector<uint8_t>(16))),
      StatusHasMessage("12-byte iv"));
  EXPECT_THAT(Dec(a256, In(CipherAlg::kA256Gcm, B("x"),
                           std::vector<uint8_t>(12), {}, {})),
              StatusHasMessage("16-byte tag"));
  EXPECT_THAT(
      Enc(a256, In(CipherAlg::kA256CbcPad, B("x"), std::vector<uint8_t>(12))),
      StatusHasMessage("16-byte iv"));
  EXPECT_THAT(Dec(a256, In(CipherAlg::kA256CbcPad, std::vector<uint8_t>(16))),
              StatusHasMessage("16-byte iv"));
  EXPECT_THAT(Enc(a256, In(CipherAlg::kA256Cbc, std::vector<uint8_t>(20))),
              StatusHasMessage("multiple of 16"));
  for (size_t n : {0u, 8u, 12u, 20u}) {
    EXPECT_THAT(Enc(a256, In(CipherAlg::kA256Kw, std::vector<uint8_t>(n))),
                StatusHasMessage("multiple of 8 bytes, at least 16"));
    EXPECT_THAT(
        Enc(a256, In(CipherAlg::kCkmAesKeyWrap, std::vector<uint8_t>(n))),
        StatusIs(Code::kInvalidArgument));
  }
  EXPECT_THAT(Enc(a256, In(CipherAlg::kCkmAesKeyWrapPad, {})),
              StatusIs(Code::kInvalidArgument));
  // RSA-2048 plaintext limits: 245 (PKCS#1 v1.5), 214 (OAEP SHA-1),
  // 190 (OAEP SHA-256) bytes.
  struct {
    CipherAlg alg;
    size_t max;
  } limits[] = {{CipherAlg::kRsa15, 245},
                {CipherAlg::kRsaOaep, 214},
                {CipherAlg::kRsaOaep256, 190}};
  for (const auto& l : limits) {
    SCOPED_TRACE(CipherAlgName(l.alg));
    EXPECT_OK(Enc(rsa_, In(l.alg, std::vector<uint8_t>(l.max))));
    EXPECT_THAT(Enc(rsa_, In(l.alg, std::vector<uint8_t>(l.max + 1))),
                StatusHasMessage("too long for this key"));
  }
}

TEST_F(CipherTest, FailureDecryptIsOneFixedMessagePerFamily) {
  // c = 0 and c = 1 never carry valid padding. RSA1_5 answers them with a
  // synthetic message (implicit rejection, below).
  std::vector<uint8_t> zero(256), one(256);
  one.back() = 1;
  for (const auto& ct : {zero, one}) {
    EXPECT_OK(Dec(rsa_, In(CipherAlg::kRsa15, ct)));
    EXPECT_EQ(Dec(rsa_, In(CipherAlg::kRsaOaep, ct)).status().message(),
              "RSA-OAEP decryption failed");
    EXPECT_EQ(Dec(rsa_, In(CipherAlg::kRsaOaep256, ct)).status().message(),
              "RSA-OAEP decryption failed");
  }
  // RSA1_5 fails only for what is public: longer than the modulus, or not
  // below it.
  EXPECT_EQ(Dec(rsa_, In(CipherAlg::kRsa15, std::vector<uint8_t>(257, 0)))
                .status()
                .message(),
            "RSA1_5 decryption failed");
  EXPECT_EQ(Dec(rsa_, In(CipherAlg::kRsa15, std::vector<uint8_t>(256, 0xff)))
                .status()
                .message(),
            "RSA1_5 decryption failed");

  // A block whose last byte is 0x00 is not PKCS#7 padding.
  const HeldKey& a128 = oct_[0];
  std::vector<uint8_t> block(16, 0x41);
  block[15] = 0;
  ASSERT_OK_AND_ASSIGN(CipherOutput raw,
                       Enc(a128, In(CipherAlg::kA128Cbc, block)));
  auto bad_pad = Dec(a128, In(CipherAlg::kA128CbcPad, raw.value, raw.iv));
  EXPECT_THAT(bad_pad, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(bad_pad.status().message(), "AES-CBC decryption failed");

  ASSERT_OK_AND_ASSIGN(CipherOutput kw, Enc(a128, In(CipherAlg::kA128Kw,
                                                     B("0123456789abcdef"))));
  kw.value[0] ^= 1;
  EXPECT_EQ(Dec(a128, In(CipherAlg::kA128Kw, kw.value)).status().message(),
            "AES-KW unwrap failed: integrity check");
  ASSERT_OK_AND_ASSIGN(
      CipherOutput kwp,
      Enc(a128, In(CipherAlg::kCkmAesKeyWrapPad, B("0123456789"))));
  kwp.value[0] ^= 1;
  EXPECT_EQ(
      Dec(a128, In(CipherAlg::kCkmAesKeyWrapPad, kwp.value)).status().message(),
      "AES-KWP unwrap failed: integrity check");
}

TEST_F(CipherTest, FailureWrongBinding) {
  std::vector<uint8_t> other =
      B("vault1/key2/0123456789abcdef0123456789abcdef");
  ASSERT_OK_AND_ASSIGN(
      CipherOutput ct,
      Enc(oct_[2], In(CipherAlg::kA256Kw, B("0123456789abcdef"))));
  EXPECT_THAT(custody_->Encrypt(oct_[2], other,
                                In(CipherAlg::kA256Kw, B("0123456789abcdef"))),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(
      custody_->Decrypt(oct_[2], other, In(CipherAlg::kA256Kw, ct.value)),
      StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(CipherOutput rct,
                       Enc(rsa_, In(CipherAlg::kRsaOaep256, B("m"))));
  EXPECT_THAT(
      custody_->Decrypt(rsa_, other, In(CipherAlg::kRsaOaep256, rct.value)),
      StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(CipherTest, RebindMovesKeyToNewBinding) {
  std::vector<uint8_t> restored =
      B("vault2/key1/fedcba9876543210fedcba9876543210");
  std::vector<uint8_t> msg = B("0123456789abcdef");
  struct Case {
    const HeldKey* key;
    CipherAlg alg;
  } cases[] = {{&oct_[2], CipherAlg::kA256Gcm},
               {&rsa_, CipherAlg::kRsaOaep256}};
  for (const Case& c : cases) {
    SCOPED_TRACE(CipherAlgName(c.alg));
    ASSERT_OK_AND_ASSIGN(CipherOutput ct, Enc(*c.key, In(c.alg, msg)));
    const CipherInput back = In(c.alg, ct.value, ct.iv, {}, ct.tag);
    ASSERT_OK_AND_ASSIGN(HeldKey moved,
                         custody_->Rebind(*c.key, bind_, restored));
    EXPECT_EQ(moved.kind, c.key->kind);
    EXPECT_EQ(moved.bits, c.key->bits);
    EXPECT_EQ(moved.public_jwk, c.key->public_jwk);
    EXPECT_NE(moved.blob, c.key->blob);
    // The new binding opens it and decrypts what the old one encrypted.
    ASSERT_OK_AND_ASSIGN(CipherOutput pt,
                         custody_->Decrypt(moved, restored, back));
    EXPECT_EQ(pt.value, msg);
    // The old binding no longer opens the moved blob.
    EXPECT_THAT(custody_->Decrypt(moved, bind_, back),
                StatusIs(absl::StatusCode::kDataLoss));
    // Rebinding from a binding the blob was not made with fails.
    EXPECT_THAT(custody_->Rebind(moved, bind_, restored),
                StatusIs(absl::StatusCode::kDataLoss));
  }
  // Signing keys move too.
  ASSERT_OK_AND_ASSIGN(
      HeldKey ec,
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP256}, bind_));
  ASSERT_OK_AND_ASSIGN(HeldKey moved_ec, custody_->Rebind(ec, bind_, restored));
  std::vector<uint8_t> d(32, 3);
  EXPECT_OK(custody_->Sign(moved_ec, restored, crypto::SignAlg::kEs256, d));
  EXPECT_THAT(custody_->Sign(moved_ec, bind_, crypto::SignAlg::kEs256, d),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace keyferry::custody
