#include "seal/shamir.h"

#include <algorithm>
#include <random>

#include "base/testing.h"
#include "crypto/random.h"

namespace keyferry::seal {
namespace {

using internal::GfInv;
using internal::GfMul;

SecretBytes Secret(size_t n = 32) { return *crypto::RandomSecret(n); }

std::vector<Share> Pick(const std::vector<Share>& all,
                        const std::vector<int>& idx) {
  std::vector<Share> out;
  for (int i : idx) out.push_back(all[i]);
  return out;
}

// ForEachSubset calls f with every k-subset of {0..n-1}.
template <typename F>
void ForEachSubset(int n, int k, F f) {
  std::vector<bool> sel(n, false);
  std::fill(sel.begin(), sel.begin() + k, true);
  do {
    std::vector<int> idx;
    for (int i = 0; i < n; ++i)
      if (sel[i]) idx.push_back(i);
    f(idx);
  } while (std::prev_permutation(sel.begin(), sel.end()));
}

TEST(GfTest, KnownProducts) {
  EXPECT_EQ(GfMul(0x57, 0x83), 0xC1);  // FIPS-197 §4.2
  EXPECT_EQ(GfMul(0x57, 0x13), 0xFE);  // FIPS-197 §4.2.1
  EXPECT_EQ(GfMul(0x53, 0xCA), 0x01);
  EXPECT_EQ(GfMul(0x00, 0xFF), 0x00);
  EXPECT_EQ(GfMul(0x01, 0xAB), 0xAB);
  EXPECT_EQ(GfInv(0x53), 0xCA);
  EXPECT_EQ(GfInv(0xCA), 0x53);
  EXPECT_EQ(GfInv(0x01), 0x01);
  EXPECT_EQ(GfInv(0x00), 0x00);
}

TEST(GfTest, EveryNonZeroHasInverseAndMulCommutes) {
  for (int a = 1; a < 256; ++a) {
    EXPECT_EQ(GfMul(a, GfInv(a)), 1) << a;
    for (int b = 0; b < 256; b += 17) EXPECT_EQ(GfMul(a, b), GfMul(b, a));
  }
}

TEST(ShamirTest, InterpolateAtAnIndexGivesThatShare) {
  SecretBytes secret = Secret();
  ASSERT_OK_AND_ASSIGN(std::vector<Share> shares, Split(secret, 5, 3));
  std::vector<Share> three = Pick(shares, {4, 0, 2});
  for (int x = 1; x <= 5; ++x) {
    ASSERT_OK_AND_ASSIGN(SecretBytes y,
                         Interpolate(three, static_cast<uint8_t>(x)));
    EXPECT_TRUE(y.ConstantTimeEquals(shares[x - 1].y)) << x;
  }
  ASSERT_OK_AND_ASSIGN(SecretBytes at0, Interpolate(three, 0));
  EXPECT_TRUE(at0.ConstantTimeEquals(secret));
}

TEST(ShamirTest, SplitCombineEveryKSubset) {
  struct Case {
    int n, k;
  } cases[] = {{1, 1}, {2, 2}, {3, 2}, {5, 3}, {5, 5}, {6, 4}};
  for (const Case& c : cases) {
    SecretBytes secret = Secret();
    ASSERT_OK_AND_ASSIGN(std::vector<Share> shares, Split(secret, c.n, c.k));
    ASSERT_EQ(shares.size(), static_cast<size_t>(c.n));
    for (int i = 0; i < c.n; ++i) {
      EXPECT_EQ(shares[i].x, i + 1);
      EXPECT_EQ(shares[i].y.size(), secret.size());
    }
    ForEachSubset(c.n, c.k, [&](const std::vector<int>& idx) {
      std::vector<Share> sub = Pick(shares, idx);
      ASSERT_OK_AND_ASSIGN(SecretBytes got, Combine(sub));
      EXPECT_TRUE(got.ConstantTimeEquals(secret)) << c.n << "/" << c.k;
    });
    // More than k shares also reconstruct.
    ASSERT_OK_AND_ASSIGN(SecretBytes all, Combine(shares));
    EXPECT_TRUE(all.ConstantTimeEquals(secret));
  }
}

TEST(ShamirTest, TwoOfThree) {
  SecretBytes secret = Secret();
  ASSERT_OK_AND_ASSIGN(std::vector<Share> shares, Split(secret, 3, 2));
  ForEachSubset(3, 2, [&](const std::vector<int>& idx) {
    ASSERT_OK_AND_ASSIGN(SecretBytes got, Combine(Pick(shares, idx)));
    EXPECT_TRUE(got.ConstantTimeEquals(secret));
  });
}

TEST(ShamirTest, FewerThanKSharesGiveAnotherValue) {
  SecretBytes secret = Secret();
  ASSERT_OK_AND_ASSIGN(std::vector<Share> shares, Split(secret, 5, 3));
  ForEachSubset(5, 2, [&](const std::vector<int>& idx) {
    ASSERT_OK_AND_ASSIGN(SecretBytes got, Combine(Pick(shares, idx)));
    EXPECT_FALSE(got.ConstantTimeEquals(secret));
  });
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(SecretBytes got, Combine(Pick(shares, {i})));
    EXPECT_FALSE(got.ConstantTimeEquals(secret));
  }
}

TEST(ShamirTest, OneOfOneIsTheSecret) {
  SecretBytes secret = Secret();
  ASSERT_OK_AND_ASSIGN(std::vector<Share> shares, Split(secret, 1, 1));
  ASSERT_EQ(shares.size(), 1u);
  EXPECT_TRUE(shares[0].y.ConstantTimeEquals(secret));
}

TEST(ShamirTest, TwoHundredFiftyFiveSharesSampled) {
  SecretBytes secret = Secret();
  ASSERT_OK_AND_ASSIGN(std::vector<Share> shares, Split(secret, 255, 3));
  ASSERT_EQ(shares.size(), 255u);
  EXPECT_EQ(shares.back().x, 255);
  std::mt19937 rng(12345);
  std::vector<int> idx(255);
  for (int i = 0; i < 255; ++i) idx[i] = i;
  for (int round = 0; round < 200; ++round) {
    std::shuffle(idx.begin(), idx.end(), rng);
    std::vector<int> three(idx.begin(), idx.begin() + 3);
    ASSERT_OK_AND_ASSIGN(SecretBytes got, Combine(Pick(shares, three)));
    EXPECT_TRUE(got.ConstantTimeEquals(secret));
    std::vector<int> two(idx.begin(), idx.begin() + 2);
    ASSERT_OK_AND_ASSIGN(SecretBytes bad, Combine(Pick(shares, two)));
    EXPECT_FALSE(bad.ConstantTimeEquals(secret));
  }
  ASSERT_OK_AND_ASSIGN(SecretBytes ends, Combine(Pick(shares, {0, 127, 254})));
  EXPECT_TRUE(ends.ConstantTimeEquals(secret));
}

TEST(ShamirTest, OddLengthSecret) {
  SecretBytes secret = Secret(1);
  ASSERT_OK_AND_ASSIGN(std::vector<Share> shares, Split(secret, 4, 2));
  ASSERT_OK_AND_ASSIGN(SecretBytes got, Combine(Pick(shares, {3, 1})));
  EXPECT_TRUE(got.ConstantTimeEquals(secret));
}

TEST(ShamirTest, SplitErrors) {
  SecretBytes secret = Secret();
  EXPECT_THAT(Split(SecretBytes(), 3, 2),
              StatusHasMessage("cannot split an empty secret"));
  EXPECT_THAT(Split(secret, 0, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Split(secret, 256, 2),
              StatusHasMessage("number of shares must be 1 to 255"));
  EXPECT_THAT(Split(secret, 3, 4), StatusHasMessage("threshold must be 1"));
  EXPECT_THAT(Split(secret, 3, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Split(secret, 3, 1),
              StatusHasMessage("use a threshold of at least 2"));
  EXPECT_OK(Split(secret, 255, 255).status());
}

TEST(ShamirTest, CombineErrors) {
  SecretBytes secret = Secret();
  ASSERT_OK_AND_ASSIGN(std::vector<Share> shares, Split(secret, 3, 2));
  EXPECT_THAT(Combine({}), StatusHasMessage("no shares"));
  std::vector<Share> dup = Pick(shares, {0, 0});
  EXPECT_THAT(Combine(dup), StatusHasMessage("share 1 appears more than once"));
  std::vector<Share> zero = Pick(shares, {0, 1});
  zero[1].x = 0;
  EXPECT_THAT(Combine(zero), StatusHasMessage("index 0"));
  std::vector<Share> lens = Pick(shares, {0, 1});
  lens[1].y.Resize(31);
  EXPECT_THAT(Combine(lens), StatusHasMessage("different lengths"));
  for (const auto& s : {dup, zero, lens}) {
    EXPECT_THAT(Combine(s), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

}  // namespace
}  // namespace keyferry::seal
