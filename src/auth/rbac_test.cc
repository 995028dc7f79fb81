#include "auth/rbac.h"

#include "base/testing.h"

namespace keyferry::auth {
namespace {

TEST(RbacTest, OfficerDoesEverything) {
  for (auto op : {Operation::kCreate, Operation::kPurge, Operation::kImport,
                  Operation::kSign, Operation::kSetRotationPolicy}) {
    EXPECT_TRUE(Allows(Role::kCryptoOfficer, op));
  }
}

TEST(RbacTest, CryptoUserUsesButDoesNotManage) {
  EXPECT_TRUE(Allows(Role::kCryptoUser, Operation::kSign));
  EXPECT_TRUE(Allows(Role::kCryptoUser, Operation::kDecrypt));
  EXPECT_FALSE(Allows(Role::kCryptoUser, Operation::kCreate));
  EXPECT_FALSE(Allows(Role::kCryptoUser, Operation::kImport));
  EXPECT_FALSE(Allows(Role::kCryptoUser, Operation::kDelete));
  EXPECT_FALSE(Allows(Role::kCryptoUser, Operation::kPurge));
}

TEST(RbacTest, ServiceEncryptionUserWrapsOnly) {
  EXPECT_TRUE(Allows(Role::kCryptoServiceEncryptionUser, Operation::kWrapKey));
  EXPECT_TRUE(
      Allows(Role::kCryptoServiceEncryptionUser, Operation::kUnwrapKey));
  EXPECT_FALSE(Allows(Role::kCryptoServiceEncryptionUser, Operation::kSign));
  EXPECT_FALSE(Allows(Role::kCryptoServiceEncryptionUser, Operation::kList));
}

TEST(RbacTest, ReaderReadsMetadataOnly) {
  EXPECT_TRUE(Allows(Role::kReader, Operation::kList));
  EXPECT_FALSE(Allows(Role::kReader, Operation::kSign));
  EXPECT_FALSE(Allows(Role::kReader, Operation::kBackup));
}

TEST(RbacTest, ParseRoleSpellings) {
  ASSERT_OK_AND_ASSIGN(Role r, ParseRole("Key Vault Crypto Officer"));
  EXPECT_EQ(r, Role::kCryptoOfficer);
  ASSERT_OK_AND_ASSIGN(r, ParseRole("crypto-service-encryption-user"));
  EXPECT_EQ(r, Role::kCryptoServiceEncryptionUser);
  EXPECT_EQ(RoleName(Role::kReader), "Key Vault Reader");
  EXPECT_THAT(ParseRole("admin"), StatusHasMessage("unknown role"));
}

TEST(RbacTest, DataActionsNameAzureActions) {
  EXPECT_EQ(DataAction(Operation::kSign),
            "Microsoft.KeyVault/vaults/keys/sign/action");
  EXPECT_EQ(DataAction(Operation::kPurge),
            "Microsoft.KeyVault/vaults/deletedKeys/delete");
}

}  // namespace
}  // namespace keyferry::auth
