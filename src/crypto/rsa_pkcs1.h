// RSAES-PKCS1-v1_5 decryption (RFC 8017 §7.2.2, JOSE "RSA1_5") with
// implicit rejection, as draft-irtf-cfrg-rsa-guidance §7 specifies it and
// OpenSSL 3.2 implements it (Debian 12's OpenSSL 3.0 does not). A ciphertext
// whose padding is wrong does not fail: it decrypts to a synthetic message
// derived from a per-key secret and the ciphertext, the same every time,
// computed in the same time as a valid one. A caller therefore cannot tell
// valid from invalid padding (no Bleichenbacher/Marvin oracle through errors
// or timing); the plaintext is unauthenticated and the protocol above must
// treat it so (as it must for RSA1_5 anyway).
//
// Decryption is three steps, so that a custody without the private exponent
// (a PKCS#11 token) shares the padding check and the selection:
//   1. EM = I2OSP(RSADP(c), k), the raw private-key operation
//      (RsaRawDecrypt here, CKM_RSA_X_509 in a token);
//   2. a 32-byte key derivation key (KDK) for this key and ciphertext
//      (RsaImplicitRejectionKdk from the private exponent, as the draft
//      says; a token derives its own from a secret it holds);
//   3. RsaPkcs1DecodeImplicitRejection(EM, KDK): the constant-time padding
//      check and the choice between EM's message and the synthetic one.
// RsaPkcs1DecryptImplicitRejection runs the three with the draft's KDK.
//
// Lengths and the range of the ciphertext are public (they depend on the
// ciphertext and the modulus only), so refusing them is no oracle.
#ifndef KEYFERRY_CRYPTO_RSA_PKCS1_H_
#define KEYFERRY_CRYPTO_RSA_PKCS1_H_

#include <openssl/evp.h>

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"

namespace keyferry::crypto {

// The size of a key derivation key (an HMAC-SHA256 output).
inline constexpr size_t kImplicitRejectionKdkBytes = 32;

// PadRsaCiphertext returns `ciphertext` as the k-octet string C that RSADP
// and the KDK read, k being the modulus length of RSA key `key` (borrowed;
// the public half is enough): a shorter ciphertext is left-padded with zero
// octets, as OpenSSL reads it (some encoders strip leading zeros). A longer
// one, or one whose integer is not below the modulus (RFC 8017 §5.1.2
// "ciphertext representative out of range"), is InvalidArgument "RSA1_5
// decryption failed". InvalidArgument "RSA1_5 needs an RSA key" for another
// key type.
absl::StatusOr<std::vector<uint8_t>> PadRsaCiphertext(
    EVP_PKEY* key, std::span<const uint8_t> ciphertext);

// RsaRawDecrypt returns EM = I2OSP(c^d mod n, k) for the k-octet
// `ciphertext` C (from PadRsaCiphertext) with RSA private key `priv`
// (borrowed): the private-key operation alone, through EVP with
// RSA_NO_PADDING and OpenSSL's blinding on. EM is the whole encoded message,
// hence secret. InvalidArgument for a C of another length or out of range
// and for a key that is not RSA; Internal when OpenSSL fails otherwise.
absl::StatusOr<SecretBytes> RsaRawDecrypt(EVP_PKEY* priv,
                                          std::span<const uint8_t> ciphertext);

// RsaImplicitRejectionKdk derives the draft's key derivation key (§7.2 step
// 3.a) for RSA private key `priv` (borrowed) and the k-octet `ciphertext` C:
//   KDK = HMAC-SHA256(key = SHA-256(I2OSP(d, k)), C).
// Every intermediate (the encoded d, its hash) is zeroized. InvalidArgument
// for a C that is not k octets or a key without a private exponent.
absl::StatusOr<SecretBytes> RsaImplicitRejectionKdk(
    EVP_PKEY* priv, std::span<const uint8_t> ciphertext);

// RsaPkcs1DecodeImplicitRejection decodes the k-octet encoded message `em`
// as EME-PKCS1-v1_5 (0x00 || 0x02 || PS || 0x00 || M, PS at least 8 nonzero
// octets) and returns M if the padding is valid, otherwise the synthetic
// message: the last AL octets of AM = IRPRF(KDK, "message", k), AL being the
// last of the 128 candidate lengths of IRPRF(KDK, "length", 256), each masked
// to the bit length of k - 11, that is at most k - 11 (0 if none is).
//
// The check and the selection run in constant time: no branch and no memory
// index depends on the contents of `em` or `kdk`, only on k. The length of
// the answer is the one thing revealed, and a synthetic length is drawn like
// a real one. `kdk` must be kImplicitRejectionKdkBytes long and k between 11
// and 8191 octets: InvalidArgument otherwise (programming errors; they do not
// depend on secret values). The answer is always OK for valid input sizes.
absl::StatusOr<SecretBytes> RsaPkcs1DecodeImplicitRejection(
    const SecretBytes& em, const SecretBytes& kdk);

// RsaPkcs1DecryptImplicitRejection decrypts `ciphertext` (at most k octets)
// with RSA private key `priv` (borrowed): PadRsaCiphertext, RsaRawDecrypt,
// RsaImplicitRejectionKdk and RsaPkcs1DecodeImplicitRejection. Bad padding
// is not an error: it yields the synthetic message. Errors are only those
// of PadRsaCiphertext (length, range, key type) and Internal failures of
// OpenSSL.
absl::StatusOr<SecretBytes> RsaPkcs1DecryptImplicitRejection(
    EVP_PKEY* priv, std::span<const uint8_t> ciphertext);

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_RSA_PKCS1_H_
