// Keys in a token: flags in the vocabulary of Securosys Primus Tools,
// generation with fully explicit templates (SoftHSM's defaults are unsafe:
// every usage TRUE), listing, lookup and public-key import.
#ifndef KEYFERRY_HSM_KEYS_H_
#define KEYFERRY_HSM_KEYS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/keys.h"
#include "hsm/session.h"

namespace keyferry::hsm {

using KeyKind = crypto::KeyType;
using EcCurve = crypto::Curve;

// KeyFlags are the boolean attributes keyferry sets and shows.
struct KeyFlags {
  bool sensitive = true, extractable = false, modifiable = false,
       copyable = false, destroyable = true, token = true, private_ = true;
  bool encrypt = false, decrypt = false, sign = false, verify = false,
       wrap = false, unwrap = false, derive = false;
  bool wrapwithtrusted = false, trusted = false;
  // Read-only, reported by the token.
  bool local = false, alwayssensitive = false, neverextractable = false;
  // Flags ReadFlags could not read (the token does not know the attribute):
  // FormatFlags prints them as `name=?`, never as a value.
  std::vector<std::string> unknown;
};

// DefaultFlags: sensitive, non-extractable, non-modifiable, non-copyable,
// destroyable, token, private; usages: RSA sign/verify/decrypt/encrypt,
// EC sign/verify, AES encrypt/decrypt/wrap/unwrap.
KeyFlags DefaultFlags(KeyKind kind);

// ParseFlags applies comma- or space-separated flag names (and their `non`
// forms) to `base`. InvalidArgument "unknown flag 'x'" for anything else,
// or for the read-only flags (local, alwayssensitive, neverextractable).
absl::StatusOr<KeyFlags> ParseFlags(std::string_view text, KeyFlags base);

// FormatFlags prints every flag as `name` or `non<name>`, in a fixed order,
// like Primus Tools' ListKeyFlags.
std::string FormatFlags(const KeyFlags& f);

struct KeySpec {
  KeyKind kind;
  int bits = 0;                  // RSA 2048/3072/4096, AES 128/192/256
  std::optional<EcCurve> curve;  // EC
  std::string label;
  KeyFlags flags;
};

// ParseKeySpec validates type/size/curve strings from the command line.
absl::StatusOr<KeySpec> ParseKeySpec(std::string_view type,
                                     std::optional<int> size,
                                     std::optional<std::string_view> curve);

// CurveOidDer returns the DER OID for CKA_EC_PARAMS.
std::span<const uint8_t> CurveOidDer(EcCurve c);

struct GeneratedKey {
  ObjectHandle private_or_secret = 0;
  std::optional<ObjectHandle> public_key;
  std::vector<uint8_t> id;  // CKA_ID shared by the pair
  // Flags the token could not keep: a token object on a token that fails
  // to store PKCS#11 2.40's CKA_COPYABLE/CKA_DESTROYABLE (it answers
  // CKR_GENERAL_ERROR or CKR_ATTRIBUTE_TYPE_INVALID, and reads them back
  // as CKR_ATTRIBUTE_TYPE_INVALID) is made without them, and their names
  // are listed here: the token's own rules then apply (NSS softokn lets
  // C_CopyObject make an extractable copy). The caller must say so.
  std::vector<std::string> flags_not_kept;
};

// GenerateKey creates the key inside the token with every attribute of
// `spec.flags` set explicitly and a random CKA_ID. AlreadyExists when a key
// with the label exists. A token that refuses an EC curve's domain
// parameters (CKR_DOMAIN_PARAMS_INVALID, CKR_CURVE_NOT_SUPPORTED) gets a
// Status naming the curve (NameRefusedCurve).
absl::StatusOr<GeneratedKey> GenerateKey(Session& s, const KeySpec& spec);

// KeyObjectTemplate is the template of the private (RSA, EC) or secret
// (AES) object of a `kind` key labelled `label` with CKA_ID `id`: class, key
// type, and every settable flag of `flags` explicit, and CKA_VALUE_LEN
// when `aes_bytes` is given.
Template KeyObjectTemplate(KeyKind kind, const KeyFlags& flags,
                           std::string_view label, std::span<const uint8_t> id,
                           std::optional<size_t> aes_bytes = std::nullopt);

// RemoveLeftovers destroys every object with CKA_ID `id` the session sees:
// what a failed attempt to make a key with that (random) id may have left
// (a token that made the public half before failing, or SoftHSM 2.6.1's
// half-made object after it refused an unwrap template). Best effort.
void RemoveLeftovers(Session& s, std::span<const uint8_t> id);

// CheckLabelFree: AlreadyExists "a key labelled '<label>' already exists"
// when any object the session sees carries `label`.
absl::Status CheckLabelFree(Session& s, std::string_view label);

// MakeKeyObject runs `make` (a C_GenerateKey or C_UnwrapKey of one object)
// with `t`. When that fails the way a token that cannot store PKCS#11
// 2.40's CKA_COPYABLE/CKA_DESTROYABLE on a token object fails (see
// GeneratedKey::flags_not_kept), it destroys what the attempt left with
// CKA_ID `id`, runs `make` once more without them, and keeps that object
// only if the token reads both as unknown, naming them in
// `*flags_not_kept`; otherwise the first error stands.
absl::StatusOr<ObjectHandle> MakeKeyObject(
    Session& s, Template t, std::span<const uint8_t> id,
    const std::function<absl::StatusOr<ObjectHandle>(const Template&)>& make,
    std::vector<std::string>* flags_not_kept);

// FlagsChangedByToken lists the settable flags of a `kind` key's private or
// secret object that differ between `asked` and `got` (as the flag `got`
// has: "sensitive" or "nonsensitive"), leaving out those named in `skip`:
// a token may accept a template and make the key its own way (e.g.
// sensitive where nonsensitive was asked). `got` is ReadFlags' answer.
std::vector<std::string> FlagsChangedByToken(
    const KeyFlags& asked, const KeyFlags& got, KeyKind kind,
    const std::vector<std::string>& skip);

// NameRefusedCurve returns `status` with "the token does not offer EC curve
// <name>" before its message when its CK_RV says the token refused the
// curve `c`, and `status` unchanged otherwise; code and CK_RV are kept.
absl::Status NameRefusedCurve(const absl::Status& status, EcCurve c);

// KeyEntry is one row of `keyferry key list`.
struct KeyEntry {
  ObjectHandle handle;
  std::string klass;  // "private", "public", "secret"
  KeyKind kind;
  int bits = 0;
  std::optional<EcCurve> curve;
  std::string label;
  std::vector<uint8_t> id;
};

// DescribeKey reads class, type, size or curve, label and id of `h`.
absl::StatusOr<KeyEntry> DescribeKey(Session& s, ObjectHandle h);
// ListKeys lists every RSA, EC and AES key object, ordered by label.
absl::StatusOr<std::vector<KeyEntry>> ListKeys(Session& s);
// ReadFlags reads the flags of `h` (usage flags absent on a class read as
// false).
absl::StatusOr<KeyFlags> ReadFlags(Session& s, ObjectHandle h);

// FindKey finds the private or secret key labelled `label` (or with id
// `id` when given). NotFound names the label; FailedPrecondition when
// several keys carry it.
absl::StatusOr<ObjectHandle> FindKey(
    Session& s, std::string_view label,
    std::optional<std::span<const uint8_t>> id = std::nullopt);
// FindPublicKey finds a public key object labelled `label`.
absl::StatusOr<ObjectHandle> FindPublicKey(Session& s, std::string_view label);

// ImportRsaPublicKey stores an RSA public key (modulus, exponent) that can
// only wrap and encrypt; `token` makes it persistent (`kek import`).
absl::StatusOr<ObjectHandle> ImportRsaPublicKey(Session& s,
                                                std::span<const uint8_t> n,
                                                std::span<const uint8_t> e,
                                                bool token,
                                                std::string_view label);

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_KEYS_H_
