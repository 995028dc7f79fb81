#include "custody/sealed_custody.h"

#include "base/testing.h"
#include "crypto/random.h"
#include "custody/software_custody.h"

namespace keyferry::custody {
namespace {

TEST(SealedCustodyTest, SealedUntilUnsealedAndAgainAfterSeal) {
  SealedCustody c;
  const std::vector<uint8_t> bind = {'v', '/', 'k'};
  const KeyRequest ec{KeyKind::kEc, 0, crypto::Curve::kP256};
  EXPECT_TRUE(c.sealed());
  EXPECT_THAT(c.Generate(ec, bind), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(c.ProtectBackup({}), StatusHasMessage("sealed"));

  ASSERT_OK_AND_ASSIGN(auto inner,
                       SoftwareCustody::New(*crypto::RandomSecret(32)));
  c.Unseal(std::move(inner));
  EXPECT_FALSE(c.sealed());
  EXPECT_EQ(c.Kind(), "software");
  ASSERT_OK_AND_ASSIGN(HeldKey k, c.Generate(ec, bind));
  std::vector<uint8_t> digest(32, 7);
  EXPECT_OK(c.Sign(k, bind, crypto::SignAlg::kEs256, digest));

  c.Seal();
  EXPECT_TRUE(c.sealed());
  EXPECT_THAT(c.Sign(k, bind, crypto::SignAlg::kEs256, digest),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace keyferry::custody
