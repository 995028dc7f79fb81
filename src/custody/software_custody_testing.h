// Test fixtures shared by the software custody's tests (custody_test.cc,
// software_cipher_test.cc).
#ifndef KEYFERRY_CUSTODY_SOFTWARE_CUSTODY_TESTING_H_
#define KEYFERRY_CUSTODY_SOFTWARE_CUSTODY_TESTING_H_

#include <memory>
#include <string_view>
#include <vector>

#include "base/testing.h"
#include "crypto/random.h"
#include "custody/software_custody.h"

namespace keyferry::custody::test_support {

// B is the bytes of `s`.
inline std::vector<uint8_t> B(std::string_view s) {
  return {s.begin(), s.end()};
}

// SoftwareCustodyTest gives each test a software custody under a fresh
// master key and a binding.
class SoftwareCustodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(custody_,
                         SoftwareCustody::New(*crypto::RandomSecret(32)));
  }
  std::unique_ptr<SoftwareCustody> custody_;
  std::vector<uint8_t> bind_ =
      B("vault1/key1/0123456789abcdef0123456789abcdef");
};

}  // namespace keyferry::custody::test_support

#endif  // KEYFERRY_CUSTODY_SOFTWARE_CUSTODY_TESTING_H_
