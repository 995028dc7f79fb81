// RSA and EC keys as EVP_PKEY: parsing (PEM, DER, JWK), encoding (PKCS#8,
// SubjectPublicKeyInfo), public components, generation. All functions borrow
// their EVP_PKEY* arguments; returned EvpPkeyPtr values are owned by the
// caller.
#ifndef KEYFERRY_CRYPTO_KEYS_H_
#define KEYFERRY_CRYPTO_KEYS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {

enum class KeyType { kRsa, kEc, kAes };
enum class Curve { kP256, kP384, kP521, kSecp256k1 };

// CurveJwkName: "P-256", "P-384", "P-521", "P-256K".
std::string_view CurveJwkName(Curve c);
// CurveOpenSslName: "prime256v1", "secp384r1", "secp521r1", "secp256k1".
std::string_view CurveOpenSslName(Curve c);
// ParseCurve accepts JWK names, OpenSSL names, "secp256r1", "SECP256K1",
// case-insensitively. InvalidArgument lists the supported curves.
absl::StatusOr<Curve> ParseCurve(std::string_view name);
// CurveFieldBytes: 32, 48, 66, 32.
int CurveFieldBytes(Curve c);
// CurveBits is the key size keyferry records for an EC key (Describe):
// the order's bit length, 256, 384, 521, 256.
int CurveBits(Curve c);

struct KeyDescription {
  KeyType type;
  int bits = 0;  // RSA modulus bits, EC field bits, AES key bits
  std::optional<Curve> curve;
  bool has_private = false;
};

// DescribeForHumans: "RSA-2048", "EC P-256", "AES-256".
std::string DescribeForHumans(const KeyDescription& d);
// Describe reads type, size and curve of an RSA or EC key. Other key types
// and unsupported curves are InvalidArgument naming them.
absl::StatusOr<KeyDescription> Describe(EVP_PKEY* key);

// ParsePublicKey auto-detects PEM "PUBLIC KEY" (SPKI), PEM "RSA PUBLIC KEY"
// (PKCS#1), DER of either, and a JWK (RSA n/e, EC crv/x/y).
absl::StatusOr<EvpPkeyPtr> ParsePublicKey(std::span<const uint8_t> data);
// ParsePrivateKey auto-detects PEM or DER PKCS#8 (unencrypted), PKCS#1
// RSAPrivateKey and SEC1 ECPrivateKey.
absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(const SecretBytes& data);
// ParsePkcs8Der parses exactly one DER PrivateKeyInfo. With
// `allow_trailing_zeros`, up to 7 trailing 0x00 bytes are tolerated
// (SoftHSM 2.6.1's padded KWP); any other trailing byte is an error.
absl::StatusOr<EvpPkeyPtr> ParsePkcs8Der(const SecretBytes& der,
                                         bool allow_trailing_zeros);

// DerSequenceLength returns the total length (header included) of the DER
// SEQUENCE at the start of `der`, or nullopt when `der` does not start with
// one or it claims more bytes than `der` holds.
std::optional<size_t> DerSequenceLength(std::span<const uint8_t> der);

// PrivateKeyToPkcs8Der encodes the private key as DER PrivateKeyInfo.
absl::StatusOr<SecretBytes> PrivateKeyToPkcs8Der(EVP_PKEY* key);
// PrivateKeyToPem writes "-----BEGIN PRIVATE KEY-----" (PKCS#8) PEM.
absl::StatusOr<SecretBytes> PrivateKeyToPem(EVP_PKEY* key);
// PublicKeyToPem writes "-----BEGIN PUBLIC KEY-----" (SPKI) PEM.
absl::StatusOr<std::string> PublicKeyToPem(EVP_PKEY* key);
// PublicKeyToDer writes DER SubjectPublicKeyInfo.
absl::StatusOr<std::vector<uint8_t>> PublicKeyToDer(EVP_PKEY* key);
// PublicKeyOf returns a new key holding only the public half of `key`.
absl::StatusOr<EvpPkeyPtr> PublicKeyOf(EVP_PKEY* key);
// PublicKeysEqual compares the public halves.
bool PublicKeysEqual(EVP_PKEY* a, EVP_PKEY* b);
// CheckKeyPair checks that private key `key` (borrowed) is consistent:
// for EC (EVP_PKEY_pairwise_check), the public point is d·G; for two-prime
// RSA, n = p·q and d, dP, dQ, qInv agree with each other and with e (a few
// big-number multiplications; p and q are not tested for primality, see
// keys.cc); other RSA keys get OpenSSL's full check. InvalidArgument "the
// private and public parts of the key do not match" otherwise. Run it on
// keys from outside (imports), not on every use.
absl::Status CheckKeyPair(EVP_PKEY* key);

struct RsaPublicParts {
  std::vector<uint8_t> n, e;  // big-endian, no leading zero
};
struct EcPublicParts {
  Curve curve;
  std::vector<uint8_t> x, y;  // big-endian, CurveFieldBytes long
};
absl::StatusOr<RsaPublicParts> GetRsaPublic(EVP_PKEY* key);
absl::StatusOr<EcPublicParts> GetEcPublic(EVP_PKEY* key);
absl::StatusOr<EvpPkeyPtr> RsaPublicFromParts(std::span<const uint8_t> n,
                                              std::span<const uint8_t> e);
// EcPublicFromParts fails with InvalidArgument when the point is not on the
// curve.
absl::StatusOr<EvpPkeyPtr> EcPublicFromParts(Curve curve,
                                             std::span<const uint8_t> x,
                                             std::span<const uint8_t> y);

// PublicKeyToJwk writes {"kty":"RSA","n","e"} or {"kty":"EC","crv","x","y"}.
absl::StatusOr<std::string> PublicKeyToJwk(EVP_PKEY* key);

absl::StatusOr<EvpPkeyPtr> GenerateRsa(int bits,
                                       uint32_t public_exponent = 65537);
absl::StatusOr<EvpPkeyPtr> GenerateEc(Curve curve);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_KEYS_H_
