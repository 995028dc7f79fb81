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

// Secure Key Release: Crypto Officer (vaults/keys/*) and the Crypto
// Service Release User (release only); no other role releases.
TEST(RbacTest, ReleaseIsOfficerOrReleaseUser) {
  EXPECT_TRUE(Allows(Role::kCryptoOfficer, Operation::kRelease));
  EXPECT_TRUE(Allows(Role::kCryptoServiceReleaseUser, Operation::kRelease));
  for (Role r :
       {Role::kCryptoUser, Role::kCryptoServiceEncryptionUser, Role::kReader}) {
    EXPECT_FALSE(Allows(r, Operation::kRelease)) << RoleName(r);
  }
  for (Operation op : {Operation::kGet, Operation::kList, Operation::kSign,
                       Operation::kUnwrapKey, Operation::kBackup}) {
    EXPECT_FALSE(Allows(Role::kCryptoServiceReleaseUser, op));
  }
  ASSERT_OK_AND_ASSIGN(Role r, ParseRole("crypto-service-release-user"));
  EXPECT_EQ(r, Role::kCryptoServiceReleaseUser);
  ASSERT_OK_AND_ASSIGN(r, ParseRole("Key Vault Crypto Service Release User"));
  EXPECT_EQ(r, Role::kCryptoServiceReleaseUser);
  EXPECT_EQ(RoleName(r), "Key Vault Crypto Service Release User");
  EXPECT_EQ(DataAction(Operation::kRelease),
            "Microsoft.KeyVault/vaults/keys/release/action");
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
