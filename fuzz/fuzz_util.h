// Helpers shared by the fuzz targets (fuzz/README.md). Header-only; the
// targets link libFuzzer's driver, which calls LLVMFuzzerTestOneInput.
#ifndef KEYFERRY_FUZZ_FUZZ_UTIL_H_
#define KEYFERRY_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "base/secret.h"

namespace keyferry::fuzz {

// Text views the fuzzer's input as characters.
inline std::string_view Text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Mismatch reports a differential or invariant failure and aborts, which
// libFuzzer records as a crash with the input that caused it.
[[noreturn]] inline void Mismatch(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

// Check aborts with `what` unless `ok`: for setup that must not fail.
inline void Check(bool ok, const char* what) {
  if (!ok) Mismatch(what);
}
inline void CheckOk(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::abort();
  }
}

// FixedMasterKey is a constant 32-byte software-custody master key, so that
// custody blobs and backups in the seed corpus open in every run. Test
// material only.
inline SecretBytes FixedMasterKey() {
  uint8_t k[32];
  for (int i = 0; i < 32; ++i) k[i] = static_cast<uint8_t>(0xA0 + i);
  return SecretBytes(std::span<const uint8_t>(k));
}

}  // namespace keyferry::fuzz

#endif  // KEYFERRY_FUZZ_FUZZ_UTIL_H_
