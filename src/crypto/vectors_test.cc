// Wycheproof and RFC 5649 vectors against keyferry's AES key wrap and
// RSA-OAEP. Every vector is checked; SCOPED_TRACE names the failing tcId.
#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/aes_wrap.h"
#include "crypto/keys.h"
#include "crypto/rsa_oaep.h"
#include "crypto/test_vectors.h"

namespace keyferry::crypto {
namespace {

using json = nlohmann::json;

json Load(const std::string& name) { return LoadTestVectors(name); }

std::vector<uint8_t> Hex(const json& j) {
  return *HexDecode(j.get<std::string>());
}
SecretBytes SecretHex(const json& j) {
  return *HexDecodeSecret(j.get<std::string>());
}
std::vector<uint8_t> Bytes(const SecretBytes& s) {
  auto d = s.data(SecretAccess::Get());
  return {d.begin(), d.end()};
}

int CountTests(const json& doc) {
  int n = 0;
  for (const auto& g : doc["testGroups"])
    n += static_cast<int>(g["tests"].size());
  return n;
}

// RunKeyWrap checks wrap and unwrap for every test: valid vectors must
// round-trip exactly; invalid ones must fail to unwrap (and, where the
// message itself is unwrappable, the ciphertext must differ).
void RunKeyWrap(const std::string& file, bool padded) {
  json doc = Load(file);
  int checked = 0;
  for (const auto& g : doc["testGroups"]) {
    for (const auto& t : g["tests"]) {
      SCOPED_TRACE(file + " tcId " + std::to_string(t["tcId"].get<int>()));
      SecretBytes key = SecretHex(t["key"]);
      SecretBytes msg = SecretHex(t["msg"]);
      std::vector<uint8_t> ct = Hex(t["ct"]);
      std::string result = t["result"];
      auto unwrapped = padded ? KwpUnwrap(key, ct) : KwUnwrap(key, ct);
      if (result == "valid") {
        ASSERT_OK(unwrapped);
        EXPECT_EQ(Bytes(*unwrapped), Bytes(msg));
        auto wrapped = padded ? KwpWrap(key, msg) : KwWrap(key, msg);
        ASSERT_OK(wrapped);
        EXPECT_EQ(*wrapped, ct);
      } else if (result == "invalid") {
        EXPECT_FALSE(unwrapped.ok());
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, doc["numberOfTests"].get<int>());
  EXPECT_EQ(checked, CountTests(doc));
}

TEST(WycheproofTest, AesKwp) { RunKeyWrap("aes_kwp_test.json", true); }
TEST(WycheproofTest, AesKw) { RunKeyWrap("aes_wrap_test.json", false); }

TEST(Rfc5649Test, SectionSixVectors) {
  json doc = Load("rfc5649.json");
  ASSERT_EQ(doc["tests"].size(), 2u);
  for (const auto& t : doc["tests"]) {
    SecretBytes kek = SecretHex(t["kek"]);
    SecretBytes key = SecretHex(t["key"]);
    ASSERT_OK_AND_ASSIGN(auto wrapped, KwpWrap(kek, key));
    EXPECT_EQ(HexEncode(wrapped), t["wrapped"].get<std::string>());
    ASSERT_OK_AND_ASSIGN(SecretBytes back, KwpUnwrap(kek, wrapped));
    EXPECT_TRUE(back.ConstantTimeEquals(key));
  }
}

absl::StatusOr<OaepHash> HashByName(const std::string& n) {
  if (n == "SHA-1") return OaepHash::kSha1;
  if (n == "SHA-256") return OaepHash::kSha256;
  if (n == "SHA-384") return OaepHash::kSha384;
  if (n == "SHA-512") return OaepHash::kSha512;
  return absl::UnimplementedError(n);
}

// RunOaep decrypts every test of the groups whose hashes keyferry supports.
// Returns the number of tests checked.
int RunOaep(const std::string& file) {
  json doc = Load(file);
  int checked = 0;
  for (const auto& g : doc["testGroups"]) {
    auto hash = HashByName(g["sha"]);
    auto mgf = HashByName(g["mgfSha"]);
    if (!hash.ok() || !mgf.ok()) continue;
    SecretBytes der = SecretHex(g["privateKeyPkcs8"]);
    auto key = ParsePkcs8Der(der, false);
    EXPECT_OK(key);
    if (!key.ok()) continue;
    // The PEM form must parse to the same key.
    std::string pem = g["privateKeyPem"];
    auto from_pem = ParsePrivateKey(SecretBytes(AsBytes(pem)));
    EXPECT_OK(from_pem);
    if (from_pem.ok()) {
      EXPECT_TRUE(PublicKeysEqual(key->get(), from_pem->get()));
    }
    for (const auto& t : g["tests"]) {
      SCOPED_TRACE(file + " tcId " + std::to_string(t["tcId"].get<int>()));
      std::vector<uint8_t> ct = Hex(t["ct"]);
      std::vector<uint8_t> label = Hex(t["label"]);
      auto pt = RsaOaepDecryptMgf(key->get(), *hash, *mgf, ct, label);
      std::string result = t["result"];
      if (result == "valid") {
        EXPECT_OK(pt);
        if (pt.ok()) {
          EXPECT_EQ(HexEncode(Bytes(*pt)), t["msg"].get<std::string>());
        }
      } else if (result == "invalid") {
        EXPECT_FALSE(pt.ok());
        if (!pt.ok()) {
          EXPECT_EQ(std::string(pt.status().message()),
                    "RSA-OAEP decryption failed");
        }
      }
      ++checked;
    }
  }
  return checked;
}

TEST(WycheproofTest, RsaOaep2048Sha1) {
  json doc = Load("rsa_oaep_2048_sha1_mgf1sha1_test.json");
  EXPECT_EQ(RunOaep("rsa_oaep_2048_sha1_mgf1sha1_test.json"),
            doc["numberOfTests"].get<int>());
}

TEST(WycheproofTest, RsaOaepMiscSupportedHashes) {
  // Includes SHA-1/MGF1-SHA-1 at 3072 and 4096 bits, Azure's KEK sizes.
  EXPECT_GT(RunOaep("rsa_oaep_misc_test.json"), 150);
}

}  // namespace
}  // namespace keyferry::crypto
