// The fake token's state, shared by its two source files (fake_token.cc:
// library, slots, sessions, objects; fake_token_ops.cc: the mechanisms).
#ifndef KEYFERRY_HSM_TESTING_FAKE_TOKEN_INTERNAL_H_
#define KEYFERRY_HSM_TESTING_FAKE_TOKEN_INTERNAL_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "hsm/pkcs11.h"
#include "hsm/testing/fake_token.h"

namespace kf_fake {

using Bytes = std::vector<uint8_t>;

struct Quirks {
  bool short_size = false, ends_on_too_small = false, garbage_length = false,
       always_too_small = false, demand_ec_attr = false,
       demand_attr_all = false, no_240_attrs = false;
};

struct Object {
  CK_SESSION_HANDLE owner = 0;  // the session of a session object
  std::map<CK_ATTRIBUTE_TYPE, Bytes> attrs;

  bool Has(CK_ATTRIBUTE_TYPE t) const { return attrs.count(t) != 0; }
  // Bool reads a CK_BBOOL attribute, `otherwise` when absent.
  bool Bool(CK_ATTRIBUTE_TYPE t, bool otherwise) const;
  std::optional<CK_ULONG> Ulong(CK_ATTRIBUTE_TYPE t) const;
};

// Operation is an active C_EncryptInit/C_DecryptInit/C_SignInit.
struct Operation {
  bool active = false;
  CK_MECHANISM_TYPE mech = 0;
  Bytes key;  // the key's value, copied at init
  Bytes iv, aad;
  CK_ULONG tag_bytes = 0;
};

struct SessionState {
  CK_SLOT_ID slot = 0;
  Operation encrypt, decrypt, sign;
  bool finding = false;
  std::vector<CK_OBJECT_HANDLE> found;
  size_t found_pos = 0;
};

struct State {
  std::mutex mu;
  bool initialized = false;
  bool logged_in = false;
  Quirks quirks;
  std::map<CK_OBJECT_HANDLE, Object> objects;
  std::map<CK_SESSION_HANDLE, SessionState> sessions;
  CK_ULONG next_handle = 1;
  KfFakeStats stats{};
};

// G is the one token of the process; every entry point locks G().mu.
State& G();

// Attrs copies a template into an attribute map; CKR_ARGUMENTS_BAD for a
// null value with a non-zero length, CKR_TEMPLATE_INCONSISTENT for a type
// given twice.
CK_RV Attrs(const CK_ATTRIBUTE* t, CK_ULONG n,
            std::map<CK_ATTRIBUTE_TYPE, Bytes>& out);
// CheckNewObject applies the rules every new object meets: a class, and
// (quirk no-240-attrs) no PKCS#11 2.40 attribute on a token object.
CK_RV CheckNewObject(const State& g, const Object& o);
// AddObject stores `o` for session `s` and returns its handle.
CK_OBJECT_HANDLE AddObject(State& g, CK_SESSION_HANDLE s, Object o);
// Session finds an open session, else nullptr.
SessionState* FindSession(State& g, CK_SESSION_HANDLE s);
// Key finds an object usable as a key: CKR_KEY_HANDLE_INVALID when absent.
CK_RV FindKey(State& g, CK_OBJECT_HANDLE h, Object** out);

// Deliver is the output half of a two-call function: a size query (null
// `out`) is answered `answer`; a buffer shorter than `result` is
// CKR_BUFFER_TOO_SMALL (ending `op` under ends-on-too-small), else the
// result is copied and `op` ends. The quirks and counters apply here.
CK_RV Deliver(State& g, const Bytes& result, CK_ULONG answer, CK_BYTE_PTR out,
              CK_ULONG_PTR out_len, Operation* op);

Bytes Ulong(CK_ULONG v);
Bytes Bool(bool v);

}  // namespace kf_fake

// The entry points of fake_token_ops.cc, put in the function list by
// fake_token.cc.
namespace kf_fake_ops {
CK_RV GenerateKey(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR,
                  CK_ULONG, CK_OBJECT_HANDLE_PTR);
CK_RV GenerateKeyPair(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR,
                      CK_ULONG, CK_ATTRIBUTE_PTR, CK_ULONG,
                      CK_OBJECT_HANDLE_PTR, CK_OBJECT_HANDLE_PTR);
CK_RV WrapKey(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE,
              CK_OBJECT_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);
CK_RV UnwrapKey(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE,
                CK_BYTE_PTR, CK_ULONG, CK_ATTRIBUTE_PTR, CK_ULONG,
                CK_OBJECT_HANDLE_PTR);
CK_RV EncryptInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
CK_RV Encrypt(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
              CK_ULONG_PTR);
CK_RV DecryptInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
CK_RV Decrypt(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
              CK_ULONG_PTR);
CK_RV SignInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
CK_RV Sign(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
}  // namespace kf_fake_ops

#endif  // KEYFERRY_HSM_TESTING_FAKE_TOKEN_INTERNAL_H_
