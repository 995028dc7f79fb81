#include "byok/profile.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/status.h"
#include "byok/blob.h"

namespace keyferry::byok {
namespace {

using crypto::OaepHash;
using K = TargetKind;

const std::vector<TargetKind> kAllTargets = {
    K::kRsa2048, K::kRsa3072,     K::kRsa4096, K::kEcP256, K::kEcP384,
    K::kEcP521,  K::kEcSecp256k1, K::kAes128,  K::kAes192, K::kAes256};
const std::vector<int> kAnyRsa = {2048, 3072, 4096};

// One method of one destination, as docs/byok-format.md §5 tabulates it.
struct MethodRow {
  const char* format;
  const char* method;
  OaepHash hash;
  bool hybrid;
  std::vector<int> wrapping_bits;
  std::vector<TargetKind> targets;
};

const std::vector<MethodRow>& Methods() {
  static const auto* rows = [] {
    const std::vector<TargetKind> aws_hybrid = {
        K::kRsa2048, K::kRsa3072, K::kRsa4096,    K::kEcP256,
        K::kEcP384,  K::kEcP521,  K::kEcSecp256k1};
    const std::vector<TargetKind> aws_direct = {
        K::kAes256, K::kEcP256, K::kEcP384, K::kEcP521, K::kEcSecp256k1};
    const std::vector<TargetKind> gcp_hybrid = {
        K::kRsa2048, K::kRsa3072,     K::kRsa4096, K::kEcP256,
        K::kEcP384,  K::kEcSecp256k1, K::kAes128,  K::kAes256};
    const std::vector<TargetKind> gcp_direct = {
        K::kEcP256, K::kEcP384, K::kEcSecp256k1, K::kAes128, K::kAes256};
    const std::vector<TargetKind> vault = {
        K::kRsa2048, K::kRsa3072, K::kRsa4096, K::kEcP256,
        K::kEcP384,  K::kEcP521,  K::kAes128,  K::kAes256};
    // OCI imports AES 128/192/256 and RSA; its PCI advice (AES no stronger
    // than the RSA-4096 wrapping key, i.e. 128 bits) is the operator's
    // call, not the service's refusal (docs/byok-format.md §5.6).
    const std::vector<TargetKind> oci_hybrid = {
        K::kRsa2048, K::kRsa3072, K::kRsa4096, K::kAes128, K::kAes192,
        K::kAes256};
    const std::vector<TargetKind> oci_direct = {K::kAes128, K::kAes192,
                                                K::kAes256};
    return new std::vector<MethodRow>{
        {"azure", "CKM_RSA_AES_KEY_WRAP", OaepHash::kSha1, true, kAnyRsa,
         kAllTargets},
        {"azure-release", "CKM_RSA_AES_KEY_WRAP", OaepHash::kSha1, true,
         kAnyRsa, kAllTargets},
        {"azure-release", "RSA_AES_KEY_WRAP_256", OaepHash::kSha256, true,
         kAnyRsa, kAllTargets},
        {"azure-release", "RSA_AES_KEY_WRAP_384", OaepHash::kSha384, true,
         kAnyRsa, kAllTargets},
        {"aws", "RSA_AES_KEY_WRAP_SHA_1", OaepHash::kSha1, true, kAnyRsa,
         aws_hybrid},
        {"aws", "RSA_AES_KEY_WRAP_SHA_256", OaepHash::kSha256, true, kAnyRsa,
         aws_hybrid},
        {"aws", "RSAES_OAEP_SHA_1", OaepHash::kSha1, false, kAnyRsa,
         aws_direct},
        {"aws", "RSAES_OAEP_SHA_256", OaepHash::kSha256, false, kAnyRsa,
         aws_direct},
        {"gcp",
         "rsa-oaep-3072-sha1-aes-256",
         OaepHash::kSha1,
         true,
         {3072},
         gcp_hybrid},
        {"gcp",
         "rsa-oaep-4096-sha1-aes-256",
         OaepHash::kSha1,
         true,
         {4096},
         gcp_hybrid},
        {"gcp",
         "rsa-oaep-3072-sha256-aes-256",
         OaepHash::kSha256,
         true,
         {3072},
         gcp_hybrid},
        {"gcp",
         "rsa-oaep-4096-sha256-aes-256",
         OaepHash::kSha256,
         true,
         {4096},
         gcp_hybrid},
        {"gcp",
         "rsa-oaep-3072-sha256",
         OaepHash::kSha256,
         false,
         {3072},
         gcp_direct},
        {"gcp",
         "rsa-oaep-4096-sha256",
         OaepHash::kSha256,
         false,
         {4096},
         gcp_direct},
        {"vault", "SHA1", OaepHash::kSha1, true, {4096}, vault},
        {"vault", "SHA256", OaepHash::kSha256, true, {4096}, vault},
        {"vault", "SHA384", OaepHash::kSha384, true, {4096}, vault},
        {"vault", "SHA512", OaepHash::kSha512, true, {4096}, vault},
        {"oci",
         "RSA_OAEP_AES_SHA256",
         OaepHash::kSha256,
         true,
         {4096},
         oci_hybrid},
        {"oci",
         "RSA_OAEP_SHA256",
         OaepHash::kSha256,
         false,
         {4096},
         oci_direct},
    };
  }();
  return *rows;
}

Container ContainerFor(const std::string& format) {
  if (format == "azure") return Container::kAzureByok;
  if (format == "azure-release") return Container::kAzureRelease;
  if (format == "vault") return Container::kVaultJson;
  if (format == "oci") return Container::kOciJson;
  return Container::kRaw;
}

// The option that names the method for `format`, its default (empty: the
// option is required) and its flag name.
struct MethodOption {
  std::string flag;
  std::string fallback;
};

MethodOption OptionFor(const std::string& format) {
  if (format == "azure-release") return {"enc", "CKM_RSA_AES_KEY_WRAP"};
  if (format == "aws") return {"wrapping-algorithm", ""};
  if (format == "gcp") return {"import-method", ""};
  if (format == "vault") return {"hash-function", "SHA256"};
  if (format == "oci") return {"wrapping-algorithm", "RSA_OAEP_AES_SHA256"};
  return {"", "CKM_RSA_AES_KEY_WRAP"};
}

std::string Quote(absl::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string TargetList(const std::vector<TargetKind>& targets) {
  std::vector<std::string> names;
  for (TargetKind t : targets) names.emplace_back(TargetName(t));
  return absl::StrJoin(names, ", ");
}

}  // namespace

absl::StatusOr<TargetKind> ClassifyTarget(crypto::KeyType type, int bits,
                                          std::optional<crypto::Curve> curve) {
  switch (type) {
    case crypto::KeyType::kRsa:
      if (bits == 2048) return K::kRsa2048;
      if (bits == 3072) return K::kRsa3072;
      if (bits == 4096) return K::kRsa4096;
      return absl::InvalidArgumentError(absl::StrCat(
          "RSA target must be 2048, 3072 or 4096 bits, not ", bits));
    case crypto::KeyType::kEc:
      if (!curve.has_value()) break;
      switch (*curve) {
        case crypto::Curve::kP256:
          return K::kEcP256;
        case crypto::Curve::kP384:
          return K::kEcP384;
        case crypto::Curve::kP521:
          return K::kEcP521;
        case crypto::Curve::kSecp256k1:
          return K::kEcSecp256k1;
      }
      break;
    case crypto::KeyType::kAes:
      if (bits == 128) return K::kAes128;
      if (bits == 192) return K::kAes192;
      if (bits == 256) return K::kAes256;
      return absl::InvalidArgumentError(
          absl::StrCat("AES target must be 128, 192 or 256 bits, not ", bits));
    default:
      break;
  }
  return absl::InvalidArgumentError(
      "target is not an RSA, EC (P-256, P-384, P-521, secp256k1) or AES key");
}

absl::string_view TargetName(TargetKind kind) {
  switch (kind) {
    case K::kRsa2048:
      return "RSA-2048";
    case K::kRsa3072:
      return "RSA-3072";
    case K::kRsa4096:
      return "RSA-4096";
    case K::kEcP256:
      return "EC P-256";
    case K::kEcP384:
      return "EC P-384";
    case K::kEcP521:
      return "EC P-521";
    case K::kEcSecp256k1:
      return "EC secp256k1";
    case K::kAes128:
      return "AES-128";
    case K::kAes192:
      return "AES-192";
    case K::kAes256:
      return "AES-256";
  }
  return "?";
}

absl::string_view VaultKeyType(TargetKind target) {
  switch (target) {
    case K::kRsa2048:
      return "rsa-2048";
    case K::kRsa3072:
      return "rsa-3072";
    case K::kRsa4096:
      return "rsa-4096";
    case K::kEcP256:
      return "ecdsa-p256";
    case K::kEcP384:
      return "ecdsa-p384";
    case K::kEcP521:
      return "ecdsa-p521";
    case K::kAes128:
      return "aes128-gcm96";
    case K::kAes256:
      return "aes256-gcm96";
    default:
      return "";
  }
}

absl::StatusOr<Profile> ResolveProfile(const std::string& format,
                                       const MethodOptions& options) {
  if (format != "azure" && format != "azure-release" && format != "aws" &&
      format != "gcp" && format != "vault" && format != "oci") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown --format '", format,
                     "' (azure, azure-release, aws, gcp, vault or oci)"));
  }
  MethodOption opt = OptionFor(format);
  // Each option belongs to its formats; a stray one is a mistake.
  struct Given {
    const char* flag;
    const std::optional<std::string>& value;
  };
  std::optional<std::string> given;
  for (const Given& g :
       {Given{"enc", options.enc},
        Given{"wrapping-algorithm", options.wrapping_algorithm},
        Given{"import-method", options.import_method},
        Given{"hash-function", options.hash_function}}) {
    if (!g.value.has_value()) continue;
    if (g.flag != opt.flag) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", g.flag, " does not apply to --format ", format));
    }
    given = g.value;
  }
  std::vector<std::string> valid;
  for (const MethodRow& row : Methods()) {
    if (row.format == format) valid.emplace_back(row.method);
  }
  if (!given.has_value() && opt.fallback.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--format ", format, " needs --", opt.flag, " (",
                     absl::StrJoin(valid, ", "), ")"));
  }
  std::string method = given.value_or(std::string(opt.fallback));
  for (const MethodRow& row : Methods()) {
    if (row.format != format || row.method != method) continue;
    Profile p;
    p.format = std::string(format);
    p.method = method;
    p.wrap = {row.hash, row.hybrid};
    p.container = ContainerFor(format);
    p.wrapping_bits = row.wrapping_bits;
    p.targets = row.targets;
    p.refuse_p521_direct_under_2048 = format == "aws" && !row.hybrid;
    return p;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --", opt.flag, " '", method, "' for --format ",
                   format, " (", absl::StrJoin(valid, ", "), ")"));
}

absl::Status CheckWrappingKey(const Profile& profile, int bits) {
  const auto& ok = profile.wrapping_bits;
  if (std::find(ok.begin(), ok.end(), bits) != ok.end()) {
    return absl::OkStatus();
  }
  std::vector<std::string> sizes;
  for (int b : ok) sizes.push_back(absl::StrCat(b));
  return absl::InvalidArgumentError(absl::StrCat(
      profile.format, " ", profile.method, " wraps under RSA ",
      absl::StrJoin(sizes, ", "), "-bit wrapping keys; this one has ", bits));
}

absl::Status CheckTarget(const Profile& profile, TargetKind target,
                         int wrapping_bits) {
  const auto& ok = profile.targets;
  if (std::find(ok.begin(), ok.end(), target) == ok.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        profile.format, " ", profile.method, " does not take ",
        TargetName(target), " keys (it takes ", TargetList(ok), ")"));
  }
  if (profile.refuse_p521_direct_under_2048 && target == K::kEcP521 &&
      wrapping_bits == 2048) {
    return absl::InvalidArgumentError(absl::StrCat(
        "aws ", profile.method,
        " cannot wrap EC P-521 keys under an RSA 2048 wrapping key (use "
        "RSA_AES_KEY_WRAP_SHA_* or a larger wrapping key)"));
  }
  return absl::OkStatus();
}

absl::Status CheckDirectLength(const Profile& profile, size_t payload_len,
                               size_t modulus_bytes) {
  if (profile.wrap.hybrid) return absl::OkStatus();
  size_t max = OaepMaxPayload(modulus_bytes, profile.wrap.hash);
  if (payload_len <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      profile.format, " ", profile.method, " wraps directly with RSA-OAEP-",
      OaepHashName(profile.wrap.hash), ", at most ", max, " bytes under a ",
      modulus_bytes * 8, "-bit key; this key's encoding is ", payload_len,
      " bytes (use a hybrid method)"));
}

absl::StatusOr<std::string> WriteContainer(const Profile& profile,
                                           std::span<const uint8_t> ciphertext,
                                           const ContainerFields& fields) {
  switch (profile.container) {
    case Container::kAzureByok: {
      if (fields.kid.empty()) return absl::InvalidArgumentError("missing kid");
      Blob blob;
      blob.kid = fields.kid;
      blob.ciphertext.assign(ciphertext.begin(), ciphertext.end());
      blob.generator = fields.generator;
      return SerializeBlob(blob);
    }
    case Container::kAzureRelease: {
      if (fields.kid.empty()) {
        return absl::InvalidArgumentError(
            "missing --kid (the kid of the key the release wraps to)");
      }
      std::string inner = absl::StrCat(
          "{\"schema_version\":\"1.0\",\"header\":{\"kid\":", Quote(fields.kid),
          ",\"alg\":\"dir\",\"enc\":", Quote(profile.method),
          "},\"ciphertext\":", Quote(Base64UrlEncode(ciphertext)), "}");
      return Base64UrlEncode(AsBytes(inner));
    }
    case Container::kRaw:
      return AsString(ciphertext);
    case Container::kVaultJson: {
      absl::string_view type = VaultKeyType(fields.target);
      if (type.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "vault transit has no key type for ", TargetName(fields.target)));
      }
      return absl::StrCat("{\"ciphertext\":", Quote(Base64Encode(ciphertext)),
                          ",\"hash_function\":", Quote(profile.method),
                          ",\"type\":", Quote(type), "}\n");
    }
    case Container::kOciJson:
      return absl::StrCat("{\"keyMaterial\":", Quote(Base64Encode(ciphertext)),
                          ",\"wrappingAlgorithm\":", Quote(profile.method),
                          "}\n");
  }
  return absl::InternalError("unknown container");
}

}  // namespace keyferry::byok
