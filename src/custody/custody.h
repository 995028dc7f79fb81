// Custody: where a vault's key material lives and where private-key
// operations run. The vault asks a Custody to generate, import and use keys;
// it never touches OpenSSL or PKCS#11 itself (docs/security-model.md).
//
// A custody hands out HeldKey values: an opaque, authenticated `sealed` blob
// that the store keeps, plus the public half. Every operation takes the blob
// back together with the same `binding` (vault, name and version) it was
// sealed with, so a blob copied to another key's row does not open.
//
// Implementations: SoftwareCustody (this directory; keys under a master key
// held by keyferryd) and, in a later issue, a PKCS#11 custody whose sealed
// blobs are keys wrapped by a non-extractable master key inside the token.
// Implementations are thread-safe.
#ifndef KEYFERRY_CUSTODY_CUSTODY_H_
#define KEYFERRY_CUSTODY_CUSTODY_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "crypto/keys.h"
#include "crypto/sign.h"

namespace keyferry::custody {

enum class KeyKind { kRsa, kEc, kOct };

struct KeyRequest {
  KeyKind kind;
  int bits = 0;                        // RSA 2048/3072/4096, oct 128/192/256
  std::optional<crypto::Curve> curve;  // EC
  uint32_t public_exponent = 65537;    // RSA
};

struct HeldKey {
  KeyKind kind;
  int bits = 0;
  std::optional<crypto::Curve> curve;
  std::vector<uint8_t> sealed;  // opaque to everyone but the custody
  std::string
      public_jwk;  // {"kty":"RSA","n","e"} / {"kty":"EC",…}; empty for oct
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
  // ImportPrivate takes a plaintext private key (JWK import of RSA/EC).
  virtual absl::StatusOr<HeldKey> ImportPrivate(
      EVP_PKEY* key, std::span<const uint8_t> binding) = 0;
  // ImportSecret takes a plaintext oct key of 16, 24 or 32 bytes.
  virtual absl::StatusOr<HeldKey> ImportSecret(
      const SecretBytes& key, std::span<const uint8_t> binding) = 0;
  // ImportByok opens a .byok ciphertext (C1 || C2) with `kek` (an RSA key of
  // this custody) and takes the key inside without it leaving the custody.
  // InvalidArgument names which step failed; `expected` must match the
  // recovered key's kind, size and curve.
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
};

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_CUSTODY_H_
