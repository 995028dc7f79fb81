// LruCache: a bounded, thread-safe map from string keys to values that
// forgets the least recently used entry when full. The caches of keyferry
// (parsed keys in a custody, verified bearer tokens) are instances.
//
// Values are reached only under the cache's lock, through a callback, so a
// value that is not copyable (an owning handle) can hand out what the caller
// needs (a new reference) without leaving the lock. A capacity of 0 keeps
// nothing. Nothing is evicted but by capacity or Erase: a caller that caches
// something with a lifetime checks it on use and erases it. Values leave
// the cache (evicted, erased, taken) after its lock is released, so a value
// whose destructor is slow or takes another lock never runs it under the
// cache's lock.
#ifndef KEYFERRY_BASE_LRU_CACHE_H_
#define KEYFERRY_BASE_LRU_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"

namespace keyferry {

template <typename V>
class LruCache {
 public:
  static constexpr uint64_t kAnyGeneration = ~uint64_t{0};
  explicit LruCache(size_t capacity) : capacity_(capacity) {}
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // Lookup calls `use(V&)` under the lock when `key` is cached, making it
  // the most recently used entry, and returns whether it was. `use` must not
  // call back into the cache.
  template <typename F>
  bool Lookup(const std::string& key, F&& use) {
    MutexLock l(&mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    order_.splice(order_.begin(), order_, it->second);
    use(it->second->second);
    return true;
  }

  // Insert caches `value` under `key`, evicting the least recently used
  // entries when full. An entry already cached under `key` is kept (and
  // made most recent); `value` is then dropped.
  void Insert(std::string key, V value) {
    InsertIfGeneration(std::move(key), std::move(value), kAnyGeneration);
  }

  // generation counts the TakeAll calls so far. A caller that makes a value
  // from something TakeAll may be meant to forget (a purged key) reads it
  // before, and inserts with InsertIfGeneration: a TakeAll in between then
  // keeps the value out, where an Insert after the TakeAll would bring it
  // back.
  uint64_t generation() const {
    MutexLock l(&mu_);
    return generation_;
  }
  // InsertIfGeneration is Insert unless TakeAll ran since `seen` was read
  // from generation(); then `value` is dropped. kAnyGeneration: Insert.
  void InsertIfGeneration(std::string key, V value, uint64_t seen) {
    if (capacity_ == 0) return;
    Entries gone;  // destroyed after the lock is released
    MutexLock l(&mu_);
    if (seen != kAnyGeneration && seen != generation_) {
      gone.emplace_back(std::move(key), std::move(value));
      return;
    }
    auto it = map_.find(key);
    if (it != map_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      gone.emplace_back(std::move(key), std::move(value));
      return;
    }
    while (map_.size() >= capacity_ && !order_.empty()) {
      map_.erase(order_.back().first);
      gone.splice(gone.end(), order_, std::prev(order_.end()));
    }
    order_.emplace_front(key, std::move(value));
    map_.emplace(std::move(key), order_.begin());
  }

  // Erase forgets `key` (nothing when it is not cached).
  void Erase(const std::string& key) {
    Entries gone;
    MutexLock l(&mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return;
    gone.splice(gone.end(), order_, it->second);
    map_.erase(it);
  }

  // TakeAll empties the cache and returns what it held, most recent first.
  std::vector<V> TakeAll() {
    Entries taken;
    {
      MutexLock l(&mu_);
      taken.swap(order_);
      map_.clear();
      ++generation_;
    }
    std::vector<V> out;
    out.reserve(taken.size());
    for (auto& [key, value] : taken) out.push_back(std::move(value));
    return out;
  }

  size_t size() const {
    MutexLock l(&mu_);
    return map_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  using Entries = std::list<std::pair<std::string, V>>;  // front: most recent
  const size_t capacity_;
  mutable Mutex mu_;
  Entries order_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, typename Entries::iterator> map_
      ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace keyferry

#endif  // KEYFERRY_BASE_LRU_CACHE_H_
