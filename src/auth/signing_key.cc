#include "auth/signing_key.h"

#include <errno.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/status.h"
#include "crypto/errors.h"
#include "crypto/keys.h"

namespace keyferry::auth {
namespace {

absl::StatusOr<std::string> KeyId(EVP_PKEY* key) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> spki, crypto::PublicKeyToDer(key));
  uint8_t d[32];
  unsigned int n = 0;
  if (EVP_Digest(spki.data(), spki.size(), d, &n, EVP_sha256(), nullptr) != 1) {
    return crypto::SslError(absl::StatusCode::kInternal, "SHA-256");
  }
  return HexEncode(std::span<const uint8_t>(d, 8));
}

absl::StatusOr<SecretBytes> PrivatePem(EVP_PKEY* key) {
  crypto::OsslEncoderCtxPtr e(OSSL_ENCODER_CTX_new_for_pkey(
      key, EVP_PKEY_KEYPAIR, "PEM", "PrivateKeyInfo", nullptr));
  unsigned char* data = nullptr;
  size_t len = 0;
  if (!e || OSSL_ENCODER_to_data(e.get(), &data, &len) != 1) {
    return crypto::SslError(absl::StatusCode::kInternal, "PEM encoding");
  }
  SecretBytes out(std::span<const uint8_t>(data, len));
  OPENSSL_clear_free(data, len);
  return out;
}

}  // namespace

absl::StatusOr<SigningKey> LoadOrCreateSigningKey(const std::string& path) {
  SigningKey out;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot stat ", path, ": ", strerror(errno)));
    }
    ASSIGN_OR_RETURN(out.key, crypto::GenerateEc(crypto::Curve::kP256));
    ASSIGN_OR_RETURN(SecretBytes pem, PrivatePem(out.key.get()));
    RETURN_IF_ERROR(WriteFileAtomic(path, pem.data(SecretAccess::Get()), 0600));
  } else {
    if ((st.st_mode & 077) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("token signing key ", path,
                       " is accessible to group or others; it must be 0600"));
    }
    ASSIGN_OR_RETURN(SecretBytes pem, ReadSecretFile(path, 16384));
    auto key = crypto::ParsePrivateKey(pem);
    if (!key.ok()) {
      return absl::DataLossError(absl::StrCat(path, " is not a private key"));
    }
    ASSIGN_OR_RETURN(crypto::KeyDescription d, crypto::Describe(key->get()));
    if (d.type != crypto::KeyType::kEc || d.curve != crypto::Curve::kP256) {
      return absl::DataLossError(absl::StrCat(path, " is not a P-256 key"));
    }
    out.key = std::move(*key);
  }
  ASSIGN_OR_RETURN(out.key_id, KeyId(out.key.get()));
  return out;
}

}  // namespace keyferry::auth
