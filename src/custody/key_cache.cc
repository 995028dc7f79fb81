#include "custody/key_cache.h"

namespace keyferry::custody {

std::string KeyCache::Key(std::span<const uint8_t> sealed,
                          std::span<const uint8_t> binding) {
  // length-prefixed binding, then the sealed blob: no two pairs share a key.
  std::string k;
  k.reserve(8 + binding.size() + sealed.size());
  const uint64_t n = binding.size();
  k.append(reinterpret_cast<const char*>(&n), sizeof n);
  k.append(reinterpret_cast<const char*>(binding.data()), binding.size());
  k.append(reinterpret_cast<const char*>(sealed.data()), sealed.size());
  return k;
}

crypto::EvpPkeyPtr KeyCache::Find(std::span<const uint8_t> sealed,
                                  std::span<const uint8_t> binding) {
  if (capacity_ == 0) return nullptr;
  const std::string k = Key(sealed, binding);
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(k);
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  EVP_PKEY* p = it->second.key.get();
  if (EVP_PKEY_up_ref(p) != 1) return nullptr;
  return crypto::EvpPkeyPtr(p);
}

void KeyCache::Insert(std::span<const uint8_t> sealed,
                      std::span<const uint8_t> binding, EVP_PKEY* key) {
  if (capacity_ == 0 || key == nullptr) return;
  if (EVP_PKEY_up_ref(key) != 1) return;
  crypto::EvpPkeyPtr ref(key);
  std::string k = Key(sealed, binding);
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(k);
  if (it != map_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  while (map_.size() >= capacity_ && !lru_.empty()) {
    map_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(k);
  map_.emplace(std::move(k), Entry{std::move(ref), lru_.begin()});
}

size_t KeyCache::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return map_.size();
}

}  // namespace keyferry::custody
