// Attribute templates and attribute reads for the objects custody and BYOK
// export make in a token, written once: every attribute is explicit, since
// token defaults are unsafe (SoftHSM sets every usage TRUE). Templates are
// for session objects (CKA_TOKEN FALSE) unless they say otherwise.
#ifndef KEYFERRY_HSM_TEMPLATES_H_
#define KEYFERRY_HSM_TEMPLATES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret.h"
#include "crypto/keys.h"
#include "hsm/session.h"

namespace keyferry::hsm {

// --- Custody's key objects -------------------------------------------------

// PrivateKeyTemplate: an RSA or EC private key (`kind`), private, sensitive,
// extractable as asked; sign; RSA also decrypt and unwrap; never derive.
// With `with_class` the class and key type are set (for C_UnwrapKey);
// C_GenerateKeyPair implies them.
Template PrivateKeyTemplate(crypto::KeyType kind, bool extractable,
                            bool with_class = true);
// SecretKeyTemplate: an AES key, private, sensitive, extractable as asked;
// encrypt, decrypt, wrap, unwrap; never sign, verify or derive.
Template SecretKeyTemplate(bool extractable);
// AesKeyGenTemplate: SecretKeyTemplate(extractable) for C_GenerateKey of
// `bytes` bytes.
Template AesKeyGenTemplate(size_t bytes, bool extractable);
// AesValueTemplate: SecretKeyTemplate(true) holding the known `value`.
Template AesValueTemplate(const SecretBytes& value);
// RsaPublicGenTemplate: the public half of C_GenerateKeyPair, `bits` and
// big-endian exponent `e`, a session object destroyed at once. It may
// encrypt and verify: a token that checks a new pair (a pairwise
// consistency test, as NSS softokn runs) does with the public half what the
// private half may do, and fails the generation when it cannot
// (CKR_KEY_TYPE_INCONSISTENT).
Template RsaPublicGenTemplate(uint64_t bits, std::span<const uint8_t> e);
// EcPublicGenTemplate: the public half of C_GenerateKeyPair on `curve`, a
// session object read and destroyed at once; it may verify (the pairwise
// consistency test, as above).
Template EcPublicGenTemplate(crypto::Curve curve);
// DataObjectTemplate: a generic secret holding caller data for a key wrap
// (the caller's bytes, not vault key material): neither sensitive nor kept,
// extractable, no usage. The second form sets the value (C_CreateObject);
// the first is for C_UnwrapKey.
Template DataObjectTemplate();
Template DataObjectTemplate(const SecretBytes& value);
// TransferKeyTemplate: the AES transfer key of a BYOK blob unwrapped with
// RSA-OAEP: sensitive, non-extractable, unwrap only.
Template TransferKeyTemplate();

// MasterKeyRole names custody's four token master keys.
enum class MasterKeyRole {
  kWrap,    // AES-256: wrap, unwrap; whatever it unwraps is a sensitive,
            // non-extractable session object (CKA_UNWRAP_TEMPLATE)
  kExportWrap,  // AES-256: wrap, unwrap of exportable keys only; what it
                // unwraps is a sensitive, extractable session object
                // (CKA_UNWRAP_TEMPLATE), for Secure Key Release
  kMac,     // 32-byte generic secret: HMAC-SHA256 sign, verify
  kBackup,  // AES-256: encrypt, decrypt
};
// MasterKeyMatch matches the token secret key of `role` labelled `label`.
Template MasterKeyMatch(MasterKeyRole role, std::string_view label);
// MasterKeyTemplate makes it: a 32-byte token key, private, sensitive,
// non-extractable, non-modifiable, with exactly the usages of its role.
Template MasterKeyTemplate(MasterKeyRole role, std::string_view label);
// MasterKeyGenMechanism is CKM_AES_KEY_GEN or CKM_GENERIC_SECRET_KEY_GEN.
Mechanism MasterKeyGenMechanism(MasterKeyRole role);

// --- Attributes tokens demand beyond PKCS#11 --------------------------------

// kNssDbAttribute is NSS softokn's vendor attribute CKA_NSS_DB
// (0xD5A0DB00): the database identifier of a private key, which NSS derives
// from the public value and demands in the template of an unwrapped EC
// private key (CKR_TEMPLATE_INCOMPLETE without it, session object or not).
// NSS stores it verbatim and accepts any value.
inline constexpr uint64_t kNssDbAttribute = 0xD5A0DB00;

// DemandedByTokens returns the attributes to add to `t`, an unwrap
// template, after a token answered CKR_TEMPLATE_INCOMPLETE: for an EC
// private key (CKA_CLASS CKO_PRIVATE_KEY, CKA_KEY_TYPE CKK_EC) that lacks
// them, kNssDbAttribute with a fresh random 32-byte identifier (a unique
// value: the public point is not known before the unwrap). Empty when
// nothing is known to help; a token that does not know the attribute
// answers CKR_ATTRIBUTE_TYPE_INVALID, which is then the error.
absl::StatusOr<Template> DemandedByTokens(const Template& t);

// HoldsStandInPublicValue tells whether the EC private key `h` carries
// kNssDbAttribute (readable): NSS softokn then writes that stand-in (the
// random identifier DemandedByTokens gave it), not the public point, as the
// publicKey of the PKCS#8 it wraps, so such a wrap is not the key's true
// encoding.
bool HoldsStandInPublicValue(Session& s, ObjectHandle h);

// --- BYOK export's objects --------------------------------------------------

// EphemeralWrapKeyTemplate: a session AES key of `bytes` bytes, sensitive,
// extractable, non-modifiable, wrap only.
Template EphemeralWrapKeyTemplate(size_t bytes);
// TestSecretTemplate: a non-sensitive, extractable session secret of known
// `value`, an AES wrapping key (wrap, unwrap) or a generic secret (no
// usage). For known-answer probes only.
Template TestSecretTemplate(const SecretBytes& value, bool aes_wrapping_key);
// TestSecretUnwrapTemplate: a non-sensitive, extractable generic secret, for
// unwrapping a probe vector.
Template TestSecretUnwrapTemplate();
// TestEcPublicTemplate / TestEcPrivateTemplate: a session EC pair on `curve`
// whose private half is non-sensitive and extractable (probes only).
Template TestEcPublicTemplate(crypto::Curve curve);
Template TestEcPrivateTemplate();

// --- Attribute reads --------------------------------------------------------

// FindTokenObjects lists every token object (CKA_TOKEN TRUE) the session
// sees.
absl::StatusOr<std::vector<ObjectHandle>> FindTokenObjects(Session& s);
// ReadLabel reads CKA_LABEL.
absl::StatusOr<std::string> ReadLabel(Session& s, ObjectHandle h);

struct RsaPublicParts {
  std::vector<uint8_t> n, e;  // big-endian, as the token gives them
};
// ReadRsaPublic reads CKA_MODULUS and CKA_PUBLIC_EXPONENT of an RSA key
// (public or private object); the first failing read's error.
absl::StatusOr<RsaPublicParts> ReadRsaPublic(Session& s, ObjectHandle h);
// ReadModulus reads CKA_MODULUS alone.
absl::StatusOr<std::vector<uint8_t>> ReadModulus(Session& s, ObjectHandle h);
// ReadEcCurve reads CKA_EC_PARAMS: InvalidArgument "the EC key is on a curve
// keyferryd does not support" for any other curve.
absl::StatusOr<crypto::Curve> ReadEcCurve(Session& s, ObjectHandle h);
// ReadEcPoint reads CKA_EC_POINT of a public key on `curve` as the raw
// uncompressed point 04 || X || Y (the DER OCTET STRING some tokens wrap it
// in is removed). InternalError "the token returned no usable EC point"
// when it cannot be read or is not such a point.
absl::StatusOr<std::vector<uint8_t>> ReadEcPoint(Session& s, ObjectHandle h,
                                                 crypto::Curve curve);
// ReadKeyType reads CKA_KEY_TYPE: kRsa, kEc or kAes; InvalidArgument for
// any other type. (A token may unwrap a PKCS#8 as the key it holds whatever
// CKA_KEY_TYPE the template asked for, as NSS softokn does: callers check.)
absl::StatusOr<crypto::KeyType> ReadKeyType(Session& s, ObjectHandle h);
// ReadValueLen reads CKA_VALUE_LEN (0 when the token leaves it unset).
absl::StatusOr<uint64_t> ReadValueLen(Session& s, ObjectHandle h);
// ReadSecretValue reads CKA_VALUE into a zeroizing buffer.
absl::StatusOr<SecretBytes> ReadSecretValue(Session& s, ObjectHandle h);
// IsExtractable reads CKA_EXTRACTABLE.
absl::StatusOr<bool> IsExtractable(Session& s, ObjectHandle h);

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_TEMPLATES_H_
