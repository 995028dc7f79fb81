// Pkcs11Custody::DecryptRsa15: RSA1_5 decryption with implicit rejection,
// the raw RSA in the token and the padding check in keyferryd.
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/status.h"
#include "crypto/rsa_pkcs1.h"
#include "custody/cipher_rules.h"
#include "custody/pkcs11_internal.h"
#include "hsm/mechanisms.h"

namespace keyferry::custody {
namespace {

// The key derivation key is
//   HMAC-SHA256(master MAC key, "KFIR1" || u32be(len(n)) || n || C)
// for the key's modulus n (minimal big-endian) and the k-octet ciphertext C:
// secret (only the token can compute it), one per key and ciphertext, and
// apart from every other use of the MAC key by its prefix. n rather than the
// binding, so that the answers stay those of the key when a backup is
// restored into another vault (Rebind), as d makes them in software.
constexpr char kKdkPrefix[] = "KFIR1";

std::vector<uint8_t> KdkInput(std::span<const uint8_t> n,
                              std::span<const uint8_t> c) {
  return LengthPrefixed(kKdkPrefix).Add(n).Raw(c).Take();
}

}  // namespace

absl::StatusOr<CipherOutput> Pkcs11Custody::DecryptRsa15(
    const HeldKey& key, std::span<const uint8_t> binding,
    std::span<const uint8_t> ciphertext) {
  if (!limits_.rsa_raw) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RSA1_5 decryption is not available on this vault's HSM (", platform_,
        "): it offers no raw RSA (CKM_RSA_X_509), which RSA1_5 needs to "
        "decrypt without a padding oracle; use RSA-OAEP"));
  }
  // Length and range are checked on the public key: they are public, and
  // the token then never sees input it would refuse.
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                   crypto::ParsePublicKey(AsBytes(key.public_jwk)));
  ASSIGN_OR_RETURN(std::vector<uint8_t> c,
                   crypto::PadRsaCiphertext(pub.get(), ciphertext));
  ASSIGN_OR_RETURN(crypto::RsaPublicParts parts,
                   crypto::GetRsaPublic(pub.get()));
  const std::vector<uint8_t> kdk_input = KdkInput(parts.n, c);
  struct InToken {
    SecretBytes em, kdk;
  };
  // Both token calls run whatever the ciphertext holds: neither fails on
  // padding, so timing and errors say nothing about it.
  absl::StatusOr<InToken> t = WithKey<InToken>(
      key, binding,
      [&](hsm::Session& s, hsm::ObjectHandle obj) -> absl::StatusOr<InToken> {
        InToken r;
        ASSIGN_OR_RETURN(r.em, s.Decrypt({hsm::kRsaX509}, obj, c));
        ASSIGN_OR_RETURN(r.kdk,
                         s.SignSecret({hsm::kSha256Hmac}, mac_key_, kdk_input));
        return r;
      });
  if (!t.ok()) return t.status();
  if (t->em.size() != c.size() ||
      t->kdk.size() != crypto::kImplicitRejectionKdkBytes) {
    return absl::InternalError(
        "RSA1_5: the token's raw RSA or HMAC answered with the wrong length");
  }
  ASSIGN_OR_RETURN(SecretBytes pt,
                   crypto::RsaPkcs1DecodeImplicitRejection(t->em, t->kdk));
  CipherOutput out;
  out.value = PlainCopy(pt);
  return out;
}

}  // namespace keyferry::custody
