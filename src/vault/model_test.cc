#include "vault/model.h"

#include "base/testing.h"

namespace keyferry::vault {
namespace {

TEST(ModelTest, KtyVocabulary) {
  ASSERT_OK_AND_ASSIGN(Kty k, ParseKty("RSA-HSM"));
  EXPECT_EQ(k, Kty::kRsaHsm);
  EXPECT_TRUE(IsHsm(k));
  EXPECT_EQ(KindOf(k), custody::KeyKind::kRsa);
  ASSERT_OK_AND_ASSIGN(k, ParseKty("oct-HSM"));
  EXPECT_EQ(KtyName(k), "oct-HSM");
  EXPECT_THAT(ParseKty("rsa"), StatusHasMessage("not one of"));  // case matters
}

TEST(ModelTest, KeyOps) {
  ASSERT_OK_AND_ASSIGN(auto ops, ParseKeyOps({"sign", "verify", "sign"}));
  EXPECT_EQ(ops.size(), 2u);
  EXPECT_THAT(ParseKeyOps({"wrapkey"}),
              StatusHasMessage("not a valid key operation"));
  EXPECT_EQ(DefaultKeyOps(custody::KeyKind::kEc),
            (std::vector<KeyOp>{KeyOp::kSign, KeyOp::kVerify}));
}

TEST(ModelTest, NamesAndVersions) {
  EXPECT_OK(ValidateKeyName("KEKforBYOK-2"));
  EXPECT_FALSE(ValidateKeyName("a_b").ok());
  EXPECT_FALSE(ValidateKeyName(std::string(128, 'a')).ok());
  ASSERT_OK_AND_ASSIGN(std::string v, NewVersion());
  EXPECT_OK(ValidateVersion(v));
  EXPECT_FALSE(ValidateVersion("abc").ok());
  ASSERT_OK_AND_ASSIGN(std::string w, NewVersion());
  EXPECT_NE(v, w);
}

TEST(ModelTest, UsableChecksEnabledNbfExp) {
  Attributes a;
  EXPECT_OK(CheckUsable(a, 1000));
  a.enabled = false;
  EXPECT_THAT(CheckUsable(a, 1000), StatusHasMessage("disabled"));
  a.enabled = true;
  a.not_before = 2000;
  EXPECT_THAT(CheckUsable(a, 1000), StatusHasMessage("not yet valid"));
  EXPECT_OK(CheckUsable(a, 2000));
  a.expires = 3000;
  EXPECT_THAT(CheckUsable(a, 3000), StatusHasMessage("expired"));
}

TEST(ModelTest, KekCanOnlyImport) {
  std::vector<KeyOp> kek_ops = {KeyOp::kImport};
  EXPECT_TRUE(IsKek(Kty::kRsaHsm, 4096, kek_ops));
  EXPECT_FALSE(IsKek(Kty::kRsaHsm, 1024, kek_ops));
  EXPECT_FALSE(IsKek(Kty::kEcHsm, 256, kek_ops));
  EXPECT_FALSE(IsKek(Kty::kRsa, 2048, kek_ops));  // software RSA: never
  EXPECT_FALSE(IsKek(Kty::kRsaHsm, 2048, {KeyOp::kImport, KeyOp::kSign}));
  Attributes a;
  EXPECT_THAT(CheckOperation(a, kek_ops, KeyOp::kSign, 0),
              StatusHasMessage("Operation sign is not allowed on the key: its "
                               "key_ops are [import]"));
  EXPECT_THAT(CheckOperation(a, kek_ops, KeyOp::kDecrypt, 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(CheckOperation(a, kek_ops, KeyOp::kImport, 0));
}

}  // namespace
}  // namespace keyferry::vault
