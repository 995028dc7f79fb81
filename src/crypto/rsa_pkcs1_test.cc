// RSAES-PKCS1-v1_5 decryption with implicit rejection: the OpenSSL and
// draft-irtf-cfrg-rsa-guidance Appendix B vectors as parameterized tests
// (tests/vectors/README.md), Wycheproof's rsa_pkcs1_2048 vectors, the
// decoding rules on hand-built encoded messages, and the failure contracts.
// The round trip of our own ciphertexts is in cipher_test.cc.
#include "crypto/rsa_pkcs1.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/cipher.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/test_vectors.h"

namespace keyferry::crypto {
namespace {

using json = nlohmann::json;

constexpr char kVectors[] = "rsa_pkcs1_implicit_rejection_test.json";
constexpr int kVectorCount = 72;

std::vector<uint8_t> Hex(std::string_view h) { return *HexDecode(h); }
std::vector<uint8_t> Bytes(const SecretBytes& s) {
  auto d = s.data(SecretAccess::Get());
  return {d.begin(), d.end()};
}
SecretBytes Secret(std::span<const uint8_t> b) { return SecretBytes(b); }

EvpPkeyPtr KeyFromHex(const std::string& pkcs8) {
  absl::StatusOr<EvpPkeyPtr> k =
      ParsePkcs8Der(*HexDecodeSecret(pkcs8), /*allow_trailing_zeros=*/false);
  return k.ok() ? std::move(*k) : nullptr;
}

// One vector of the implicit rejection file.
struct IrVector {
  int tc_id = 0;
  int key_bits = 0;
  std::string source, comment, key, ct, msg;
  bool valid = false;
};

// LoadIrVectors reads the vector file when the tests are registered (also
// by --gtest_list_tests at build time, from the source directory). A file
// that does not load yields no vectors; VectorFileIsComplete then fails.
std::vector<IrVector> LoadIrVectors() {
  std::vector<IrVector> out;
  const char* dir = std::getenv("KF_SOURCE_DIR");
  std::ifstream in(std::string(dir ? dir : ".") + "/tests/vectors/" + kVectors);
  json doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("testGroups")) return out;
  for (const json& g : doc["testGroups"]) {
    for (const json& t : g["tests"]) {
      IrVector v;
      v.tc_id = t["tcId"].get<int>();
      v.key_bits = g["keyBits"].get<int>();
      v.source = g["source"].get<std::string>();
      v.comment = t["comment"].get<std::string>();
      v.key = g["privateKeyPkcs8"].get<std::string>();
      v.ct = t["ct"].get<std::string>();
      v.msg = t["msg"].get<std::string>();
      v.valid = t["result"].get<std::string>() == "valid";
      out.push_back(std::move(v));
    }
  }
  return out;
}

// PrintTo names a vector in test listings (not its bytes).
void PrintTo(const IrVector& v, std::ostream* os) {
  *os << v.source << " tcId " << v.tc_id;
}

class ImplicitRejectionVectorTest : public ::testing::TestWithParam<IrVector> {
};

TEST_P(ImplicitRejectionVectorTest, DecryptsToTheExpectedMessage) {
  const IrVector& v = GetParam();
  SCOPED_TRACE(v.source + ": " + v.comment);
  EvpPkeyPtr key = KeyFromHex(v.key);
  ASSERT_NE(key, nullptr);
  const std::vector<uint8_t> ct = Hex(v.ct);
  ASSERT_OK_AND_ASSIGN(SecretBytes pt,
                       RsaPkcs1DecryptImplicitRejection(key.get(), ct));
  EXPECT_EQ(HexEncode(Bytes(pt)), v.msg);
  // The same input, the same answer.
  ASSERT_OK_AND_ASSIGN(SecretBytes again,
                       RsaPkcs1DecryptImplicitRejection(key.get(), ct));
  EXPECT_TRUE(again.ConstantTimeEquals(pt));
}

// The three steps one by one: a valid message does not depend on the KDK,
// a synthetic one is made from it (another KDK, another message).
TEST_P(ImplicitRejectionVectorTest, OnlySyntheticMessagesDependOnTheKdk) {
  const IrVector& v = GetParam();
  SCOPED_TRACE(v.source + ": " + v.comment);
  EvpPkeyPtr key = KeyFromHex(v.key);
  ASSERT_NE(key, nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> c,
                       PadRsaCiphertext(key.get(), Hex(v.ct)));
  EXPECT_EQ(c.size(), static_cast<size_t>((v.key_bits + 7) / 8));
  ASSERT_OK_AND_ASSIGN(SecretBytes em, RsaRawDecrypt(key.get(), c));
  ASSERT_OK_AND_ASSIGN(SecretBytes kdk, RsaImplicitRejectionKdk(key.get(), c));
  ASSERT_OK_AND_ASSIGN(SecretBytes pt,
                       RsaPkcs1DecodeImplicitRejection(em, kdk));
  EXPECT_EQ(HexEncode(Bytes(pt)), v.msg);
  SecretBytes other_kdk(std::vector<uint8_t>(kImplicitRejectionKdkBytes, 0x5a));
  ASSERT_OK_AND_ASSIGN(SecretBytes other,
                       RsaPkcs1DecodeImplicitRejection(em, other_kdk));
  if (v.valid) {
    EXPECT_EQ(HexEncode(Bytes(other)), v.msg);
  } else {
    EXPECT_NE(HexEncode(Bytes(other)), v.msg);
  }
}

INSTANTIATE_TEST_SUITE_P(OpenSslAndDraft, ImplicitRejectionVectorTest,
                         ::testing::ValuesIn(LoadIrVectors()),
                         [](const ::testing::TestParamInfo<IrVector>& info) {
                           return "tc" + std::to_string(info.param.tc_id) +
                                  "_" + std::to_string(info.param.key_bits) +
                                  (info.param.valid ? "_valid" : "_synthetic");
                         });

TEST(ImplicitRejectionTest, VectorFileIsComplete) {
  json doc = LoadTestVectors(kVectors);
  std::vector<IrVector> all = LoadIrVectors();
  EXPECT_EQ(static_cast<int>(all.size()), kVectorCount);
  EXPECT_EQ(doc["numberOfTests"].get<int>(), kVectorCount);
  int valid = 0;
  for (const IrVector& v : all) valid += v.valid ? 1 : 0;
  EXPECT_EQ(valid, 24);
}

TEST(ImplicitRejectionTest, CorruptedCiphertextsGiveStableSyntheticMessages) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateRsa(2048));
  const std::vector<uint8_t> msg(32, 0x42);
  ASSERT_OK_AND_ASSIGN(auto ct, RsaPkcs1Encrypt(key.get(), msg));
  int differ = 0;
  for (size_t i : {size_t{1}, size_t{100}, size_t{255}}) {
    SCOPED_TRACE(i);
    std::vector<uint8_t> bad = ct;
    bad[i] ^= 0x01;
    ASSERT_OK_AND_ASSIGN(SecretBytes a,
                         RsaPkcs1DecryptImplicitRejection(key.get(), bad));
    ASSERT_OK_AND_ASSIGN(SecretBytes b,
                         RsaPkcs1DecryptImplicitRejection(key.get(), bad));
    EXPECT_TRUE(a.ConstantTimeEquals(b));
    EXPECT_LE(a.size(), 256u - 11u);
    differ += Bytes(a) != msg ? 1 : 0;
  }
  EXPECT_EQ(differ, 3);
}

TEST(ImplicitRejectionTest, AnotherKeyGivesAnotherSyntheticMessage) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr k1, GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr k2, GenerateRsa(2048));
  // A leading zero keeps the integer below either modulus; random octets
  // are a valid encoding under neither key but with negligible probability.
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ct, RandomBytes(256));
  ct[0] = 0;
  ASSERT_OK_AND_ASSIGN(SecretBytes a,
                       RsaPkcs1DecryptImplicitRejection(k1.get(), ct));
  ASSERT_OK_AND_ASSIGN(SecretBytes b,
                       RsaPkcs1DecryptImplicitRejection(k2.get(), ct));
  EXPECT_NE(Bytes(a), Bytes(b));
  // And another ciphertext under the same key, another message.
  ct[255] ^= 1;
  ASSERT_OK_AND_ASSIGN(SecretBytes c,
                       RsaPkcs1DecryptImplicitRejection(k1.get(), ct));
  EXPECT_NE(Bytes(a), Bytes(c));
}

// EncodedMessage builds 0x00 0x02 PS 0x00 M of `k` octets with `ps` nonzero
// padding octets.
std::vector<uint8_t> EncodedMessage(size_t k, size_t ps,
                                    std::span<const uint8_t> m) {
  std::vector<uint8_t> em = {0x00, 0x02};
  em.insert(em.end(), ps, 0xff);
  em.push_back(0x00);
  em.insert(em.end(), m.begin(), m.end());
  EXPECT_EQ(em.size(), k);
  return em;
}

TEST(ImplicitRejectionTest, DecodingRules) {
  constexpr size_t k = 64;
  const SecretBytes kdk(std::vector<uint8_t>(32, 7));
  // Every invalid encoding gives the one synthetic message of this KDK.
  std::vector<uint8_t> zeros(k, 0);
  ASSERT_OK_AND_ASSIGN(SecretBytes synthetic,
                       RsaPkcs1DecodeImplicitRejection(Secret(zeros), kdk));
  EXPECT_LE(synthetic.size(), k - 11);
  const std::vector<uint8_t> longest(k - 11, 0x33);
  const std::vector<uint8_t> middle(41, 0x44);
  struct Case {
    const char* name;
    std::vector<uint8_t> em;
    std::optional<std::vector<uint8_t>> message;  // nullopt: synthetic
  };
  std::vector<Case> cases = {
      {"PS of 8 octets, longest message", EncodedMessage(k, 8, longest),
       longest},
      {"PS of 20 octets", EncodedMessage(k, 20, middle), middle},
      {"empty message", EncodedMessage(k, k - 3, {}), std::vector<uint8_t>{}},
  };
  std::vector<uint8_t> em = EncodedMessage(k, 20, middle);
  em[0] = 0x01;
  cases.push_back({"first octet 01", em, std::nullopt});
  em[0] = 0x00;
  em[1] = 0x01;
  cases.push_back({"second octet 01", em, std::nullopt});
  em[1] = 0x02;
  em[2 + 7] = 0x00;  // the first zero after 7 octets of PS
  cases.push_back({"PS of 7 octets", em, std::nullopt});
  em[2] = 0x00;
  cases.push_back({"PS of 0 octets", em, std::nullopt});
  std::fill(em.begin() + 2, em.end(), 0x09);
  cases.push_back({"no separator", em, std::nullopt});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_OK_AND_ASSIGN(SecretBytes out,
                         RsaPkcs1DecodeImplicitRejection(Secret(c.em), kdk));
    if (c.message) {
      EXPECT_EQ(Bytes(out), *c.message);
    } else {
      EXPECT_TRUE(out.ConstantTimeEquals(synthetic));
    }
  }
}

// ReferenceSynthetic is the draft's §7.2 steps 3.b and 3.c written plainly
// (branches, no masks) with OpenSSL's one-shot HMAC: the synthetic message
// for KDK `kdk` and k octets.
std::vector<uint8_t> ReferenceSynthetic(const std::vector<uint8_t>& kdk,
                                        size_t k) {
  auto irprf = [&](std::string_view label, size_t length) {
    std::vector<uint8_t> out;
    for (uint16_t i = 0; out.size() < length; ++i) {
      std::vector<uint8_t> in = {static_cast<uint8_t>(i >> 8),
                                 static_cast<uint8_t>(i)};
      in.insert(in.end(), label.begin(), label.end());
      in.push_back(static_cast<uint8_t>((length * 8) >> 8));
      in.push_back(static_cast<uint8_t>(length * 8));
      uint8_t mac[32];
      size_t n = 0;
      EXPECT_NE(
          EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, kdk.data(),
                    kdk.size(), in.data(), in.size(), mac, sizeof mac, &n),
          nullptr);
      out.insert(out.end(), mac, mac + n);
    }
    out.resize(length);
    return out;
  };
  const std::vector<uint8_t> cl = irprf("length", 256);
  const std::vector<uint8_t> am = irprf("message", k);
  const size_t max_length = k - 11;
  size_t bit_length = 0;
  while ((max_length >> bit_length) != 0) ++bit_length;
  size_t length = 0;
  for (size_t i = 0; i < cl.size(); i += 2) {
    const size_t candidate =
        ((size_t{cl[i]} << 8) | cl[i + 1]) & ((size_t{1} << bit_length) - 1);
    if (candidate <= max_length) length = candidate;
  }
  return std::vector<uint8_t>(am.end() - static_cast<ptrdiff_t>(length),
                              am.end());
}

// The synthetic message against the plain reading of the draft, for sizes
// where k - 10 is a power of two (138, 266: the candidate mask follows the
// bit length of k - 11, as the draft says) and ordinary ones.
TEST(ImplicitRejectionTest, SyntheticMessageFollowsTheDraftForEverySize) {
  for (size_t k : {size_t{11}, size_t{64}, size_t{138}, size_t{256},
                   size_t{257}, size_t{266}, size_t{384}, size_t{512}}) {
    SCOPED_TRACE(k);
    for (uint8_t seed : {1, 2, 3}) {
      const std::vector<uint8_t> kdk(32, seed);
      ASSERT_OK_AND_ASSIGN(
          SecretBytes got,
          RsaPkcs1DecodeImplicitRejection(
              SecretBytes(std::vector<uint8_t>(k, 0)), SecretBytes(kdk)));
      EXPECT_EQ(Bytes(got), ReferenceSynthetic(kdk, k));
    }
  }
}

TEST(ImplicitRejectionTest, FailureContracts) {
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr ec, GenerateEc(Curve::kP256));
  EXPECT_THAT(RsaPkcs1DecryptImplicitRejection(ec.get(), {}),
              StatusHasMessage("needs an RSA key"));
  EXPECT_THAT(RsaPkcs1DecryptImplicitRejection(nullptr, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Longer than the modulus, or not below it: public facts, one message.
  EXPECT_THAT(
      RsaPkcs1DecryptImplicitRejection(key.get(), std::vector<uint8_t>(257, 0)),
      StatusHasMessage("RSA1_5 decryption failed"));
  EXPECT_THAT(RsaPkcs1DecryptImplicitRejection(key.get(),
                                               std::vector<uint8_t>(256, 0xff)),
              StatusHasMessage("RSA1_5 decryption failed"));
  // A public key has no d.
  ASSERT_OK_AND_ASSIGN(std::string jwk, PublicKeyToJwk(key.get()));
  ASSERT_OK_AND_ASSIGN(EvpPkeyPtr pub, ParsePublicKey(AsBytes(jwk)));
  EXPECT_THAT(RsaImplicitRejectionKdk(pub.get(), std::vector<uint8_t>(256, 1)),
              StatusHasMessage("private key"));
  EXPECT_THAT(RsaImplicitRejectionKdk(key.get(), std::vector<uint8_t>(255, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RsaRawDecrypt(key.get(), std::vector<uint8_t>(255, 1)),
              StatusHasMessage("RSA1_5 decryption failed"));
  const SecretBytes kdk(std::vector<uint8_t>(32, 1));
  EXPECT_THAT(RsaPkcs1DecodeImplicitRejection(
                  SecretBytes(std::vector<uint8_t>(10, 0)), kdk),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      RsaPkcs1DecodeImplicitRejection(SecretBytes(std::vector<uint8_t>(256, 0)),
                                      SecretBytes(std::vector<uint8_t>(31, 1))),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

// Wycheproof rsa_pkcs1_2048: valid vectors decrypt to their message; bad
// padding is never an error but a message that is not the one encrypted;
// only the public format errors (longer than the modulus, not below it)
// fail. Wycheproof lists empty and truncated ciphertexts as invalid: they
// are read left-padded, as OpenSSL does, and so decrypt implicitly rejected.
TEST(WycheproofTest, RsaPkcs1DecryptImplicitRejection2048) {
  json doc = LoadTestVectors("rsa_pkcs1_2048_test.json");
  int checked = 0, valid = 0, padding = 0, format_errors = 0;
  for (const auto& g : doc["testGroups"]) {
    SecretBytes der = *HexDecodeSecret(g["privateKeyPkcs8"].get<std::string>());
    ASSERT_OK_AND_ASSIGN(EvpPkeyPtr key, ParsePkcs8Der(der, false));
    for (const auto& t : g["tests"]) {
      SCOPED_TRACE("rsa_pkcs1_2048_test.json tcId " +
                   std::to_string(t["tcId"].get<int>()));
      std::vector<uint8_t> msg = Hex(t["msg"].get<std::string>());
      std::vector<uint8_t> ct = Hex(t["ct"].get<std::string>());
      auto pt = RsaPkcs1DecryptImplicitRejection(key.get(), ct);
      const bool format =
          std::find(t["flags"].begin(), t["flags"].end(),
                    "InvalidCiphertextFormat") != t["flags"].end();
      if (t["result"] == "valid") {
        ASSERT_OK(pt);
        EXPECT_EQ(Bytes(*pt), msg);
        ++valid;
      } else if (format && (ct.size() > 256 || !pt.ok())) {
        EXPECT_THAT(pt, StatusHasMessage("RSA1_5 decryption failed"));
        ++format_errors;
      } else {
        ASSERT_OK(pt);
        EXPECT_NE(Bytes(*pt), msg);
        EXPECT_LE(pt->size(), 256u - 11u);
        ASSERT_OK_AND_ASSIGN(SecretBytes again,
                             RsaPkcs1DecryptImplicitRejection(key.get(), ct));
        EXPECT_TRUE(again.ConstantTimeEquals(*pt));
        ++padding;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, doc["numberOfTests"].get<int>());
  EXPECT_EQ(valid, 42);
  EXPECT_EQ(padding, 21);  // 19 bad paddings, the empty and the truncated one
  EXPECT_EQ(format_errors, 4);
}

}  // namespace
}  // namespace keyferry::crypto
