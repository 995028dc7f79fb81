// PKCS#11's two-call convention (v2.40 §5.2: a size query with a null
// buffer, then the call with a buffer) done as a careful client must.
// Internal to src/hsm: it sees the C ABI.
//
// Real tokens differ from the standard here, and the handling below is the
// same for every token (no vendor is named):
// - the size answer may be short (a wrap answered 8–15 bytes below what it
//   writes; an AES-GCM encryption answered without its tag), so it is read
//   as a floor and the caller adds what the mechanism may add;
// - CKR_BUFFER_TOO_SMALL may end the operation although §5.2 says it must
//   stay active: the next call then answers CKR_OPERATION_NOT_INITIALIZED
//   and the operation is started again with `init`.
#ifndef KEYFERRY_HSM_TWO_CALL_H_
#define KEYFERRY_HSM_TWO_CALL_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/secret.h"
#include "base/status.h"
#include "hsm/errors.h"
#include "hsm/pkcs11.h"

namespace keyferry::hsm {

// What a wrap may add to the key (a padding block and the integrity block
// of RFC 3394/5649), and what an encryption may add to the data (a padding
// block and an AEAD tag).
inline constexpr size_t kWrapSlack = 16;
inline constexpr size_t kCipherSlack = 32;
// No single-part output keyferry asks for comes near this.
inline constexpr size_t kMaxTwoCallOutput = size_t{1} << 20;
inline constexpr int kMaxTwoCallGrowths = 4;

// Plausible tells whether a length a token answered can be believed: not 0
// (a zero-byte buffer is a null pointer, i.e. another size query) and not
// beyond kMaxTwoCallOutput (CK_UNAVAILABLE_INFORMATION, garbage).
inline bool Plausible(CK_ULONG len) {
  return len > 0 && len <= kMaxTwoCallOutput;
}

// kUnknownSizeStart is the first buffer when the size answer is not
// plausible: more than any key keyferry wraps or signature it makes.
inline constexpr size_t kUnknownSizeStart = 4096;

// RunTwoCall runs `call` (a two-call function bound to its arguments but
// the output buffer) into `out`, a std::vector<uint8_t> or a SecretBytes:
// `init` (null for a call without operation state, such as C_WrapKey)
// starts the operation, a size query asks for the length, and the call gets
// a buffer of max(answer + slack, floor, 1) bytes (kUnknownSizeStart
// instead of answer + slack when the answer is not Plausible). On
// CKR_BUFFER_TOO_SMALL the buffer grows (to the larger plausible length the
// token names, else double) at most kMaxTwoCallGrowths times, and the
// operation is started again if the token ended it. Errors name `what` and
// the CK_RV; a buffer that held a partial secret is zeroized (SecretBytes)
// when it is replaced; giving up ends an operation the token kept active.
template <typename Out>
absl::Status RunTwoCall(const std::string& what,
                        const std::function<CK_RV()>& init,
                        const std::function<CK_RV(uint8_t*, CK_ULONG*)>& call,
                        size_t floor, size_t slack, Out& out) {
  static_assert(std::is_same_v<Out, SecretBytes> ||
                std::is_same_v<Out, std::vector<uint8_t>>);
  if (init) RETURN_IF_ERROR(CkrToStatus(init(), absl::StrCat(what, "Init")));
  // Calls `call` into a fresh `size`-byte `out`.
  auto attempt = [&](size_t size, CK_ULONG* len) {
    out = Out(size);
    uint8_t* p;
    if constexpr (std::is_same_v<Out, SecretBytes>) {
      p = out.mutable_data(SecretAccess::Get()).data();
    } else {
      p = out.data();
    }
    *len = size;
    return call(p, len);
  };
  // Gives up with `st`. A conformant token keeps the operation active after
  // CKR_BUFFER_TOO_SMALL (§5.2), and a session with an active operation
  // refuses every other one: a last call with the largest buffer ends it
  // (its output is dropped, zeroized when secret; on a token that ended the
  // operation already, it answers CKR_OPERATION_NOT_INITIALIZED). A token
  // that still refuses leaves the session unusable; its next C_*Init
  // answers CKR_OPERATION_ACTIVE, which the session pool treats as a lost
  // session (IsStaleHandle).
  auto give_up = [&](absl::Status st, bool active) {
    if (active && init) {
      CK_ULONG len = 0;
      (void)attempt(kMaxTwoCallOutput, &len);
    }
    out = Out();
    return st;
  };
  CK_ULONG answer = 0;
  // A failed size query ends the operation (§5.2); report it.
  RETURN_IF_ERROR(CkrToStatus(call(nullptr, &answer), what));
  size_t size = Plausible(answer) ? answer + slack : kUnknownSizeStart;
  size = std::max<size_t>({size, floor, 1});
  for (int growths = 0;; ++growths) {
    CK_ULONG len = 0;
    CK_RV rv = attempt(size, &len);
    if (rv == CKR_OK) {
      if (len > size) {
        return give_up(absl::InternalError(absl::StrCat(
                           what, " wrote past the buffer it was given")),
                       false);
      }
      if constexpr (std::is_same_v<Out, SecretBytes>) {
        out.Resize(len);
      } else {
        out.resize(len);
      }
      return absl::OkStatus();
    }
    if (rv != CKR_BUFFER_TOO_SMALL)
      return give_up(CkrToStatus(rv, what), false);
    // The length a token names may be missing, short or garbage: believed
    // only when it is larger and plausible.
    size_t next = len > size && Plausible(len) ? static_cast<size_t>(len)
                                                : size * 2;
    if (growths == kMaxTwoCallGrowths || next > kMaxTwoCallOutput) {
      return give_up(
          CkrToStatus(rv, absl::StrCat(what, " (still, with a ", size,
                                       "-byte buffer)")),
          true);
    }
    if (init) {
      // Still active, as §5.2 says? A size query answers without ending it.
      CK_ULONG again = 0;
      rv = call(nullptr, &again);
      if (rv == CKR_OPERATION_NOT_INITIALIZED) {
        RETURN_IF_ERROR(
            CkrToStatus(init(), absl::StrCat(what, "Init (again)")));
      } else if (rv != CKR_OK) {
        return give_up(CkrToStatus(rv, what), false);
      } else if (Plausible(again) && again + slack > next) {
        next = std::min<size_t>(again + slack, kMaxTwoCallOutput);
      }
    }
    size = next;
  }
}

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_TWO_CALL_H_
