// The answer of a Secure Key Release (docs/api.md §Secure Key Release): the
// `key_hsm` envelope of the released key and the JWS the vault signs with
// its TLS certificate's key, in the shapes Azure Key Vault answers.
#ifndef KEYFERRY_RELEASE_RESULT_H_
#define KEYFERRY_RELEASE_RESULT_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/rsa_oaep.h"
#include "crypto/sign.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::release {

// ReleaseEnc is the request's "enc": how key_hsm is wrapped.
enum class ReleaseEnc {
  kCkmRsaAesKeyWrap,  // "CKM_RSA_AES_KEY_WRAP": OAEP with SHA-1 (default)
  kRsaAesKeyWrap256,  // "RSA_AES_KEY_WRAP_256": OAEP with SHA-256
  kRsaAesKeyWrap384,  // "RSA_AES_KEY_WRAP_384": OAEP with SHA-384
};

// ParseReleaseEnc reads one of the three names; InvalidArgument otherwise.
absl::StatusOr<ReleaseEnc> ParseReleaseEnc(std::string_view name);
std::string_view ReleaseEncName(ReleaseEnc enc);
// OaepHashOf is the OAEP (and MGF1) hash `enc` uses.
crypto::OaepHash OaepHashOf(ReleaseEnc enc);

// KeyHsm is the `key_hsm` member of the released JWK: base64url (no
// padding) of {"schema_version":"1.0","header":{"kid":`wrapping_kid`,
// "alg":"dir","enc":ReleaseEncName(enc)},"ciphertext":base64url(
// `ciphertext`)}, members in that order.
std::string KeyHsm(std::string_view wrapping_kid, ReleaseEnc enc,
                   std::span<const uint8_t> ciphertext);

// ReleaseSigner signs release results as a compact JWS with the vault's TLS
// certificate's private key. The header is {"alg","kid","x5t","typ":"JWT",
// "x5t#S256","x5c"} in that order: kid the upper-case hex SHA-1 thumbprint
// of the leaf, x5t its base64url, x5t#S256 the base64url SHA-256
// thumbprint, x5c the chain in standard base64 DER, leaf first. alg is RS256
// for an RSA certificate (as Azure's), ES256/ES384/ES512 for an EC one on
// P-256/P-384/P-521. Immutable; thread-safe.
class ReleaseSigner {
 public:
  // New takes the PEM chain (leaf first) and the leaf's private key (owned).
  // InvalidArgument when the chain is empty, the key does not match the
  // leaf, or the key type has no JWS algorithm here.
  static absl::StatusOr<std::unique_ptr<ReleaseSigner>> New(
      std::string_view chain_pem, crypto::EvpPkeyPtr key);

  // Sign returns header.payload.signature for the JSON text `payload`.
  absl::StatusOr<std::string> Sign(std::string_view payload) const;

  // HeaderJson is the protected header's JSON text.
  const std::string& HeaderJson() const { return header_; }

 private:
  ReleaseSigner(crypto::EvpPkeyPtr key, crypto::SignAlg alg, std::string header)
      : key_(std::move(key)), alg_(alg), header_(std::move(header)) {}
  crypto::EvpPkeyPtr key_;
  crypto::SignAlg alg_;
  std::string header_;
};

}  // namespace keyferry::release

#endif  // KEYFERRY_RELEASE_RESULT_H_
