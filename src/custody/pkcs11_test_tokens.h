// Test support for the PKCS#11 custody's suites (pkcs11_custody_test,
// pkcs11_release_test): the two real tokens they run on (SoftHSMv2 and an
// NSS softokn database, each in a private directory), and a shell helper
// for the independent tools (softhsm2-util, certutil, pkcs11-tool).
#ifndef KEYFERRY_CUSTODY_PKCS11_TEST_TOKENS_H_
#define KEYFERRY_CUSTODY_PKCS11_TEST_TOKENS_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/testing.h"
#include "custody/pkcs11_custody.h"

namespace keyferry::custody::p11test {

inline constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";
inline constexpr char kPin[] = "4321";
inline constexpr char kNssModule[] = "/usr/lib/x86_64-linux-gnu/libsoftokn3.so";
inline constexpr char kNssToken[] = "NSS Certificate DB";

// Shell runs `cmd` with stderr joined to stdout and returns the output.
inline std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    out.append(buf.data(), n);
  }
  pclose(p);
  return out;
}

inline std::vector<uint8_t> B(std::string_view s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

enum class Token { kSoftHsm, kNss };

inline void PrintTo(Token t, std::ostream* os) {
  *os << (t == Token::kSoftHsm ? "SoftHSM" : "NSS softokn");
}

inline std::string TokenName(const ::testing::TestParamInfo<Token>& info) {
  return info.param == Token::kSoftHsm ? "SoftHsm" : "NssSoftokn";
}

// One token and the custody open on it, made on first use (a test run as
// its own process makes only its token).
struct TokenEnv {
  std::string dir;
  std::string init;  // NSS: the module's initialization string
  Pkcs11Custody* custody = nullptr;
};

// UseSoftHsmDirectory points SoftHSM (SOFTHSM2_CONF) at a token directory
// under e.dir; call before the module is first loaded in the process.
inline void UseSoftHsmDirectory(const TokenEnv& e) {
  std::string tokens = e.dir + "/tokens";
  ASSERT_EQ(mkdir(tokens.c_str(), 0700), 0);
  std::ofstream(e.dir + "/softhsm2.conf")
      << "directories.tokendir = " << tokens << "\nobjectstore.backend = file\n"
      << "log.level = ERROR\nslots.removable = false\n";
  setenv("SOFTHSM2_CONF", (e.dir + "/softhsm2.conf").c_str(), 1);
}

// InitSoftHsmToken makes a SoftHSM token `label` with user PIN kPin.
inline void InitSoftHsmToken(std::string_view label) {
  std::string out =
      Shell(std::string("softhsm2-util --init-token --free --label ") +
            std::string(label) + " --so-pin 87654321 --pin " + kPin);
  ASSERT_NE(out.find("initialized"), std::string::npos) << out;
}

// MakeNssDatabase makes an NSS database in e.dir whose password is kPin
// and sets e.init to the module's initialization string for it.
inline void MakeNssDatabase(TokenEnv& e) {
  std::ofstream(e.dir + "/pw") << kPin << "\n";
  std::string out = Shell("certutil -N -d sql:" + e.dir + " -f " + e.dir +
                          "/pw && echo made");
  ASSERT_NE(out.find("made"), std::string::npos) << out;
  e.init = "configdir='sql:" + e.dir +
           "' certPrefix='' keyPrefix='' secmod='secmod.db'";
}

// CloseTokenEnvs deletes each env's custody and its directory: a suite's
// TearDownTestSuite.
template <size_t N>
void CloseTokenEnvs(std::array<TokenEnv, N>& envs) {
  for (TokenEnv& e : envs) {
    delete e.custody;
    e.custody = nullptr;
    if (!e.dir.empty()) std::system(("rm -rf " + e.dir).c_str());
    e.dir.clear();
  }
}

// CustodyOptions are the options of a custody on token `t` in `e` (for
// SoftHSM the token labelled `softhsm_label`), logged in with kPin; the
// caller sets sessions, cache and master key policy.
inline Pkcs11Options CustodyOptions(Token t, const TokenEnv& e,
                                    const char* softhsm_label) {
  const bool nss = t == Token::kNss;
  Pkcs11Options o;
  o.module_path = nss ? kNssModule : kModule;
  o.load.init_reserved = e.init;
  o.token_label = nss ? kNssToken : softhsm_label;
  o.pin = SecretBytes(AsBytes(kPin));
  return o;
}

// SoftHsmTool runs pkcs11-tool, logged in, on the SoftHSM token `label`.
inline std::string SoftHsmTool(const char* label, const std::string& args) {
  return Shell(std::string("pkcs11-tool --module ") + kModule +
               " --token-label " + label + " --login --pin " + kPin + " " +
               args);
}

}  // namespace keyferry::custody::p11test

#endif  // KEYFERRY_CUSTODY_PKCS11_TEST_TOKENS_H_
