#include "custody/sealed_custody.h"

#include "base/encoding.h"
#include "base/testing.h"
#include "byok/envelope.h"
#include "crypto/keys.h"
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

  // Release wraps through the inner custody: the key in PKCS#8 under an
  // AES key sent RSA-OAEP to the target (custody.h).
  EXPECT_TRUE(c.CanRelease());
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr to, crypto::GenerateRsa(2048));
  ASSERT_OK_AND_ASSIGN(
      std::vector<uint8_t> wrapped,
      c.WrapForRelease(k, bind, to.get(), crypto::OaepHash::kSha256));
  ASSERT_OK_AND_ASSIGN(
      SecretBytes p8,
      byok::UnwrapWithKek(to.get(), wrapped, crypto::OaepHash::kSha256));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr priv,
                       crypto::ParsePkcs8Der(p8, false));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub,
                       crypto::ParsePublicKey(AsBytes(k.public_jwk)));
  EXPECT_TRUE(crypto::PublicKeysEqual(priv.get(), pub.get()));
  // The binding is checked as for any use.
  const std::vector<uint8_t> other = {'v', '/', 'x'};
  EXPECT_FALSE(
      c.WrapForRelease(k, other, to.get(), crypto::OaepHash::kSha1).ok());

  c.Seal();
  EXPECT_TRUE(c.sealed());
  EXPECT_THAT(c.WrapForRelease(k, bind, to.get(), crypto::OaepHash::kSha1),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(c.Sign(k, bind, crypto::SignAlg::kEs256, digest),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace keyferry::custody
