// Opening a BYOK ciphertext C1 || C2 inside a token (docs/byok-format.md §2,
// "HSM as destination"): CKM_RSA_AES_KEY_WRAP in one C_UnwrapKey, or
// composed (RSA-OAEP of the transfer key as a session object, then RFC 5649
// of the target), and what the token made of it. Shared by keyferryd's
// PKCS#11 custody (BYOK import) and `keyferry import`.
#ifndef KEYFERRY_BYOK_TOKEN_UNWRAP_H_
#define KEYFERRY_BYOK_TOKEN_UNWRAP_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "byok/envelope.h"
#include "crypto/keys.h"
#include "crypto/rsa_oaep.h"
#include "hsm/mechanisms.h"
#include "hsm/object.h"
#include "hsm/session.h"
#include "hsm/templates.h"

namespace keyferry::byok {

// TokenUnwrapRoute says how the token opens C1 || C2.
struct TokenUnwrapRoute {
  // native: one C_UnwrapKey with CKM_RSA_AES_KEY_WRAP (AES-256 transfer
  // key, OAEP SHA-1, as Azure fixes it); only with oaep_hash kSha1.
  bool native = false;
  // The composed route's RFC 5649 mechanism, chosen by known-answer test
  // (byok::ChooseKwp), never by number.
  uint64_t kwp_mechanism = hsm::kAesKeyWrapPad;
  // The composed or direct route's OAEP hash (MGF1 of the same hash, no
  // label).
  crypto::OaepHash oaep_hash = crypto::OaepHash::kSha1;
  // direct: the ciphertext is one RSA-OAEP block of the key itself (an AES
  // key; AWS RSAES_OAEP_*, GCP rsa-oaep-*-sha256, OCI RSA_OAEP_SHA256);
  // neither native nor RFC 5649.
  bool direct = false;
};

// TokenUnwrapper opens one ciphertext under a KEK private key in the token.
// Not thread-safe; it borrows the session, which must outlive it. On the
// composed route it holds the transfer key, a sensitive, non-extractable
// session object (hsm::TransferKeyTemplate), from Open until it is dropped:
// every path destroys it.
class TokenUnwrapper {
 public:
  // Open checks the split rule for a `kek_bytes`-byte modulus
  // (CheckCiphertextLength; direct: exactly one `kek_bytes` block, else
  // InvalidArgument) and, on the composed route, unwraps C1 with
  // RSA-OAEP under `kek` into the transfer key. InvalidArgument "the
  // transfer key does not decrypt with the KEK ..." when the token refuses
  // C1 (wrong KEK or damaged blob: no more is said, to be no oracle);
  // Unavailable "the token failed while ..." for a token fault
  // (hsm::IsTokenFault).
  static absl::StatusOr<TokenUnwrapper> Open(
      hsm::Session& s, hsm::ObjectHandle kek, size_t kek_bytes,
      std::span<const uint8_t> ciphertext, const TokenUnwrapRoute& route);

  // Unwrap makes a new object from the payload with template `t` (a `kind`
  // key: for messages; kAes is a secret key, else a private key). It may be
  // called more than once; each call makes a new object, which the caller
  // owns. InvalidArgument naming the step that failed (the blob is damaged
  // or not a `kind` key); Unavailable for a token fault.
  absl::StatusOr<hsm::ScopedObject> Unwrap(const hsm::Template& t,
                                           crypto::KeyType kind);

  // payload_bound is |C2| - 8: the longest payload C2 can hold (RFC 5649);
  // direct: OaepMaxPayload of the modulus, which bounds nothing useful, so
  // callers learn an AES key's size otherwise (byok::ImportToToken).
  size_t payload_bound() const { return payload_bound_; }
  bool direct() const { return route_.direct; }
  // route names the route taken, for people: "native CKM_RSA_AES_KEY_WRAP",
  // "composed: RSA-OAEP-SHA1 + <KWP mechanism>" or "direct: RSA-OAEP-SHA1".
  std::string route() const;

 private:
  TokenUnwrapper(hsm::Session& s, hsm::ObjectHandle kek,
                 std::span<const uint8_t> ciphertext, size_t kek_bytes,
                 const TokenUnwrapRoute& route)
      : s_(&s),
        kek_(kek),
        ciphertext_(ciphertext),
        kek_bytes_(kek_bytes),
        route_(route),
        payload_bound_(route.direct
                           ? OaepMaxPayload(kek_bytes, route.oaep_hash)
                           : ciphertext.size() - kek_bytes - 8) {}
  hsm::Session* s_;
  hsm::ObjectHandle kek_;
  std::span<const uint8_t> ciphertext_;  // borrowed: must outlive this
  size_t kek_bytes_;
  TokenUnwrapRoute route_;
  size_t payload_bound_;
  hsm::ScopedObject transfer_;  // composed route only
};

// UnwrappedKey is what a token made of a payload, read from the object.
struct UnwrappedKey {
  crypto::KeyType type = crypto::KeyType::kAes;
  int bits = 0;                        // RSA modulus or AES key bits
  std::optional<crypto::Curve> curve;  // EC
  hsm::RsaPublicParts rsa;             // RSA: n and e
};

// DescribeUnwrapped reads what object `obj`, unwrapped as a `kind` key from
// a payload of at most `payload_bound` bytes, is:
// - RSA/EC: the object's own CKA_KEY_TYPE must be `kind` (a token may build
//   the key a PKCS#8 holds whatever the template asked, as NSS softokn
//   does): else InvalidArgument "the target key in the blob is not an RSA
//   private key: kty does not match the key inside"; then the modulus (and
//   exponent) or the curve (InvalidArgument for a curve keyferry does not
//   support).
// - AES: CKA_VALUE_LEN, or where the token leaves it 0 (SoftHSM 2.6.1 does
//   for unwrapped keys) `payload_bound`, confirmed by an AES-ECB encryption
//   of one block in the token (so `obj` must allow encrypt): RFC 5649's MLI
//   check leaves one AES size at most in the window, and AES refuses other
//   lengths. InvalidArgument "the AES key in the blob is not 16, 24 or 32
//   bytes long (...)" otherwise.
absl::StatusOr<UnwrappedKey> DescribeUnwrapped(hsm::Session& s,
                                               hsm::ObjectHandle obj,
                                               crypto::KeyType kind,
                                               size_t payload_bound);

}  // namespace keyferry::byok

#endif  // KEYFERRY_BYOK_TOKEN_UNWRAP_H_
