#include "auth/signing_key.h"

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "crypto/mac.h"

namespace keyferry::auth {

absl::StatusOr<std::string> AccessTokenKeyId(EVP_PKEY* key) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> spki, crypto::PublicKeyToDer(key));
  std::vector<uint8_t> d = crypto::Sha256(spki);
  return HexEncode(std::span<const uint8_t>(d.data(), 8));
}

absl::StatusOr<crypto::EvpPkeyPtr> LoadLegacySigningKey(
    const std::string& path) {
  ASSIGN_OR_RETURN(SecretBytes pem, ReadOwnerOnlySecretFile(path, 16384));
  auto key = crypto::ParsePrivateKey(pem);
  if (!key.ok()) {
    return absl::DataLossError(absl::StrCat(path, " is not a private key"));
  }
  ASSIGN_OR_RETURN(crypto::KeyDescription d, crypto::Describe(key->get()));
  if (d.type != crypto::KeyType::kEc || d.curve != crypto::Curve::kP256) {
    return absl::DataLossError(absl::StrCat(path, " is not a P-256 key"));
  }
  return std::move(*key);
}

}  // namespace keyferry::auth
