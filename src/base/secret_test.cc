#include "base/secret.h"

#include "base/testing.h"

namespace keyferry {
namespace {

TEST(SecretBytesTest, CopyAndCompare) {
  std::vector<uint8_t> raw = {1, 2, 3};
  SecretBytes a(raw);
  SecretBytes b = a;
  EXPECT_TRUE(a.ConstantTimeEquals(b));
  b.mutable_data(SecretAccess::Get())[0] = 9;
  EXPECT_FALSE(a.ConstantTimeEquals(b));
  EXPECT_FALSE(a.ConstantTimeEquals(SecretBytes(2)));
}

TEST(ConstantTimeEqualTest, ComparesContentsAndLength) {
  const std::vector<uint8_t> a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4};
  EXPECT_TRUE(ConstantTimeEqual(a, b));
  EXPECT_FALSE(ConstantTimeEqual(a, c));
  EXPECT_FALSE(ConstantTimeEqual(a, std::span<const uint8_t>(a).first(2)));
  EXPECT_TRUE(ConstantTimeEqual({}, {}));
}

TEST(SecretBytesTest, MoveEmptiesSource) {
  SecretBytes a(std::vector<uint8_t>{1, 2, 3});
  SecretBytes b = std::move(a);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBytesTest, ResizeShrinkZeroizesTail) {
  SecretBytes a(std::vector<uint8_t>{1, 2, 3, 4});
  const uint8_t* p = a.data(SecretAccess::Get()).data();
  a.Resize(2);
  // The vector keeps its storage on shrink, so the dropped tail is readable
  // through the old pointer and must be zero.
  EXPECT_EQ(p[2], 0);
  EXPECT_EQ(p[3], 0);
  EXPECT_EQ(a.size(), 2u);
}

TEST(SecretBytesTest, ResizeGrowKeepsPrefix) {
  SecretBytes a(std::vector<uint8_t>{7, 8});
  a.Resize(4);
  auto d = a.data(SecretAccess::Get());
  EXPECT_EQ(d[0], 7);
  EXPECT_EQ(d[1], 8);
  EXPECT_EQ(d[2], 0);
}

TEST(SecretBytesTest, ClearZeroizesStorage) {
  SecretBytes a(std::vector<uint8_t>{5, 6, 7});
  const uint8_t* p = a.data(SecretAccess::Get()).data();
  a.Clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[2], 0);
}

}  // namespace
}  // namespace keyferry
