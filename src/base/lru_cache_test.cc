#include "base/lru_cache.h"

#include <memory>
#include <string>

#include "base/testing.h"

namespace keyferry {
namespace {

std::optional<int> Get(LruCache<int>& c, const std::string& k) {
  std::optional<int> out;
  c.Lookup(k, [&](int& v) { out = v; });
  return out;
}

TEST(LruCacheTest, EvictsLeastRecentlyUsed) {
  LruCache<int> c(2);
  c.Insert("a", 1);
  c.Insert("b", 2);
  EXPECT_EQ(Get(c, "a"), 1);  // a is now more recent than b
  c.Insert("c", 3);
  EXPECT_EQ(Get(c, "b"), std::nullopt);
  EXPECT_EQ(Get(c, "a"), 1);
  EXPECT_EQ(Get(c, "c"), 3);
  EXPECT_EQ(c.size(), 2u);
}

TEST(LruCacheTest, InsertKeepsTheCachedValue) {
  LruCache<int> c(2);
  c.Insert("a", 1);
  c.Insert("b", 2);
  c.Insert("a", 9);  // kept as 1, and now most recent
  c.Insert("c", 3);
  EXPECT_EQ(Get(c, "a"), 1);
  EXPECT_EQ(Get(c, "b"), std::nullopt);
}

TEST(LruCacheTest, EraseAndCapacityZero) {
  LruCache<int> c(2);
  c.Insert("a", 1);
  c.Erase("a");
  c.Erase("missing");
  EXPECT_EQ(Get(c, "a"), std::nullopt);
  EXPECT_EQ(c.size(), 0u);
  LruCache<int> none(0);
  none.Insert("a", 1);
  EXPECT_EQ(Get(none, "a"), std::nullopt);
  EXPECT_EQ(none.size(), 0u);
}

TEST(LruCacheTest, MoveOnlyValuesAreReachedInPlace) {
  LruCache<std::unique_ptr<int>> c(1);
  c.Insert("a", std::make_unique<int>(7));
  int seen = 0;
  EXPECT_TRUE(c.Lookup("a", [&](std::unique_ptr<int>& v) { seen = *v; }));
  EXPECT_EQ(seen, 7);
  c.Insert("b", std::make_unique<int>(8));  // evicts a, freeing it
  EXPECT_FALSE(c.Lookup("a", [&](std::unique_ptr<int>&) { seen = 0; }));
  EXPECT_EQ(seen, 7);
}

}  // namespace
}  // namespace keyferry
