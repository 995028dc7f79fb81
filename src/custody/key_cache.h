// KeyCache: a bounded, thread-safe LRU cache of parsed keys for a custody,
// so a hot key is decrypted and parsed once rather than on every operation
// (with OpenSSL 3.0, decoding a PKCS#8 key costs more than an ECDSA
// signature; bench/README.md has the numbers).
//
// An entry is found only by the exact (blob, binding) pair it was
// made from: a blob presented with another binding misses and goes through
// the custody's full authenticated unseal again. Entries hold an EVP_PKEY
// reference; OpenSSL clears private components when the last reference
// goes. A capacity of 0 disables the cache.
#ifndef KEYFERRY_CUSTODY_KEY_CACHE_H_
#define KEYFERRY_CUSTODY_KEY_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "base/lru_cache.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::custody {

class KeyCache {
 public:
  explicit KeyCache(size_t capacity) : cache_(capacity) {}
  KeyCache(const KeyCache&) = delete;
  KeyCache& operator=(const KeyCache&) = delete;

  // Find returns a new reference to the key cached for (`blob`,
  // `binding`), or null.
  crypto::EvpPkeyPtr Find(std::span<const uint8_t> blob,
                          std::span<const uint8_t> binding);
  // Insert caches a reference to `key` (borrowed; up-ref'd) for
  // (`blob`, `binding`), evicting the least recently used entry when full.
  void Insert(std::span<const uint8_t> blob, std::span<const uint8_t> binding,
              EVP_PKEY* key) {
    Insert(blob, binding, key, kAnyGeneration);
  }
  // `generation` is generation() read before the key was made: a Clear
  // since then keeps it out (a purge's flush must not be undone by an
  // operation that was opening the key meanwhile).
  void Insert(std::span<const uint8_t> blob, std::span<const uint8_t> binding,
              EVP_PKEY* key, uint64_t generation);
  uint64_t generation() const { return cache_.generation(); }

  // Clear drops every entry.
  void Clear() { (void)cache_.TakeAll(); }

  size_t size() const { return cache_.size(); }
  size_t capacity() const { return cache_.capacity(); }

 private:
  static constexpr uint64_t kAnyGeneration =
      LruCache<crypto::EvpPkeyPtr>::kAnyGeneration;
  static std::string Key(std::span<const uint8_t> blob,
                         std::span<const uint8_t> binding);
  LruCache<crypto::EvpPkeyPtr> cache_;
};

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_KEY_CACHE_H_
