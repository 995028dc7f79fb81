#include <sys/stat.h>
#include <unistd.h>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "byok/envelope.h"
#include "crypto/aead.h"
#include "crypto/aes_wrap.h"
#include "crypto/cipher.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"
#include "crypto/rsa_pkcs1.h"
#include "crypto/sign.h"
#include "custody/cipher_rules.h"
#include "custody/master_key.h"
#include "custody/software_custody.h"
#include "custody/software_custody_testing.h"

namespace keyferry::custody {
namespace {

using test_support::B;
using test_support::SoftwareCustodyTest;

std::string TempDir() {
  char t[] = "/tmp/kf_custody.XXXXXX";
  return mkdtemp(t);
}

TEST(MasterKeyTest, CreateThenLoadSameKey) {
  std::string path = TempDir() + "/master.key";
  bool created = false;
  ASSERT_OK_AND_ASSIGN(
      SecretBytes a,
      LoadOrCreateMasterKey(path, &created, MasterKeyPolicy::kFindOrCreate));
  EXPECT_TRUE(created);
  EXPECT_EQ(a.size(), 32u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK_AND_ASSIGN(
      SecretBytes b,
      LoadOrCreateMasterKey(path, &created, MasterKeyPolicy::kFindOrCreate));
  EXPECT_FALSE(created);
  EXPECT_TRUE(a.ConstantTimeEquals(b));
}

TEST(MasterKeyTest, FailureReadableByOthers) {
  std::string path = TempDir() + "/master.key";
  bool created;
  ASSERT_OK(
      LoadOrCreateMasterKey(path, &created, MasterKeyPolicy::kFindOrCreate)
          .status());
  chmod(path.c_str(), 0644);
  EXPECT_THAT(
      LoadOrCreateMasterKey(path, &created, MasterKeyPolicy::kFindOrCreate),
      StatusHasMessage("must be 0600"));
}

TEST(CheckRecoveredKeyTest, AcceptsWhatWasAskedFor) {
  EXPECT_OK(CheckRecoveredKey({KeyKind::kRsa, 3072, std::nullopt},
                              {KeyKind::kRsa, 0, std::nullopt}));
  EXPECT_OK(CheckRecoveredKey({KeyKind::kRsa, 3072, std::nullopt},
                              {KeyKind::kRsa, 3072, std::nullopt}));
  EXPECT_OK(CheckRecoveredKey({KeyKind::kEc, 256, crypto::Curve::kP256},
                              {KeyKind::kEc, 0, std::nullopt}));
  // EC bits are the curve's: a size in the request is not compared.
  EXPECT_OK(CheckRecoveredKey({KeyKind::kEc, 384, crypto::Curve::kP384},
                              {KeyKind::kEc, 256, crypto::Curve::kP384}));
  EXPECT_OK(CheckRecoveredKey({KeyKind::kOct, 192, std::nullopt},
                              {KeyKind::kOct, 192, std::nullopt}));
}

TEST(CheckRecoveredKeyTest, FailureMismatchesNameWhatDiffers) {
  EXPECT_THAT(
      CheckRecoveredKey({KeyKind::kEc, 256, crypto::Curve::kP256},
                        {KeyKind::kRsa, 0, std::nullopt}),
      StatusHasMessage("the key in the blob is EC, but kty asks for RSA"));
  EXPECT_THAT(CheckRecoveredKey({KeyKind::kRsa, 1024, std::nullopt},
                                {KeyKind::kRsa, 0, std::nullopt}),
              StatusHasMessage("this one has 1024"));
  EXPECT_THAT(CheckRecoveredKey({KeyKind::kEc, 256, crypto::Curve::kP256},
                                {KeyKind::kEc, 0, crypto::Curve::kP384}),
              StatusHasMessage("is on P-256, but crv asks for P-384"));
  EXPECT_THAT(CheckRecoveredKey({KeyKind::kOct, 128, std::nullopt},
                                {KeyKind::kOct, 256, std::nullopt}),
              StatusHasMessage("has 128 bits, but 256 were asked for"));
}

TEST(MasterKeyTest, FailureNotAMasterKey) {
  std::string path = TempDir() + "/master.key";
  ASSERT_OK(WriteFileAtomic(path, AsBytes("not a key"), 0600));
  bool created;
  EXPECT_THAT(
      LoadOrCreateMasterKey(path, &created, MasterKeyPolicy::kFindOrCreate),
      StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(SoftwareCustodyTest, GenerateAndSignEveryKind) {
  struct Case {
    KeyRequest req;
    crypto::SignAlg alg;
  } cases[] = {
      {{KeyKind::kRsa, 2048, std::nullopt}, crypto::SignAlg::kPs256},
      {{KeyKind::kRsa, 3072, std::nullopt}, crypto::SignAlg::kRs384},
      {{KeyKind::kEc, 0, crypto::Curve::kP256}, crypto::SignAlg::kEs256},
      {{KeyKind::kEc, 0, crypto::Curve::kP384}, crypto::SignAlg::kEs384},
      {{KeyKind::kEc, 0, crypto::Curve::kP521}, crypto::SignAlg::kEs512},
      {{KeyKind::kEc, 0, crypto::Curve::kSecp256k1}, crypto::SignAlg::kEs256k},
  };
  for (const auto& c : cases) {
    ASSERT_OK_AND_ASSIGN(HeldKey k, custody_->Generate(c.req, bind_));
    ASSERT_OK_AND_ASSIGN(auto pub,
                         crypto::ParsePublicKey(AsBytes(k.public_jwk)));
    std::vector<uint8_t> digest(crypto::DigestBytes(c.alg), 0x42);
    ASSERT_OK_AND_ASSIGN(auto sig, custody_->Sign(k, bind_, c.alg, digest));
    ASSERT_OK_AND_ASSIGN(bool ok,
                         crypto::VerifyDigest(pub.get(), c.alg, digest, sig));
    EXPECT_TRUE(ok) << crypto::SignAlgName(c.alg);
    // The custody blob never contains the PKCS#8 prefix in clear.
    EXPECT_EQ(HexEncode(k.blob).find("020100300d06"), std::string::npos);
  }
}

TEST_F(SoftwareCustodyTest, OctSizes) {
  for (int bits : {128, 192, 256}) {
    ASSERT_OK_AND_ASSIGN(
        HeldKey k,
        custody_->Generate({KeyKind::kOct, bits, std::nullopt}, bind_));
    EXPECT_EQ(k.bits, bits);
    EXPECT_TRUE(k.public_jwk.empty());
  }
  EXPECT_THAT(custody_->Generate({KeyKind::kOct, 512, std::nullopt}, bind_),
              StatusHasMessage("128, 192 or 256"));
}

// The checks hold before a key's first use and after it (when the parsed
// key is cached): the cache must not weaken them.
TEST_F(SoftwareCustodyTest, FailureWrongBindingOrMasterOrTamper) {
  ASSERT_OK_AND_ASSIGN(
      HeldKey k,
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP256}, bind_));
  std::vector<uint8_t> d(32, 1);
  ASSERT_OK_AND_ASSIGN(auto other,
                       SoftwareCustody::New(*crypto::RandomSecret(32)));
  for (bool used : {false, true}) {
    SCOPED_TRACE(used ? "after use (cached)" : "before any use");
    if (used) {
      ASSERT_OK(custody_->Sign(k, bind_, crypto::SignAlg::kEs256, d));
      ASSERT_OK(custody_->Sign(k, bind_, crypto::SignAlg::kEs256, d));
    }
    EXPECT_THAT(
        custody_->Sign(k, B("vault1/other/x"), crypto::SignAlg::kEs256, d),
        StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(other->Sign(k, bind_, crypto::SignAlg::kEs256, d),
                StatusIs(absl::StatusCode::kDataLoss));
    HeldKey t = k;
    t.blob.back() ^= 1;
    EXPECT_THAT(custody_->Sign(t, bind_, crypto::SignAlg::kEs256, d),
                StatusIs(absl::StatusCode::kDataLoss));
    HeldKey wrong_kind = k;
    wrong_kind.kind = KeyKind::kRsa;
    EXPECT_THAT(custody_->Sign(wrong_kind, bind_, crypto::SignAlg::kRs256, d),
                StatusIs(absl::StatusCode::kDataLoss));
  }
}

TEST_F(SoftwareCustodyTest, CacheOffStillWorks) {
  ASSERT_OK_AND_ASSIGN(auto uncached,
                       SoftwareCustody::New(*crypto::RandomSecret(32), 0));
  ASSERT_OK_AND_ASSIGN(
      HeldKey u,
      uncached->Generate({KeyKind::kEc, 0, crypto::Curve::kP384}, bind_));
  std::vector<uint8_t> d48(48, 2);
  EXPECT_OK(uncached->Sign(u, bind_, crypto::SignAlg::kEs384, d48));
  EXPECT_OK(uncached->Sign(u, bind_, crypto::SignAlg::kEs384, d48));
}

TEST_F(SoftwareCustodyTest, FailureWrongAlgorithmForKey) {
  ASSERT_OK_AND_ASSIGN(
      HeldKey k,
      custody_->Generate({KeyKind::kEc, 0, crypto::Curve::kP384}, bind_));
  EXPECT_THAT(custody_->Sign(k, bind_, crypto::SignAlg::kEs256,
                             std::vector<uint8_t>(32)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SoftwareCustodyTest, BackupOpensOnlyInThisDeployment) {
  std::vector<uint8_t> plain = B("{\"versions\":[]}");
  ASSERT_OK_AND_ASSIGN(auto prot, custody_->ProtectBackup(plain));
  EXPECT_EQ(std::string(prot.begin(), prot.begin() + 4), "KFB1");
  ASSERT_OK_AND_ASSIGN(auto back, custody_->UnprotectBackup(prot));
  EXPECT_EQ(back, plain);
  ASSERT_OK_AND_ASSIGN(auto other,
                       SoftwareCustody::New(*crypto::RandomSecret(32)));
  EXPECT_THAT(other->UnprotectBackup(prot),
              StatusHasMessage("not made by this deployment"));
  prot[prot.size() - 1] ^= 1;
  EXPECT_THAT(custody_->UnprotectBackup(prot), StatusHasMessage("damaged"));
  EXPECT_FALSE(custody_->UnprotectBackup(B("KFB1")).ok());
}

class ByokImportTest : public SoftwareCustodyTest {
 protected:
  void SetUp() override {
    SoftwareCustodyTest::SetUp();
    ASSERT_OK_AND_ASSIGN(
        kek_,
        custody_->Generate({KeyKind::kRsa, 2048, std::nullopt}, kek_bind_));
    ASSERT_OK_AND_ASSIGN(kek_pub_,
                         crypto::ParsePublicKey(AsBytes(kek_.public_jwk)));
  }
  std::vector<uint8_t> BlobFor(const SecretBytes& payload) {
    return *byok::WrapToKek(kek_pub_.get(), payload);
  }
  HeldKey kek_;
  crypto::EvpPkeyPtr kek_pub_;
  std::vector<uint8_t> kek_bind_ = B("vault1/KEK/v1");
};

TEST_F(ByokImportTest, EcTargetSignsWithTheTransferredKey) {
  ASSERT_OK_AND_ASSIGN(auto target, crypto::GenerateEc(crypto::Curve::kP256));
  auto ct = BlobFor(*crypto::PrivateKeyToPkcs8Der(target.get()));
  ASSERT_OK_AND_ASSIGN(
      HeldKey k,
      custody_->ImportByok(kek_, kek_bind_, ct,
                           {KeyKind::kEc, 0, crypto::Curve::kP256}, bind_));
  std::vector<uint8_t> d(32, 7);
  ASSERT_OK_AND_ASSIGN(auto sig,
                       custody_->Sign(k, bind_, crypto::SignAlg::kEs256, d));
  ASSERT_OK_AND_ASSIGN(
      bool ok,
      crypto::VerifyDigest(target.get(), crypto::SignAlg::kEs256, d, sig));
  EXPECT_TRUE(ok);
}

TEST_F(ByokImportTest, AcceptsSoftHsmTrailingZeros) {
  ASSERT_OK_AND_ASSIGN(auto target, crypto::GenerateEc(crypto::Curve::kP384));
  SecretBytes p8 = *crypto::PrivateKeyToPkcs8Der(target.get());
  p8.Resize(p8.size() + 3);
  EXPECT_OK(custody_->ImportByok(kek_, kek_bind_, BlobFor(p8),
                                 {KeyKind::kEc, 0, crypto::Curve::kP384},
                                 bind_));
}

TEST_F(ByokImportTest, OctTarget) {
  SecretBytes aes = *crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(
      HeldKey k,
      custody_->ImportByok(kek_, kek_bind_, BlobFor(aes),
                           {KeyKind::kOct, 256, std::nullopt}, bind_));
  EXPECT_EQ(k.bits, 256);
}

TEST_F(ByokImportTest, FailureMismatchesAndDamage) {
  ASSERT_OK_AND_ASSIGN(auto ec, crypto::GenerateEc(crypto::Curve::kP256));
  auto ct = BlobFor(*crypto::PrivateKeyToPkcs8Der(ec.get()));
  EXPECT_THAT(custody_->ImportByok(kek_, kek_bind_, ct,
                                   {KeyKind::kRsa, 0, std::nullopt}, bind_),
              StatusHasMessage("kty asks for RSA"));
  EXPECT_THAT(
      custody_->ImportByok(kek_, kek_bind_, ct,
                           {KeyKind::kEc, 0, crypto::Curve::kP384}, bind_),
      StatusHasMessage("crv asks for P-384"));
  auto flipped = ct;
  flipped[3] ^= 1;
  EXPECT_THAT(
      custody_->ImportByok(kek_, kek_bind_, flipped,
                           {KeyKind::kEc, 0, crypto::Curve::kP256}, bind_),
      StatusHasMessage("RSA-OAEP part"));
  flipped = ct;
  flipped[ct.size() - 2] ^= 1;
  EXPECT_THAT(
      custody_->ImportByok(kek_, kek_bind_, flipped,
                           {KeyKind::kEc, 0, crypto::Curve::kP256}, bind_),
      StatusHasMessage("AES-KWP part"));
  ASSERT_OK_AND_ASSIGN(auto small, crypto::GenerateRsa(1024));
  EXPECT_THAT(
      custody_->ImportByok(kek_, kek_bind_,
                           BlobFor(*crypto::PrivateKeyToPkcs8Der(small.get())),
                           {KeyKind::kRsa, 0, std::nullopt}, bind_),
      StatusHasMessage("2048, 3072 or 4096 bits; this one has 1024"));
  EXPECT_THAT(
      custody_->ImportByok(kek_, B("vault1/OTHER/v1"), ct,
                           {KeyKind::kEc, 0, crypto::Curve::kP256}, bind_),
      StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace keyferry::custody
