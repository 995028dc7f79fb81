#include "hsm/keys.h"

#include "absl/strings/match.h"
#include "base/testing.h"
#include "hsm/errors.h"
#include "hsm/pkcs11.h"

namespace keyferry::hsm {
namespace {

TEST(NameRefusedCurveTest, RefusedDomainParametersNameTheCurve) {
  absl::Status refused =
      CkrToStatus(CKR_DOMAIN_PARAMS_INVALID, "C_GenerateKeyPair");
  absl::Status named = NameRefusedCurve(refused, EcCurve::kSecp256k1);
  EXPECT_EQ(named.message(),
            "the token does not offer EC curve secp256k1 (C_GenerateKeyPair: "
            "CKR_DOMAIN_PARAMS_INVALID (0x130))");
  EXPECT_EQ(named.code(), refused.code());
  EXPECT_EQ(GetCkr(named), CKR_DOMAIN_PARAMS_INVALID);
}

TEST(NameRefusedCurveTest, CurveNotSupportedNamesTheCurve) {
  absl::Status named = NameRefusedCurve(
      CkrToStatus(CKR_CURVE_NOT_SUPPORTED, "C_GenerateKeyPair"),
      EcCurve::kP521);
  EXPECT_TRUE(absl::StartsWith(named.message(),
                               "the token does not offer EC curve P-521 ("));
  EXPECT_EQ(GetCkr(named), CKR_CURVE_NOT_SUPPORTED);
}

TEST(NameRefusedCurveTest, OtherFailuresUnchanged) {
  absl::Status other = CkrToStatus(CKR_DEVICE_ERROR, "C_GenerateKeyPair");
  EXPECT_EQ(NameRefusedCurve(other, EcCurve::kP256), other);
  absl::Status plain = absl::InternalError("no CK_RV");
  EXPECT_EQ(NameRefusedCurve(plain, EcCurve::kP256), plain);
}

TEST(FlagsChangedByTokenTest, NamesTheFlagsTheKeyHas) {
  KeyFlags asked = DefaultFlags(KeyKind::kAes);
  asked.sensitive = false;
  asked.extractable = true;
  KeyFlags got = asked;
  got.sensitive = true;
  got.alwayssensitive = true;  // read-only: never reported
  EXPECT_EQ(FlagsChangedByToken(asked, got, KeyKind::kAes, {}),
            std::vector<std::string>{"sensitive"});
  got.extractable = false;
  EXPECT_EQ(FlagsChangedByToken(asked, got, KeyKind::kAes, {}),
            (std::vector<std::string>{"sensitive", "nonextractable"}));
}

TEST(FlagsChangedByTokenTest, SkipsNotKeptAndOtherObjectsFlags) {
  KeyFlags asked = DefaultFlags(KeyKind::kRsa);  // verify: the public key's
  KeyFlags got = asked;
  got.verify = false;  // a private key has no CKA_VERIFY
  got.encrypt = false;
  got.destroyable = false;
  EXPECT_EQ(FlagsChangedByToken(asked, got, KeyKind::kRsa, {"destroyable"}),
            std::vector<std::string>{});
  EXPECT_EQ(FlagsChangedByToken(asked, got, KeyKind::kRsa, {}),
            std::vector<std::string>{"nondestroyable"});
}

}  // namespace
}  // namespace keyferry::hsm
