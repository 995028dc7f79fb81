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

TEST(ModelTest, KeyUseChecksEnabledNbfExpAndOps) {
  const std::vector<KeyOp> ops = {KeyOp::kSign, KeyOp::kVerify};
  Attributes a;
  EXPECT_EQ(CheckKeyUse(a, ops, KeyOp::kSign, 1000), KeyUse::kAllowed);
  a.enabled = false;
  EXPECT_EQ(CheckKeyUse(a, ops, KeyOp::kSign, 1000), KeyUse::kDisabled);
  // A disabled key still verifies (public half only).
  EXPECT_EQ(CheckKeyUse(a, ops, KeyOp::kVerify, 1000), KeyUse::kAllowed);
  a.enabled = true;
  a.not_before = 2000;
  EXPECT_EQ(CheckKeyUse(a, ops, KeyOp::kSign, 1000), KeyUse::kNotYetValid);
  EXPECT_EQ(CheckKeyUse(a, ops, KeyOp::kVerify, 1000), KeyUse::kAllowed);
  EXPECT_EQ(CheckKeyUse(a, ops, KeyOp::kSign, 2000), KeyUse::kAllowed);
  a.expires = 3000;
  EXPECT_EQ(CheckKeyUse(a, ops, KeyOp::kSign, 3000), KeyUse::kExpired);
  EXPECT_EQ(CheckKeyUse(a, ops, KeyOp::kVerify, 3000), KeyUse::kAllowed);
  EXPECT_EQ(CheckKeyUse(a, ops, KeyOp::kDecrypt, 2500),
            KeyUse::kOpNotPermitted);
}

TEST(ModelTest, CheckOperationWordsRefusalsAsTheApi) {
  Attributes a;
  a.enabled = false;
  absl::Status s = CheckOperation(a, {"sign", "verify"}, KeyOp::kSign, 0);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(s, StatusHasMessage("Operation sign is not allowed on a "
                                  "disabled key."));
  a.enabled = true;
  a.not_before = 10;
  EXPECT_THAT(CheckOperation(a, {"sign"}, KeyOp::kSign, 0),
              StatusHasMessage("not yet valid"));
  a.not_before.reset();
  a.expires = 10;
  EXPECT_THAT(CheckOperation(a, {"sign"}, KeyOp::kSign, 10),
              StatusHasMessage("has expired"));
  EXPECT_OK(CheckOperation(a, {"sign"}, KeyOp::kSign, 9));
}

TEST(ModelTest, KekCanOnlyImport) {
  std::vector<KeyOp> kek_ops = {KeyOp::kImport};
  EXPECT_TRUE(IsKek(Kty::kRsaHsm, 4096, kek_ops));
  EXPECT_FALSE(IsKek(Kty::kRsaHsm, 1024, kek_ops));
  EXPECT_FALSE(IsKek(Kty::kEcHsm, 256, kek_ops));
  EXPECT_FALSE(IsKek(Kty::kRsa, 2048, kek_ops));  // software RSA: never
  EXPECT_FALSE(IsKek(Kty::kRsaHsm, 2048, {KeyOp::kImport, KeyOp::kSign}));
  Attributes a;
  EXPECT_THAT(CheckOperation(a, {"import"}, KeyOp::kSign, 0),
              StatusHasMessage("Operation sign is not permitted on this key: "
                               "its key_ops are [import]"));
  EXPECT_THAT(CheckOperation(a, {"import"}, KeyOp::kDecrypt, 0),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(CheckOperation(a, {"import"}, KeyOp::kImport, 0));
}

}  // namespace
}  // namespace keyferry::vault
