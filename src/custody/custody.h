// Custody: where a vault's key material lives and where private-key
// operations run. The vault asks a Custody to generate, import and use keys;
// it never touches OpenSSL or PKCS#11 itself (docs/security-model.md).
//
// A custody hands out HeldKey values: an opaque, authenticated custody `blob`
// that the store keeps, plus the public half. Every operation takes the blob
// back together with the same `binding` (vault, name and version) it was
// made with, so a blob copied to another key's row does not open.
//
// Implementations: SoftwareCustody (keys under a master key held by
// keyferryd) and Pkcs11Custody (blobs are keys wrapped by a non-extractable
// master key inside the token, MACed by the token), both in this directory.
// Implementations are thread-safe.
#ifndef KEYFERRY_CUSTODY_CUSTODY_H_
#define KEYFERRY_CUSTODY_CUSTODY_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "crypto/keys.h"
#include "crypto/rsa_oaep.h"
#include "crypto/sign.h"

namespace keyferry::custody {

enum class KeyKind { kRsa, kEc, kOct };

struct KeyRequest {
  KeyKind kind;
  int bits = 0;                        // RSA 2048/3072/4096, oct 128/192/256
  std::optional<crypto::Curve> curve;  // EC
  uint32_t public_exponent = 65537;    // RSA
  // exportable: the key may later be released (WrapForRelease). A custody
  // whose keys are otherwise unextractable (PKCS#11) makes only these keys
  // wrappable; the vault sets it from the key's `exportable` attribute.
  bool exportable = false;
};

struct HeldKey {
  KeyKind kind;
  int bits = 0;
  std::optional<crypto::Curve> curve;
  std::vector<uint8_t> blob;  // opaque to everyone but the custody
  std::string
      public_jwk;  // {"kty":"RSA","n","e"} / {"kty":"EC",…}; empty for oct
};

// BlobHeader is the first kBlobHeaderBytes of every custody blob: `magic`
// (4 bytes naming the custody and blob version: "KFS1", "KFP1") | kind u8 |
// bits u16be | curve u8 (0xff: none) of `key` (docs/security-model.md
// §§2-3). Each custody authenticates it with the rest of its blob.
inline constexpr size_t kBlobHeaderBytes = 8;
std::vector<uint8_t> BlobHeader(std::string_view magic, const HeldKey& key);

// CipherAlg is the `alg` of encrypt/decrypt/wrapKey/unwrapKey
// (docs/api.md): RSA ones on RSA keys, AES ones on oct keys of the
// matching size (A128* needs 16 bytes, …; CKM_AES_KEY_WRAP* any size).
enum class CipherAlg {
  kRsa15,
  kRsaOaep,
  kRsaOaep256,
  kA128Gcm,
  kA192Gcm,
  kA256Gcm,
  kA128Kw,
  kA192Kw,
  kA256Kw,
  kA128Cbc,
  kA192Cbc,
  kA256Cbc,
  kA128CbcPad,
  kA192CbcPad,
  kA256CbcPad,
  kCkmAesKeyWrap,
  kCkmAesKeyWrapPad,
};

// ParseCipherAlg reads the JOSE/Key Vault name ("RSA-OAEP-256", "A256GCM",
// "CKM_AES_KEY_WRAP_PAD", …); InvalidArgument for anything else.
absl::StatusOr<CipherAlg> ParseCipherAlg(std::string_view name);
std::string_view CipherAlgName(CipherAlg alg);
// IsRsaCipher tells whether `alg` is RSA1_5 / RSA-OAEP / RSA-OAEP-256.
bool IsRsaCipher(CipherAlg alg);
// CipherKeyBytes is the oct key length `alg` needs (16/24/32), or 0 for the
// RSA algorithms and the CKM_* wraps (any AES key size).
int CipherKeyBytes(CipherAlg alg);

// CipherInput is the body of encrypt/decrypt/wrapKey/unwrapKey.
struct CipherInput {
  CipherAlg alg;
  std::vector<uint8_t> value;  // plaintext for Encrypt, ciphertext for Decrypt
  std::vector<uint8_t> iv;     // GCM: 12-byte nonce (Encrypt makes one when
                               // empty); CBC*: 16-byte IV (Encrypt makes one
                               // when empty)
  std::vector<uint8_t> aad;    // GCM only
  std::vector<uint8_t> tag;    // GCM Decrypt only: 16 bytes
};

// CipherOutput is the answer: `value`, plus `iv` and `tag` for GCM and the
// `iv` for CBC*. Decrypt's plaintext is returned to the caller, who asked
// for it; it is not key material of the vault.
struct CipherOutput {
  std::vector<uint8_t> value;
  std::vector<uint8_t> iv;
  std::vector<uint8_t> tag;
};

class Custody {
 public:
  virtual ~Custody() = default;

  // Kind is "software" or "pkcs11"; Platform names the protection for the
  // `hsmPlatform` attribute.
  virtual std::string Kind() const = 0;
  virtual std::string Platform() const = 0;

  // Generate makes a new key inside the custody.
  virtual absl::StatusOr<HeldKey> Generate(
      const KeyRequest& request, std::span<const uint8_t> binding) = 0;
  // ImportPrivate takes a plaintext private key (JWK import of RSA/EC);
  // `exportable` as in KeyRequest.
  virtual absl::StatusOr<HeldKey> ImportPrivate(
      EVP_PKEY* key, std::span<const uint8_t> binding, bool exportable) = 0;
  // ImportSecret takes a plaintext oct key of 16, 24 or 32 bytes.
  virtual absl::StatusOr<HeldKey> ImportSecret(const SecretBytes& key,
                                               std::span<const uint8_t> binding,
                                               bool exportable) = 0;
  // ImportByok opens a .byok ciphertext (C1 || C2) with `kek` (an RSA key of
  // this custody) and takes the key inside without it leaving the custody.
  // InvalidArgument names which step failed; `expected` must match the
  // recovered key's kind, size and curve; expected.exportable as in
  // KeyRequest.
  virtual absl::StatusOr<HeldKey> ImportByok(
      const HeldKey& kek, std::span<const uint8_t> kek_binding,
      std::span<const uint8_t> ciphertext, const KeyRequest& expected,
      std::span<const uint8_t> binding) = 0;

  // ProtectBackup encrypts and authenticates a backup for this deployment
  // only; UnprotectBackup reverses it and fails (InvalidArgument "the backup
  // was not made by this deployment or is damaged") for anything else.
  virtual absl::StatusOr<std::vector<uint8_t>> ProtectBackup(
      std::span<const uint8_t> plaintext) = 0;
  virtual absl::StatusOr<std::vector<uint8_t>> UnprotectBackup(
      std::span<const uint8_t> protected_backup) = 0;

  // Sign signs a digest (RS*, PS*, ES*).
  virtual absl::StatusOr<std::vector<uint8_t>> Sign(
      const HeldKey& key, std::span<const uint8_t> binding, crypto::SignAlg alg,
      std::span<const uint8_t> digest) = 0;

  // Encrypt runs an encrypt or wrapKey: RSA algorithms with the key's public
  // half, AES ones inside the custody with the oct key. InvalidArgument when
  // `alg` does not fit the key (kind, oct size) or the input is malformed
  // (plaintext too long for RSA, wrong IV length, KW input not a multiple of
  // 8 bytes of at least 16).
  virtual absl::StatusOr<CipherOutput> Encrypt(const HeldKey& key,
                                               std::span<const uint8_t> binding,
                                               const CipherInput& input) = 0;
  // Decrypt runs a decrypt or unwrapKey with the private half (RSA) or the
  // oct key. Any failure of the cryptography itself is InvalidArgument with
  // one fixed message per algorithm family (no padding oracle). RSA1_5 does
  // not fail on bad padding: implicit rejection (crypto/rsa_pkcs1.h) answers
  // with a synthetic message, stable for the key and the ciphertext; it
  // fails ("RSA1_5 decryption failed") only for a ciphertext longer than the
  // modulus or not below it, both public facts.
  virtual absl::StatusOr<CipherOutput> Decrypt(const HeldKey& key,
                                               std::span<const uint8_t> binding,
                                               const CipherInput& input) = 0;
  // Rebind re-seals `key` from `old_binding` to `new_binding` (restore of a
  // backup into another vault); the material never leaves the custody.
  virtual absl::StatusOr<HeldKey> Rebind(
      const HeldKey& key, std::span<const uint8_t> old_binding,
      std::span<const uint8_t> new_binding) = 0;

  // AuthenticateRecord returns a 32-byte tag over `record` (bytes the vault
  // builds from a stored key version's metadata, vault::AttestVersion)
  // made with a secret only this custody holds: an HMAC-SHA256 key derived
  // from the master key, or the token's master MAC key. Deterministic: the
  // same record always gets the same tag, and a fixed record's tag is the
  // deployment's check value (vault::CustodyCheckValue).
  virtual absl::StatusOr<std::vector<uint8_t>> AuthenticateRecord(
      std::span<const uint8_t> record) = 0;
  // VerifyRecord checks `tag` against `record`: OK, DataLoss when the tag
  // does not match (the record was altered, or made under another master
  // key), Unavailable/Internal when the custody cannot answer.
  virtual absl::Status VerifyRecord(std::span<const uint8_t> record,
                                    std::span<const uint8_t> tag) = 0;

  // CanRelease tells whether this custody can release keys (Secure Key
  // Release, WrapForRelease); the vault makes exportable keys only where it
  // can.
  virtual bool CanRelease() const = 0;

  // WrapForRelease wraps `key` (opened with `binding`) for Secure Key
  // Release (docs/api.md §Secure Key Release) to `wrapping_key`, an RSA
  // public key of 2048, 3072 or 4096 bits (borrowed): RSA-OAEP with `hash`
  // (MGF1 with the same hash, empty label) of a fresh AES-256 key, followed
  // by the RFC 5649 wrap under that AES key of the key: PKCS#8 DER for RSA
  // and EC, the raw bytes for oct. The AES key is destroyed before return.
  // FailedPrecondition when the custody cannot release (CanRelease false),
  // when `key` was not made exportable (PKCS#11: a blob made without
  // KeyRequest::exportable), or when the token lacks a mechanism the wrap
  // needs (named); InvalidArgument for an unusable wrapping key.
  virtual absl::StatusOr<std::vector<uint8_t>> WrapForRelease(
      const HeldKey& key, std::span<const uint8_t> binding,
      EVP_PKEY* wrapping_key, crypto::OaepHash hash) = 0;

  // ForgetCachedKeys drops every private key the custody holds ready for
  // use (parsed in memory, or resident in its token): after a purge on
  // this node or another, so no copy of a purged key outlives it. The next
  // use of a remaining key loads it from its blob again. Thread-safe.
  virtual void ForgetCachedKeys() = 0;
};

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_CUSTODY_H_
