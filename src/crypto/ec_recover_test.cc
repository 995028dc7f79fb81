#include "crypto/ec_recover.h"

#include <gtest/gtest.h>

#include "base/testing.h"
#include "crypto/random.h"
#include "crypto/sign.h"

namespace keyferry::crypto {
namespace {

struct Case {
  Curve curve;
  SignAlg alg;
};

class EcRecoverTest : public ::testing::TestWithParam<Case> {};

TEST_P(EcRecoverTest, RecoversTheSignersKeyFromTwoSignatures) {
  const Case c = GetParam();
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateEc(c.curve));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> d1,
                       RandomBytes(DigestBytes(c.alg)));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> d2,
                       RandomBytes(DigestBytes(c.alg)));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> s1,
                       SignDigest(key.get(), c.alg, d1));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> s2,
                       SignDigest(key.get(), c.alg, d2));

  ASSERT_OK_AND_ASSIGN(std::vector<EvpPkeyPtr> candidates,
                       RecoverEcPublicCandidates(c.curve, d1, s1));
  int matches = 0;
  for (auto& k : candidates) matches += PublicKeysEqual(k.get(), key.get());
  EXPECT_EQ(matches, 1);

  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr got,
                       RecoverEcPublicKey(c.curve, d1, s1, d2, s2));
  EXPECT_TRUE(PublicKeysEqual(got.get(), key.get()));
}

TEST_P(EcRecoverTest, FailureSignaturesOfDifferentKeys) {
  const Case c = GetParam();
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr a, GenerateEc(c.curve));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr b, GenerateEc(c.curve));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> d, RandomBytes(DigestBytes(c.alg)));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> sa, SignDigest(a.get(), c.alg, d));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> sb, SignDigest(b.get(), c.alg, d));
  EXPECT_THAT(RecoverEcPublicKey(c.curve, d, sa, d, sb),
              StatusIs(absl::StatusCode::kNotFound));
}

INSTANTIATE_TEST_SUITE_P(Curves, EcRecoverTest,
                         ::testing::Values(Case{Curve::kP256, SignAlg::kEs256},
                                           Case{Curve::kP384, SignAlg::kEs384},
                                           Case{Curve::kP521, SignAlg::kEs512},
                                           Case{Curve::kSecp256k1,
                                                SignAlg::kEs256k}));

TEST(EcRecoverTest, FailureMalformedSignature) {
  std::vector<uint8_t> d(32, 1);
  EXPECT_THAT(
      RecoverEcPublicCandidates(Curve::kP256, d, std::vector<uint8_t>(63, 1)),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      RecoverEcPublicCandidates(Curve::kP256, d, std::vector<uint8_t>(64, 0)),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry::crypto
