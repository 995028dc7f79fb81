// Mechanisms and their parameter blocks, built here so that no CK_*
// parameter struct exists outside src/hsm: RSA-OAEP, RSA-PSS, AES-GCM,
// AES-CBC, CKM_RSA_AES_KEY_WRAP, and the DigestInfo prefix of RSA PKCS#1
// v1.5 signatures.
#ifndef KEYFERRY_HSM_MECHANISMS_H_
#define KEYFERRY_HSM_MECHANISMS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/rsa_oaep.h"
#include "hsm/session.h"

namespace keyferry::hsm {

// Mechanism types keyferry names outside src/hsm (PKCS#11 3.1 values;
// mechanisms.cc checks each against the C header). Mechanisms without a
// parameter are used as `Mechanism{kEcdsa}`.
inline constexpr uint64_t kRsaPkcsKeyPairGen = 0x0000;
inline constexpr uint64_t kRsaPkcs = 0x0001;
inline constexpr uint64_t kRsaX509 = 0x0003;
inline constexpr uint64_t kRsaPkcsOaep = 0x0009;
inline constexpr uint64_t kRsaAesKeyWrap = 0x1054;
inline constexpr uint64_t kSha256Hmac = 0x0251;
inline constexpr uint64_t kGenericSecretKeyGen = 0x0350;
inline constexpr uint64_t kEcKeyPairGen = 0x1040;
inline constexpr uint64_t kEcdsa = 0x1041;
inline constexpr uint64_t kAesKeyGen = 0x1080;
inline constexpr uint64_t kAesEcb = 0x1081;
inline constexpr uint64_t kAesCbc = 0x1082;
inline constexpr uint64_t kAesCbcPad = 0x1085;
inline constexpr uint64_t kAesGcm = 0x1087;
inline constexpr uint64_t kAesKeyWrap = 0x2109;
inline constexpr uint64_t kAesKeyWrapPad = 0x210A;
inline constexpr uint64_t kAesKeyWrapKwp = 0x210B;  // PKCS#11 3.x name

// OwnedMechanism is a Mechanism together with its parameter block, which it
// owns (on the heap, so moving or copying keeps `get()` valid). It converts
// to `const Mechanism&` for the Session calls.
class OwnedMechanism {
 public:
  const Mechanism& get() const { return m_; }
  operator const Mechanism&() const { return m_; }  // NOLINT: by design

 private:
  friend OwnedMechanism RsaOaep(crypto::OaepHash);
  friend OwnedMechanism RsaPss(size_t);
  friend OwnedMechanism AesGcm(std::span<const uint8_t>,
                               std::span<const uint8_t>);
  friend OwnedMechanism RsaAesKeyWrap(size_t, crypto::OaepHash);
  OwnedMechanism(Mechanism m, std::shared_ptr<const void> storage)
      : m_(m), storage_(std::move(storage)) {}
  Mechanism m_;
  std::shared_ptr<const void> storage_;
};

// RsaOaep is CKM_RSA_PKCS_OAEP with `hash` and MGF1 of the same hash, no
// label.
OwnedMechanism RsaOaep(crypto::OaepHash hash);

// RsaPss is CKM_RSA_PKCS_PSS over a precomputed digest of `digest_bytes`
// bytes (32: SHA-256, 48: SHA-384, else SHA-512), MGF1 of the same hash and
// a salt as long as the digest.
OwnedMechanism RsaPss(size_t digest_bytes);

// AesGcm is CKM_AES_GCM with `iv` and `aad` (both copied) and a 128-bit tag.
OwnedMechanism AesGcm(std::span<const uint8_t> iv,
                      std::span<const uint8_t> aad);

// AesCbc is CKM_AES_CBC (or CKM_AES_CBC_PAD with `pad`) with `iv`, which is
// borrowed: it must outlive the returned Mechanism's use.
Mechanism AesCbc(std::span<const uint8_t> iv, bool pad);

// RsaAesKeyWrap is CKM_RSA_AES_KEY_WRAP with an ephemeral AES key of
// `aes_bits` and RSA-OAEP with `hash` (MGF1 of the same hash, no label);
// SHA-1 is what Azure's BYOK format fixes.
OwnedMechanism RsaAesKeyWrap(size_t aes_bits,
                             crypto::OaepHash hash = crypto::OaepHash::kSha1);

// Pkcs1DigestInfo returns the DER DigestInfo (RFC 8017 §9.2 note 1) of a
// SHA-256, SHA-384 or SHA-512 `digest` (chosen by its length: 32, 48, else
// SHA-512), the input of CKM_RSA_PKCS for an RS256/RS384/RS512 signature.
std::vector<uint8_t> Pkcs1DigestInfo(std::span<const uint8_t> digest);

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_MECHANISMS_H_
