// KeyVault: the key operations (sign, verify, encrypt, decrypt, wrap,
// unwrap) and the one usability rule they apply.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/error_code.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/blob.h"
#include "custody/cipher_rules.h"
#include "vault/attest.h"
#include "vault/key_vault.h"
#include "vault/key_vault_internal.h"

namespace keyferry::vault {

absl::StatusOr<store::KeyVersion> KeyVault::Usable(std::string_view vault,
                                                   std::string_view name,
                                                   std::string_view version,
                                                   KeyOp op) {
  ASSIGN_OR_RETURN(store::KeyVersion k, Get(vault, name, version));
  RETURN_IF_ERROR(CheckOperation(AttributesOf(k), k.key_ops, op, clock_()));
  return k;
}

absl::StatusOr<std::pair<store::KeyVersion, std::vector<uint8_t>>>
KeyVault::Sign(std::string_view vault, std::string_view name,
               std::string_view version, crypto::SignAlg alg,
               std::span<const uint8_t> digest) {
  ASSIGN_OR_RETURN(store::KeyVersion k,
                   Usable(vault, name, version, KeyOp::kSign));
  if (digest.size() != crypto::DigestBytes(alg)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The digest for ", Sv(crypto::SignAlgName(alg)), " must be ",
        crypto::DigestBytes(alg), " bytes, not ", digest.size()));
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> sig,
                   custody_->Sign(HeldOf(k), Binding(vault, k.name, k.version),
                                  alg, digest));
  return std::make_pair(std::move(k), std::move(sig));
}

absl::StatusOr<bool> KeyVault::Verify(std::string_view vault,
                                      std::string_view name,
                                      std::string_view version,
                                      crypto::SignAlg alg,
                                      std::span<const uint8_t> digest,
                                      std::span<const uint8_t> signature) {
  ASSIGN_OR_RETURN(store::KeyVersion k,
                   Usable(vault, name, version, KeyOp::kVerify));
  if (k.public_jwk.empty()) {
    return absl::InvalidArgumentError(
        "verify needs an RSA or EC key; this key is oct");
  }
  if (digest.size() != crypto::DigestBytes(alg)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "The digest for ", Sv(crypto::SignAlgName(alg)), " must be ",
        crypto::DigestBytes(alg), " bytes, not ", digest.size()));
  }
  const std::span<const uint8_t> jwk = AsBytes(k.public_jwk);
  crypto::EvpPkeyPtr pub = public_keys_.Find(jwk, {});
  if (pub == nullptr) {
    ASSIGN_OR_RETURN(pub, crypto::ParsePublicKey(jwk));
    public_keys_.Insert(jwk, {}, pub.get());
  }
  return crypto::VerifyDigest(pub.get(), alg, digest, signature);
}

absl::StatusOr<std::pair<store::KeyVersion, custody::CipherOutput>>
KeyVault::Cipher(std::string_view vault, std::string_view name,
                 std::string_view version, KeyOp op,
                 const custody::CipherInput& input) {
  ASSIGN_OR_RETURN(store::KeyVersion k, Usable(vault, name, version, op));
  custody::HeldKey held = HeldOf(k);
  std::vector<uint8_t> binding = Binding(vault, k.name, k.version);
  absl::StatusOr<custody::CipherOutput> out =
      (op == KeyOp::kEncrypt || op == KeyOp::kWrapKey)
          ? custody_->Encrypt(held, binding, input)
          : custody_->Decrypt(held, binding, input);
  if (!out.ok()) return out.status();
  return std::make_pair(std::move(k), std::move(*out));
}

}  // namespace keyferry::vault
