#include "base/lru_cache.h"

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "base/testing.h"

namespace keyferry {
namespace {

std::optional<int> Get(LruCache<int>& c, const std::string& k) {
  std::optional<int> out;
  c.Lookup(k, [&](int& v) { out = v; });
  return out;
}

// A value made before a TakeAll (a purge's flush) stays out when it is
// inserted after it; one made after goes in.
TEST(LruCacheTest, InsertIfGenerationKeepsOutWhatATakeAllOvertook) {
  LruCache<int> cache(4);
  const uint64_t before = cache.generation();
  cache.Insert("a", 1);
  EXPECT_EQ(cache.TakeAll().size(), 1u);
  cache.InsertIfGeneration("b", 2, before);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_NE(cache.generation(), before);
  cache.InsertIfGeneration("c", 3, cache.generation());
  int got = 0;
  EXPECT_TRUE(cache.Lookup("c", [&](int& v) { got = v; }));
  EXPECT_EQ(got, 3);
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

// Probe is a value whose destructor reports whether the cache it lived in
// could be used from another thread at that moment (its lock was free).
struct Probe {
  LruCache<std::shared_ptr<Probe>>* cache = nullptr;
  std::vector<bool>* unlocked = nullptr;
  ~Probe() {
    if (cache == nullptr) return;
    auto other =
        std::async(std::launch::async, [c = cache] { return c->size(); });
    unlocked->push_back(other.wait_for(std::chrono::seconds(10)) ==
                        std::future_status::ready);
  }
};

TEST(LruCacheTest, ValuesLeaveAfterTheLockIsReleased) {
  LruCache<std::shared_ptr<Probe>> c(1);
  std::vector<bool> unlocked;
  auto probe = [&] {
    auto p = std::make_shared<Probe>();
    p->cache = &c;
    p->unlocked = &unlocked;
    return p;
  };
  c.Insert("a", probe());
  c.Insert("b", probe());  // evicts a
  c.Insert("b", probe());  // already cached: the new value is dropped
  c.Erase("b");
  ASSERT_EQ(unlocked.size(), 3u);
  for (bool u : unlocked) EXPECT_TRUE(u);
}

TEST(LruCacheTest, TakeAllEmptiesTheCache) {
  LruCache<std::unique_ptr<int>> c(3);
  c.Insert("a", std::make_unique<int>(1));
  c.Insert("b", std::make_unique<int>(2));
  std::vector<std::unique_ptr<int>> all = c.TakeAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(*all[0], 2);  // most recent first
  EXPECT_EQ(*all[1], 1);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_FALSE(c.Lookup("a", [](std::unique_ptr<int>&) {}));
}

}  // namespace
}  // namespace keyferry
