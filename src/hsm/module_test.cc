// Module::Load's initialization string, against the fake token, which (like
// tokens that read their configuration from it) refuses a C_Initialize
// without one.
#include "hsm/module.h"

#include <string>

#include "base/testing.h"
#include "hsm/errors.h"
#include "hsm/pkcs11.h"
#include "hsm/testing/fake_token_testing.h"

namespace keyferry::hsm {
namespace {

using testing::FakeStats;
using testing::FakeTokenPath;
using testing::LoadFake;

TEST(ModuleInitTest, WithoutInitStringExplainsInitializationParameters) {
  absl::StatusOr<std::unique_ptr<Module>> m = Module::Load(FakeTokenPath());
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status(), StatusHasMessage("initialization parameters"));
  EXPECT_THAT(m.status(), StatusHasMessage("CKR_ARGUMENTS_BAD"));
  EXPECT_EQ(GetCkr(m.status()),
            std::optional<unsigned long>(CKR_ARGUMENTS_BAD));
}

TEST(ModuleInitTest, InitStringReachesTheTokenExactly) {
  const std::string init =
      "configdir='sql:/tmp/some dir' certPrefix='' quirks=none flags=";
  const unsigned long before = FakeStats().initialize_calls;
  LoadOptions options;
  options.init_reserved = init;
  ASSERT_OK_AND_ASSIGN(auto m, Module::Load(FakeTokenPath(), options));
  KfFakeStats s = FakeStats();
  EXPECT_EQ(s.initialize_calls, before + 1);
  EXPECT_EQ(s.init_reserved_given, 1);
  EXPECT_EQ(std::string(s.init_reserved), init);
  EXPECT_THAT(m->description(), ::testing::HasSubstr("keyferry fake token"));
  ASSERT_OK_AND_ASSIGN(SlotId slot, m->FindSlotByTokenLabel(kKfFakeTokenLabel));
  EXPECT_EQ(slot, kKfFakeSlot);
}

TEST(ModuleInitTest, RefusedInitStringIsReportedAsSuch) {
  LoadOptions options;
  options.init_reserved = "quirks=no-such-quirk";
  absl::StatusOr<std::unique_ptr<Module>> m =
      Module::Load(FakeTokenPath(), options);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status(),
              StatusHasMessage("with the given initialization parameters"));
  // The module was not left initialized: a good string works next.
  ASSERT_OK_AND_ASSIGN(auto again, LoadFake(""));
  EXPECT_EQ(std::string(FakeStats().init_reserved), "quirks=none");
}

TEST(ModuleInitTest, SecondLoadWithOtherInitStringIsFailedPrecondition) {
  ASSERT_OK_AND_ASSIGN(auto first, LoadFake("short-size"));
  const unsigned long calls = FakeStats().initialize_calls;
  absl::StatusOr<std::unique_ptr<Module>> other = LoadFake("no-240-attrs");
  EXPECT_THAT(other, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(other, StatusHasMessage("other initialization parameters"));
  // The same parameters share the initialized module, without a second
  // C_Initialize.
  ASSERT_OK_AND_ASSIGN(auto same, LoadFake("short-size"));
  EXPECT_EQ(FakeStats().initialize_calls, calls);
  // The first is still usable once the second is gone.
  same.reset();
  EXPECT_OK(first->FindSlotByTokenLabel(kKfFakeTokenLabel));
  // Once every user is gone the module is finalized; other parameters work.
  first.reset();
  ASSERT_OK_AND_ASSIGN(auto next, LoadFake("no-240-attrs"));
  EXPECT_EQ(FakeStats().initialize_calls, calls + 1);
  EXPECT_EQ(std::string(FakeStats().init_reserved), "quirks=no-240-attrs");
}

TEST(ModuleInitTest, WrongPinIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto m, LoadFake(""));
  std::string wrong = "not-the-pin";
  auto s = Session::Open(
      *m, kKfFakeSlot,
      SecretBytes(std::span<const uint8_t>(
          reinterpret_cast<const uint8_t*>(wrong.data()), wrong.size())));
  EXPECT_THAT(s, StatusHasMessage("PIN incorrect"));
  EXPECT_OK(Session::Open(*m, kKfFakeSlot, testing::FakePin()));
}

}  // namespace
}  // namespace keyferry::hsm
