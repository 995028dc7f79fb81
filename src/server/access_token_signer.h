// AccessTokenSigner: the ES256 key keyferryd signs access tokens with, held by
// the custody like any key (docs/security-model.md §7). The store keeps it as
// metadata "token_signing_key": the custody's sealed blob, its public JWK,
// its key id and a custody tag over the three, so the data directory holds
// nothing that mints a token without the master key (or the token), and a
// public key swapped in the database is refused.
//
// Thread-safe after construction.
#ifndef KEYFERRY_SERVER_ACCESS_TOKEN_SIGNER_H_
#define KEYFERRY_SERVER_ACCESS_TOKEN_SIGNER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "auth/jwt.h"
#include "crypto/ssl_ptr.h"
#include "custody/custody.h"
#include "store/key_store.h"

namespace keyferry::server {

// kAccessTokenKeyMeta is the store metadata key of the sealed token key.
inline constexpr char kAccessTokenKeyMeta[] = "token_signing_key";

class AccessTokenSigner {
 public:
  // LoadOrCreate returns the deployment's token key from `store`, checking
  // its tag (DataLoss when it does not verify) and that the custody's
  // signature verifies under the stored public key. When the store has
  // none and `may_create` (a store being bound to its custody for the first
  // time: new, or upgraded from schema 1), it is made in the custody, or,
  // when `legacy_pem_path` names the plain PEM file of an older deployment,
  // that key is imported into the custody (keeping its key id, so tokens
  // already issued stay valid) and the file is overwritten and removed once
  // the store holds the sealed key. A bound store without the key is
  // DataLoss: the record was removed, and a PEM dropped into the data
  // directory is never adopted then. With several nodes the first one to
  // store a key wins and the others load it. `custody` is borrowed and must
  // outlive the signer.
  static absl::StatusOr<std::unique_ptr<AccessTokenSigner>> LoadOrCreate(
      store::KeyStore& store, custody::Custody& custody,
      const std::string& legacy_pem_path, bool may_create);

  const std::string& key_id() const { return key_id_; }
  // public_key verifies tokens (borrowed; lives as long as the signer).
  EVP_PKEY* public_key() const { return public_key_.get(); }
  // signer signs in the custody (Unavailable while it is sealed).
  auth::Es256Signer signer() const;
  // Issue signs `claims` (auth::IssueAccessToken) in the custody.
  absl::StatusOr<std::string> Issue(const auth::Claims& claims) const;

 private:
  AccessTokenSigner() = default;

  custody::Custody* custody_ = nullptr;
  custody::HeldKey held_;
  std::string key_id_;
  crypto::EvpPkeyPtr public_key_;
};

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_ACCESS_TOKEN_SIGNER_H_
