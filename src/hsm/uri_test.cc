#include "hsm/uri.h"

#include "base/testing.h"

namespace keyferry::hsm {
namespace {

TEST(Pkcs11UriTest, ParsesRfc7512Example) {
  ASSERT_OK_AND_ASSIGN(
      Pkcs11Uri u,
      ParsePkcs11Uri("pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;"
                     "manufacturer=Snake%20Oil,%20Inc.;model=1.0;"
                     "object=my-certificate;type=cert;"
                     "id=%69%95%3E%5C%F4%BD%EC%91;serial="
                     "?pin-source=file:mypin&module-path=/usr/lib/libx.so"));
  EXPECT_EQ(u.token, "The Software PKCS#11 Softtoken");
  EXPECT_EQ(u.manufacturer, "Snake Oil, Inc.");
  EXPECT_EQ(u.model, "1.0");
  EXPECT_EQ(u.object, "my-certificate");
  EXPECT_EQ(u.type, "cert");
  EXPECT_EQ(u.serial, "");
  ASSERT_TRUE(u.id.has_value());
  EXPECT_EQ(*u.id, (std::vector<uint8_t>{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd,
                                         0xec, 0x91}));
  EXPECT_EQ(u.pin_source, "file:mypin");
  EXPECT_EQ(u.module_path, "/usr/lib/libx.so");
}

TEST(Pkcs11UriTest, InitReservedIsPercentDecodedAndSetOnce) {
  ASSERT_OK_AND_ASSIGN(
      Pkcs11Uri u,
      ParsePkcs11Uri("pkcs11:token=NSS%20Certificate%20DB"
                     "?module-path=/usr/lib/x86_64-linux-gnu/libsoftokn3.so"
                     "&x-init-reserved=configdir%3D%27sql%3A%2Ftmp%2Fdb%27"
                     "%20certPrefix%3D%27%27"));
  EXPECT_EQ(u.token, "NSS Certificate DB");
  EXPECT_EQ(u.init_reserved, "configdir='sql:/tmp/db' certPrefix=''");
  EXPECT_FALSE(
      ParsePkcs11Uri("pkcs11:?x-init-reserved=a&x-init-reserved=b").ok());
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri none, ParsePkcs11Uri("pkcs11:token=t"));
  EXPECT_FALSE(none.init_reserved.has_value());
}

TEST(Pkcs11UriTest, EmptyUriIsValid) {
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri u, ParsePkcs11Uri("pkcs11:"));
  EXPECT_FALSE(u.token.has_value());
  EXPECT_FALSE(u.object.has_value());
}

TEST(Pkcs11UriTest, SlotId) {
  ASSERT_OK_AND_ASSIGN(Pkcs11Uri u,
                       ParsePkcs11Uri("pkcs11:slot-id=1035383320"));
  EXPECT_EQ(u.slot_id, 1035383320u);
}

TEST(Pkcs11UriTest, FailurePinValue) {
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:token=a?pin-value=1234"),
              StatusHasMessage("pin-value is refused"));
}

TEST(Pkcs11UriTest, FailureWrongScheme) {
  EXPECT_THAT(ParsePkcs11Uri("pkcs12:token=a"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Pkcs11UriTest, FailureRepeatedAttribute) {
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:token=a;token=b"),
              StatusHasMessage("given twice"));
}

TEST(Pkcs11UriTest, FailureBadEscape) {
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:object=a%2"),
              StatusHasMessage("percent-escape"));
}

TEST(Pkcs11UriTest, FailureBadType) {
  EXPECT_THAT(ParsePkcs11Uri("pkcs11:type=key"), StatusHasMessage("type must"));
}

}  // namespace
}  // namespace keyferry::hsm
