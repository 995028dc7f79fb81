#include "custody/key_cache.h"

namespace keyferry::custody {

std::string KeyCache::Key(std::span<const uint8_t> blob,
                          std::span<const uint8_t> binding) {
  // length-prefixed binding, then the custody blob: no two pairs share a key.
  std::string k;
  k.reserve(8 + binding.size() + blob.size());
  const uint64_t n = binding.size();
  k.append(reinterpret_cast<const char*>(&n), sizeof n);
  k.append(reinterpret_cast<const char*>(binding.data()), binding.size());
  k.append(reinterpret_cast<const char*>(blob.data()), blob.size());
  return k;
}

crypto::EvpPkeyPtr KeyCache::Find(std::span<const uint8_t> blob,
                                  std::span<const uint8_t> binding) {
  if (cache_.capacity() == 0) return nullptr;
  crypto::EvpPkeyPtr out;
  cache_.Lookup(Key(blob, binding), [&](crypto::EvpPkeyPtr& cached) {
    if (EVP_PKEY_up_ref(cached.get()) == 1) out.reset(cached.get());
  });
  return out;
}

void KeyCache::Insert(std::span<const uint8_t> blob,
                      std::span<const uint8_t> binding, EVP_PKEY* key,
                      uint64_t generation) {
  if (cache_.capacity() == 0 || key == nullptr) return;
  if (EVP_PKEY_up_ref(key) != 1) return;
  cache_.InsertIfGeneration(Key(blob, binding), crypto::EvpPkeyPtr(key),
                            generation);
}

}  // namespace keyferry::custody
