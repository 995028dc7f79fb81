#include "hsm/session.h"

#include <cstring>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "hsm/errors.h"
#include "hsm/pkcs11.h"
#include "hsm/templates.h"
#include "hsm/two_call.h"

namespace keyferry::hsm {
namespace {

// CkTemplate is a CK_ATTRIBUTE array viewing an Attr template.
std::vector<CK_ATTRIBUTE> ToCk(const Template& t) {
  std::vector<CK_ATTRIBUTE> out;
  out.reserve(t.size());
  for (const auto& a : t) {
    auto v = a.value.data(SecretAccess::Get());
    out.push_back({a.type, const_cast<uint8_t*>(v.data()), v.size()});
  }
  return out;
}

CK_MECHANISM ToCk(const Mechanism& m) {
  return {m.type, const_cast<void*>(m.param), m.param_len};
}

}  // namespace

Attr Attr::Bool(uint64_t type, bool v) {
  CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
  return {type, SecretBytes(std::span<const uint8_t>(&b, 1))};
}
Attr Attr::Ulong(uint64_t type, uint64_t v) {
  CK_ULONG u = v;
  return {type, SecretBytes(std::span<const uint8_t>(
                    reinterpret_cast<const uint8_t*>(&u), sizeof u))};
}
Attr Attr::Bytes(uint64_t type, std::span<const uint8_t> v) {
  return {type, SecretBytes(v)};
}
Attr Attr::String(uint64_t type, std::string_view v) {
  return {type, SecretBytes(std::span<const uint8_t>(
                    reinterpret_cast<const uint8_t*>(v.data()), v.size()))};
}
Attr Attr::Secret(uint64_t type, const SecretBytes& v) { return {type, v}; }

absl::StatusOr<std::unique_ptr<Session>> Session::OpenAs(Module& module,
                                                         SlotId slot,
                                                         const SecretBytes& pin,
                                                         unsigned long user) {
  CK_FUNCTION_LIST* fn = module.functions();
  CK_SESSION_HANDLE h = 0;
  RETURN_IF_ERROR(
      CkrToStatus(fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                    nullptr, nullptr, &h),
                  "C_OpenSession"));
  std::unique_ptr<Session> s(new Session(&module, slot, h));
  auto p = pin.data(SecretAccess::Get());
  CK_RV rv = fn->C_Login(h, user, const_cast<uint8_t*>(p.data()), p.size());
  if (rv == CKR_PIN_INCORRECT) {
    return CkrToStatus(rv,
                       user == CKU_SO ? "SO PIN incorrect" : "PIN incorrect");
  }
  if (rv != CKR_USER_ALREADY_LOGGED_IN) {
    RETURN_IF_ERROR(CkrToStatus(rv, "C_Login"));
  }
  // Only the session that logged in logs out: C_Logout ends the login of
  // every session of this application on the token.
  s->logged_in_ = rv == CKR_OK;
  return s;
}

absl::StatusOr<std::unique_ptr<Session>> Session::Open(Module& module,
                                                       SlotId slot,
                                                       const SecretBytes& pin) {
  return OpenAs(module, slot, pin, CKU_USER);
}

absl::StatusOr<std::unique_ptr<Session>> Session::OpenSecurityOfficer(
    Module& module, SlotId slot, const SecretBytes& so_pin) {
  return OpenAs(module, slot, so_pin, CKU_SO);
}

Session::~Session() {
  CK_FUNCTION_LIST* fn = module_->functions();
  if (logged_in_) fn->C_Logout(handle_);
  fn->C_CloseSession(handle_);
}

absl::Status Session::InitUserPin(const SecretBytes& pin) {
  auto p = pin.data(SecretAccess::Get());
  return CkrToStatus(module_->functions()->C_InitPIN(
                         handle_, const_cast<uint8_t*>(p.data()), p.size()),
                     "C_InitPIN");
}

absl::StatusOr<std::vector<ObjectHandle>> Session::Find(const Template& match) {
  CK_FUNCTION_LIST* fn = module_->functions();
  auto ck = ToCk(match);
  RETURN_IF_ERROR(
      CkrToStatus(fn->C_FindObjectsInit(handle_, ck.data(), ck.size()),
                  "C_FindObjectsInit"));
  std::vector<ObjectHandle> out;
  absl::Status st;
  for (;;) {
    CK_OBJECT_HANDLE batch[64];
    CK_ULONG n = 0;
    st =
        CkrToStatus(fn->C_FindObjects(handle_, batch, 64, &n), "C_FindObjects");
    if (!st.ok() || n == 0) break;
    out.insert(out.end(), batch, batch + n);
  }
  fn->C_FindObjectsFinal(handle_);
  if (!st.ok()) return st;
  return out;
}

absl::StatusOr<SecretBytes> Session::GetSecretAttribute(ObjectHandle h,
                                                        uint64_t type) {
  CK_FUNCTION_LIST* fn = module_->functions();
  CK_ATTRIBUTE a = {type, nullptr, 0};
  CK_RV rv = fn->C_GetAttributeValue(handle_, h, &a, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID ||
      a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    if (rv == CKR_ATTRIBUTE_SENSITIVE)
      return CkrToStatus(rv, "C_GetAttributeValue");
    return absl::NotFoundError(
        absl::StrCat("object has no attribute 0x", absl::Hex(type)));
  }
  RETURN_IF_ERROR(CkrToStatus(rv, "C_GetAttributeValue"));
  SecretBytes out(a.ulValueLen);
  a.pValue = out.mutable_data(SecretAccess::Get()).data();
  RETURN_IF_ERROR(CkrToStatus(fn->C_GetAttributeValue(handle_, h, &a, 1),
                              "C_GetAttributeValue"));
  out.Resize(a.ulValueLen);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Session::GetAttribute(ObjectHandle h,
                                                           uint64_t type) {
  ASSIGN_OR_RETURN(SecretBytes v, GetSecretAttribute(h, type));
  auto d = v.data(SecretAccess::Get());
  return std::vector<uint8_t>(d.begin(), d.end());
}

absl::StatusOr<bool> Session::GetBool(ObjectHandle h, uint64_t type) {
  ASSIGN_OR_RETURN(auto v, GetAttribute(h, type));
  if (v.size() != 1)
    return absl::InternalError("boolean attribute of wrong size");
  return v[0] != CK_FALSE;
}

absl::StatusOr<uint64_t> Session::GetUlong(ObjectHandle h, uint64_t type) {
  ASSIGN_OR_RETURN(auto v, GetAttribute(h, type));
  if (v.size() != sizeof(CK_ULONG)) {
    return absl::InternalError("CK_ULONG attribute of wrong size");
  }
  CK_ULONG u;
  std::memcpy(&u, v.data(), sizeof u);
  return u;
}

absl::StatusOr<ObjectHandle> Session::CreateObject(const Template& t) {
  auto ck = ToCk(t);
  CK_OBJECT_HANDLE h = 0;
  RETURN_IF_ERROR(CkrToStatus(
      module_->functions()->C_CreateObject(handle_, ck.data(), ck.size(), &h),
      "C_CreateObject"));
  return h;
}

absl::StatusOr<ObjectHandle> Session::GenerateKey(const Mechanism& m,
                                                  const Template& t) {
  auto ck = ToCk(t);
  CK_MECHANISM mech = ToCk(m);
  CK_OBJECT_HANDLE h = 0;
  RETURN_IF_ERROR(CkrToStatus(module_->functions()->C_GenerateKey(
                                  handle_, &mech, ck.data(), ck.size(), &h),
                              "C_GenerateKey"));
  return h;
}

absl::StatusOr<std::pair<ObjectHandle, ObjectHandle>> Session::GenerateKeyPair(
    const Mechanism& m, const Template& pub, const Template& priv) {
  auto ck_pub = ToCk(pub);
  auto ck_priv = ToCk(priv);
  CK_MECHANISM mech = ToCk(m);
  CK_OBJECT_HANDLE hp = 0, hs = 0;
  RETURN_IF_ERROR(CkrToStatus(module_->functions()->C_GenerateKeyPair(
                                  handle_, &mech, ck_pub.data(), ck_pub.size(),
                                  ck_priv.data(), ck_priv.size(), &hp, &hs),
                              "C_GenerateKeyPair"));
  return std::pair<ObjectHandle, ObjectHandle>(hp, hs);
}

absl::StatusOr<std::vector<uint8_t>> Session::WrapKey(const Mechanism& m,
                                                      ObjectHandle wrapping,
                                                      ObjectHandle key) {
  CK_FUNCTION_LIST* fn = module_->functions();
  CK_MECHANISM mech = ToCk(m);
  std::vector<uint8_t> out;
  // C_WrapKey holds no operation state: nothing to start again. The slack
  // covers what an AES key wrap adds to the key (RFC 3394/5649: a padding
  // block and an integrity block) when a token's answer leaves it out; an
  // RSA wrap's answer (the modulus length) is right on every token seen.
  RETURN_IF_ERROR(RunTwoCall(
      "C_WrapKey", nullptr,
      [&](uint8_t* p, CK_ULONG* len) {
        return fn->C_WrapKey(handle_, &mech, wrapping, key, p, len);
      },
      0, kWrapSlack, out));
  return out;
}

absl::StatusOr<ObjectHandle> Session::UnwrapKey(
    const Mechanism& m, ObjectHandle unwrapping,
    std::span<const uint8_t> wrapped, const Template& t) {
  CK_OBJECT_HANDLE h = 0;
  auto unwrap = [&](const Template& tt) -> CK_RV {
    auto ck = ToCk(tt);
    CK_MECHANISM mech = ToCk(m);
    return module_->functions()->C_UnwrapKey(
        handle_, &mech, unwrapping, const_cast<uint8_t*>(wrapped.data()),
        wrapped.size(), ck.data(), ck.size(), &h);
  };
  CK_RV rv = unwrap(t);
  if (rv == CKR_TEMPLATE_INCOMPLETE) {
    ASSIGN_OR_RETURN(Template extras, DemandedByTokens(t));
    if (!extras.empty()) {
      Template more = t;
      for (Attr& a : extras) more.push_back(std::move(a));
      CK_RV again = unwrap(more);
      if (again == CKR_OK) return h;
      // The first answer is the one that describes the request.
      return CkrToStatus(
          rv, absl::StrCat("C_UnwrapKey (tried again with the attributes "
                           "some tokens demand: ",
                           CkrName(again), ")"));
    }
  }
  RETURN_IF_ERROR(CkrToStatus(rv, "C_UnwrapKey"));
  return h;
}

absl::Status Session::Destroy(ObjectHandle h) {
  return CkrToStatus(module_->functions()->C_DestroyObject(handle_, h),
                     "C_DestroyObject");
}

bool Session::IsAlive() {
  CK_SESSION_INFO info;
  if (module_->functions()->C_GetSessionInfo(handle_, &info) != CKR_OK) {
    return false;
  }
  return info.state == CKS_RW_USER_FUNCTIONS ||
         info.state == CKS_RO_USER_FUNCTIONS;
}

namespace {

// SignInto runs C_SignInit + C_Sign (single part) into `out`, a
// std::vector<uint8_t> or a SecretBytes.
template <typename Out>
absl::Status SignInto(CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                      const Mechanism& m, ObjectHandle key,
                      std::span<const uint8_t> data, Out& out) {
  CK_MECHANISM mech = ToCk(m);
  return RunTwoCall(
      "C_Sign", [&] { return fn->C_SignInit(session, &mech, key); },
      [&](uint8_t* p, CK_ULONG* len) {
        return fn->C_Sign(session, const_cast<uint8_t*>(data.data()),
                          data.size(), p, len);
      },
      0, 0, out);
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> Session::Sign(
    const Mechanism& m, ObjectHandle key, std::span<const uint8_t> data) {
  std::vector<uint8_t> out;
  RETURN_IF_ERROR(SignInto(module_->functions(), handle_, m, key, data, out));
  return out;
}

absl::StatusOr<SecretBytes> Session::SignSecret(const Mechanism& m,
                                                ObjectHandle key,
                                                std::span<const uint8_t> data) {
  SecretBytes out;
  RETURN_IF_ERROR(SignInto(module_->functions(), handle_, m, key, data, out));
  return out;
}

absl::Status Session::Verify(const Mechanism& m, ObjectHandle key,
                             std::span<const uint8_t> data,
                             std::span<const uint8_t> signature) {
  CK_FUNCTION_LIST* fn = module_->functions();
  CK_MECHANISM mech = ToCk(m);
  RETURN_IF_ERROR(
      CkrToStatus(fn->C_VerifyInit(handle_, &mech, key), "C_VerifyInit"));
  CK_RV rv =
      fn->C_Verify(handle_, const_cast<uint8_t*>(data.data()), data.size(),
                   const_cast<uint8_t*>(signature.data()), signature.size());
  if (rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE) {
    return absl::InvalidArgumentError("signature does not verify");
  }
  return CkrToStatus(rv, "C_Verify");
}

absl::Status Session::VerifyMac(const Mechanism& m, ObjectHandle key,
                                std::span<const uint8_t> data,
                                std::span<const uint8_t> mac) {
  ASSIGN_OR_RETURN(SecretBytes made, SignSecret(m, key, data));
  const SecretBytes given(mac);
  if (made.size() != given.size() || !made.ConstantTimeEquals(given)) {
    return absl::InvalidArgumentError("MAC does not verify");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> Session::Encrypt(
    const Mechanism& m, ObjectHandle key, std::span<const uint8_t> data) {
  CK_FUNCTION_LIST* fn = module_->functions();
  CK_MECHANISM mech = ToCk(m);
  std::vector<uint8_t> out;
  // Room for the data, a block of padding and an AEAD tag whatever the
  // size answer says (some tokens leave the GCM tag out of it).
  RETURN_IF_ERROR(RunTwoCall(
      "C_Encrypt", [&] { return fn->C_EncryptInit(handle_, &mech, key); },
      [&](uint8_t* p, CK_ULONG* len) {
        return fn->C_Encrypt(handle_, const_cast<uint8_t*>(data.data()),
                             data.size(), p, len);
      },
      data.size() + kCipherSlack, 0, out));
  return out;
}

absl::StatusOr<SecretBytes> Session::Decrypt(const Mechanism& m,
                                             ObjectHandle key,
                                             std::span<const uint8_t> data) {
  CK_FUNCTION_LIST* fn = module_->functions();
  CK_MECHANISM mech = ToCk(m);
  SecretBytes out;
  RETURN_IF_ERROR(RunTwoCall(
      "C_Decrypt", [&] { return fn->C_DecryptInit(handle_, &mech, key); },
      [&](uint8_t* p, CK_ULONG* len) {
        return fn->C_Decrypt(handle_, const_cast<uint8_t*>(data.data()),
                             data.size(), p, len);
      },
      data.size(), 0, out));
  return out;
}

}  // namespace keyferry::hsm
