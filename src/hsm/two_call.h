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
#include <vector>
#include <type_traits>

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

// RunTwoCall runs `call` (a two-call function bound to its arguments but
// the output buffer) into `out`, a std::vector<uint8_t> or a SecretBytes:
// `init` (null for a call without operation state, such as C_WrapKey)
// starts the operation, a size query asks for the length, and the call gets
// a buffer of max(answer + slack, floor) bytes. On CKR_BUFFER_TOO_SMALL the
// buffer grows (to the length the token names if that is larger and at most
// kMaxTwoCallOutput, else double) at most
// kMaxTwoCallGrowths times, and the operation is started again if the token
// ended it. Errors name `what` and the CK_RV; a buffer that held a partial
// secret is zeroized (SecretBytes) when it is replaced.
template <typename Out>
absl::Status RunTwoCall(const std::string& what,
                        const std::function<CK_RV()>& init,
                        const std::function<CK_RV(uint8_t*, CK_ULONG*)>& call,
                        size_t floor, size_t slack, Out& out) {
  static_assert(std::is_same_v<Out, SecretBytes> ||
                std::is_same_v<Out, std::vector<uint8_t>>);
  if (init) RETURN_IF_ERROR(CkrToStatus(init(), absl::StrCat(what, "Init")));
  CK_ULONG answer = 0;
  // A failed size query ends the operation (§5.2); report it.
  RETURN_IF_ERROR(CkrToStatus(call(nullptr, &answer), what));
  size_t size = std::max<size_t>(answer + slack, floor);
  for (int growths = 0;; ++growths) {
    if (size > kMaxTwoCallOutput) {
      return absl::InternalError(absl::StrCat(
          what, ": the token asks for an output of ", size, " bytes"));
    }
    out = Out(size);
    uint8_t* p;
    if constexpr (std::is_same_v<Out, SecretBytes>) {
      p = out.mutable_data(SecretAccess::Get()).data();
    } else {
      p = out.data();
    }
    CK_ULONG len = size;
    CK_RV rv = call(p, &len);
    if (rv == CKR_OK) {
      if (len > size) {
        return absl::InternalError(
            absl::StrCat(what, " wrote past the buffer it was given"));
      }
      if constexpr (std::is_same_v<Out, SecretBytes>) {
        out.Resize(len);
      } else {
        out.resize(len);
      }
      return absl::OkStatus();
    }
    if (rv != CKR_BUFFER_TOO_SMALL || growths == kMaxTwoCallGrowths) {
      out = Out();
      return CkrToStatus(rv, what);
    }
    // The length a token names may be missing, short or garbage: believed
    // only when it is larger and possible.
    size = len > size && len <= kMaxTwoCallOutput ? static_cast<size_t>(len)
                                                   : size * 2;
    if (init) {
      // Still active, as §5.2 says? A size query answers without ending it.
      CK_ULONG again = 0;
      rv = call(nullptr, &again);
      if (rv == CKR_OPERATION_NOT_INITIALIZED) {
        RETURN_IF_ERROR(
            CkrToStatus(init(), absl::StrCat(what, "Init (again)")));
      } else {
        RETURN_IF_ERROR(CkrToStatus(rv, what));
      }
    }
  }
}

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_TWO_CALL_H_
