#include "hsm/module.h"

#include <dlfcn.h>

#include <cstring>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/mutex.h"
#include "base/status.h"
#include "base/strings.h"
#include "hsm/errors.h"
#include "hsm/pkcs11.h"

namespace keyferry::hsm {
namespace {

std::string Field(const unsigned char* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  return std::string(absl::StripTrailingAsciiWhitespace(s));
}

TokenInfo FromCk(const CK_TOKEN_INFO& t) {
  TokenInfo out;
  out.label = Field(t.label, sizeof t.label);
  out.manufacturer = Field(t.manufacturerID, sizeof t.manufacturerID);
  out.model = Field(t.model, sizeof t.model);
  out.serial = Field(t.serialNumber, sizeof t.serialNumber);
  out.firmware =
      absl::StrCat(t.firmwareVersion.major, ".", t.firmwareVersion.minor);
  out.initialized = (t.flags & CKF_TOKEN_INITIALIZED) != 0;
  out.user_pin_initialized = (t.flags & CKF_USER_PIN_INITIALIZED) != 0;
  out.login_required = (t.flags & CKF_LOGIN_REQUIRED) != 0;
  return out;
}

}  // namespace

std::string MechanismName(uint64_t type) {
  switch (type) {
    case CKM_RSA_PKCS_KEY_PAIR_GEN:
      return "CKM_RSA_PKCS_KEY_PAIR_GEN";
    case CKM_RSA_PKCS:
      return "CKM_RSA_PKCS";
    case CKM_RSA_PKCS_OAEP:
      return "CKM_RSA_PKCS_OAEP";
    case CKM_RSA_PKCS_PSS:
      return "CKM_RSA_PKCS_PSS";
    case CKM_EC_KEY_PAIR_GEN:
      return "CKM_EC_KEY_PAIR_GEN";
    case CKM_ECDSA:
      return "CKM_ECDSA";
    case CKM_AES_KEY_GEN:
      return "CKM_AES_KEY_GEN";
    case CKM_AES_ECB:
      return "CKM_AES_ECB";
    case CKM_AES_CBC:
      return "CKM_AES_CBC";
    case CKM_AES_CBC_PAD:
      return "CKM_AES_CBC_PAD";
    case CKM_AES_GCM:
      return "CKM_AES_GCM";
    case CKM_AES_KEY_WRAP:
      return "CKM_AES_KEY_WRAP";
    case CKM_AES_KEY_WRAP_PAD:
      return "CKM_AES_KEY_WRAP_PAD";
    case CKM_AES_KEY_WRAP_KWP:
      return "CKM_AES_KEY_WRAP_KWP";
    case CKM_AES_KEY_WRAP_PKCS7:
      return "CKM_AES_KEY_WRAP_PKCS7";
    case CKM_RSA_AES_KEY_WRAP:
      return "CKM_RSA_AES_KEY_WRAP";
    default:
      return absl::StrCat("0x", absl::Hex(type));
  }
}

namespace {

// How many live Modules use each initialized function list (a dlopen of
// the same library returns the same one), and the parameters it was
// initialized with.
keyferry::Mutex init_mu;  // used only after main starts

struct InitUse {
  int users = 0;
  std::string init_reserved;
};
std::map<CK_FUNCTION_LIST*, InitUse>& InitUsers()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(init_mu) {
  static auto* users = new std::map<CK_FUNCTION_LIST*, InitUse>();
  return *users;
}

// Initialize calls C_Initialize for the first user of `fn`.
absl::Status Initialize(CK_FUNCTION_LIST* fn, const std::string& path,
                        const LoadOptions& options) {
  CK_C_INITIALIZE_ARGS args;
  std::memset(&args, 0, sizeof args);
  args.flags = CKF_OS_LOCKING_OK;
  // The module reads the string during C_Initialize; it stays ours.
  std::string reserved = options.init_reserved;
  if (!reserved.empty()) args.pReserved = reserved.data();
  CK_RV rv = fn->C_Initialize(&args);
  if (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return absl::OkStatus();
  }
  std::string what = absl::StrCat("C_Initialize of ", path);
  if (rv == CKR_ARGUMENTS_BAD && reserved.empty()) {
    absl::StrAppend(&what,
                    " (this module may need initialization parameters: "
                    "--module-init or x-init-reserved= in the PKCS#11 URI)");
  } else if (!reserved.empty()) {
    absl::StrAppend(&what, " with the given initialization parameters");
  }
  return CkrToStatus(rv, what);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Module>> Module::Load(
    const std::string& path, const LoadOptions& options) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot load PKCS#11 module ", path, ": ", dlerror()));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(
      dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* fn = nullptr;
  if (get_list == nullptr || get_list(&fn) != CKR_OK || fn == nullptr) {
    dlclose(handle);
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a PKCS#11 module (no C_GetFunctionList)"));
  }
  // A module is initialized once per process, however many Modules load
  // it: the first Load initializes it and the last one to go finalizes it
  // (C_Finalize by one user would end every other user's sessions).
  {
    keyferry::MutexLock lock(&init_mu);
    InitUse& use = InitUsers()[fn];
    if (use.users == 0) {
      absl::Status st = Initialize(fn, path, options);
      if (!st.ok()) {
        InitUsers().erase(fn);
        dlclose(handle);
        return st;
      }
      use.init_reserved = options.init_reserved;
    } else if (use.init_reserved != options.init_reserved) {
      dlclose(handle);
      return absl::FailedPreconditionError(
          absl::StrCat(path,
                       " is already initialized in this process with other "
                       "initialization parameters"));
    }
    ++use.users;
  }
  std::unique_ptr<Module> m(new Module(handle, fn, path));
  CK_INFO info;
  if (fn->C_GetInfo(&info) == CKR_OK) {
    m->description_ = absl::StrCat(
        Field(info.libraryDescription, sizeof info.libraryDescription), " ",
        info.libraryVersion.major, ".", info.libraryVersion.minor, " (",
        Field(info.manufacturerID, sizeof info.manufacturerID), ")");
  }
  return m;
}

Module::~Module() {
  {
    keyferry::MutexLock lock(&init_mu);
    auto it = InitUsers().find(fn_);
    if (it != InitUsers().end() && --it->second.users == 0) {
      fn_->C_Finalize(nullptr);
      InitUsers().erase(it);
    }
  }
  dlclose(handle_);
}

absl::StatusOr<std::vector<SlotInfo>> Module::ListSlots() {
  CK_ULONG count = 0;
  RETURN_IF_ERROR(CkrToStatus(fn_->C_GetSlotList(CK_FALSE, nullptr, &count),
                              "C_GetSlotList"));
  std::vector<CK_SLOT_ID> ids(count);
  RETURN_IF_ERROR(CkrToStatus(fn_->C_GetSlotList(CK_FALSE, ids.data(), &count),
                              "C_GetSlotList"));
  ids.resize(count);
  std::vector<SlotInfo> out;
  for (CK_SLOT_ID id : ids) {
    CK_SLOT_INFO si;
    RETURN_IF_ERROR(CkrToStatus(fn_->C_GetSlotInfo(id, &si), "C_GetSlotInfo"));
    SlotInfo s;
    s.id = id;
    s.description = Field(si.slotDescription, sizeof si.slotDescription);
    s.token_present = (si.flags & CKF_TOKEN_PRESENT) != 0;
    if (s.token_present) {
      CK_TOKEN_INFO ti;
      if (fn_->C_GetTokenInfo(id, &ti) == CKR_OK) s.token = FromCk(ti);
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<SlotId> Module::FindSlotByTokenLabel(std::string_view label) {
  ASSIGN_OR_RETURN(auto slots, ListSlots());
  for (const auto& s : slots) {
    if (s.token && s.token->initialized && s.token->label == label) return s.id;
  }
  return absl::NotFoundError(
      absl::StrCat("no token labelled '", Sv(label), "' in ", path_));
}

absl::StatusOr<SlotId> Module::FindFreeSlot() {
  ASSIGN_OR_RETURN(auto slots, ListSlots());
  for (const auto& s : slots) {
    if (s.token && !s.token->initialized) return s.id;
  }
  return absl::NotFoundError(
      absl::StrCat("no slot with an uninitialized token in ", path_));
}

absl::StatusOr<TokenInfo> Module::GetTokenInfo(SlotId slot) {
  CK_TOKEN_INFO ti;
  RETURN_IF_ERROR(
      CkrToStatus(fn_->C_GetTokenInfo(slot, &ti), "C_GetTokenInfo"));
  return FromCk(ti);
}

absl::StatusOr<std::vector<MechanismInfo>> Module::Mechanisms(SlotId slot) {
  CK_ULONG count = 0;
  RETURN_IF_ERROR(CkrToStatus(fn_->C_GetMechanismList(slot, nullptr, &count),
                              "C_GetMechanismList"));
  std::vector<CK_MECHANISM_TYPE> types(count);
  RETURN_IF_ERROR(
      CkrToStatus(fn_->C_GetMechanismList(slot, types.data(), &count),
                  "C_GetMechanismList"));
  types.resize(count);
  std::vector<MechanismInfo> out;
  for (CK_MECHANISM_TYPE t : types) {
    auto m = GetMechanism(slot, t);
    if (m.ok()) out.push_back(*m);
  }
  return out;
}

absl::StatusOr<MechanismInfo> Module::GetMechanism(SlotId slot, uint64_t type) {
  CK_MECHANISM_INFO mi;
  CK_RV rv = fn_->C_GetMechanismInfo(slot, type, &mi);
  if (rv == CKR_MECHANISM_INVALID) {
    return absl::NotFoundError(
        absl::StrCat(MechanismName(type), " is not offered by the token"));
  }
  RETURN_IF_ERROR(CkrToStatus(rv, "C_GetMechanismInfo"));
  MechanismInfo m;
  m.type = type;
  m.name = MechanismName(type);
  m.min_key_size = mi.ulMinKeySize;
  m.max_key_size = mi.ulMaxKeySize;
  m.encrypt = mi.flags & CKF_ENCRYPT;
  m.decrypt = mi.flags & CKF_DECRYPT;
  m.sign = mi.flags & CKF_SIGN;
  m.verify = mi.flags & CKF_VERIFY;
  m.wrap = mi.flags & CKF_WRAP;
  m.unwrap = mi.flags & CKF_UNWRAP;
  m.generate = mi.flags & CKF_GENERATE;
  m.generate_pair = mi.flags & CKF_GENERATE_KEY_PAIR;
  return m;
}

absl::Status Module::InitToken(SlotId slot, const SecretBytes& so_pin,
                               std::string_view label) {
  if (label.size() > 32) {
    return absl::InvalidArgumentError("token label longer than 32 bytes");
  }
  unsigned char padded[32];
  std::memset(padded, ' ', sizeof padded);
  std::memcpy(padded, label.data(), label.size());
  auto pin = so_pin.data(SecretAccess::Get());
  return CkrToStatus(
      fn_->C_InitToken(slot, const_cast<unsigned char*>(pin.data()), pin.size(),
                       padded),
      "C_InitToken");
}

void Module::CloseAllSessions(SlotId slot) { fn_->C_CloseAllSessions(slot); }

}  // namespace keyferry::hsm
