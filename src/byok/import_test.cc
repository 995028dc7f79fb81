#include "byok/import.h"

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/testing.h"
#include "byok/blob.h"
#include "crypto/keys.h"
#include "crypto/mac.h"

namespace keyferry::byok {
namespace {

crypto::EvpPkeyPtr Kek() {
  absl::StatusOr<crypto::EvpPkeyPtr> k = crypto::GenerateRsa(2048);
  EXPECT_TRUE(k.ok());
  return std::move(*k);
}

Profile Resolve(const std::string& format, MethodOptions o = {}) {
  absl::StatusOr<Profile> p = ResolveProfile(format, o);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : Profile{};
}

MethodOptions Alg(const std::string& v) {
  MethodOptions o;
  o.wrapping_algorithm = v;
  return o;
}

// Every container export writes reads back with the profile's hash and
// hybrid/direct, the ciphertext intact.
TEST(ReadTransferBlobTest, RoundTripsEveryContainer) {
  const std::vector<uint8_t> ct(384 + 40, 0xa5);
  MethodOptions vault_sha1, gcp, release;
  vault_sha1.hash_function = "SHA1";
  gcp.import_method = "rsa-oaep-3072-sha256";
  release.enc = "RSA_AES_KEY_WRAP_256";
  const std::vector<Profile> profiles = {
      Resolve("aws", Alg("RSA_AES_KEY_WRAP_SHA_1")),
      Resolve("aws", Alg("RSAES_OAEP_SHA_256")),
      Resolve("gcp", gcp),
      Resolve("vault", vault_sha1),
      Resolve("oci"),
      Resolve("oci", Alg("RSA_OAEP_SHA256")),
      Resolve("azure-release", release),
  };
  ContainerFields fields;
  fields.kid = "https://v.localhost/keys/KEKB/0123456789abcdef0123456789abcdef";
  for (const Profile& p : profiles) {
    SCOPED_TRACE(p.format + " " + p.method);
    ASSERT_OK_AND_ASSIGN(std::string text, WriteContainer(p, ct, fields));
    ASSERT_OK_AND_ASSIGN(TransferBlob t, ReadTransferBlob(p, text));
    EXPECT_EQ(t.ciphertext, ct);
    EXPECT_EQ(t.oaep_hash, p.wrap.hash);
    EXPECT_EQ(t.hybrid, p.wrap.hybrid);
    EXPECT_EQ(t.kid.has_value(), p.format == "azure-release");
  }
}

TEST(ReadTransferBlobTest, FailureMethodDiffersFromTheFile) {
  const std::vector<uint8_t> ct(512 + 40, 1);
  MethodOptions sha1, sha256;
  sha1.hash_function = "SHA1";
  sha256.hash_function = "SHA256";
  ASSERT_OK_AND_ASSIGN(std::string vault,
                       WriteContainer(Resolve("vault", sha256), ct, {}));
  EXPECT_THAT(ReadTransferBlob(Resolve("vault", sha1), vault),
              StatusHasMessage("hash_function is 'SHA256'"));
  ASSERT_OK_AND_ASSIGN(std::string oci,
                       WriteContainer(Resolve("oci"), ct, {}));
  EXPECT_THAT(ReadTransferBlob(Resolve("oci", Alg("RSA_OAEP_SHA256")), oci),
              StatusHasMessage("wrappingAlgorithm is 'RSA_OAEP_AES_SHA256'"));
  ContainerFields fields;
  fields.kid = "k";
  ASSERT_OK_AND_ASSIGN(std::string rel,
                       WriteContainer(Resolve("azure-release"), ct, fields));
  MethodOptions enc256;
  enc256.enc = "RSA_AES_KEY_WRAP_256";
  EXPECT_THAT(ReadTransferBlob(Resolve("azure-release", enc256), rel),
              StatusHasMessage("header.enc is 'CKM_RSA_AES_KEY_WRAP'"));
  EXPECT_THAT(ReadTransferBlob(Resolve("vault", sha1), "{\"ciphertext\":1}"),
              StatusHasMessage("missing string"));
  EXPECT_THAT(ReadTransferBlob(Resolve("azure-release"), "!!"),
              StatusHasMessage("not base64url"));
}

TEST(TokenKekKidTest, VersionIsTheSpkiFingerprint) {
  crypto::EvpPkeyPtr kek = Kek();
  ASSERT_OK_AND_ASSIGN(std::string kid, TokenKekKid("KEKB", kek.get()));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> spki,
                       crypto::PublicKeyToDer(kek.get()));
  std::vector<uint8_t> digest = crypto::Sha256(spki);
  digest.resize(16);
  EXPECT_EQ(kid, absl::StrCat("https://hsm.keyferry.invalid/keys/KEKB/",
                              HexEncode(digest)));
  EXPECT_OK(ParseKeyId(kid).status());
}

TEST(TokenKekKidTest, FailureLabelIsNotAKeyName) {
  crypto::EvpPkeyPtr kek = Kek();
  EXPECT_THAT(TokenKekKid("bad label", kek.get()),
              StatusHasMessage("a KEK label must be a key name"));
  EXPECT_THAT(CheckKekLabel("a/b"),
              StatusHasMessage("a KEK label must be a key name"));
  EXPECT_THAT(CheckKekLabel(""),
              StatusHasMessage("a KEK label must be a key name"));
  EXPECT_OK(CheckKekLabel("KEK-for-BYOK-2"));
}

TEST(CheckBlobKekTest, AcceptsItsOwnKidWhateverTheHost) {
  crypto::EvpPkeyPtr kek = Kek();
  ASSERT_OK_AND_ASSIGN(std::string kid, TokenKekKid("KEKB", kek.get()));
  TransferBlob blob;
  blob.kid = kid;
  EXPECT_OK(CheckBlobKek(blob, "KEKB", kek.get()));
  ASSERT_OK_AND_ASSIGN(KeyId id, ParseKeyId(kid));
  id.host = "elsewhere.example:8443";
  blob.kid = id.ToString();
  EXPECT_OK(CheckBlobKek(blob, "KEKB", kek.get()));
  blob.kid.reset();
  EXPECT_OK(CheckBlobKek(blob, "KEKB", kek.get()));
}

TEST(CheckBlobKekTest, FailureOtherKeyOrName) {
  crypto::EvpPkeyPtr kek = Kek(), other = Kek();
  ASSERT_OK_AND_ASSIGN(std::string kid, TokenKekKid("KEKB", other.get()));
  TransferBlob blob;
  blob.kid = kid;
  EXPECT_THAT(CheckBlobKek(blob, "KEKB", kek.get()),
              StatusHasMessage("the blob's kid names KEK KEKB/"));
  ASSERT_OK_AND_ASSIGN(blob.kid, TokenKekKid("KEKC", kek.get()));
  EXPECT_THAT(CheckBlobKek(blob, "KEKB", kek.get()),
              StatusHasMessage("the blob's kid names KEK KEKC/"));
}

TEST(ReadTransferBlobTest, AzureBlob) {
  Blob b;
  b.kid = "https://v.localhost/keys/KEKB/0123456789abcdef0123456789abcdef";
  b.ciphertext = std::vector<uint8_t>(256 + 40, 0x5a);
  ASSERT_OK_AND_ASSIGN(
      TransferBlob t, ReadTransferBlob(Resolve("azure"), SerializeBlob(b)));
  EXPECT_EQ(t.ciphertext, b.ciphertext);
  EXPECT_EQ(t.kid, b.kid);
  EXPECT_EQ(t.oaep_hash, crypto::OaepHash::kSha1);
}

TEST(ReadTransferBlobTest, FailureDamagedContainer) {
  EXPECT_THAT(ReadTransferBlob(Resolve("azure"), "{\"schema_version\":"),
              StatusHasMessage("byok blob:"));
  Blob b;
  b.kid = "https://v.localhost/keys/KEKB/0123456789abcdef0123456789abcdef";
  b.ciphertext = std::vector<uint8_t>(296, 1);
  b.enc = "RSA-OAEP";
  EXPECT_THAT(ReadTransferBlob(Resolve("azure"), SerializeBlob(b)),
              StatusHasMessage("header.enc"));
}

}  // namespace
}  // namespace keyferry::byok
