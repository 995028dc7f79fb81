// Pkcs11ExportSession's known-answer probes, and ChooseKwp over them, on the
// fake PKCS#11 token (hsm/testing/fake_token.h), whose
// CKM_AES_KEY_WRAP_PAD (0x210A) is RFC 3394 over PKCS#7 padding and whose
// CKM_AES_KEY_WRAP_KWP (0x210B) is RFC 5649 with a short size answer: the
// known-answer test, not the number, picks the mechanism.
#include "byok/pkcs11_export_session.h"

#include "base/testing.h"
#include "byok/export.h"
#include "hsm/testing/fake_token_testing.h"

namespace keyferry::byok {
namespace {

using hsm::testing::FakeStats;
using hsm::testing::FakeToken;
using hsm::testing::OpenFake;
using ::testing::HasSubstr;

TEST(Pkcs11ExportSessionTest, KnownAnswerTestPicksTheRfc5649Mechanism) {
  ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake("short-size"));
  Pkcs11ExportSession token(*t.session, "fake");
  ASSERT_TRUE(token.HasWrapMechanism(kCkmAesKeyWrapPad));
  ASSERT_TRUE(token.HasWrapMechanism(kCkmAesKeyWrapKwp));
  ASSERT_OK_AND_ASSIGN(KwpChoice c, ChooseKwp(token, std::nullopt));
  EXPECT_EQ(c.mechanism, kCkmAesKeyWrapKwp);
  EXPECT_TRUE(c.listed);
  EXPECT_TRUE(c.probe.wrap_ok) << c.probe.detail;
  EXPECT_TRUE(c.probe.unwrap_ok) << c.probe.detail;
  EXPECT_FALSE(c.probe.padding_defect);
  ASSERT_EQ(c.others.size(), 1u);
  EXPECT_THAT(c.others[0], HasSubstr("CKM_AES_KEY_WRAP_PAD (0x210A): fails"));
  // Every probe object is gone again.
  EXPECT_EQ(FakeStats().live_objects, 0u);
}

TEST(Pkcs11ExportSessionTest, PadMechanismFailsBothWaysWithoutADefect) {
  ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake(""));
  Pkcs11ExportSession token(*t.session, "fake");
  ASSERT_OK_AND_ASSIGN(ExportSession::KwpProbe p,
                       token.ProbeKwp(kCkmAesKeyWrapPad));
  EXPECT_FALSE(p.wrap_ok);
  EXPECT_FALSE(p.unwrap_ok);
  EXPECT_FALSE(p.padding_defect);
  EXPECT_THAT(p.detail, HasSubstr("differs from RFC 5649"));
  EXPECT_THAT(p.detail, HasSubstr("CKR_WRAPPED_KEY_INVALID"));
  EXPECT_EQ(FakeStats().live_objects, 0u);
}

TEST(Pkcs11ExportSessionTest, RequestedMechanismIsTheOnlyOneProbed) {
  ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake(""));
  Pkcs11ExportSession token(*t.session, "fake");
  ASSERT_OK_AND_ASSIGN(KwpChoice c, ChooseKwp(token, kCkmAesKeyWrapPad));
  EXPECT_EQ(c.mechanism, kCkmAesKeyWrapPad);
  EXPECT_FALSE(c.probe.wrap_ok);
  EXPECT_TRUE(c.others.empty());
  // 0x210A only: the 20-byte vector's size query and call, and the 7-byte
  // vector's size query, which fails (RFC 3394 needs two blocks); probing
  // 0x210B as well would add four.
  EXPECT_EQ(FakeStats().wrap_calls, 3u);
  EXPECT_THAT(c.probe.detail, HasSubstr("wrap of 7-byte vector"));
}

}  // namespace
}  // namespace keyferry::byok
