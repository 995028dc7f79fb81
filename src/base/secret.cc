#include "base/secret.h"

#include <string.h>

namespace keyferry {

void Zeroize(void* p, size_t n) {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
  if (this != &other) {
    Clear();
    bytes_ = other.bytes_;
  }
  return *this;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : bytes_(std::move(other.bytes_)) {
  other.bytes_.clear();
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Clear();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

void SecretBytes::Resize(size_t n) {
  if (n <= bytes_.size()) {
    Zeroize(bytes_.data() + n, bytes_.size() - n);
    bytes_.resize(n);
    return;
  }
  std::vector<uint8_t> grown(n);
  std::copy(bytes_.begin(), bytes_.end(), grown.begin());
  Clear();
  bytes_ = std::move(grown);
}

void SecretBytes::Clear() {
  Zeroize(bytes_.data(), bytes_.capacity() > 0 ? bytes_.size() : 0);
  bytes_.clear();
}

bool SecretBytes::ConstantTimeEquals(const SecretBytes& other) const {
  return ConstantTimeEqual(bytes_, other.bytes_);
}

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  uint8_t acc = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    acc = static_cast<uint8_t>(acc | (a[i] ^ b[i]));
    // Keep the compiler from turning the loop into an early-exit compare.
    asm volatile("" : "+r"(acc));
  }
  return acc == 0;
}

}  // namespace keyferry
