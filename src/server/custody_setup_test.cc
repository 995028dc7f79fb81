#include "server/custody_setup.h"

#include <stdlib.h>

#include <filesystem>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "custody/master_key.h"
#include "seal/shamir.h"

namespace keyferry::server {
namespace {

InitOptions Opts(int shares, int threshold, std::string dir,
                 std::vector<std::string> passphrase_files = {}) {
  InitOptions o;
  o.shares = shares;
  o.threshold = threshold;
  o.share_dir = std::move(dir);
  o.passphrase_files = std::move(passphrase_files);
  return o;
}

class CustodySetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kf_setup.XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_.data_dir = dir_ + "/data";
    std::filesystem::create_directories(config_.data_dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, std::string_view text) {
    std::string p = dir_ + "/" + name;
    EXPECT_OK(WriteFileAtomic(p, AsBytes(text), 0600));
    return p;
  }

  std::string dir_;
  Config config_;
};

TEST_F(CustodySetupTest, ReadPinSources) {
  ASSERT_OK_AND_ASSIGN(SecretBytes a,
                       ReadPin(std::nullopt, Write("pin", "1234\n")));
  EXPECT_TRUE(a.ConstantTimeEquals(SecretBytes(AsBytes("1234"))));
  ASSERT_OK_AND_ASSIGN(SecretBytes b,
                       ReadPin("file:" + Write("pin2", "abcd\r\n"), ""));
  EXPECT_TRUE(b.ConstantTimeEquals(SecretBytes(AsBytes("abcd"))));
  setenv("KF_SETUP_TEST_PIN", "9876", 1);
  ASSERT_OK_AND_ASSIGN(SecretBytes c, ReadPin("env:KF_SETUP_TEST_PIN", ""));
  EXPECT_TRUE(c.ConstantTimeEquals(SecretBytes(AsBytes("9876"))));
  EXPECT_THAT(ReadPin("env:KF_SETUP_TEST_UNSET", ""),
              StatusHasMessage("unset environment variable"));
  EXPECT_THAT(ReadPin("pin-value:1", ""), StatusHasMessage("file:"));
  unsetenv("KEYFERRY_PKCS11_PIN");
  EXPECT_THAT(ReadPin(std::nullopt, ""), StatusHasMessage("user PIN"));
  EXPECT_THAT(ReadPin(std::nullopt, Write("empty", "\n")),
              StatusHasMessage("empty"));
}

TEST_F(CustodySetupTest, InitSplitsTheExistingKeyAndRemovesTheFile) {
  bool created = false;
  ASSERT_OK_AND_ASSIGN(
      SecretBytes master,
      custody::LoadOrCreateMasterKey(config_.data_dir + "/master.key", &created,
                                     custody::MasterKeyPolicy::kFindOrCreate));
  InitOptions o = Opts(3, 2, dir_ + "/shares");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> paths, Init(config_, o));
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(config_.data_dir + "/master.key"));
  ASSERT_OK_AND_ASSIGN(seal::SealInfo info,
                       seal::ReadSealInfo(config_.data_dir + "/seal.json"));
  // Shares 1 and 3 rebuild the key that was in the file.
  // seal.json records each share's check value.
  ASSERT_EQ(info.share_checks.size(), 3u);
  seal::Unsealer u(info);
  std::optional<SecretBytes> rebuilt;
  for (int i : {0, 2}) {
    ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(paths[i]));
    ASSERT_OK_AND_ASSIGN(seal::ShareFile f, seal::ParseShareFile(text));
    ASSERT_OK_AND_ASSIGN(seal::Share s, seal::OpenShareFile(f, std::nullopt));
    ASSERT_OK_AND_ASSIGN(auto check, seal::ShareCheckValue(info.vault_id, s));
    EXPECT_EQ(check, info.share_checks[i]);
    ASSERT_OK_AND_ASSIGN(rebuilt, u.Submit(std::move(s), u.nonce()));
  }
  ASSERT_TRUE(rebuilt.has_value());
  EXPECT_TRUE(rebuilt->ConstantTimeEquals(master));

  // Sealed now: the custody starts sealed; a second init is refused.
  ASSERT_OK_AND_ASSIGN(
      CustodySetup setup,
      OpenCustody(config_, custody::MasterKeyPolicy::kMustExist));
  ASSERT_NE(setup.sealed, nullptr);
  EXPECT_TRUE(setup.sealed->sealed());
  EXPECT_THAT(Init(config_, Opts(3, 2, dir_ + "/shares2")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // A master.key next to seal.json (restored copy) stops the start.
  ASSERT_OK(
      custody::LoadOrCreateMasterKey(config_.data_dir + "/master.key", &created,
                                     custody::MasterKeyPolicy::kFindOrCreate)
          .status());
  EXPECT_THAT(OpenCustody(config_, custody::MasterKeyPolicy::kMustExist),
              StatusHasMessage("both"));
}

// keyferryd makes a master key only for a new deployment: a store with
// keys whose master.key went missing stops the start, and nothing is made.
TEST_F(CustodySetupTest, FailureMasterKeyMissingForAStoreWithKeys) {
  const std::string key = config_.data_dir + "/master.key";
  EXPECT_THAT(OpenCustody(config_, custody::MasterKeyPolicy::kMustExist),
              StatusHasMessage("is missing, but the store holds keys"));
  EXPECT_FALSE(std::filesystem::exists(key));
  ASSERT_OK_AND_ASSIGN(
      CustodySetup made,
      OpenCustody(config_, custody::MasterKeyPolicy::kFindOrCreate));
  EXPECT_EQ(made.sealed, nullptr);
  EXPECT_TRUE(std::filesystem::exists(key));
  // Once it exists it is used, new deployment or not.
  EXPECT_OK(
      OpenCustody(config_, custody::MasterKeyPolicy::kMustExist).status());
  // A fresh store next to an existing master key is a lost store.
  EXPECT_THAT(OpenCustody(config_, custody::MasterKeyPolicy::kMustBeNew),
              StatusHasMessage("this deployment's store is lost"));
}

TEST_F(CustodySetupTest, FailureBadInitOptions) {
  EXPECT_THAT(Init(config_, Opts(3, 4, dir_ + "/s1")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::string p = Write("pass", "x\n");
  EXPECT_THAT(Init(config_, Opts(3, 2, dir_ + "/s2", {p, p})),
              StatusHasMessage("once per share"));
  std::filesystem::create_directories(dir_ + "/s3");
  Write("s3/share-2.json", "{}");
  EXPECT_THAT(Init(config_, Opts(3, 2, dir_ + "/s3")),
              StatusHasMessage("exists"));
  // Nothing was half-written: no seal.json, the data dir still starts on
  // its development key.
  EXPECT_FALSE(std::filesystem::exists(config_.data_dir + "/seal.json"));
  Config pk = config_;
  pk.custody = "pkcs11";
  EXPECT_THAT(Init(pk, Opts(3, 2, dir_ + "/s4")), StatusHasMessage("PKCS#11"));
}

}  // namespace
}  // namespace keyferry::server
