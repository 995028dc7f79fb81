#include "custody/key_cache.h"

#include <vector>

#include "base/testing.h"
#include "crypto/keys.h"

namespace keyferry::custody {
namespace {

std::vector<uint8_t> B(const char* s) {
  return std::vector<uint8_t>(s, s + std::char_traits<char>::length(s));
}

TEST(KeyCacheTest, FindsOnlyTheExactBlobAndBinding) {
  KeyCache cache(4);
  ASSERT_OK_AND_ASSIGN(auto k, crypto::GenerateEc(crypto::Curve::kP256));
  EXPECT_EQ(cache.Find(B("blob"), B("v/k/1")), nullptr);
  cache.Insert(B("blob"), B("v/k/1"), k.get());
  crypto::EvpPkeyPtr hit = cache.Find(B("blob"), B("v/k/1"));
  EXPECT_EQ(hit.get(), k.get());  // the same object, another reference
  EXPECT_EQ(cache.Find(B("blob"), B("v/k/2")), nullptr);
  EXPECT_EQ(cache.Find(B("blob2"), B("v/k/1")), nullptr);
  // The length prefix keeps ("ab","c") apart from ("a","bc").
  cache.Insert(B("c"), B("ab"), k.get());
  EXPECT_EQ(cache.Find(B("bc"), B("a")), nullptr);
  // The cache's reference outlives the caller's.
  hit.reset();
  EVP_PKEY* raw = k.get();
  k.reset();
  crypto::EvpPkeyPtr again = cache.Find(B("blob"), B("v/k/1"));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again.get(), raw);
}

TEST(KeyCacheTest, ClearDropsEveryEntry) {
  KeyCache cache(4);
  ASSERT_OK_AND_ASSIGN(auto k, crypto::GenerateEc(crypto::Curve::kP256));
  cache.Insert(B("a"), {}, k.get());
  cache.Insert(B("b"), {}, k.get());
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Find(B("a"), {}), nullptr);
  cache.Insert(B("a"), {}, k.get());  // still usable
  EXPECT_NE(cache.Find(B("a"), {}), nullptr);
}

TEST(KeyCacheTest, EvictsLeastRecentlyUsed) {
  KeyCache cache(2);
  ASSERT_OK_AND_ASSIGN(auto k, crypto::GenerateEc(crypto::Curve::kP256));
  cache.Insert(B("a"), {}, k.get());
  cache.Insert(B("b"), {}, k.get());
  ASSERT_NE(cache.Find(B("a"), {}), nullptr);  // a is now the most recent
  cache.Insert(B("c"), {}, k.get());           // evicts b
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.Find(B("a"), {}), nullptr);
  EXPECT_EQ(cache.Find(B("b"), {}), nullptr);
  EXPECT_NE(cache.Find(B("c"), {}), nullptr);
}

TEST(KeyCacheTest, CapacityZeroKeepsNothing) {
  KeyCache cache(0);
  ASSERT_OK_AND_ASSIGN(auto k, crypto::GenerateEc(crypto::Curve::kP256));
  cache.Insert(B("a"), {}, k.get());
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Find(B("a"), {}), nullptr);
}

}  // namespace
}  // namespace keyferry::custody
