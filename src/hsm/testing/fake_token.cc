// The fake token's library, slot, session and object functions, and its
// function list (see fake_token.h). Test-only.
#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>

#include "hsm/testing/fake_token_internal.h"

#define KF_FAKE_EXPORT extern "C" __attribute__((visibility("default")))

namespace kf_fake {

State& G() {
  // The library is never unloaded (-z nodelete); destroyed at exit.
  static State g;
  return g;
}

bool Object::Bool(CK_ATTRIBUTE_TYPE t, bool otherwise) const {
  auto it = attrs.find(t);
  if (it == attrs.end() || it->second.size() != 1) return otherwise;
  return it->second[0] != CK_FALSE;
}

std::optional<CK_ULONG> Object::Ulong(CK_ATTRIBUTE_TYPE t) const {
  auto it = attrs.find(t);
  if (it == attrs.end() || it->second.size() != sizeof(CK_ULONG)) {
    return std::nullopt;
  }
  CK_ULONG v;
  std::memcpy(&v, it->second.data(), sizeof v);
  return v;
}

Bytes Ulong(CK_ULONG v) {
  Bytes b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

Bytes Bool(bool v) {
  return Bytes{static_cast<uint8_t>(v ? CK_TRUE : CK_FALSE)};
}

CK_RV Attrs(const CK_ATTRIBUTE* t, CK_ULONG n,
            std::map<CK_ATTRIBUTE_TYPE, Bytes>& out) {
  if (t == nullptr && n != 0) return CKR_ARGUMENTS_BAD;
  for (CK_ULONG i = 0; i < n; ++i) {
    if (t[i].pValue == nullptr && t[i].ulValueLen != 0) {
      return CKR_ARGUMENTS_BAD;
    }
    const auto* p = static_cast<const uint8_t*>(t[i].pValue);
    Bytes v(p, p + (p == nullptr ? 0 : t[i].ulValueLen));
    if (!out.emplace(t[i].type, std::move(v)).second) {
      return CKR_TEMPLATE_INCONSISTENT;
    }
  }
  return CKR_OK;
}

CK_RV CheckNewObject(const State& g, const Object& o) {
  if (!o.Ulong(CKA_CLASS)) return CKR_TEMPLATE_INCOMPLETE;
  if (g.quirks.no_240_attrs && o.Bool(CKA_TOKEN, false) &&
      (o.Has(CKA_COPYABLE) || o.Has(CKA_DESTROYABLE))) {
    return CKR_GENERAL_ERROR;
  }
  return CKR_OK;
}

CK_OBJECT_HANDLE AddObject(State& g, CK_SESSION_HANDLE s, Object o) {
  o.owner = o.Bool(CKA_TOKEN, false) ? 0 : s;
  CK_OBJECT_HANDLE h = g.next_handle++;
  g.objects.emplace(h, std::move(o));
  return h;
}

SessionState* FindSession(State& g, CK_SESSION_HANDLE s) {
  if (!g.initialized) return nullptr;
  auto it = g.sessions.find(s);
  return it == g.sessions.end() ? nullptr : &it->second;
}

CK_RV FindKey(State& g, CK_OBJECT_HANDLE h, Object** out) {
  auto it = g.objects.find(h);
  if (it == g.objects.end()) return CKR_KEY_HANDLE_INVALID;
  *out = &it->second;
  return CKR_OK;
}

CK_RV Deliver(State& g, const Bytes& result, CK_ULONG answer, CK_BYTE_PTR out,
              CK_ULONG_PTR out_len, Operation* op) {
  if (out_len == nullptr) return CKR_ARGUMENTS_BAD;
  if (out == nullptr) {
    *out_len = answer;  // a size query; the operation stays active
    return CKR_OK;
  }
  KfFakeStats& st = g.stats;
  if (st.output_size_count < KF_FAKE_MAX_SIZES) {
    st.output_sizes[st.output_size_count] = *out_len;
  }
  ++st.output_size_count;
  if (g.quirks.always_too_small || *out_len < result.size()) {
    ++st.too_small_answers;
    *out_len = g.quirks.garbage_length ? kKfFakeGarbageLength : result.size();
    if (op != nullptr && g.quirks.ends_on_too_small) op->active = false;
    return CKR_BUFFER_TOO_SMALL;
  }
  std::copy(result.begin(), result.end(), out);
  *out_len = result.size();
  if (op != nullptr) op->active = false;
  return CKR_OK;
}

namespace {

using Lock = std::lock_guard<std::mutex>;

// ParseQuirks reads quirks=... out of the initialization string.
CK_RV ParseQuirks(const std::string& init, Quirks& q) {
  std::istringstream words(init);
  std::string word;
  q = Quirks();
  while (words >> word) {
    if (word.rfind("quirks=", 0) != 0) continue;
    std::istringstream list(word.substr(7));
    std::string name;
    while (std::getline(list, name, ',')) {
      if (name.empty() || name == "none") continue;
      if (name == "short-size") {
        q.short_size = true;
      } else if (name == "ends-on-too-small") {
        q.ends_on_too_small = true;
      } else if (name == "garbage-length") {
        q.garbage_length = true;
      } else if (name == "always-too-small") {
        q.always_too_small = true;
      } else if (name == "demand-ec-attr") {
        q.demand_ec_attr = true;
      } else if (name == "demand-attr-all") {
        q.demand_attr_all = true;
      } else if (name == "no-240-attrs") {
        q.no_240_attrs = true;
      } else {
        return CKR_ARGUMENTS_BAD;
      }
    }
  }
  return CKR_OK;
}

CK_RV Initialize(void* init_args) {
  State& g = G();
  Lock lock(g.mu);
  ++g.stats.initialize_calls;
  if (g.initialized) return CKR_CRYPTOKI_ALREADY_INITIALIZED;
  const auto* args = static_cast<const CK_C_INITIALIZE_ARGS*>(init_args);
  const char* reserved =
      args == nullptr ? nullptr : static_cast<const char*>(args->pReserved);
  std::string init =
      reserved == nullptr ? "" : std::string(reserved, strnlen(reserved, 4096));
  unsigned long calls = g.stats.initialize_calls;
  g.stats = KfFakeStats{};
  g.stats.initialize_calls = calls;
  g.stats.init_reserved_given = reserved != nullptr;
  std::memcpy(g.stats.init_reserved, init.data(),
              std::min(init.size(), sizeof g.stats.init_reserved - 1));
  if (reserved == nullptr) return CKR_ARGUMENTS_BAD;
  if (CK_RV rv = ParseQuirks(init, g.quirks); rv != CKR_OK) return rv;
  g.initialized = true;
  return CKR_OK;
}

bool Initialized() {
  Lock lock(G().mu);
  return G().initialized;
}

CK_RV Finalize(void* reserved) {
  if (reserved != nullptr) return CKR_ARGUMENTS_BAD;
  State& g = G();
  Lock lock(g.mu);
  if (!g.initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
  g.initialized = false;
  g.logged_in = false;
  g.objects.clear();
  g.sessions.clear();
  return CKR_OK;
}

// Pad fills a PKCS#11 text field: blank-padded, never NUL-terminated.
void Pad(unsigned char* field, size_t n, const char* text) {
  std::memset(field, ' ', n);
  std::copy_n(text, std::min(n, std::strlen(text)), field);
}

CK_RV GetInfo(CK_INFO_PTR info) {
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  if (!Initialized()) return CKR_CRYPTOKI_NOT_INITIALIZED;
  std::memset(info, 0, sizeof *info);
  info->cryptokiVersion = {2, 40};
  Pad(info->manufacturerID, sizeof info->manufacturerID, "keyferry tests");
  Pad(info->libraryDescription, sizeof info->libraryDescription,
      "keyferry fake token");
  info->libraryVersion = {1, 0};
  return CKR_OK;
}

CK_RV GetSlotList(CK_BBOOL, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
  if (count == nullptr) return CKR_ARGUMENTS_BAD;
  if (!Initialized()) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (list != nullptr) {
    if (*count < 1) {
      *count = 1;
      return CKR_BUFFER_TOO_SMALL;
    }
    list[0] = kKfFakeSlot;
  }
  *count = 1;
  return CKR_OK;
}

CK_RV GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  if (!Initialized()) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kKfFakeSlot) return CKR_SLOT_ID_INVALID;
  std::memset(info, 0, sizeof *info);
  Pad(info->slotDescription, sizeof info->slotDescription, "fake slot");
  Pad(info->manufacturerID, sizeof info->manufacturerID, "keyferry tests");
  info->flags = CKF_TOKEN_PRESENT;
  return CKR_OK;
}

CK_RV GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  if (!Initialized()) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kKfFakeSlot) return CKR_SLOT_ID_INVALID;
  std::memset(info, 0, sizeof *info);
  Pad(info->label, sizeof info->label, kKfFakeTokenLabel);
  Pad(info->manufacturerID, sizeof info->manufacturerID, "keyferry tests");
  Pad(info->model, sizeof info->model, "fake");
  Pad(info->serialNumber, sizeof info->serialNumber, "1");
  info->flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED |
                CKF_TOKEN_INITIALIZED;
  info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulMaxPinLen = 64;
  info->ulMinPinLen = 4;
  info->firmwareVersion = {1, 0};
  return CKR_OK;
}

struct MechEntry {
  CK_MECHANISM_TYPE type;
  CK_ULONG min, max;
  CK_FLAGS flags;
};
constexpr MechEntry kMechanisms[] = {
    {CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE},
    {CKM_EC_KEY_PAIR_GEN, 256, 521, CKF_GENERATE_KEY_PAIR},
    {CKM_AES_GCM, 16, 32, CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_AES_KEY_WRAP_PAD, 16, 32, CKF_WRAP | CKF_UNWRAP},
    {CKM_AES_KEY_WRAP_KWP, 16, 32, CKF_WRAP | CKF_UNWRAP},
    {CKM_SHA256_HMAC, 16, 64, CKF_SIGN},
};

CK_RV GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
                       CK_ULONG_PTR count) {
  if (count == nullptr) return CKR_ARGUMENTS_BAD;
  if (!Initialized()) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kKfFakeSlot) return CKR_SLOT_ID_INVALID;
  constexpr CK_ULONG n = std::size(kMechanisms);
  if (list != nullptr) {
    if (*count < n) {
      *count = n;
      return CKR_BUFFER_TOO_SMALL;
    }
    for (CK_ULONG i = 0; i < n; ++i) list[i] = kMechanisms[i].type;
  }
  *count = n;
  return CKR_OK;
}

CK_RV GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                       CK_MECHANISM_INFO_PTR info) {
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  if (!Initialized()) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kKfFakeSlot) return CKR_SLOT_ID_INVALID;
  for (const MechEntry& m : kMechanisms) {
    if (m.type == type) {
      *info = {m.min, m.max, m.flags};
      return CKR_OK;
    }
  }
  return CKR_MECHANISM_INVALID;
}

CK_RV OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void*, CK_NOTIFY,
                  CK_SESSION_HANDLE_PTR session) {
  if (session == nullptr) return CKR_ARGUMENTS_BAD;
  State& g = G();
  Lock lock(g.mu);
  if (!g.initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kKfFakeSlot) return CKR_SLOT_ID_INVALID;
  if ((flags & CKF_SERIAL_SESSION) == 0) {
    return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
  }
  CK_SESSION_HANDLE h = g.next_handle++;
  g.sessions[h].slot = slot;
  *session = h;
  return CKR_OK;
}

void DropSession(State& g, CK_SESSION_HANDLE s) {
  g.sessions.erase(s);
  for (auto it = g.objects.begin(); it != g.objects.end();) {
    it = it->second.owner == s ? g.objects.erase(it) : std::next(it);
  }
  if (g.sessions.empty()) g.logged_in = false;
}

CK_RV CloseSession(CK_SESSION_HANDLE s) {
  State& g = G();
  Lock lock(g.mu);
  if (FindSession(g, s) == nullptr) return CKR_SESSION_HANDLE_INVALID;
  DropSession(g, s);
  return CKR_OK;
}

CK_RV CloseAllSessions(CK_SLOT_ID slot) {
  State& g = G();
  Lock lock(g.mu);
  if (!g.initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (slot != kKfFakeSlot) return CKR_SLOT_ID_INVALID;
  while (!g.sessions.empty()) DropSession(g, g.sessions.begin()->first);
  return CKR_OK;
}

CK_RV GetSessionInfo(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info) {
  if (info == nullptr) return CKR_ARGUMENTS_BAD;
  State& g = G();
  Lock lock(g.mu);
  SessionState* ss = FindSession(g, s);
  if (ss == nullptr) return CKR_SESSION_HANDLE_INVALID;
  info->slotID = ss->slot;
  info->state = g.logged_in ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION;
  info->flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
  info->ulDeviceError = 0;
  return CKR_OK;
}

CK_RV Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
            CK_ULONG pin_len) {
  State& g = G();
  Lock lock(g.mu);
  if (FindSession(g, s) == nullptr) return CKR_SESSION_HANDLE_INVALID;
  if (user != CKU_USER) return CKR_USER_TYPE_INVALID;
  if (g.logged_in) return CKR_USER_ALREADY_LOGGED_IN;
  if (pin == nullptr || pin_len != std::strlen(kKfFakePin) ||
      std::memcmp(pin, kKfFakePin, pin_len) != 0) {
    return CKR_PIN_INCORRECT;
  }
  g.logged_in = true;
  return CKR_OK;
}

CK_RV Logout(CK_SESSION_HANDLE s) {
  State& g = G();
  Lock lock(g.mu);
  if (FindSession(g, s) == nullptr) return CKR_SESSION_HANDLE_INVALID;
  if (!g.logged_in) return CKR_USER_NOT_LOGGED_IN;
  g.logged_in = false;
  return CKR_OK;
}

CK_RV CreateObject(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                   CK_OBJECT_HANDLE_PTR out) {
  if (out == nullptr) return CKR_ARGUMENTS_BAD;
  State& g = G();
  Lock lock(g.mu);
  if (FindSession(g, s) == nullptr) return CKR_SESSION_HANDLE_INVALID;
  if (!g.logged_in) return CKR_USER_NOT_LOGGED_IN;
  Object o;
  if (CK_RV rv = Attrs(t, n, o.attrs); rv != CKR_OK) return rv;
  if (CK_RV rv = CheckNewObject(g, o); rv != CKR_OK) return rv;
  if (o.Ulong(CKA_CLASS) == CKO_SECRET_KEY && o.Has(CKA_VALUE) &&
      !o.Has(CKA_VALUE_LEN)) {
    o.attrs[CKA_VALUE_LEN] = Ulong(o.attrs[CKA_VALUE].size());
  }
  *out = AddObject(g, s, std::move(o));
  return CKR_OK;
}

CK_RV DestroyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h) {
  State& g = G();
  Lock lock(g.mu);
  if (FindSession(g, s) == nullptr) return CKR_SESSION_HANDLE_INVALID;
  if (g.objects.erase(h) == 0) return CKR_OBJECT_HANDLE_INVALID;
  return CKR_OK;
}

// Readable tells whether attribute `t` of `o` may be read.
bool Readable(const Object& o, CK_ATTRIBUTE_TYPE t) {
  if (t != CKA_VALUE) return true;
  return !o.Bool(CKA_SENSITIVE, false) && o.Bool(CKA_EXTRACTABLE, true);
}

CK_RV GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                        CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  if (t == nullptr && n != 0) return CKR_ARGUMENTS_BAD;
  State& g = G();
  Lock lock(g.mu);
  if (FindSession(g, s) == nullptr) return CKR_SESSION_HANDLE_INVALID;
  auto it = g.objects.find(h);
  if (it == g.objects.end()) return CKR_OBJECT_HANDLE_INVALID;
  CK_RV rv = CKR_OK;
  for (CK_ULONG i = 0; i < n; ++i) {
    auto a = it->second.attrs.find(t[i].type);
    if (a == it->second.attrs.end()) {
      t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_ATTRIBUTE_TYPE_INVALID;
    } else if (!Readable(it->second, t[i].type)) {
      t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_ATTRIBUTE_SENSITIVE;
    } else if (t[i].pValue == nullptr) {
      t[i].ulValueLen = a->second.size();
    } else if (t[i].ulValueLen < a->second.size()) {
      t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_BUFFER_TOO_SMALL;
    } else {
      std::copy(a->second.begin(), a->second.end(),
                static_cast<uint8_t*>(t[i].pValue));
      t[i].ulValueLen = a->second.size();
    }
  }
  return rv;
}

CK_RV FindObjectsInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  State& g = G();
  Lock lock(g.mu);
  SessionState* ss = FindSession(g, s);
  if (ss == nullptr) return CKR_SESSION_HANDLE_INVALID;
  if (ss->finding) return CKR_OPERATION_ACTIVE;
  std::map<CK_ATTRIBUTE_TYPE, Bytes> match;
  if (CK_RV rv = Attrs(t, n, match); rv != CKR_OK) return rv;
  ss->found.clear();
  ss->found_pos = 0;
  for (const auto& entry : g.objects) {
    const Object& o = entry.second;  // (clang cannot capture a binding)
    bool all = std::all_of(match.begin(), match.end(), [&](const auto& m) {
      auto a = o.attrs.find(m.first);
      return a != o.attrs.end() && a->second == m.second;
    });
    if (all) ss->found.push_back(entry.first);
  }
  ss->finding = true;
  return CKR_OK;
}

CK_RV FindObjects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                  CK_ULONG_PTR count) {
  if (out == nullptr || count == nullptr) return CKR_ARGUMENTS_BAD;
  State& g = G();
  Lock lock(g.mu);
  SessionState* ss = FindSession(g, s);
  if (ss == nullptr) return CKR_SESSION_HANDLE_INVALID;
  if (!ss->finding) return CKR_OPERATION_NOT_INITIALIZED;
  CK_ULONG n = 0;
  while (n < max && ss->found_pos < ss->found.size()) {
    out[n++] = ss->found[ss->found_pos++];
  }
  *count = n;
  return CKR_OK;
}

CK_RV FindObjectsFinal(CK_SESSION_HANDLE s) {
  State& g = G();
  Lock lock(g.mu);
  SessionState* ss = FindSession(g, s);
  if (ss == nullptr) return CKR_SESSION_HANDLE_INVALID;
  if (!ss->finding) return CKR_OPERATION_NOT_INITIALIZED;
  ss->finding = false;
  ss->found.clear();
  return CKR_OK;
}

// NotSupported<F>::Fn is a function of type F answering
// CKR_FUNCTION_NOT_SUPPORTED: every entry of the list is a real function of
// its own type (no null entry, no cast).
template <typename F>
struct NotSupported;
template <typename... Args>
struct NotSupported<CK_RV (*)(Args...)> {
  static CK_RV Fn(Args...) { return CKR_FUNCTION_NOT_SUPPORTED; }
};

// The PKCS#11 2.40 function list, in its order.
// clang-format off
#define KF_FAKE_ALL_FUNCTIONS(X)                                              \
  X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList)             \
  X(C_GetSlotList) X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList)   \
  X(C_GetMechanismInfo) X(C_InitToken) X(C_InitPIN) X(C_SetPIN)               \
  X(C_OpenSession) X(C_CloseSession) X(C_CloseAllSessions)                    \
  X(C_GetSessionInfo) X(C_GetOperationState) X(C_SetOperationState)          \
  X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject)                    \
  X(C_DestroyObject) X(C_GetObjectSize) X(C_GetAttributeValue)                \
  X(C_SetAttributeValue) X(C_FindObjectsInit) X(C_FindObjects)               \
  X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate)      \
  X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate)          \
  X(C_DecryptFinal) X(C_DigestInit) X(C_Digest) X(C_DigestUpdate)             \
  X(C_DigestKey) X(C_DigestFinal) X(C_SignInit) X(C_Sign) X(C_SignUpdate)     \
  X(C_SignFinal) X(C_SignRecoverInit) X(C_SignRecover) X(C_VerifyInit)        \
  X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal) X(C_VerifyRecoverInit)       \
  X(C_VerifyRecover) X(C_DigestEncryptUpdate) X(C_DecryptDigestUpdate)        \
  X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate) X(C_GenerateKey)            \
  X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey)             \
  X(C_SeedRandom) X(C_GenerateRandom) X(C_GetFunctionStatus)                  \
  X(C_CancelFunction) X(C_WaitForSlotEvent)
// clang-format on

CK_RV GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out);

CK_FUNCTION_LIST MakeList() {
  CK_FUNCTION_LIST l;
  std::memset(&l, 0, sizeof l);
  l.version = {2, 40};
#define KF_FAKE_NOT_SUPPORTED(name) l.name = &NotSupported<CK_##name>::Fn;
  KF_FAKE_ALL_FUNCTIONS(KF_FAKE_NOT_SUPPORTED)
#undef KF_FAKE_NOT_SUPPORTED
  l.C_Initialize = &Initialize;
  l.C_Finalize = &Finalize;
  l.C_GetInfo = &GetInfo;
  l.C_GetFunctionList = &GetFunctionList;
  l.C_GetSlotList = &GetSlotList;
  l.C_GetSlotInfo = &GetSlotInfo;
  l.C_GetTokenInfo = &GetTokenInfo;
  l.C_GetMechanismList = &GetMechanismList;
  l.C_GetMechanismInfo = &GetMechanismInfo;
  l.C_OpenSession = &OpenSession;
  l.C_CloseSession = &CloseSession;
  l.C_CloseAllSessions = &CloseAllSessions;
  l.C_GetSessionInfo = &GetSessionInfo;
  l.C_Login = &Login;
  l.C_Logout = &Logout;
  l.C_CreateObject = &CreateObject;
  l.C_DestroyObject = &DestroyObject;
  l.C_GetAttributeValue = &GetAttributeValue;
  l.C_FindObjectsInit = &FindObjectsInit;
  l.C_FindObjects = &FindObjects;
  l.C_FindObjectsFinal = &FindObjectsFinal;
  l.C_GenerateKey = &kf_fake_ops::GenerateKey;
  l.C_GenerateKeyPair = &kf_fake_ops::GenerateKeyPair;
  l.C_WrapKey = &kf_fake_ops::WrapKey;
  l.C_UnwrapKey = &kf_fake_ops::UnwrapKey;
  l.C_EncryptInit = &kf_fake_ops::EncryptInit;
  l.C_Encrypt = &kf_fake_ops::Encrypt;
  l.C_DecryptInit = &kf_fake_ops::DecryptInit;
  l.C_Decrypt = &kf_fake_ops::Decrypt;
  l.C_SignInit = &kf_fake_ops::SignInit;
  l.C_Sign = &kf_fake_ops::Sign;
  return l;
}

CK_RV GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
  static CK_FUNCTION_LIST list = MakeList();
  if (out == nullptr) return CKR_ARGUMENTS_BAD;
  *out = &list;
  return CKR_OK;
}

}  // namespace
}  // namespace kf_fake

KF_FAKE_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out) {
  return kf_fake::GetFunctionList(out);
}

KF_FAKE_EXPORT void kf_fake_stats(KfFakeStats* out) {
  kf_fake::State& g = kf_fake::G();
  std::lock_guard<std::mutex> lock(g.mu);
  *out = g.stats;
  out->live_objects = g.objects.size();
}
