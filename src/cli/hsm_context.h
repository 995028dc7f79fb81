// Selecting and opening the HSM for a keyferry command: PKCS#11 URI or
// --module/--token, the PIN from the environment or a prompt, and
// keyferry's own SoftHSMv2 token as the default.
#ifndef KEYFERRY_CLI_HSM_CONTEXT_H_
#define KEYFERRY_CLI_HSM_CONTEXT_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "cli/args.h"
#include "hsm/module.h"
#include "hsm/session.h"
#include "hsm/uri.h"

namespace keyferry::cli {

inline constexpr char kDefaultModule[] = "/usr/lib/softhsm/libsofthsm2.so";
inline constexpr char kDefaultTokenLabel[] = "keyferry";
inline constexpr char kDefaultPinEnv[] = "KEYFERRY_PIN";
inline constexpr char kDefaultSoPinEnv[] = "KEYFERRY_SO_PIN";

// HsmTarget says which module and token a command addresses.
struct HsmTarget {
  std::string module_path;
  hsm::LoadOptions load;  // --module-init or x-init-reserved= in the URI
  std::optional<std::string> token_label;
  std::optional<uint64_t> slot_id;
  std::string pin_env = kDefaultPinEnv;  // or from pin-source=env:VAR
  std::optional<std::string> pin_file;   // from pin-source=file:PATH
  bool is_default_token = false;         // keyferry's own SoftHSMv2 token
  std::optional<std::string> object;     // object label from the URI, if any
  std::optional<std::vector<uint8_t>> object_id;
};

// ResolveTarget reads --hsm (a PKCS#11 URI), --module, --module-init,
// --token and --pin-env. Without them it selects keyferry's default token and
// points SOFTHSM2_CONF at keyferry's data directory, creating its
// configuration.
absl::StatusOr<HsmTarget> ResolveTarget(const Args& args);

// DataDir is $KEYFERRY_HOME, else $HOME/.local/share/keyferry.
std::string DataDir();

// ReadSecretFromEnvOrPrompt reads the PIN from environment variable `env`,
// else prompts on the terminal without echo. FailedPrecondition when neither
// is available. `what` names the PIN in messages ("user PIN", "SO PIN").
absl::StatusOr<SecretBytes> ReadSecretFromEnvOrPrompt(const std::string& env,
                                                      const std::string& what);

// ParseMechanismNumber reads "0x210A" or "8458".
absl::StatusOr<uint64_t> ParseMechanismNumber(const std::string& text);

// Hsm is an open, logged-in session on the selected token.
struct Hsm {
  HsmTarget target;
  std::unique_ptr<hsm::Module> module;
  hsm::SlotId slot = 0;
  hsm::TokenInfo token;
  std::unique_ptr<hsm::Session> session;
};

// OpenHsm resolves the target, loads the module, finds the token by label
// (or slot id) and logs in with the user PIN.
absl::StatusOr<Hsm> OpenHsm(const Args& args);

// SelectKey finds the private or secret key named by --key (a label, or a
// PKCS#11 URI with object= and/or id=), or by the object of --hsm's URI.
absl::StatusOr<hsm::ObjectHandle> SelectKey(Hsm& h, const Args& args);

}  // namespace keyferry::cli

#endif  // KEYFERRY_CLI_HSM_CONTEXT_H_
