#include "crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/encoder.h>
#include <openssl/param_build.h>

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/rsa_oaep.h"

namespace keyferry::crypto {
namespace {

std::string ToPem(EVP_PKEY* k, const char* structure) {
  OsslEncoderCtxPtr e(OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_KEYPAIR, "PEM",
                                                    structure, nullptr));
  unsigned char* d = nullptr;
  size_t n = 0;
  EXPECT_EQ(OSSL_ENCODER_to_data(e.get(), &d, &n), 1);
  std::string s(reinterpret_cast<char*>(d), n);
  OPENSSL_free(d);
  return s;
}

class KeysTest : public ::testing::TestWithParam<Curve> {};

TEST(CurveTest, Names) {
  EXPECT_EQ(CurveJwkName(Curve::kSecp256k1), "P-256K");
  ASSERT_OK_AND_ASSIGN(Curve c, ParseCurve("SECP256K1"));
  EXPECT_EQ(c, Curve::kSecp256k1);
  ASSERT_OK_AND_ASSIGN(c, ParseCurve("prime256v1"));
  EXPECT_EQ(c, Curve::kP256);
  EXPECT_THAT(ParseCurve("P-192"), StatusHasMessage("unsupported curve"));
}

TEST_P(KeysTest, EcRoundTripsEveryFormat) {
  ASSERT_OK_AND_ASSIGN(auto k, GenerateEc(GetParam()));
  ASSERT_OK_AND_ASSIGN(KeyDescription d, Describe(k.get()));
  EXPECT_EQ(d.type, KeyType::kEc);
  EXPECT_EQ(d.bits, CurveBits(GetParam()));
  EXPECT_EQ(d.curve, GetParam());
  EXPECT_TRUE(d.has_private);
  // PKCS#8 DER and PEM, SEC1 PEM.
  ASSERT_OK_AND_ASSIGN(SecretBytes p8, PrivateKeyToPkcs8Der(k.get()));
  ASSERT_OK_AND_ASSIGN(auto a, ParsePkcs8Der(p8, false));
  EXPECT_TRUE(PublicKeysEqual(a.get(), k.get()));
  ASSERT_OK_AND_ASSIGN(auto b, ParsePrivateKey(p8));
  EXPECT_TRUE(PublicKeysEqual(b.get(), k.get()));
  for (const char* s : {"PrivateKeyInfo", "type-specific"}) {
    std::string pem = ToPem(k.get(), s);
    ASSERT_OK_AND_ASSIGN(auto c, ParsePrivateKey(SecretBytes(AsBytes(pem))));
    EXPECT_TRUE(PublicKeysEqual(c.get(), k.get())) << s;
  }
  // Public: PEM, DER, JWK, components.
  ASSERT_OK_AND_ASSIGN(std::string pem, PublicKeyToPem(k.get()));
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  ASSERT_OK_AND_ASSIGN(auto pub, ParsePublicKey(AsBytes(pem)));
  EXPECT_TRUE(PublicKeysEqual(pub.get(), k.get()));
  ASSERT_OK_AND_ASSIGN(KeyDescription pd, Describe(pub.get()));
  EXPECT_FALSE(pd.has_private);
  ASSERT_OK_AND_ASSIGN(auto der, PublicKeyToDer(k.get()));
  ASSERT_OK_AND_ASSIGN(auto pub2, ParsePublicKey(der));
  EXPECT_TRUE(PublicKeysEqual(pub2.get(), k.get()));
  ASSERT_OK_AND_ASSIGN(std::string jwk, PublicKeyToJwk(k.get()));
  ASSERT_OK_AND_ASSIGN(auto pub3, ParsePublicKey(AsBytes(jwk)));
  EXPECT_TRUE(PublicKeysEqual(pub3.get(), k.get()));
  ASSERT_OK_AND_ASSIGN(EcPublicParts parts, GetEcPublic(k.get()));
  EXPECT_EQ(parts.x.size(), static_cast<size_t>(CurveFieldBytes(GetParam())));
  ASSERT_OK_AND_ASSIGN(auto pub4,
                       EcPublicFromParts(GetParam(), parts.x, parts.y));
  EXPECT_TRUE(PublicKeysEqual(pub4.get(), k.get()));
}

TEST_P(KeysTest, FailurePointNotOnCurve) {
  ASSERT_OK_AND_ASSIGN(auto k, GenerateEc(GetParam()));
  ASSERT_OK_AND_ASSIGN(EcPublicParts parts, GetEcPublic(k.get()));
  parts.y.back() ^= 1;
  EXPECT_THAT(EcPublicFromParts(GetParam(), parts.x, parts.y),
              StatusHasMessage("not on"));
}

INSTANTIATE_TEST_SUITE_P(AllCurves, KeysTest,
                         ::testing::Values(Curve::kP256, Curve::kP384,
                                           Curve::kP521, Curve::kSecp256k1),
                         [](const ::testing::TestParamInfo<Curve>& info) {
                           return std::string(CurveOpenSslName(info.param));
                         });

TEST(RsaKeysTest, EveryFormat) {
  ASSERT_OK_AND_ASSIGN(auto k, GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(KeyDescription d, Describe(k.get()));
  EXPECT_EQ(d.type, KeyType::kRsa);
  EXPECT_EQ(d.bits, 2048);
  for (const char* s : {"PrivateKeyInfo", "type-specific"}) {  // PKCS#8, PKCS#1
    std::string pem = ToPem(k.get(), s);
    ASSERT_OK_AND_ASSIGN(auto c, ParsePrivateKey(SecretBytes(AsBytes(pem))));
    EXPECT_TRUE(PublicKeysEqual(c.get(), k.get())) << s;
  }
  ASSERT_OK_AND_ASSIGN(RsaPublicParts p, GetRsaPublic(k.get()));
  EXPECT_EQ(p.n.size(), 256u);
  EXPECT_EQ(p.e, (std::vector<uint8_t>{1, 0, 1}));
  ASSERT_OK_AND_ASSIGN(auto pub, RsaPublicFromParts(p.n, p.e));
  EXPECT_TRUE(PublicKeysEqual(pub.get(), k.get()));
  ASSERT_OK_AND_ASSIGN(std::string jwk, PublicKeyToJwk(k.get()));
  ASSERT_OK_AND_ASSIGN(auto pub2, ParsePublicKey(AsBytes(jwk)));
  EXPECT_TRUE(PublicKeysEqual(pub2.get(), k.get()));
  // PKCS#1 "RSA PUBLIC KEY" PEM.
  OsslEncoderCtxPtr e(OSSL_ENCODER_CTX_new_for_pkey(
      k.get(), EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", nullptr));
  unsigned char* data = nullptr;
  size_t n = 0;
  ASSERT_EQ(OSSL_ENCODER_to_data(e.get(), &data, &n), 1);
  std::string pkcs1(reinterpret_cast<char*>(data), n);
  OPENSSL_free(data);
  EXPECT_NE(pkcs1.find("RSA PUBLIC KEY"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(auto pub3, ParsePublicKey(AsBytes(pkcs1)));
  EXPECT_TRUE(PublicKeysEqual(pub3.get(), k.get()));
}

TEST(RsaKeysTest, OaepRoundTrip) {
  ASSERT_OK_AND_ASSIGN(auto k, GenerateRsa(2048));
  std::vector<uint8_t> msg(32, 0x5a);
  for (OaepHash h : {OaepHash::kSha1, OaepHash::kSha256}) {
    ASSERT_OK_AND_ASSIGN(auto ct, RsaOaepEncrypt(k.get(), h, msg));
    EXPECT_EQ(ct.size(), 256u);
    ASSERT_OK_AND_ASSIGN(SecretBytes pt, RsaOaepDecrypt(k.get(), h, ct));
    EXPECT_TRUE(pt.ConstantTimeEquals(SecretBytes(msg)));
  }
  ASSERT_OK_AND_ASSIGN(auto ct,
                       RsaOaepEncrypt(k.get(), OaepHash::kSha256, msg));
  EXPECT_THAT(RsaOaepDecrypt(k.get(), OaepHash::kSha1, ct),
              StatusHasMessage("RSA-OAEP decryption failed"));
}

TEST(Pkcs8Test, TrailingZerosOnlyWhenAllowed) {
  ASSERT_OK_AND_ASSIGN(auto k, GenerateEc(Curve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes p8, PrivateKeyToPkcs8Der(k.get()));
  size_t n = p8.size();
  p8.Resize(n + 5);
  EXPECT_THAT(ParsePkcs8Der(p8, false), StatusHasMessage("trailing"));
  ASSERT_OK_AND_ASSIGN(auto a, ParsePkcs8Der(p8, true));
  EXPECT_TRUE(PublicKeysEqual(a.get(), k.get()));
  p8.Resize(n + 8);  // more than 7 is never KWP padding
  EXPECT_FALSE(ParsePkcs8Der(p8, true).ok());
}

// BER that OpenSSL reads is not PKCS#8 DER: rsaEncryption parameters as an
// empty constructed UTF8String (0x2C 0x00) instead of NULL (0x05 0x00).
// Found by fuzz/pkcs8_diff.cc (fuzz/regressions/pkcs8_diff/ber-params).
TEST(Pkcs8Test, FailureBerAlgorithmParameters) {
  ASSERT_OK_AND_ASSIGN(auto k, GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(SecretBytes p8, PrivateKeyToPkcs8Der(k.get()));
  ASSERT_OK(ParsePkcs8Der(p8, false).status());
  auto b = p8.mutable_data(SecretAccess::Get());
  // 30 82 LL LL | 02 01 00 | 30 0d 06 09 <rsaEncryption> | 05 00
  ASSERT_EQ(b[20], 0x05);
  ASSERT_EQ(b[21], 0x00);
  b[20] = 0x2c;
  EXPECT_THAT(ParsePkcs8Der(p8, false),
              StatusHasMessage("not a DER PKCS#8 structure"));
}

// TypeSpecificDer encodes `key` as PKCS#1 RSAPrivateKey or SEC1
// ECPrivateKey: DER that is a private key but not PKCS#8.
SecretBytes TypeSpecificDer(EVP_PKEY* key) {
  OsslEncoderCtxPtr ctx(OSSL_ENCODER_CTX_new_for_pkey(
      key, EVP_PKEY_KEYPAIR, "DER", "type-specific", nullptr));
  unsigned char* out = nullptr;
  size_t len = 0;
  EXPECT_TRUE(ctx && OSSL_ENCODER_to_data(ctx.get(), &out, &len) == 1);
  SecretBytes der(std::span<const uint8_t>(out, len));
  OPENSSL_clear_free(out, len);
  return der;
}

TEST(Pkcs8Test, FailurePkcs1AndSec1AreNotPkcs8) {
  ASSERT_OK_AND_ASSIGN(auto rsa, GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(auto ec, GenerateEc(Curve::kP384));
  for (EVP_PKEY* k : {rsa.get(), ec.get()}) {
    SecretBytes der = TypeSpecificDer(k);
    // Still a private key for the auto-detecting parser...
    ASSERT_OK(ParsePrivateKey(der).status());
    // ...but not the PrivateKeyInfo a BYOK payload must be.
    EXPECT_THAT(ParsePkcs8Der(der, true),
                StatusHasMessage("not a DER PKCS#8 structure"));
  }
}

TEST(CheckKeyPairTest, GoodKeysPass) {
  ASSERT_OK_AND_ASSIGN(auto rsa, GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(auto ec, GenerateEc(Curve::kSecp256k1));
  EXPECT_OK(CheckKeyPair(rsa.get()));
  EXPECT_OK(CheckKeyPair(ec.get()));
}

// WithRsaParam rebuilds RSA key `k` with parameter `name` increased by
// `delta` (so it no longer agrees with the others).
EvpPkeyPtr WithRsaParam(EVP_PKEY* k, const char* name, int delta) {
  const char* names[] = {
      OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
      OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
      OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
      OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  std::vector<BnPtr> keep;
  for (const char* n : names) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(k, n, &raw) != 1) return nullptr;
    keep.emplace_back(raw);
    if (std::string_view(n) == name) BN_add_word(raw, delta);
    OSSL_PARAM_BLD_push_BN(bld.get(), n, raw);
  }
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* out = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &out, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return nullptr;
  }
  return EvpPkeyPtr(out);
}

TEST(CheckKeyPairTest, FailureInconsistentRsaValues) {
  ASSERT_OK_AND_ASSIGN(auto rsa, GenerateRsa(2048));
  ASSERT_NE(WithRsaParam(rsa.get(), OSSL_PKEY_PARAM_RSA_D, 0), nullptr);
  EXPECT_OK(
      CheckKeyPair(WithRsaParam(rsa.get(), OSSL_PKEY_PARAM_RSA_D, 0).get()));
  for (const char* name :
       {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
        OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
        OSSL_PKEY_PARAM_RSA_COEFFICIENT1}) {
    SCOPED_TRACE(name);
    EvpPkeyPtr bad = WithRsaParam(rsa.get(), name, 2);
    ASSERT_NE(bad, nullptr);
    EXPECT_THAT(CheckKeyPair(bad.get()), StatusHasMessage("do not match"));
  }
}

TEST(ParseTest, FailureCorruptPem) {
  std::string pem =
      "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhk!!\n-----END PUBLIC "
      "KEY-----\n";
  EXPECT_THAT(ParsePublicKey(AsBytes(pem)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePrivateKey(SecretBytes(AsBytes(pem))),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseTest, FailureTruncatedDer) {
  ASSERT_OK_AND_ASSIGN(auto k, GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(SecretBytes p8, PrivateKeyToPkcs8Der(k.get()));
  p8.Resize(p8.size() - 10);
  EXPECT_FALSE(ParsePkcs8Der(p8, false).ok());
  EXPECT_FALSE(ParsePrivateKey(p8).ok());
}

TEST(ParseTest, FailurePublicKeyAsPrivate) {
  ASSERT_OK_AND_ASSIGN(auto k, GenerateEc(Curve::kP256));
  ASSERT_OK_AND_ASSIGN(std::string pem, PublicKeyToPem(k.get()));
  EXPECT_FALSE(ParsePrivateKey(SecretBytes(AsBytes(pem))).ok());
}

TEST(ParseTest, FailureJwkWrongType) {
  EXPECT_THAT(ParsePublicKey(AsBytes(R"({"kty":"oct","k":"AAAA"})")),
              StatusHasMessage("not RSA or EC"));
  EXPECT_THAT(ParsePublicKey(AsBytes(R"({"kty":"RSA","n":"AQAB"})")),
              StatusHasMessage("\"e\""));
}

TEST(ParseTest, FailureJwkDeeplyNested) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string jwk = R"({"kty":"EC","crv":)" + deep + "}";
  EXPECT_THAT(ParsePublicKey(AsBytes(jwk)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry::crypto
