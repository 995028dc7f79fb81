#include "seal/shares.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/aead.h"
#include "crypto/errors.h"
#include "crypto/mac.h"
#include "crypto/random.h"

namespace keyferry::seal {
namespace {

using json = nlohmann::json;

constexpr char kCheckLabel[] = "keyferry seal check v1";
constexpr char kShareCheckLabel[] = "keyferry share check v1";
constexpr size_t kSaltBytes = 16;
constexpr size_t kShareKeyBytes = 32;
// Upper bounds on a share file's scrypt cost, so a hostile file cannot make
// the server allocate gigabytes: 128 * N * r <= 256 MiB.
constexpr uint64_t kMaxScryptN = uint64_t{1} << 20;
constexpr uint32_t kMaxScryptR = 32;
constexpr uint32_t kMaxScryptP = 16;
constexpr uint64_t kMaxScryptMem = uint64_t{256} << 20;

void ZeroizeString(std::string& s) { Zeroize(s.data(), s.size()); }

// ZeroizingJson wipes the strings of a JSON object that held secret text
// (base64 of a clear share) when it goes out of scope.
class ZeroizingJson {
 public:
  explicit ZeroizingJson(json& j, const char* key) : j_(j), key_(key) {}
  ~ZeroizingJson() {
    if (j_.is_object() && j_.contains(key_) && j_[key_].is_string()) {
      ZeroizeString(j_[key_].get_ref<std::string&>());
    }
  }

 private:
  json& j_;
  const char* key_;
};

absl::Status ValidateSplit(int shares, int threshold) {
  if (shares < 1 || shares > kMaxShares) {
    return absl::InvalidArgumentError(
        absl::StrCat("shares must be 1 to ", kMaxShares, ", not ", shares));
  }
  if (threshold < 1 || threshold > shares || (threshold == 1 && shares > 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "threshold ", threshold, " is not valid for ", shares, " shares"));
  }
  return absl::OkStatus();
}

absl::Status ValidateScrypt(const ScryptParams& k) {
  if (k.n < 2 || k.n > kMaxScryptN || (k.n & (k.n - 1)) != 0 || k.r < 1 ||
      k.r > kMaxScryptR || k.p < 1 || k.p > kMaxScryptP ||
      128 * k.n * k.r > kMaxScryptMem) {
    return absl::InvalidArgumentError(
        "scrypt parameters are out of range (N a power of two up to 2^20, "
        "r 1..32, p 1..16, 128*N*r at most 256 MiB)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const json& j, const char* key,
                                      std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(what), ": \"", key, "\" must be a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<int64_t> GetInt(const json& j, const char* key,
                               std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(what), ": \"", key, "\" must be an integer"));
  }
  return it->get<int64_t>();
}

absl::StatusOr<std::vector<uint8_t>> GetB64(const json& j, const char* key,
                                            std::string_view what,
                                            size_t want_len /* 0: any */) {
  ASSIGN_OR_RETURN(std::string text, GetString(j, key, what));
  auto bytes = Base64UrlDecode(text);
  ZeroizeString(text);  // may be a clear share
  if (!bytes.ok() || bytes->empty() ||
      (want_len != 0 && bytes->size() != want_len)) {
    return absl::InvalidArgumentError(absl::StrCat(
        Sv(what), ": \"", key, "\" must be base64url",
        want_len != 0 ? absl::StrCat(" of ", want_len, " bytes") : ""));
  }
  return std::move(bytes).value();
}

absl::StatusOr<int> GetSmallInt(const json& j, const char* key,
                                std::string_view what) {
  ASSIGN_OR_RETURN(int64_t v, GetInt(j, key, what));
  if (v < 0 || v > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(what), ": \"", key, "\" is out of range"));
  }
  return static_cast<int>(v);
}

absl::StatusOr<SecretBytes> Scrypt(const SecretBytes& passphrase,
                                   std::span<const uint8_t> salt,
                                   const ScryptParams& k) {
  RETURN_IF_ERROR(ValidateScrypt(k));
  return crypto::Scrypt(passphrase, salt, {.n = k.n, .r = k.r, .p = k.p},
                        kShareKeyBytes);
}

bool SameCheck(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  return ConstantTimeEqual(a, b);
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> KeyCheckValue(const SecretBytes& master) {
  if (master.empty()) {
    return absl::InvalidArgumentError("master key is empty");
  }
  return crypto::HmacSha256(master, AsBytes(kCheckLabel));
}

absl::StatusOr<std::vector<uint8_t>> ShareCheckValue(std::string_view vault_id,
                                                     const Share& share) {
  if (share.y.empty()) return absl::InvalidArgumentError("share is empty");
  return crypto::HmacSha256(
      share.y, AsBytes(absl::StrCat(kShareCheckLabel, "|", Sv(vault_id), "|",
                                    static_cast<int>(share.x))));
}

absl::StatusOr<std::vector<std::vector<uint8_t>>> ShareCheckValues(
    const SealInfo& info, std::span<const Share> shares) {
  std::vector<std::vector<uint8_t>> out;
  for (int x = 1; x <= info.shares; ++x) {
    Share s;
    s.x = static_cast<uint8_t>(x);
    ASSIGN_OR_RETURN(s.y, Interpolate(shares, s.x));
    ASSIGN_OR_RETURN(std::vector<uint8_t> check,
                     ShareCheckValue(info.vault_id, s));
    out.push_back(std::move(check));
  }
  return out;
}

absl::StatusOr<std::string> EncodeSealInfo(const SealInfo& info) {
  if (info.vault_id.empty()) {
    return absl::InvalidArgumentError("seal info: vault_id is empty");
  }
  RETURN_IF_ERROR(ValidateSplit(info.shares, info.threshold));
  if (info.check.size() != kKeyCheckBytes) {
    return absl::InvalidArgumentError("seal info: check must be 32 bytes");
  }
  json j = {{"format", kSealFormat},
            {"vault_id", info.vault_id},
            {"shares", info.shares},
            {"threshold", info.threshold},
            {"check", Base64UrlEncode(info.check)}};
  if (!info.share_checks.empty()) {
    if (static_cast<int>(info.share_checks.size()) != info.shares) {
      return absl::InvalidArgumentError("seal info: one share check per share");
    }
    json checks = json::array();
    for (const std::vector<uint8_t>& c : info.share_checks) {
      if (c.size() != kKeyCheckBytes) {
        return absl::InvalidArgumentError(
            "seal info: a share check must be 32 bytes");
      }
      checks.push_back(Base64UrlEncode(c));
    }
    j["share_checks"] = std::move(checks);
  }
  return j.dump(2) + "\n";
}

absl::StatusOr<SealInfo> ParseSealInfo(std::string_view text) {
  constexpr std::string_view kWhat = "seal.json";
  absl::StatusOr<json> parsed = ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) {
    return absl::InvalidArgumentError("seal.json is not a JSON object");
  }
  json& j = *parsed;
  ASSIGN_OR_RETURN(std::string format, GetString(j, "format", kWhat));
  if (format != kSealFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("seal.json: format must be \"", kSealFormat, "\""));
  }
  SealInfo info;
  ASSIGN_OR_RETURN(info.vault_id, GetString(j, "vault_id", kWhat));
  if (info.vault_id.empty()) {
    return absl::InvalidArgumentError("seal.json: vault_id is empty");
  }
  ASSIGN_OR_RETURN(info.shares, GetSmallInt(j, "shares", kWhat));
  ASSIGN_OR_RETURN(info.threshold, GetSmallInt(j, "threshold", kWhat));
  RETURN_IF_ERROR(ValidateSplit(info.shares, info.threshold));
  ASSIGN_OR_RETURN(info.check, GetB64(j, "check", kWhat, kKeyCheckBytes));
  if (auto it = j.find("share_checks"); it != j.end()) {
    if (!it->is_array() || static_cast<int>(it->size()) != info.shares) {
      return absl::InvalidArgumentError(
          absl::StrCat("seal.json: \"share_checks\" must be an array of ",
                       info.shares, " strings"));
    }
    for (const json& c : *it) {
      json one = {{"share_check", c}};
      ASSIGN_OR_RETURN(std::vector<uint8_t> check,
                       GetB64(one, "share_check", kWhat, kKeyCheckBytes));
      info.share_checks.push_back(std::move(check));
    }
  }
  return info;
}

absl::Status WriteSealInfo(const std::string& path, const SealInfo& info) {
  ASSIGN_OR_RETURN(std::string text, EncodeSealInfo(info));
  return WriteFileAtomic(path, AsBytes(text), 0600);
}

absl::StatusOr<SealInfo> ReadSealInfo(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 16));
  return ParseSealInfo(text);
}

std::string ShareAad(std::string_view vault_id, int index, int threshold,
                     int shares) {
  return absl::StrCat(kShareFormat, "|", Sv(vault_id), "|", index, "|",
                      threshold, "|", shares);
}

absl::StatusOr<std::string> EncodeShareFile(
    const Share& share, const SealInfo& info,
    const std::optional<SecretBytes>& passphrase, const ScryptParams& kdf) {
  if (info.vault_id.empty()) {
    return absl::InvalidArgumentError("seal info: vault_id is empty");
  }
  RETURN_IF_ERROR(ValidateSplit(info.shares, info.threshold));
  if (share.x < 1 || share.x > info.shares) {
    return absl::InvalidArgumentError(
        absl::StrCat("share index ", share.x, " is outside 1..", info.shares));
  }
  if (share.y.empty()) return absl::InvalidArgumentError("share is empty");

  json j = {{"format", kShareFormat},
            {"vault_id", info.vault_id},
            {"index", share.x},
            {"threshold", info.threshold},
            {"shares", info.shares}};
  ZeroizingJson wipe(j, "share");
  if (!passphrase.has_value()) {
    j["protection"] = "none";
    j["share"] = Base64UrlEncode(share.y.data(SecretAccess::Get()));
    return j.dump(2) + "\n";
  }
  if (passphrase->empty()) {
    return absl::InvalidArgumentError("passphrase is empty");
  }
  RETURN_IF_ERROR(ValidateScrypt(kdf));
  ASSIGN_OR_RETURN(std::vector<uint8_t> salt, crypto::RandomBytes(kSaltBytes));
  ASSIGN_OR_RETURN(std::vector<uint8_t> nonce,
                   crypto::RandomBytes(crypto::kGcmNonceBytes));
  ASSIGN_OR_RETURN(SecretBytes key, Scrypt(*passphrase, salt, kdf));
  const std::string aad =
      ShareAad(info.vault_id, share.x, info.threshold, info.shares);
  ASSIGN_OR_RETURN(
      crypto::GcmCiphertext sealed,
      crypto::AesGcmEncrypt(key, nonce, share.y.data(SecretAccess::Get()),
                            AsBytes(aad)));
  j["protection"] = "passphrase";
  j["kdf"] = {{"alg", "scrypt"},
              {"N", kdf.n},
              {"r", kdf.r},
              {"p", kdf.p},
              {"salt", Base64UrlEncode(salt)}};
  j["nonce"] = Base64UrlEncode(nonce);
  j["ciphertext"] = Base64UrlEncode(sealed.ciphertext);
  j["tag"] = Base64UrlEncode(sealed.tag);
  return j.dump(2) + "\n";
}

absl::StatusOr<ShareFile> ParseShareFile(std::string_view text) {
  constexpr std::string_view kWhat = "share file";
  absl::StatusOr<json> parsed = ParseJson(text);
  json j = parsed.ok() ? std::move(*parsed) : json();
  ZeroizingJson wipe(j, "share");
  if (!j.is_object()) {
    return absl::InvalidArgumentError("share file is not a JSON object");
  }
  ASSIGN_OR_RETURN(std::string format, GetString(j, "format", kWhat));
  if (format != kShareFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("share file: format must be \"", kShareFormat, "\""));
  }
  ShareFile f;
  ASSIGN_OR_RETURN(f.vault_id, GetString(j, "vault_id", kWhat));
  if (f.vault_id.empty()) {
    return absl::InvalidArgumentError("share file: vault_id is empty");
  }
  ASSIGN_OR_RETURN(f.index, GetSmallInt(j, "index", kWhat));
  ASSIGN_OR_RETURN(f.threshold, GetSmallInt(j, "threshold", kWhat));
  ASSIGN_OR_RETURN(f.shares, GetSmallInt(j, "shares", kWhat));
  RETURN_IF_ERROR(ValidateSplit(f.shares, f.threshold));
  if (f.index < 1 || f.index > f.shares) {
    return absl::InvalidArgumentError(absl::StrCat(
        "share file: index ", f.index, " is outside 1..", f.shares));
  }
  ASSIGN_OR_RETURN(std::string protection, GetString(j, "protection", kWhat));
  if (protection == "none") {
    f.protection = Protection::kNone;
    ASSIGN_OR_RETURN(std::vector<uint8_t> y, GetB64(j, "share", kWhat, 0));
    f.share = SecretBytes(y);
    Zeroize(y.data(), y.size());
    return f;
  }
  if (protection != "passphrase") {
    return absl::InvalidArgumentError(
        "share file: protection must be \"none\" or \"passphrase\"");
  }
  f.protection = Protection::kPassphrase;
  auto kdf = j.find("kdf");
  if (kdf == j.end() || !kdf->is_object()) {
    return absl::InvalidArgumentError("share file: \"kdf\" must be an object");
  }
  constexpr std::string_view kKdf = "share file kdf";
  ASSIGN_OR_RETURN(std::string alg, GetString(*kdf, "alg", kKdf));
  if (alg != "scrypt") {
    return absl::InvalidArgumentError("share file: kdf alg must be \"scrypt\"");
  }
  ASSIGN_OR_RETURN(int64_t n, GetInt(*kdf, "N", kKdf));
  ASSIGN_OR_RETURN(int64_t r, GetInt(*kdf, "r", kKdf));
  ASSIGN_OR_RETURN(int64_t p, GetInt(*kdf, "p", kKdf));
  if (n < 0 || r < 0 || p < 0 || r > kMaxScryptR || p > kMaxScryptP) {
    return absl::InvalidArgumentError(
        "share file: kdf parameters out of range");
  }
  f.kdf = {static_cast<uint64_t>(n), static_cast<uint32_t>(r),
           static_cast<uint32_t>(p)};
  RETURN_IF_ERROR(ValidateScrypt(f.kdf));
  ASSIGN_OR_RETURN(f.salt, GetB64(*kdf, "salt", kKdf, kSaltBytes));
  ASSIGN_OR_RETURN(f.nonce, GetB64(j, "nonce", kWhat, crypto::kGcmNonceBytes));
  ASSIGN_OR_RETURN(f.ciphertext, GetB64(j, "ciphertext", kWhat, 0));
  ASSIGN_OR_RETURN(f.tag, GetB64(j, "tag", kWhat, crypto::kGcmTagBytes));
  return f;
}

absl::StatusOr<Share> OpenShareFile(
    const ShareFile& file, const std::optional<SecretBytes>& passphrase) {
  if (file.index < 1 || file.index > kMaxShares) {
    return absl::InvalidArgumentError(
        absl::StrCat("share index ", file.index, " is not valid"));
  }
  Share out;
  out.x = static_cast<uint8_t>(file.index);
  if (file.protection == Protection::kNone) {
    if (file.share.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("share ", file.index, " is empty"));
    }
    out.y = file.share;
    return out;
  }
  if (!passphrase.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("share ", file.index, " is protected by a passphrase"));
  }
  const auto wrong = [] {
    return absl::InvalidArgumentError("wrong passphrase or damaged share file");
  };
  if (passphrase->empty()) return wrong();
  ASSIGN_OR_RETURN(SecretBytes key, Scrypt(*passphrase, file.salt, file.kdf));
  const std::string aad =
      ShareAad(file.vault_id, file.index, file.threshold, file.shares);
  auto y = crypto::AesGcmDecrypt(key, file.nonce, file.ciphertext, file.tag,
                                 AsBytes(aad));
  if (!y.ok() || y->empty()) return wrong();
  out.y = std::move(y).value();
  return out;
}

absl::Status CheckShareFileMatches(const ShareFile& file,
                                   const SealInfo& info) {
  if (file.vault_id != info.vault_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("share ", file.index, " belongs to vault \"",
                     file.vault_id, "\", not \"", info.vault_id, "\""));
  }
  if (file.shares != info.shares || file.threshold != info.threshold) {
    return absl::InvalidArgumentError(
        absl::StrCat("share ", file.index, " is from a ", file.threshold,
                     "-of-", file.shares, " split, but this vault is sealed ",
                     info.threshold, "-of-", info.shares));
  }
  return absl::OkStatus();
}

Unsealer::Unsealer(SealInfo info) : info_(std::move(info)) {}

absl::Status Unsealer::CheckNonce(std::string_view nonce) const {
  if (nonce == nonce_) return absl::OkStatus();
  if (nonce.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an unseal attempt is in progress (", progress(), " of ",
        info_.threshold,
        " shares): send its nonce, from GET /sys/seal-status, with the share"));
  }
  if (nonce_.empty()) {
    return absl::AbortedError(absl::StrCat(
        "nonce ", Sv(nonce),
        " does not name the unseal attempt in progress: that attempt is over "
        "and none has started; submit without a nonce to start one"));
  }
  return absl::AbortedError(absl::StrCat(
      "nonce ", Sv(nonce), " does not name the unseal attempt in progress (",
      nonce_, "); read /sys/seal-status and submit again"));
}

absl::Status Unsealer::CheckShare(const Share& share) const {
  if (!ValidateSplit(info_.shares, info_.threshold).ok()) {
    return absl::FailedPreconditionError("the seal information is not valid");
  }
  if (share.x < 1 || share.x > info_.shares) {
    return absl::InvalidArgumentError(
        absl::StrCat("share index ", share.x, " is outside 1..", info_.shares));
  }
  if (share.y.empty() ||
      (!shares_.empty() && share.y.size() != shares_[0].y.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "share ", share.x, " has a different length from the others"));
  }
  if (!info_.share_checks.empty()) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> check,
                     ShareCheckValue(info_.vault_id, share));
    if (static_cast<size_t>(share.x) > info_.share_checks.size() ||
        !SameCheck(check, info_.share_checks[share.x - 1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "share ", share.x,
          " does not match this vault's seal (its share check value): it is "
          "not share ",
          share.x, " of this split, or it was altered"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<SecretBytes>> Unsealer::Submit(
    Share share, std::string_view nonce) {
  RETURN_IF_ERROR(CheckNonce(nonce));
  RETURN_IF_ERROR(CheckShare(share));
  for (const Share& s : shares_) {
    if (s.x == share.x) {
      return absl::AlreadyExistsError(
          absl::StrCat("share ", share.x, " was already submitted"));
    }
  }
  const bool starts = shares_.empty();
  if (starts) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> id, crypto::RandomBytes(16));
    nonce_ = HexEncode(id);
  }
  shares_.push_back(std::move(share));
  if (progress() < info_.threshold) return std::optional<SecretBytes>();
  absl::StatusOr<std::optional<SecretBytes>> out = Reconstruct();
  if (!out.ok()) {  // an internal failure: take the share back out
    shares_.pop_back();
    if (starts) nonce_.clear();
  }
  return out;
}

absl::StatusOr<std::optional<SecretBytes>> Unsealer::Reconstruct() {
  // Combinations of threshold - 1 earlier shares, plus the newest: those
  // without it were tried when their own newest share came in.
  const int k = info_.threshold;
  const int earlier = progress() - 1;
  std::vector<int> pick(static_cast<size_t>(k - 1));
  for (int i = 0; i < k - 1; ++i) pick[i] = i;
  for (int tried = 0; tried < kMaxCombinations; ++tried) {
    std::vector<Share> subset;
    for (int i : pick) subset.push_back(shares_[i]);
    subset.push_back(shares_.back());
    ASSIGN_OR_RETURN(SecretBytes key, Combine(subset));
    ASSIGN_OR_RETURN(std::vector<uint8_t> check, KeyCheckValue(key));
    if (SameCheck(check, info_.check)) {
      if (info_.share_checks.empty()) {
        ASSIGN_OR_RETURN(info_.share_checks, ShareCheckValues(info_, subset));
      }
      Reset();
      return std::optional<SecretBytes>(std::move(key));
    }
    // Next combination of k - 1 out of `earlier`, in lexicographic order.
    int i = k - 2;
    while (i >= 0 && pick[i] == earlier - (k - 1) + i) --i;
    if (i < 0) break;
    ++pick[i];
    for (int j = i + 1; j < k - 1; ++j) pick[j] = pick[j - 1] + 1;
  }
  reconstruction_failed_ = true;
  return std::optional<SecretBytes>();
}

absl::Status Unsealer::ResetAttempt(std::string_view nonce,
                                    const Share& share) {
  RETURN_IF_ERROR(CheckNonce(nonce));
  RETURN_IF_ERROR(CheckShare(share));
  Reset();
  return absl::OkStatus();
}

void Unsealer::Reset() {
  shares_.clear();
  nonce_.clear();
  reconstruction_failed_ = false;
}

}  // namespace keyferry::seal
