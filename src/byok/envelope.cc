#include "byok/envelope.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "crypto/aes_wrap.h"
#include "crypto/random.h"

namespace keyferry::byok {
namespace {

struct TargetRange {
  const char* name;
  size_t min, max;  // PKCS#8 (or raw) payload lengths seen from real encoders
};

// Lengths: raw AES; EC PKCS#8 from the minimal SoftHSM form (no parameters,
// no public key) to OpenSSL's form with both; RSA two-prime PKCS#8.
constexpr TargetRange kTargets[] = {
    {"AES-128", 16, 16},      {"AES-192", 24, 24},
    {"AES-256", 32, 32},      {"EC P-256K", 64, 140},
    {"EC P-256", 67, 150},    {"EC P-384", 80, 190},
    {"EC P-521", 98, 250},    {"RSA-2048", 1210, 1220},
    {"RSA-3072", 1786, 1796}, {"RSA-4096", 2364, 2380},
};

std::vector<std::string> Fitting(size_t lo, size_t hi) {
  std::vector<std::string> out;
  for (const auto& t : kTargets) {
    if (t.max >= lo && t.min <= hi) out.push_back(t.name);
  }
  return out;
}

absl::StatusOr<Analysis> AnalyzeWith(size_t total, size_t n) {
  RETURN_IF_ERROR(CheckCiphertextLength(total, n));
  Analysis a;
  a.total = total;
  a.modulus_bytes = n;
  a.c2 = total - n;
  // |C2| = 8*ceil(|P|/8) + 8, or 16 when |P| <= 8.
  a.payload_max = a.c2 - 8;
  a.payload_min = a.c2 == 16 ? 1 : a.c2 - 15;
  a.fitting_targets = Fitting(a.payload_min, a.payload_max);
  return a;
}

}  // namespace

absl::string_view OaepHashName(crypto::OaepHash hash) {
  switch (hash) {
    case crypto::OaepHash::kSha1:
      return "SHA-1";
    case crypto::OaepHash::kSha256:
      return "SHA-256";
    case crypto::OaepHash::kSha384:
      return "SHA-384";
    case crypto::OaepHash::kSha512:
      return "SHA-512";
  }
  return "SHA-1";
}

size_t OaepMaxPayload(size_t modulus_bytes, crypto::OaepHash hash) {
  size_t h = 20;
  switch (hash) {
    case crypto::OaepHash::kSha1:
      h = 20;
      break;
    case crypto::OaepHash::kSha256:
      h = 32;
      break;
    case crypto::OaepHash::kSha384:
      h = 48;
      break;
    case crypto::OaepHash::kSha512:
      h = 64;
      break;
  }
  return modulus_bytes > 2 * h + 2 ? modulus_bytes - 2 * h - 2 : 0;
}

absl::StatusOr<std::vector<uint8_t>> WrapPayload(EVP_PKEY* kek_public,
                                                 const SecretBytes& payload,
                                                 const WrapSpec& spec) {
  if (spec.hybrid) return WrapToKek(kek_public, payload, spec.hash);
  ASSIGN_OR_RETURN(size_t n, KekModulusBytes(kek_public));
  if (payload.empty()) return absl::InvalidArgumentError("empty payload");
  size_t max = OaepMaxPayload(n, spec.hash);
  if (payload.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA-OAEP-", OaepHashName(spec.hash), " under a ", n * 8,
                     "-bit key carries at most ", max,
                     " bytes; this key's encoding is ", payload.size()));
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> c,
                   crypto::RsaOaepEncrypt(kek_public, spec.hash,
                                          payload.data(SecretAccess::Get())));
  if (c.size() != n) {
    return absl::InternalError("RSA-OAEP output length differs from modulus");
  }
  return c;
}

size_t KwpWrappedLength(size_t payload_len) {
  if (payload_len <= 8) return 16;
  return (payload_len + 7) / 8 * 8 + 8;
}

absl::Status CheckCiphertextLength(size_t total, size_t modulus_bytes) {
  if (total < modulus_bytes + 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ciphertext too short: ", total, " bytes, the KEK's RSA part alone is ",
        modulus_bytes, " and the AES-KWP part needs at least 16"));
  }
  if ((total - modulus_bytes) % 8 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ciphertext length ", total, " minus the KEK modulus length ",
        modulus_bytes, " is not a multiple of 8 (truncated or damaged)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> KekModulusBytes(EVP_PKEY* kek) {
  auto desc = crypto::Describe(kek);
  if (!desc.ok() || desc->type != crypto::KeyType::kRsa) {
    return absl::InvalidArgumentError(
        "KEK must be an RSA key of 2048, 3072 or 4096 bits");
  }
  if (desc->bits != 2048 && desc->bits != 3072 && desc->bits != 4096) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KEK must be RSA 2048, 3072 or 4096 bits; this one has ", desc->bits));
  }
  return static_cast<size_t>(desc->bits / 8);
}

absl::StatusOr<std::vector<uint8_t>> WrapToKek(EVP_PKEY* kek_public,
                                               const SecretBytes& payload,
                                               crypto::OaepHash hash) {
  ASSIGN_OR_RETURN(size_t n, KekModulusBytes(kek_public));
  if (payload.empty()) return absl::InvalidArgumentError("empty payload");
  ASSIGN_OR_RETURN(SecretBytes k, crypto::RandomSecret(kEphemeralKeyBytes));
  ASSIGN_OR_RETURN(
      std::vector<uint8_t> c1,
      crypto::RsaOaepEncrypt(kek_public, hash, k.data(SecretAccess::Get())));
  ASSIGN_OR_RETURN(std::vector<uint8_t> c2, crypto::KwpWrap(k, payload));
  if (c1.size() != n) {
    return absl::InternalError("RSA-OAEP output length differs from modulus");
  }
  c1.insert(c1.end(), c2.begin(), c2.end());
  return c1;
}

absl::StatusOr<SecretBytes> UnwrapWithKek(EVP_PKEY* kek_private,
                                          std::span<const uint8_t> ciphertext,
                                          crypto::OaepHash hash) {
  ASSIGN_OR_RETURN(size_t n, KekModulusBytes(kek_private));
  RETURN_IF_ERROR(CheckCiphertextLength(ciphertext.size(), n));
  auto k = crypto::RsaOaepDecrypt(kek_private, hash, ciphertext.first(n));
  if (!k.ok()) {
    return absl::InvalidArgumentError(
        "RSA-OAEP part does not decrypt under this KEK (wrong KEK, or the "
        "first part of the ciphertext is damaged)");
  }
  if (k->size() != 16 && k->size() != 24 && k->size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RSA-OAEP part holds ", k->size(), " bytes, not an AES key"));
  }
  auto payload = crypto::KwpUnwrap(*k, ciphertext.subspan(n));
  if (!payload.ok()) {
    return absl::InvalidArgumentError(
        "AES-KWP part fails its integrity check (damaged or truncated)");
  }
  return std::move(*payload);
}

absl::StatusOr<RecoveredKey> DecodePayload(const SecretBytes& payload,
                                           std::optional<bool> expect_aes) {
  RecoveredKey out;
  size_t len = payload.size();
  bool aes_len = len == 16 || len == 24 || len == 32;
  if (aes_len && expect_aes.value_or(true)) {
    out.type = crypto::KeyType::kAes;
    out.secret = payload;
    out.bits = static_cast<int>(len * 8);
    return out;
  }
  if (expect_aes.value_or(false)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "payload of ", len, " bytes is not an AES-128/192/256 key"));
  }
  auto pkey = crypto::ParsePkcs8Der(payload, /*allow_trailing_zeros=*/true);
  if (!pkey.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "payload is not a PKCS#8 private key (", pkey.status().message(), ")"));
  }
  RETURN_IF_ERROR(crypto::CheckKeyPair(pkey->get()));
  ASSIGN_OR_RETURN(crypto::KeyDescription desc, crypto::Describe(pkey->get()));
  out.type = desc.type;
  out.bits = desc.bits;
  out.curve = desc.curve;
  out.pkey = std::move(*pkey);
  // Trailing zeros are the bytes after the outer DER SEQUENCE.
  auto p = payload.data(SecretAccess::Get());
  if (auto der_len = crypto::DerSequenceLength(p)) {
    out.trailing_zeros = p.size() - *der_len;
  }
  return out;
}

absl::StatusOr<Analysis> Analyze(size_t total,
                                 std::optional<size_t> modulus_bytes) {
  if (modulus_bytes.has_value()) return AnalyzeWith(total, *modulus_bytes);
  std::vector<Analysis> fits;
  for (size_t n : {256u, 384u, 512u}) {
    auto a = AnalyzeWith(total, n);
    if (a.ok() && !a->fitting_targets.empty()) fits.push_back(*a);
  }
  if (fits.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ciphertext of ", total,
        " bytes fits no KEK size (2048/3072/4096) with a known target type"));
  }
  // Prefer the largest KEK when several fit: 4096 is the documented default.
  Analysis best = fits.back();
  best.modulus_inferred = true;
  return best;
}

}  // namespace keyferry::byok
