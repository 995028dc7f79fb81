// Pkcs11Custody::Probe: what the token can do, found by known-answer tests
// at start-up, never by version string.
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/log.h"
#include "base/status.h"
#include "byok/export.h"
#include "byok/pkcs11_export_session.h"
#include "crypto/cipher.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"
#include "crypto/rsa_pkcs1.h"
#include "custody/pkcs11_internal.h"
#include "hsm/keys.h"
#include "hsm/mechanisms.h"
#include "hsm/templates.h"

namespace keyferry::custody {
namespace {

// NeedMechanisms refuses a token without a mechanism keyferryd cannot work
// without.
absl::Status NeedMechanisms(hsm::Module& module, hsm::SlotId slot) {
  auto need = [&](uint64_t mech, const char* what) -> absl::Status {
    absl::StatusOr<hsm::MechanismInfo> m = module.GetMechanism(slot, mech);
    if (!m.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the token does not offer ", hsm::MechanismName(mech),
                       ", which keyferryd needs for ", what));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(need(hsm::kRsaPkcsOaep, "BYOK import"));
  RETURN_IF_ERROR(need(hsm::kSha256Hmac, "binding keys to their names"));
  RETURN_IF_ERROR(need(hsm::kRsaPkcs, "RS256/RS384/RS512"));
  return need(hsm::kEcdsa, "ES256/ES384/ES512/ES256K");
}

// ProbeKwp: RFC 5649 unwrap must be right; a wrap that zero-pads (SoftHSM
// 2.6.1) is tolerated for the master key because unwrap then yields the key
// with trailing zero bytes that the token's own PKCS#8 parser ignores
// (checked by a full round trip), and refused for caller data.
absl::Status ProbeKwp(hsm::Session& s, const std::string& platform,
                      Pkcs11Limits& limits) {
  byok::Pkcs11ExportSession token(s, platform);
  ASSIGN_OR_RETURN(byok::KwpChoice choice,
                   byok::ChooseKwp(token, std::nullopt));
  const byok::ExportSession::KwpProbe& kwp = choice.probe;
  limits.kwp_mechanism = choice.mechanism;
  limits.notes.push_back(absl::StrCat(
      "RFC 5649 key wrap: ", hsm::MechanismName(choice.mechanism),
      " (chosen by known-answer test; keys under the master key use it)"));
  if (!choice.listed || !kwp.unwrap_ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token has no RFC 5649 key wrap that passes its known-answer "
        "test, which keyferryd needs for keeping keys under the master key: ",
        kwp.detail, choice.others.empty() ? "" : "; ",
        absl::StrJoin(choice.others, "; ")));
  }
  limits.kwp_wrap_defect = kwp.padding_defect;
  if (!kwp.wrap_ok && !kwp.padding_defect) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token's RFC 5649 wrap fails its known-answer test: ", kwp.detail));
  }
  if (kwp.padding_defect) {
    limits.notes.push_back(
        "RFC 5649 wrap zero-pads its input (SoftHSM 2.6.1 defect): "
        "CKM_AES_KEY_WRAP_PAD of data that is not a multiple of 8 bytes is "
        "refused");
  }
  return absl::OkStatus();
}

// ProbeRsa runs the RSA known-answer tests (OAEP-SHA256, OAEP-SHA1, raw
// RSA) on a throwaway RSA-2048 pair labelled `label`.
absl::Status ProbeRsa(hsm::Session& s, const std::string& label,
                      Pkcs11Limits& limits) {
  hsm::KeySpec spec;
  spec.kind = crypto::KeyType::kRsa;
  spec.bits = 2048;
  spec.flags = hsm::DefaultFlags(crypto::KeyType::kRsa);
  spec.flags.token = false;
  spec.flags.extractable = false;
  spec.flags.unwrap = true;
  spec.label = label;
  ASSIGN_OR_RETURN(hsm::GeneratedKey probe, hsm::GenerateKey(s, spec));
  hsm::ScopedObject priv(s, probe.private_or_secret);
  std::optional<hsm::ScopedObject> pub_obj;
  if (probe.public_key) pub_obj.emplace(s, *probe.public_key);
  ASSIGN_OR_RETURN(hsm::RsaPublicParts parts,
                   hsm::ReadRsaPublic(s, priv.get()));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                   crypto::RsaPublicFromParts(parts.n, parts.e));
  ASSIGN_OR_RETURN(SecretBytes msg, crypto::RandomSecret(32));
  {
    ASSIGN_OR_RETURN(
        std::vector<uint8_t> ct,
        crypto::RsaOaepEncrypt(pub.get(), crypto::OaepHash::kSha256,
                               msg.data(SecretAccess::Get())));
    absl::StatusOr<SecretBytes> pt =
        s.Decrypt(hsm::RsaOaep(crypto::OaepHash::kSha256), priv.get(), ct);
    limits.oaep_sha256 = pt.ok() && pt->ConstantTimeEquals(msg);
    if (!limits.oaep_sha256) {
      limits.notes.push_back(
          "RSA-OAEP-256 is not available: the token's RSA-OAEP is SHA-1 only");
    }
  }
  {
    ASSIGN_OR_RETURN(std::vector<uint8_t> ct,
                     crypto::RsaOaepEncrypt(pub.get(), crypto::OaepHash::kSha1,
                                            msg.data(SecretAccess::Get())));
    ASSIGN_OR_RETURN(
        SecretBytes pt,
        s.Decrypt(hsm::RsaOaep(crypto::OaepHash::kSha1), priv.get(), ct));
    if (!pt.ConstantTimeEquals(msg)) {
      return absl::FailedPreconditionError(
          "the token's RSA-OAEP-SHA1 decrypt fails its known-answer test");
    }
  }
  // Raw RSA (CKM_RSA_X_509), which RSA1_5 decryption with implicit
  // rejection needs: an OpenSSL PKCS#1 v1.5 ciphertext comes back as an
  // encoded message that decodes to the message.
  ASSIGN_OR_RETURN(
      std::vector<uint8_t> ct,
      crypto::RsaPkcs1Encrypt(pub.get(), msg.data(SecretAccess::Get())));
  absl::StatusOr<SecretBytes> em = s.Decrypt({hsm::kRsaX509}, priv.get(), ct);
  const SecretBytes no_kdk(crypto::kImplicitRejectionKdkBytes);
  absl::StatusOr<SecretBytes> pt =
      em.ok() ? crypto::RsaPkcs1DecodeImplicitRejection(*em, no_kdk)
              : absl::StatusOr<SecretBytes>(em.status());
  limits.rsa_raw = pt.ok() && pt->ConstantTimeEquals(msg);
  if (!limits.rsa_raw) {
    limits.notes.push_back(absl::StrCat(
        "RSA1_5 decryption is not available: the token's raw RSA "
        "(CKM_RSA_X_509) fails its known-answer test",
        em.ok() ? "" : absl::StrCat(" (", em.status().message(), ")")));
  }
  return absl::OkStatus();
}

// ProbeSecp256k1 tries to generate a throwaway secp256k1 pair.
void ProbeSecp256k1(hsm::Session& s, const std::string& label,
                    Pkcs11Limits& limits) {
  hsm::KeySpec k1;
  k1.kind = crypto::KeyType::kEc;
  k1.curve = crypto::Curve::kSecp256k1;
  k1.flags = hsm::DefaultFlags(crypto::KeyType::kEc);
  k1.flags.token = false;
  k1.label = label;
  absl::StatusOr<hsm::GeneratedKey> g = hsm::GenerateKey(s, k1);
  limits.secp256k1 = g.ok();
  if (g.ok()) {
    hsm::ScopedObject priv(s, g->private_or_secret);
    if (g->public_key) hsm::ScopedObject pub(s, *g->public_key);
  } else {
    limits.notes.push_back(
        "EC keys on secp256k1 (P-256K) are not available on this token");
  }
}

}  // namespace

absl::Status Pkcs11Custody::Probe(hsm::Session& s) {
  RETURN_IF_ERROR(NeedMechanisms(*module_, slot_));
  RETURN_IF_ERROR(ProbeKwp(s, platform_, limits_));
  absl::StatusOr<hsm::MechanismInfo> rsa_aes =
      module_->GetMechanism(slot_, hsm::kRsaAesKeyWrap);
  limits_.rsa_aes_key_wrap = rsa_aes.ok() && rsa_aes->unwrap;

  ASSIGN_OR_RETURN(SecretBytes label_bytes, crypto::RandomSecret(8));
  const std::string label =
      absl::StrCat(kTransientPrefix, "probe-",
                   HexEncode(label_bytes.data(SecretAccess::Get())));
  RETURN_IF_ERROR(ProbeRsa(s, label, limits_));

  // AES-GCM: offered for encrypt and decrypt.
  absl::StatusOr<hsm::MechanismInfo> gcm =
      module_->GetMechanism(slot_, hsm::kAesGcm);
  limits_.aes_gcm = gcm.ok() && gcm->encrypt && gcm->decrypt;
  if (!limits_.aes_gcm) {
    limits_.notes.push_back(
        "AES-GCM is not available: the token lacks CKM_AES_GCM");
  }
  ProbeSecp256k1(s, absl::StrCat(label, "-k1"), limits_);
  for (const std::string& note : limits_.notes) {
    Log(LogLevel::kInfo, "pkcs11_limit", {{"limit", note}});
  }
  return absl::OkStatus();
}

}  // namespace keyferry::custody
