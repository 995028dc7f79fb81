// SecretBytes: an owned byte buffer for key material that is zeroized when it
// is destroyed, moved from or resized. Thread-compatible.
//
// Reading the bytes needs a SecretAccess token, so every place that touches
// raw key material is greppable (`SecretAccess::Get()`). Never put these bytes
// into a std::string, a log line or a Status message.
#ifndef KEYFERRY_BASE_SECRET_H_
#define KEYFERRY_BASE_SECRET_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace keyferry {

// SecretAccess is a token that marks a read of secret bytes.
class SecretAccess {
 public:
  static SecretAccess Get() { return SecretAccess(); }

 private:
  SecretAccess() = default;
};

// Zeroize overwrites `n` bytes at `p` with zeros in a way the compiler cannot
// elide.
void Zeroize(void* p, size_t n);

class SecretBytes {
 public:
  SecretBytes() = default;
  // SecretBytes(n) holds `n` zero bytes.
  explicit SecretBytes(size_t n) : bytes_(n) {}
  // SecretBytes(data) copies `data`; the caller remains responsible for
  // zeroizing its own copy.
  explicit SecretBytes(std::span<const uint8_t> data)
      : bytes_(data.begin(), data.end()) {}
  ~SecretBytes() { Clear(); }

  SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;

  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

  std::span<const uint8_t> data(SecretAccess) const { return bytes_; }
  std::span<uint8_t> mutable_data(SecretAccess) { return bytes_; }

  // Resize shrinks (zeroizing the dropped tail) or grows the buffer. Growing
  // reallocates only after zeroizing the old storage.
  void Resize(size_t n);
  // Clear zeroizes and empties the buffer.
  void Clear();

  // ConstantTimeEquals compares contents without early exit on the first
  // differing byte (lengths are not secret).
  bool ConstantTimeEquals(const SecretBytes& other) const;

 private:
  std::vector<uint8_t> bytes_;
};

// ConstantTimeEqual compares `a` and `b` without early exit on the first
// differing byte (lengths are not secret: different lengths are unequal).
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace keyferry

#endif  // KEYFERRY_BASE_SECRET_H_
