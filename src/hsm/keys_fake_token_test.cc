// GenerateKey against the fake token, with and without the quirk of tokens
// that cannot store PKCS#11 2.40's CKA_COPYABLE/CKA_DESTROYABLE on token
// objects.
#include "hsm/keys.h"

#include <string>
#include <vector>

#include "base/testing.h"
#include "hsm/pkcs11.h"
#include "hsm/testing/fake_token_testing.h"

namespace keyferry::hsm {
namespace {

using ::testing::ElementsAre;
using testing::FakeStats;
using testing::FakeToken;
using ::testing::IsEmpty;
using testing::OpenFake;

TEST(GenerateKeyTest, TokenWithout240AttributesKeepsTheKeyWithoutThem) {
  ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake("no-240-attrs"));
  ASSERT_OK_AND_ASSIGN(KeySpec spec, ParseKeySpec("aes", 256, std::nullopt));
  spec.label = "aes-1";
  ASSERT_TRUE(spec.flags.token);
  ASSERT_OK_AND_ASSIGN(GeneratedKey k, GenerateKey(*t.session, spec));
  EXPECT_THAT(k.flags_not_kept, ElementsAre("copyable", "destroyable"));
  EXPECT_EQ(FakeStats().generate_key_calls, 2u);
  // The key holds everything else asked for, and not the two attributes.
  EXPECT_THAT(t.session->GetBool(k.private_or_secret, CKA_COPYABLE),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(t.session->GetBool(k.private_or_secret, CKA_SENSITIVE),
              ::testing::Not(StatusIs(absl::StatusCode::kNotFound)));
  ASSERT_OK_AND_ASSIGN(ObjectHandle found, FindKey(*t.session, "aes-1"));
  EXPECT_EQ(found, k.private_or_secret);

  ASSERT_OK_AND_ASSIGN(spec, ParseKeySpec("ec", std::nullopt, "P-256"));
  spec.label = "ec-1";
  ASSERT_OK_AND_ASSIGN(GeneratedKey pair, GenerateKey(*t.session, spec));
  EXPECT_THAT(pair.flags_not_kept, ElementsAre("copyable", "destroyable"));
  EXPECT_EQ(FakeStats().generate_key_pair_calls, 2u);
  ASSERT_TRUE(pair.public_key.has_value());
  EXPECT_THAT(t.session->GetBool(*pair.public_key, CKA_DESTROYABLE),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(GenerateKeyTest, ConformantTokenKeepsEveryFlag) {
  ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake(""));
  ASSERT_OK_AND_ASSIGN(KeySpec spec, ParseKeySpec("aes", 128, std::nullopt));
  spec.label = "aes-2";
  ASSERT_OK_AND_ASSIGN(GeneratedKey k, GenerateKey(*t.session, spec));
  EXPECT_THAT(k.flags_not_kept, IsEmpty());
  EXPECT_EQ(FakeStats().generate_key_calls, 1u);
  ASSERT_OK_AND_ASSIGN(KeyFlags f, ReadFlags(*t.session, k.private_or_secret));
  EXPECT_TRUE(f.destroyable);
  EXPECT_FALSE(f.copyable);
  EXPECT_TRUE(f.token);
  // A second key with the label is refused before the token is asked.
  EXPECT_THAT(GenerateKey(*t.session, spec),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(FakeStats().generate_key_calls, 1u);
}

TEST(GenerateKeyTest, OtherFailuresAreNotRetried) {
  // A session object is not refused by the quirk; an AES size the token
  // does not make fails once, with the token's error.
  ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake("no-240-attrs"));
  ASSERT_OK_AND_ASSIGN(KeySpec spec, ParseKeySpec("aes", 256, std::nullopt));
  spec.label = "aes-3";
  spec.flags.token = false;
  ASSERT_OK_AND_ASSIGN(GeneratedKey k, GenerateKey(*t.session, spec));
  EXPECT_THAT(k.flags_not_kept, IsEmpty());
  spec.label = "aes-4";
  spec.flags.token = true;
  spec.bits = 8 * 20;
  EXPECT_THAT(GenerateKey(*t.session, spec),
              StatusHasMessage("CKR_KEY_SIZE_RANGE"));
  EXPECT_EQ(FakeStats().generate_key_calls, 2u);
}

}  // namespace
}  // namespace keyferry::hsm
