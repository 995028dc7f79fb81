// Profiles: the destination rules of docs/byok-format.md §5 and the
// containers. The wrapped bytes themselves are opened by independent code
// in tests/integration/profiles_*_test.sh.
#include "byok/profile.h"

#include "base/encoding.h"
#include "base/json.h"
#include "base/testing.h"

namespace keyferry::byok {
namespace {

using crypto::OaepHash;
using K = TargetKind;

MethodOptions Enc(const std::string& v) {
  MethodOptions o;
  o.enc = v;
  return o;
}
MethodOptions Alg(const std::string& v) {
  MethodOptions o;
  o.wrapping_algorithm = v;
  return o;
}
MethodOptions Method(const std::string& v) {
  MethodOptions o;
  o.import_method = v;
  return o;
}
MethodOptions Hash(const std::string& v) {
  MethodOptions o;
  o.hash_function = v;
  return o;
}

Profile Resolve(const std::string& format, MethodOptions o = {}) {
  auto p = ResolveProfile(format, o);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : Profile{};
}

TEST(ProfileTest, DefaultsAndHashes) {
  Profile az = Resolve("azure");
  EXPECT_EQ(az.wrap.hash, OaepHash::kSha1);
  EXPECT_TRUE(az.wrap.hybrid);
  EXPECT_EQ(az.container, Container::kAzureByok);
  EXPECT_EQ(Resolve("azure-release").method, "CKM_RSA_AES_KEY_WRAP");
  EXPECT_EQ(Resolve("azure-release", Enc("RSA_AES_KEY_WRAP_384")).wrap.hash,
            OaepHash::kSha384);
  EXPECT_EQ(Resolve("vault").wrap.hash, OaepHash::kSha256);
  EXPECT_EQ(Resolve("vault", Hash("SHA512")).wrap.hash, OaepHash::kSha512);
  Profile oci = Resolve("oci");
  EXPECT_EQ(oci.method, "RSA_OAEP_AES_SHA256");
  EXPECT_TRUE(oci.wrap.hybrid);
  Profile aws = Resolve("aws", Alg("RSAES_OAEP_SHA_256"));
  EXPECT_FALSE(aws.wrap.hybrid);
  EXPECT_EQ(aws.wrap.hash, OaepHash::kSha256);
  Profile gcp = Resolve("gcp", Method("rsa-oaep-3072-sha1-aes-256"));
  EXPECT_EQ(gcp.wrapping_bits, std::vector<int>{3072});
  EXPECT_EQ(gcp.container, Container::kRaw);
}

TEST(ProfileTest, FailureUnknownOrMissingMethod) {
  EXPECT_THAT(ResolveProfile("azur", {}), StatusHasMessage("unknown --format"));
  EXPECT_THAT(ResolveProfile("aws", {}),
              StatusHasMessage("needs --wrapping-algorithm"));
  EXPECT_THAT(ResolveProfile("gcp", {}),
              StatusHasMessage("needs --import-method"));
  EXPECT_THAT(
      ResolveProfile("aws", Alg("RSAES_PKCS1_V1_5")),
      StatusHasMessage("unknown --wrapping-algorithm 'RSAES_PKCS1_V1_5'"));
  EXPECT_THAT(ResolveProfile("vault", Hash("SHA224")),
              StatusHasMessage("SHA1, SHA256, SHA384, SHA512"));
  EXPECT_THAT(
      ResolveProfile("azure", Method("rsa-oaep-3072-sha256")),
      StatusHasMessage("--import-method does not apply to --format azure"));
}

TEST(ProfileTest, WrappingKeySizes) {
  EXPECT_OK(CheckWrappingKey(Resolve("azure"), 2048));
  Profile gcp = Resolve("gcp", Method("rsa-oaep-4096-sha256"));
  EXPECT_OK(CheckWrappingKey(gcp, 4096));
  EXPECT_THAT(CheckWrappingKey(gcp, 3072),
              StatusHasMessage("this one has 3072"));
  EXPECT_THAT(CheckWrappingKey(Resolve("vault"), 2048),
              StatusHasMessage("RSA 4096-bit wrapping keys"));
  EXPECT_THAT(CheckWrappingKey(Resolve("oci"), 3072),
              StatusHasMessage("this one has 3072"));
}

TEST(ProfileTest, TargetRulesPerDestination) {
  Profile aws_direct = Resolve("aws", Alg("RSAES_OAEP_SHA_1"));
  EXPECT_OK(CheckTarget(aws_direct, K::kAes256, 2048));
  EXPECT_THAT(CheckTarget(aws_direct, K::kRsa2048, 4096),
              StatusHasMessage("does not take RSA-2048 keys"));
  EXPECT_THAT(CheckTarget(aws_direct, K::kAes128, 4096),
              StatusHasMessage("does not take AES-128"));
  EXPECT_THAT(CheckTarget(aws_direct, K::kEcP521, 2048),
              StatusHasMessage("cannot wrap EC P-521 keys under an RSA 2048"));
  EXPECT_OK(CheckTarget(aws_direct, K::kEcP521, 3072));
  Profile aws_hybrid = Resolve("aws", Alg("RSA_AES_KEY_WRAP_SHA_256"));
  EXPECT_OK(CheckTarget(aws_hybrid, K::kEcP521, 2048));
  EXPECT_THAT(CheckTarget(aws_hybrid, K::kAes256, 4096),
              StatusHasMessage("does not take AES-256"));
  Profile gcp = Resolve("gcp", Method("rsa-oaep-3072-sha256"));
  EXPECT_THAT(CheckTarget(gcp, K::kRsa3072, 3072),
              StatusHasMessage("does not take RSA-3072"));
  EXPECT_THAT(CheckTarget(gcp, K::kEcP521, 3072),
              StatusHasMessage("does not take EC P-521"));
  EXPECT_THAT(CheckTarget(Resolve("vault"), K::kEcSecp256k1, 4096),
              StatusHasMessage("does not take EC secp256k1"));
  EXPECT_THAT(CheckTarget(Resolve("oci"), K::kEcP256, 4096),
              StatusHasMessage("does not take EC P-256"));
  Profile oci_direct = Resolve("oci", Alg("RSA_OAEP_SHA256"));
  EXPECT_OK(CheckTarget(oci_direct, K::kAes128, 4096));
  EXPECT_OK(CheckTarget(oci_direct, K::kAes256, 4096));
  EXPECT_THAT(CheckTarget(oci_direct, K::kRsa2048, 4096),
              StatusHasMessage("does not take RSA-2048"));
}

TEST(ProfileTest, DirectLengthLimit) {
  Profile p = Resolve("aws", Alg("RSAES_OAEP_SHA_256"));
  EXPECT_OK(CheckDirectLength(p, 190, 256));  // 256 - 2*32 - 2
  EXPECT_THAT(CheckDirectLength(p, 191, 256),
              StatusHasMessage("at most 190 bytes under a 2048-bit key"));
  EXPECT_OK(CheckDirectLength(Resolve("azure"), 5000, 256));  // hybrid
  EXPECT_EQ(OaepMaxPayload(512, OaepHash::kSha1), 470u);
}

TEST(ProfileTest, Containers) {
  const std::vector<uint8_t> ct = {0xfb, 0xff, 0x00, 0x01};
  ContainerFields f;
  f.kid = "https://v.localhost/keys/k/0123456789abcdef0123456789abcdef";
  f.generator = "g";
  f.target = K::kRsa3072;
  ASSERT_OK_AND_ASSIGN(std::string raw,
                       WriteContainer(Resolve("gcp", Method("rsa-oaep-3072-"
                                                            "sha256")),
                                      ct, f));
  EXPECT_EQ(raw, std::string("\xfb\xff\x00\x01", 4));
  ASSERT_OK_AND_ASSIGN(std::string vault,
                       WriteContainer(Resolve("vault"), ct, f));
  EXPECT_EQ(vault,
            "{\"ciphertext\":\"+/8AAQ==\",\"hash_function\":\"SHA256\","
            "\"type\":\"rsa-3072\"}\n");
  ASSERT_OK_AND_ASSIGN(std::string oci, WriteContainer(Resolve("oci"), ct, f));
  EXPECT_EQ(oci,
            "{\"keyMaterial\":\"+/8AAQ==\",\"wrappingAlgorithm\":"
            "\"RSA_OAEP_AES_SHA256\"}\n");
  f.kid = "TpmEphemeralEncryptionKey";
  ASSERT_OK_AND_ASSIGN(
      std::string rel,
      WriteContainer(Resolve("azure-release", Enc("RSA_AES_KEY_WRAP_256")), ct,
                     f));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> inner, Base64UrlDecode(rel));
  EXPECT_EQ(AsString(inner),
            "{\"schema_version\":\"1.0\",\"header\":{\"kid\":"
            "\"TpmEphemeralEncryptionKey\",\"alg\":\"dir\",\"enc\":"
            "\"RSA_AES_KEY_WRAP_256\"},\"ciphertext\":\"-_8AAQ\"}");
  f.kid.clear();
  EXPECT_THAT(WriteContainer(Resolve("azure-release"), ct, f),
              StatusHasMessage("missing --kid"));
  f.target = K::kAes192;
  EXPECT_THAT(WriteContainer(Resolve("vault"), ct, f),
              StatusHasMessage("no key type for AES-192"));
}

TEST(ProfileTest, ClassifyTarget) {
  ASSERT_OK_AND_ASSIGN(K k, ClassifyTarget(crypto::KeyType::kEc, 256,
                                           crypto::Curve::kSecp256k1));
  EXPECT_EQ(k, K::kEcSecp256k1);
  EXPECT_THAT(ClassifyTarget(crypto::KeyType::kRsa, 1024, std::nullopt),
              StatusHasMessage("not 1024"));
}

}  // namespace
}  // namespace keyferry::byok
