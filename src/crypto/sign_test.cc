#include "crypto/sign.h"

#include <openssl/evp.h>

#include "base/testing.h"
#include "crypto/keys.h"

namespace keyferry::crypto {
namespace {

std::vector<uint8_t> Digest(SignAlg alg, std::string_view msg) {
  const EVP_MD* md = DigestBytes(alg) == 32   ? EVP_sha256()
                     : DigestBytes(alg) == 48 ? EVP_sha384()
                                              : EVP_sha512();
  std::vector<uint8_t> d(EVP_MD_get_size(md));
  unsigned int n = 0;
  EVP_Digest(msg.data(), msg.size(), d.data(), &n, md, nullptr);
  return d;
}

struct Case {
  SignAlg alg;
  bool rsa;
  Curve curve;
};

class SignTest : public ::testing::TestWithParam<Case> {};

TEST_P(SignTest, SignVerifyAndTamper) {
  const Case& c = GetParam();
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key,
                       c.rsa ? GenerateRsa(2048) : GenerateEc(c.curve));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr pub, PublicKeyOf(key.get()));
  auto d = Digest(c.alg, "keyferry");
  ASSERT_OK_AND_ASSIGN(auto sig, SignDigest(key.get(), c.alg, d));
  if (!c.rsa) {
    EXPECT_EQ(sig.size(), 2u * CurveFieldBytes(c.curve));  // JOSE r || s
  } else {
    EXPECT_EQ(sig.size(), 256u);
  }
  ASSERT_OK_AND_ASSIGN(bool ok, VerifyDigest(pub.get(), c.alg, d, sig));
  EXPECT_TRUE(ok);
  sig[sig.size() / 2] ^= 1;
  ASSERT_OK_AND_ASSIGN(ok, VerifyDigest(pub.get(), c.alg, d, sig));
  EXPECT_FALSE(ok);
  auto other = Digest(c.alg, "other");
  sig[sig.size() / 2] ^= 1;
  ASSERT_OK_AND_ASSIGN(ok, VerifyDigest(pub.get(), c.alg, other, sig));
  EXPECT_FALSE(ok);
  EXPECT_THAT(SignDigest(key.get(), c.alg, std::vector<uint8_t>(20)),
              StatusHasMessage("digest"));
  ASSERT_OK_AND_ASSIGN(SignAlg parsed, ParseSignAlg(SignAlgName(c.alg)));
  EXPECT_EQ(parsed, c.alg);
}

INSTANTIATE_TEST_SUITE_P(
    AllAlgorithms, SignTest,
    ::testing::Values(Case{SignAlg::kRs256, true, Curve::kP256},
                      Case{SignAlg::kRs384, true, Curve::kP256},
                      Case{SignAlg::kRs512, true, Curve::kP256},
                      Case{SignAlg::kPs256, true, Curve::kP256},
                      Case{SignAlg::kPs384, true, Curve::kP256},
                      Case{SignAlg::kPs512, true, Curve::kP256},
                      Case{SignAlg::kEs256, false, Curve::kP256},
                      Case{SignAlg::kEs384, false, Curve::kP384},
                      Case{SignAlg::kEs512, false, Curve::kP521},
                      Case{SignAlg::kEs256k, false, Curve::kSecp256k1}),
    [](const ::testing::TestParamInfo<Case>& i) {
      return std::string(SignAlgName(i.param.alg));
    });

TEST(SignTest, DigestForUsesTheAlgorithmsHash) {
  const std::vector<uint8_t> abc = {'a', 'b', 'c'};
  // FIPS 180-2 "abc" digests: the first bytes of SHA-256/384/512.
  EXPECT_EQ(DigestFor(SignAlg::kEs256, abc).size(), 32u);
  EXPECT_EQ(DigestFor(SignAlg::kEs256, abc)[0], 0xba);
  EXPECT_EQ(DigestFor(SignAlg::kPs384, abc).size(), 48u);
  EXPECT_EQ(DigestFor(SignAlg::kPs384, abc)[0], 0xcb);
  EXPECT_EQ(DigestFor(SignAlg::kRs512, abc).size(), 64u);
  EXPECT_EQ(DigestFor(SignAlg::kRs512, abc)[0], 0xdd);
}

TEST(SignTest, FailureKeyDoesNotFitAlgorithm) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr ec, GenerateEc(Curve::kP384));
  auto d = Digest(SignAlg::kEs256, "x");
  EXPECT_THAT(SignDigest(ec.get(), SignAlg::kEs256, d),
              StatusHasMessage("P-256"));
  EXPECT_THAT(SignDigest(ec.get(), SignAlg::kRs256, d),
              StatusHasMessage("RSA"));
  EXPECT_THAT(ParseSignAlg("HS256"), StatusHasMessage("unsupported"));
}

}  // namespace
}  // namespace keyferry::crypto
