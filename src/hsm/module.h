// A loaded PKCS#11 module (dlopen + C_Initialize), its slots, tokens and
// mechanisms. Only src/hsm sees the C ABI; everything here returns Status.
//
// Thread safety: a Module may be shared by threads once loaded (it is
// initialized with CKF_OS_LOCKING_OK); each thread uses its own Session.
#ifndef KEYFERRY_HSM_MODULE_H_
#define KEYFERRY_HSM_MODULE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "hsm/object.h"
// The C ABI, defined in hsm/pkcs11.h; the tag is the standard's own name.
struct _CK_FUNCTION_LIST;  // NOLINT(bugprone-reserved-identifier): PKCS#11 tag

namespace keyferry::hsm {

using SlotId = uint64_t;

struct TokenInfo {
  std::string label;
  std::string manufacturer;
  std::string model;
  std::string serial;
  std::string firmware;  // "major.minor"
  bool initialized = false;
  bool user_pin_initialized = false;
  bool login_required = false;
};

struct SlotInfo {
  SlotId id = 0;
  std::string description;
  bool token_present = false;
  std::optional<TokenInfo> token;
};

struct MechanismInfo {
  uint64_t type = 0;
  std::string name;  // "CKM_RSA_PKCS_OAEP", "CKM_AES_KEY_WRAP_PAD", …
  uint64_t min_key_size = 0, max_key_size = 0;
  bool encrypt = false, decrypt = false, sign = false, verify = false;
  bool wrap = false, unwrap = false, generate = false, generate_pair = false;
};

// MechanismName names the mechanisms keyferry cares about, else "0x…".
std::string MechanismName(uint64_t type);

// LoadOptions say how a module is initialized.
struct LoadOptions {
  // init_reserved, when not empty, is passed to C_Initialize as
  // CK_C_INITIALIZE_ARGS.pReserved: the initialization string some modules
  // need before they can find their token (p11-kit's `x-init-reserved`).
  // NSS softokn, for example, reads its database from
  // "configdir='sql:DIR' certPrefix='' keyPrefix='' secmod='secmod.db'".
  // It names places, not secrets, yet is never logged.
  std::string init_reserved;
};

class Module {
 public:
  // Load dlopens `path`, fetches its function list and calls C_Initialize
  // with CKF_OS_LOCKING_OK (and options.init_reserved). NotFound when the
  // file cannot be loaded. A module is initialized once per process: a
  // second Load of the same module with other initialization parameters
  // is FailedPrecondition.
  static absl::StatusOr<std::unique_ptr<Module>> Load(
      const std::string& path, const LoadOptions& options = {});
  // Finalizes the module and closes the library.
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Description is "<library description> <version> (<manufacturer>)".
  const std::string& description() const { return description_; }
  const std::string& path() const { return path_; }

  absl::StatusOr<std::vector<SlotInfo>> ListSlots();
  // FindSlotByTokenLabel returns the slot whose token has `label`; NotFound
  // names the label. Tokens move slots on initialization (SoftHSM), so
  // tokens are always found by label, never by index.
  absl::StatusOr<SlotId> FindSlotByTokenLabel(std::string_view label);
  absl::StatusOr<TokenInfo> GetTokenInfo(SlotId slot);
  absl::StatusOr<std::vector<MechanismInfo>> Mechanisms(SlotId slot);
  // GetMechanism returns NotFound when the token does not list `type`.
  absl::StatusOr<MechanismInfo> GetMechanism(SlotId slot, uint64_t type);

  // InitToken initializes the token in `slot` with `so_pin` and `label`
  // (C_InitToken). FindFreeSlot returns a slot with an uninitialized token.
  absl::Status InitToken(SlotId slot, const SecretBytes& so_pin,
                         std::string_view label);
  absl::StatusOr<SlotId> FindFreeSlot();

  // CloseAllSessions closes every session of this application on `slot`
  // (C_CloseAllSessions), as a token reset does: for tests of recovery.
  void CloseAllSessions(SlotId slot);

  _CK_FUNCTION_LIST* functions() const { return fn_; }

 private:
  Module(void* handle, _CK_FUNCTION_LIST* fn, std::string path)
      : handle_(handle), fn_(fn), path_(std::move(path)) {}
  void* handle_;
  _CK_FUNCTION_LIST* fn_;
  std::string path_;
  std::string description_;
};

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_MODULE_H_
