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

TEST(ImportFormatTest, AzureOnly) {
  ASSERT_OK_AND_ASSIGN(ImportFormat f, ParseImportFormat("azure"));
  EXPECT_EQ(f, ImportFormat::kAzure);
  EXPECT_THAT(ParseImportFormat("aws"), StatusHasMessage("unknown --format"));
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
      TransferBlob t, ReadTransferBlob(ImportFormat::kAzure, SerializeBlob(b)));
  EXPECT_EQ(t.ciphertext, b.ciphertext);
  EXPECT_EQ(t.kid, b.kid);
  EXPECT_EQ(t.oaep_hash, crypto::OaepHash::kSha1);
}

TEST(ReadTransferBlobTest, FailureDamagedContainer) {
  EXPECT_THAT(ReadTransferBlob(ImportFormat::kAzure, "{\"schema_version\":"),
              StatusHasMessage("byok blob:"));
  Blob b;
  b.kid = "https://v.localhost/keys/KEKB/0123456789abcdef0123456789abcdef";
  b.ciphertext = std::vector<uint8_t>(296, 1);
  b.enc = "RSA-OAEP";
  EXPECT_THAT(ReadTransferBlob(ImportFormat::kAzure, SerializeBlob(b)),
              StatusHasMessage("header.enc"));
}

}  // namespace
}  // namespace keyferry::byok
