// Test-only: loads a vector file from tests/vectors/ (Wycheproof, RFCs) by
// name, relative to $KF_SOURCE_DIR (set by ctest). A missing file is a test
// failure, not a skip.
#ifndef KEYFERRY_CRYPTO_TEST_VECTORS_H_
#define KEYFERRY_CRYPTO_TEST_VECTORS_H_

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace keyferry::crypto {

inline nlohmann::json LoadTestVectors(const std::string& name) {
  const char* dir = std::getenv("KF_SOURCE_DIR");
  std::string path = std::string(dir ? dir : ".") + "/tests/vectors/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing vector file " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_TEST_VECTORS_H_
