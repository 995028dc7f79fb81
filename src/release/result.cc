#include "release/result.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "crypto/x509.h"

namespace keyferry::release {
namespace {

constexpr std::pair<ReleaseEnc, std::string_view> kEncs[] = {
    {ReleaseEnc::kCkmRsaAesKeyWrap, "CKM_RSA_AES_KEY_WRAP"},
    {ReleaseEnc::kRsaAesKeyWrap256, "RSA_AES_KEY_WRAP_256"},
    {ReleaseEnc::kRsaAesKeyWrap384, "RSA_AES_KEY_WRAP_384"},
};

absl::StatusOr<crypto::SignAlg> AlgFor(EVP_PKEY* key) {
  ASSIGN_OR_RETURN(crypto::KeyDescription d, crypto::Describe(key));
  if (d.type == crypto::KeyType::kRsa) return crypto::SignAlg::kRs256;
  if (d.type == crypto::KeyType::kEc && d.curve.has_value()) {
    switch (*d.curve) {
      case crypto::Curve::kP256:
        return crypto::SignAlg::kEs256;
      case crypto::Curve::kP384:
        return crypto::SignAlg::kEs384;
      case crypto::Curve::kP521:
        return crypto::SignAlg::kEs512;
      default:
        break;
    }
  }
  return absl::InvalidArgumentError(
      "the vault's TLS key is neither RSA nor EC on P-256/P-384/P-521: it "
      "cannot sign release results");
}

}  // namespace

absl::StatusOr<ReleaseEnc> ParseReleaseEnc(std::string_view name) {
  for (const auto& [e, n] : kEncs) {
    if (n == name) return e;
  }
  return absl::InvalidArgumentError(
      "The property \"enc\" must be CKM_RSA_AES_KEY_WRAP, "
      "RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384.");
}

std::string_view ReleaseEncName(ReleaseEnc enc) {
  for (const auto& [e, n] : kEncs) {
    if (e == enc) return n;
  }
  return "";
}

crypto::OaepHash OaepHashOf(ReleaseEnc enc) {
  switch (enc) {
    case ReleaseEnc::kRsaAesKeyWrap256:
      return crypto::OaepHash::kSha256;
    case ReleaseEnc::kRsaAesKeyWrap384:
      return crypto::OaepHash::kSha384;
    case ReleaseEnc::kCkmRsaAesKeyWrap:
      break;
  }
  return crypto::OaepHash::kSha1;
}

std::string KeyHsm(std::string_view wrapping_kid, ReleaseEnc enc,
                   std::span<const uint8_t> ciphertext) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["kid"] = std::string(wrapping_kid);
  header["alg"] = "dir";
  header["enc"] = std::string(ReleaseEncName(enc));
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["schema_version"] = "1.0";
  j["header"] = std::move(header);
  j["ciphertext"] = Base64UrlEncode(ciphertext);
  return Base64UrlEncode(AsBytes(j.dump()));
}

absl::StatusOr<std::unique_ptr<ReleaseSigner>> ReleaseSigner::New(
    std::string_view chain_pem, crypto::EvpPkeyPtr key) {
  ASSIGN_OR_RETURN(std::vector<std::vector<uint8_t>> chain,
                   crypto::PemChainToDer(chain_pem));
  ASSIGN_OR_RETURN(crypto::Certificate leaf,
                   crypto::Certificate::FromPem(chain_pem, "the TLS chain"));
  if (!leaf.MatchesKey(key.get())) {
    return absl::InvalidArgumentError(
        "the TLS key does not belong to the TLS certificate");
  }
  ASSIGN_OR_RETURN(crypto::SignAlg alg, AlgFor(key.get()));
  const std::vector<uint8_t> sha1 = crypto::Sha1(chain[0]);
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  h["alg"] = std::string(crypto::SignAlgName(alg));
  h["kid"] = absl::AsciiStrToUpper(HexEncode(sha1));
  h["x5t"] = Base64UrlEncode(sha1);
  h["typ"] = "JWT";
  h["x5t#S256"] = Base64UrlEncode(crypto::Sha256(chain[0]));
  nlohmann::ordered_json x5c = nlohmann::ordered_json::array();
  for (const std::vector<uint8_t>& der : chain)
    x5c.push_back(Base64Encode(der));
  h["x5c"] = std::move(x5c);
  return std::unique_ptr<ReleaseSigner>(
      new ReleaseSigner(std::move(key), alg, h.dump()));
}

absl::StatusOr<std::string> ReleaseSigner::Sign(
    std::string_view payload) const {
  std::string out = absl::StrCat(Base64UrlEncode(AsBytes(header_)), ".",
                                 Base64UrlEncode(AsBytes(payload)));
  ASSIGN_OR_RETURN(std::vector<uint8_t> sig,
                   crypto::SignDigest(key_.get(), alg_,
                                      crypto::DigestFor(alg_, AsBytes(out))));
  absl::StrAppend(&out, ".", Base64UrlEncode(sig));
  return out;
}

}  // namespace keyferry::release
