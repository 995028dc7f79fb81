// Helpers for unit tests that drive the fake token (fake_token.h) through
// hsm::Module and hsm::Session. The test target defines KF_FAKE_TOKEN_PATH,
// the library's path ($<TARGET_FILE:kf_fake_token>).
#ifndef KEYFERRY_HSM_TESTING_FAKE_TOKEN_TESTING_H_
#define KEYFERRY_HSM_TESTING_FAKE_TOKEN_TESTING_H_

#include <dlfcn.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "base/status.h"
#include "hsm/module.h"
#include "hsm/session.h"
#include "hsm/testing/fake_token.h"

namespace keyferry::hsm::testing {

inline const std::string& FakeTokenPath() {
  static const std::string* path = new std::string(KF_FAKE_TOKEN_PATH);
  return *path;
}

// FakeInit is the initialization string selecting `quirks` ("a,b" or "").
inline std::string FakeInit(std::string_view quirks) {
  return "quirks=" + std::string(quirks.empty() ? "none" : quirks);
}

inline absl::StatusOr<std::unique_ptr<Module>> LoadFake(
    std::string_view quirks) {
  LoadOptions options;
  options.init_reserved = FakeInit(quirks);
  return Module::Load(FakeTokenPath(), options);
}

// FakeStats copies the counters of the loaded fake token (zeroes when it is
// not loaded).
inline KfFakeStats FakeStats() {
  KfFakeStats s;
  std::memset(&s, 0, sizeof s);
  void* h = dlopen(FakeTokenPath().c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (h == nullptr) return s;
  auto fn = reinterpret_cast<KfFakeStatsFn>(dlsym(h, "kf_fake_stats"));
  if (fn != nullptr) fn(&s);
  dlclose(h);
  return s;
}

inline SecretBytes FakePin() {
  return SecretBytes(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(kKfFakePin), std::strlen(kKfFakePin)));
}

// FakeToken is a loaded fake with one logged-in session (the session goes
// first).
struct FakeToken {
  std::unique_ptr<Module> module;
  std::unique_ptr<Session> session;
};

inline absl::StatusOr<FakeToken> OpenFake(std::string_view quirks) {
  FakeToken t;
  ASSIGN_OR_RETURN(t.module, LoadFake(quirks));
  ASSIGN_OR_RETURN(SlotId slot,
                   t.module->FindSlotByTokenLabel(kKfFakeTokenLabel));
  ASSIGN_OR_RETURN(t.session, Session::Open(*t.module, slot, FakePin()));
  return t;
}

}  // namespace keyferry::hsm::testing

#endif  // KEYFERRY_HSM_TESTING_FAKE_TOKEN_TESTING_H_
