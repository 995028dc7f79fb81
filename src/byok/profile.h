// Transfer profiles: what each destination of `keyferry export --format`
// needs from the one wrapping core (docs/byok-format.md §5): the OAEP hash,
// hybrid (RSA-OAEP of an ephemeral AES-256 key, then RFC 5649) or direct
// (RSA-OAEP of the key), the wrapping key sizes and target types the
// destination accepts, and the file the result goes into.
#ifndef KEYFERRY_BYOK_PROFILE_H_
#define KEYFERRY_BYOK_PROFILE_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "byok/envelope.h"
#include "crypto/keys.h"

namespace keyferry::byok {

// TargetKind is one exportable key type and size.
enum class TargetKind {
  kRsa2048,
  kRsa3072,
  kRsa4096,
  kEcP256,
  kEcP384,
  kEcP521,
  kEcSecp256k1,
  kAes128,
  kAes192,
  kAes256,
};

// ClassifyTarget maps a key description to its TargetKind. InvalidArgument
// for a size or curve no destination takes (e.g. RSA-1024), naming it.
absl::StatusOr<TargetKind> ClassifyTarget(crypto::KeyType type, int bits,
                                          std::optional<crypto::Curve> curve);

// TargetName is the human name: "RSA-2048", "EC P-256", "EC secp256k1",
// "AES-128".
absl::string_view TargetName(TargetKind kind);

// Container is the file a profile writes.
enum class Container {
  kAzureByok,     // §1 JSON
  kAzureRelease,  // base64url of the Secure Key Release key_hsm JSON
  kRaw,           // the ciphertext bytes (AWS, GCP)
  kVaultJson,     // {"ciphertext","hash_function","type"}
  kOciJson,       // {"keyMaterial","wrappingAlgorithm"}
};

// Profile is one destination with one wrapping method.
struct Profile {
  std::string format;  // the --format value, e.g. "aws"
  std::string method;  // the destination's name, e.g. "RSAES_OAEP_SHA_256"
  WrapSpec wrap;
  Container container = Container::kRaw;
  std::vector<int> wrapping_bits;   // RSA sizes the destination issues
  std::vector<TargetKind> targets;  // types the destination imports
  // AWS: "You cannot use the RSAES_OAEP_SHA_* wrapping algorithm with the
  // RSA_2048 wrapping key spec to wrap ECC_NIST_P521 key material."
  bool refuse_p521_direct_under_2048 = false;
};

// MethodOptions are the per-destination options of `keyferry export`.
struct MethodOptions {
  std::optional<std::string> enc;                 // azure-release
  std::optional<std::string> wrapping_algorithm;  // aws, oci
  std::optional<std::string> import_method;       // gcp
  std::optional<std::string> hash_function;       // vault
};

// ResolveProfile returns the profile for `format` and its method option.
// InvalidArgument names an unknown format or method (listing the valid
// ones), a required method that is missing (aws, gcp), and an option given
// to a format it does not belong to.
absl::StatusOr<Profile> ResolveProfile(const std::string& format,
                                       const MethodOptions& options);

// CheckWrappingKey refuses (InvalidArgument) an RSA wrapping key of
// `bits` that the profile's destination does not issue.
absl::Status CheckWrappingKey(const Profile& profile, int bits);

// CheckTarget refuses (InvalidArgument) a target type the destination does
// not import with this method, or a combination it documents as refused.
absl::Status CheckTarget(const Profile& profile, TargetKind target,
                         int wrapping_bits);

// CheckDirectLength refuses (InvalidArgument), for a direct profile, a key
// encoding of `payload_len` bytes that does not fit one RSA-OAEP block under
// a key of `modulus_bytes`. OK for hybrid profiles.
absl::Status CheckDirectLength(const Profile& profile, size_t payload_len,
                               size_t modulus_bytes);

// ContainerFields are the non-secret values some containers carry.
struct ContainerFields {
  std::string kid;                          // azure, azure-release
  std::string generator;                    // azure
  TargetKind target = TargetKind::kAes256;  // vault's `type`
};

// WriteContainer returns the file contents for `ciphertext` (never secret).
// InvalidArgument when a field the container needs is missing (the kid).
absl::StatusOr<std::string> WriteContainer(const Profile& profile,
                                           std::span<const uint8_t> ciphertext,
                                           const ContainerFields& fields);

// VaultKeyType is transit's `type` for `target` ("aes256-gcm96",
// "rsa-2048", "ecdsa-p256"); empty for types transit does not import.
absl::string_view VaultKeyType(TargetKind target);

}  // namespace keyferry::byok

#endif  // KEYFERRY_BYOK_PROFILE_H_
