// Rules every custody applies to key kinds and cipher requests, so that the
// software and PKCS#11 custodies refuse the same requests with the same
// messages (docs/api.md §3). Internal to src/custody.
#ifndef KEYFERRY_CUSTODY_CIPHER_RULES_H_
#define KEYFERRY_CUSTODY_CIPHER_RULES_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custody/custody.h"

namespace keyferry::custody {

// KeyKindName is "RSA", "EC" or "oct".
const char* KeyKindName(KeyKind kind);

// CheckRsaKeySize is the one rule on RSA key sizes, for keys created,
// imported as JWK and imported by BYOK alike: 2048, 3072 or 4096 bits,
// else InvalidArgument naming the size.
absl::Status CheckRsaKeySize(int bits);

// CheckKeyRequest refuses a key generation request no custody serves: RSA
// of another size than 2048/3072/4096 or with an even or tiny exponent, EC
// without a curve, oct of another size than 128/192/256.
absl::Status CheckKeyRequest(const KeyRequest& request);

// RecoveredKeyInfo is what an import found about the key inside a BYOK
// transfer blob (after the unwrap, in software or in the token).
struct RecoveredKeyInfo {
  KeyKind kind = KeyKind::kRsa;
  int bits = 0;                        // RSA modulus or AES key bits
  std::optional<crypto::Curve> curve;  // EC
};

// CheckRecoveredKey is the one rule on a key recovered from a BYOK blob, for
// both custodies, in this order (InvalidArgument naming the mismatch):
// its kind is the one kty asks for; an RSA key has an allowed size
// (CheckRsaKeySize); an EC key is on the curve crv asks for, when given; an
// RSA or oct key has the bits asked for, when given.
absl::Status CheckRecoveredKey(const RecoveredKeyInfo& got,
                               const KeyRequest& expected);

// The AES families of CipherAlg. KW is RFC 3394 (A*KW and
// CKM_AES_KEY_WRAP); CKM_AES_KEY_WRAP_PAD, the only one left, is RFC 5649.
bool IsAesGcm(CipherAlg a);
bool IsAesKw(CipherAlg a);
bool IsAesCbc(CipherAlg a);     // no padding
bool IsAesCbcPad(CipherAlg a);  // PKCS#7 padding

// CheckCipherFits says whether `alg` may run on `key`: RSA algorithms on
// RSA keys, AES ones on oct keys of the size the algorithm names.
absl::Status CheckCipherFits(const HeldKey& key, CipherAlg alg);

// CheckAesEncryptInput refuses malformed AES encrypt/wrapKey input before
// any key is touched: a given GCM iv that is not 12 bytes, a given CBC iv
// that is not 16, KW input that is not a multiple of 8 bytes of at least
// 16, empty KWP input.
absl::Status CheckAesEncryptInput(const CipherInput& in);
// CheckAesDecryptInput: GCM needs a 12-byte iv and a 16-byte tag, CBC a
// 16-byte iv.
absl::Status CheckAesDecryptInput(const CipherInput& in);

// RsaPublicEncrypt runs RSA1_5 / RSA-OAEP / RSA-OAEP-256 with a public key
// (borrowed). A plaintext too long for the key is InvalidArgument
// "<alg> encryption failed: the plaintext is too long for this key".
absl::StatusOr<std::vector<uint8_t>> RsaPublicEncrypt(
    EVP_PKEY* pub, CipherAlg alg, std::span<const uint8_t> plaintext);

// PlainCopy copies a decrypted plaintext out for the caller who asked for
// it (it is the caller's data, not the vault's key material).
std::vector<uint8_t> PlainCopy(const SecretBytes& s);

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_CIPHER_RULES_H_
