// The CKM_RSA_AES_KEY_WRAP ciphertext C1 || C2 (docs/byok-format.md §2–§3),
// in software: sealing for keys read from files, opening for `verify` and
// for a vault's software custody, and the structural analysis of `inspect`.
// Sealing of HSM-held keys happens in the token (byok/export.h).
#ifndef KEYFERRY_BYOK_ENVELOPE_H_
#define KEYFERRY_BYOK_ENVELOPE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/secret.h"
#include "crypto/keys.h"
#include "crypto/rsa_oaep.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::byok {

// kEphemeralKeyBytes is the size of the ephemeral AES key k.
inline constexpr size_t kEphemeralKeyBytes = 32;

// WrapSpec is the construction a destination asks for (§5): hybrid is
// RSA-OAEP(`hash`, MGF1 of `hash`, empty label) of an ephemeral AES-256 key
// followed by RFC 5649 of the payload under it; direct is RSA-OAEP of the
// payload itself.
struct WrapSpec {
  crypto::OaepHash hash = crypto::OaepHash::kSha1;
  bool hybrid = true;
};

// OaepHashName returns "SHA-1", "SHA-256", "SHA-384" or "SHA-512".
absl::string_view OaepHashName(crypto::OaepHash hash);

// OaepMaxPayload returns the longest message RSA-OAEP with `hash` carries
// under a modulus of `modulus_bytes` (n - 2*hLen - 2; 0 when none).
size_t OaepMaxPayload(size_t modulus_bytes, crypto::OaepHash hash);

// WrapPayload seals `payload` for `kek_public` in software as `spec` says:
// WrapToKek for hybrid, one RSA-OAEP block for direct. InvalidArgument for
// a direct payload longer than OaepMaxPayload.
absl::StatusOr<std::vector<uint8_t>> WrapPayload(EVP_PKEY* kek_public,
                                                 const SecretBytes& payload,
                                                 const WrapSpec& spec);

// KwpWrappedLength returns |C2| for a payload of `payload_len` bytes.
size_t KwpWrappedLength(size_t payload_len);

// CheckCiphertextLength applies the split rule: total - n >= 16 and
// (total - n) mod 8 == 0. InvalidArgument says which part failed.
absl::Status CheckCiphertextLength(size_t total, size_t modulus_bytes);

// KekModulusBytes returns n for an RSA KEK of 2048, 3072 or 4096 bits;
// InvalidArgument for any other key ("KEK must be RSA 2048, 3072 or 4096").
absl::StatusOr<size_t> KekModulusBytes(EVP_PKEY* kek);

// WrapToKek builds C1 || C2 in software under `kek_public` with a fresh
// ephemeral key that is zeroized before return.
absl::StatusOr<std::vector<uint8_t>> WrapToKek(
    EVP_PKEY* kek_public, const SecretBytes& payload,
    crypto::OaepHash hash = crypto::OaepHash::kSha1);

// UnwrapWithKek splits `ciphertext` at the KEK's modulus length, OAEP-decrypts
// k and KWP-unwraps the payload. Errors say which stage failed, never why in a
// way that would serve as an oracle.
absl::StatusOr<SecretBytes> UnwrapWithKek(
    EVP_PKEY* kek_private, std::span<const uint8_t> ciphertext,
    crypto::OaepHash hash = crypto::OaepHash::kSha1);

// RecoveredKey is a decoded payload: an AES key (raw bytes) or an RSA/EC
// private key parsed from PKCS#8.
struct RecoveredKey {
  crypto::KeyType type;
  crypto::EvpPkeyPtr pkey;  // RSA, EC
  SecretBytes secret;       // AES
  int bits = 0;
  std::optional<crypto::Curve> curve;
  size_t trailing_zeros = 0;  // SoftHSM 2.6.1 padding, tolerated on read
};

// DecodePayload interprets `payload` as a raw AES key when its length is 16,
// 24 or 32 and `expect_aes` is not false, else as DER PKCS#8 with up to 7
// trailing zero bytes tolerated; a private key must be consistent
// (crypto::CheckKeyPair).
absl::StatusOr<RecoveredKey> DecodePayload(const SecretBytes& payload,
                                           std::optional<bool> expect_aes);

// Plausible target kinds for a payload length range, for `inspect`.
struct Analysis {
  size_t total = 0;
  size_t modulus_bytes = 0;
  bool modulus_inferred = false;
  size_t c2 = 0;
  size_t payload_min = 0, payload_max = 0;
  std::vector<std::string> fitting_targets;  // e.g. "AES-256", "RSA-2048"
};

// Analyze applies the length rules with the KEK's modulus length when known,
// otherwise infers it from {256, 384, 512} (the candidate that leaves a
// payload fitting a known target type). InvalidArgument when no rule holds.
absl::StatusOr<Analysis> Analyze(size_t total,
                                 std::optional<size_t> modulus_bytes);

}  // namespace keyferry::byok

#endif  // KEYFERRY_BYOK_ENVELOPE_H_
