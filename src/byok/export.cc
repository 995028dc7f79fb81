#include "byok/export.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/envelope.h"
#include "crypto/aes_wrap.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"

namespace keyferry::byok {
namespace {

std::string MechName(uint64_t mech) {
  switch (mech) {
    case kCkmAesKeyWrapPad:
      return "CKM_AES_KEY_WRAP_PAD (0x210A)";
    case kCkmAesKeyWrapKwp:
      return "CKM_AES_KEY_WRAP_KWP (0x210B)";
    case kCkmRsaAesKeyWrap:
      return "CKM_RSA_AES_KEY_WRAP (0x1054)";
    default:
      return absl::StrCat("mechanism 0x", absl::Hex(mech));
  }
}

// HashWord is the compact hash name of route lines ("SHA1", "SHA256").
std::string HashWord(crypto::OaepHash hash) {
  std::string w(OaepHashName(hash));
  w.erase(std::remove(w.begin(), w.end(), '-'), w.end());
  return w;
}

// ProbeKey is a software RSA-2048 key whose public half is lent to the
// token, so the token's OAEP output can be checked in software.
absl::StatusOr<crypto::EvpPkeyPtr> ProbeKey() {
  return crypto::GenerateRsa(2048);
}

absl::StatusOr<ObjectRef> LendPublic(ExportSession& token, EVP_PKEY* key) {
  ASSIGN_OR_RETURN(crypto::RsaPublicParts parts, crypto::GetRsaPublic(key));
  return token.ImportRsaPublic(parts.n, parts.e);
}

// ProbeOaep: the token OAEP-wraps a known secret with `hash`; software
// decrypts it with `hash`/MGF1-`hash`. A mismatch means the token ignored
// the parameters.
absl::Status ProbeOaep(ExportSession& token, EVP_PKEY* probe_key,
                       crypto::OaepHash hash) {
  ASSIGN_OR_RETURN(SecretBytes known, crypto::RandomSecret(32));
  ASSIGN_OR_RETURN(ObjectRef pub_ref, LendPublic(token, probe_key));
  ScopedObject pub(token, pub_ref);
  ASSIGN_OR_RETURN(ObjectRef secret_ref, token.CreateTestSecret(known, false));
  ScopedObject secret(token, secret_ref);
  ASSIGN_OR_RETURN(std::vector<uint8_t> wrapped,
                   token.WrapOaep(hash, pub.get(), secret.get()));
  auto back = crypto::RsaOaepDecrypt(probe_key, hash, wrapped);
  if (!back.ok() || !back->ConstantTimeEquals(known)) {
    return absl::FailedPreconditionError(
        absl::StrCat("RSA-OAEP wrap does not decrypt with ", OaepHashName(hash),
                     "/MGF1-", OaepHashName(hash), " in software"));
  }
  return absl::OkStatus();
}

// ProbeNative: the token's CKM_RSA_AES_KEY_WRAP output (OAEP with `hash`)
// must open in software as C1 || C2 holding the known secret.
absl::Status ProbeNative(ExportSession& token, EVP_PKEY* probe_key,
                         crypto::OaepHash hash) {
  ASSIGN_OR_RETURN(SecretBytes known, crypto::RandomSecret(32));
  ASSIGN_OR_RETURN(ObjectRef pub_ref, LendPublic(token, probe_key));
  ScopedObject pub(token, pub_ref);
  ASSIGN_OR_RETURN(ObjectRef secret_ref, token.CreateTestSecret(known, false));
  ScopedObject secret(token, secret_ref);
  ASSIGN_OR_RETURN(std::vector<uint8_t> ct,
                   token.WrapRsaAes(hash, pub.get(), secret.get()));
  auto back = UnwrapWithKek(probe_key, ct, hash);
  if (!back.ok() || !back->ConstantTimeEquals(known)) {
    return absl::FailedPreconditionError(
        absl::StrCat("CKM_RSA_AES_KEY_WRAP output does not open as OAEP-",
                     HashWord(hash), " + RFC 5649"));
  }
  return absl::OkStatus();
}

// EcEncodingLength learns how long the token's PKCS#8 encoding of a key on
// `curve` is, from a throwaway non-sensitive key wrapped under a known AES
// key. Returns nullopt when two samples disagree (length not fixed).
absl::StatusOr<std::optional<size_t>> EcEncodingLength(ExportSession& token,
                                                       uint64_t mech,
                                                       crypto::Curve curve) {
  std::optional<size_t> seen;
  for (int i = 0; i < 2; ++i) {
    ASSIGN_OR_RETURN(SecretBytes kek, crypto::RandomSecret(32));
    ASSIGN_OR_RETURN(ObjectRef kek_ref, token.CreateTestSecret(kek, true));
    ScopedObject kek_obj(token, kek_ref);
    ASSIGN_OR_RETURN(ObjectRef ec_ref, token.GenerateTestEc(curve));
    ScopedObject ec(token, ec_ref);
    ASSIGN_OR_RETURN(std::vector<uint8_t> wrapped,
                     token.WrapKwp(mech, kek_obj.get(), ec.get()));
    ASSIGN_OR_RETURN(SecretBytes p8, crypto::KwpUnwrap(kek, wrapped));
    // DER length of the outer SEQUENCE; the rest is the token's padding.
    std::optional<size_t> der_len =
        crypto::DerSequenceLength(p8.data(SecretAccess::Get()));
    if (!der_len.has_value()) {
      return absl::InternalError("token's EC key encoding is not DER PKCS#8");
    }
    size_t len = *der_len;
    if (seen.has_value() && *seen != len) return std::optional<size_t>();
    seen = len;
  }
  return seen;
}

// CheckKwpUsable refuses a KWP mechanism that failed its known-answer test,
// and — on a token whose KWP wrap zero-pads — targets whose encoding length
// is not known to be a multiple of 8 (docs/byok-format.md §3, §6 item 3).
absl::Status CheckKwpUsable(ExportSession& token, const KwpChoice& kwp,
                            const TargetInfo& info) {
  if (!kwp.listed || !kwp.probe.unwrap_ok ||
      (!kwp.probe.wrap_ok && !kwp.probe.padding_defect)) {
    return absl::FailedPreconditionError(absl::StrCat(
        MechName(kwp.mechanism), " fails the RFC 5649 known-answer test (",
        kwp.probe.detail, kwp.others.empty() ? "" : "; ",
        absl::StrJoin(kwp.others, "; "),
        "); refusing to write a blob the destination could not open"));
  }
  if (!kwp.probe.padding_defect) return absl::OkStatus();
  const char* defect =
      "this token's RFC 5649 wrap zero-pads the key before wrapping "
      "(SoftHSM 2.6.1 defect, detected by the known-answer probe) and would "
      "write a wrong blob for ";
  if (info.type == crypto::KeyType::kRsa) {
    return absl::FailedPreconditionError(absl::StrCat(
        defect,
        "RSA keys, whose PKCS#8 length is not known to be a multiple "
        "of 8; use a token without the defect (e.g. SoftHSM 2.7.0 or "
        "later)"));
  }
  if (info.type == crypto::KeyType::kEc) {
    ASSIGN_OR_RETURN(std::optional<size_t> len,
                     EcEncodingLength(token, kwp.mechanism, *info.curve));
    if (!len.has_value() || *len % 8 != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          defect, "EC ", Sv(crypto::CurveJwkName(*info.curve)), " keys (",
          len.has_value() ? absl::StrCat(*len, "-byte") : "variable-length",
          " PKCS#8, not a multiple of 8); use a token without the defect"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KwpChoice> ChooseKwp(ExportSession& token,
                                    std::optional<uint64_t> requested) {
  std::vector<uint64_t> candidates;
  if (requested.has_value()) {
    candidates.push_back(*requested);
  } else {
    candidates = {kCkmAesKeyWrapPad, kCkmAesKeyWrapKwp};
  }
  // Rank: 2 wraps and unwraps right, 1 unwraps right with the known
  // padding defect, 0 otherwise; the first of the best rank wins.
  auto rank = [](const KwpChoice& c) {
    if (!c.listed) return -1;
    if (c.probe.wrap_ok && c.probe.unwrap_ok) return 2;
    return c.probe.unwrap_ok && c.probe.padding_defect ? 1 : 0;
  };
  std::vector<KwpChoice> tried;
  for (uint64_t mech : candidates) {
    KwpChoice c;
    c.mechanism = mech;
    c.listed = token.HasWrapMechanism(mech);
    if (!c.listed) {
      c.probe.detail = absl::StrCat(MechName(mech), " is not offered");
    } else if (auto probe = token.ProbeKwp(mech); probe.ok()) {
      c.probe = *probe;
    } else {
      c.probe.detail = std::string(probe.status().message());
    }
    tried.push_back(std::move(c));
    if (rank(tried.back()) == 2) break;
  }
  size_t best = 0;
  for (size_t i = 1; i < tried.size(); ++i) {
    if (rank(tried[i]) > rank(tried[best])) best = i;
  }
  KwpChoice chosen = tried[best];
  for (size_t i = 0; i < tried.size(); ++i) {
    if (i == best) continue;
    if (!tried[i].listed) {
      chosen.others.push_back(
          absl::StrCat(MechName(tried[i].mechanism), ": not offered"));
      continue;
    }
    chosen.others.push_back(absl::StrCat(MechName(tried[i].mechanism), ": ",
                                         rank(tried[i]) == 2 ? "passes"
                                         : rank(tried[i]) == 1
                                             ? "wrap zero-pads"
                                             : "fails",
                                         " (", tried[i].probe.detail, ")"));
  }
  return chosen;
}

std::string OaepMechanismName(crypto::OaepHash hash) {
  const char* mgf = "CKG_MGF1_SHA1";
  switch (hash) {
    case crypto::OaepHash::kSha1:
      break;
    case crypto::OaepHash::kSha256:
      mgf = "CKG_MGF1_SHA256";
      break;
    case crypto::OaepHash::kSha384:
      mgf = "CKG_MGF1_SHA384";
      break;
    case crypto::OaepHash::kSha512:
      mgf = "CKG_MGF1_SHA512";
      break;
  }
  return absl::StrCat("CKM_RSA_PKCS_OAEP with ", OaepHashName(hash), " (", mgf,
                      ")");
}

absl::StatusOr<ProbeReport> RunProbes(ExportSession& token,
                                      std::optional<uint64_t> kwp_mechanism,
                                      crypto::OaepHash hash) {
  ProbeReport r;
  r.hash = hash;
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr probe_key, ProbeKey());
  r.native_listed = token.HasWrapMechanism(kCkmRsaAesKeyWrap);
  if (r.native_listed) {
    absl::Status st = ProbeNative(token, probe_key.get(), hash);
    r.native_ok = st.ok();
    r.native_detail = st.ok() ? "passes" : std::string(st.message());
  }
  ASSIGN_OR_RETURN(r.kwp, ChooseKwp(token, kwp_mechanism));
  if (token.HasWrapMechanism(kCkmRsaPkcsOaep)) {
    absl::Status st = ProbeOaep(token, probe_key.get(), hash);
    r.oaep_ok = st.ok();
    r.oaep_detail =
        st.ok() ? absl::StrCat(OaepHashName(hash), "/MGF1-", OaepHashName(hash),
                               " output verified in software")
                : std::string(st.message());
  } else {
    r.oaep_detail = "CKM_RSA_PKCS_OAEP is not offered";
  }
  return r;
}

absl::StatusOr<ExportResult> ExportFromToken(ExportSession& token,
                                             ObjectRef target,
                                             EVP_PKEY* kek_public,
                                             const ExportOptions& options) {
  ASSIGN_OR_RETURN(size_t n, KekModulusBytes(kek_public));
  ASSIGN_OR_RETURN(TargetInfo info, token.Describe(target));
  if (!info.extractable) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", info.label,
        "' is not extractable (CKA_EXTRACTABLE=FALSE); a BYOK target must be "
        "created with the 'extractable' flag"));
  }
  const crypto::OaepHash hash = options.wrap.hash;
  if (!options.wrap.hybrid && info.type != crypto::KeyType::kAes) {
    return absl::FailedPreconditionError(
        "a token wraps only secret (AES) keys directly with RSA-OAEP; use a "
        "hybrid method for RSA and EC keys, or --from-file");
  }
  ASSIGN_OR_RETURN(ProbeReport probes,
                   RunProbes(token, options.kwp_mechanism, hash));
  ASSIGN_OR_RETURN(crypto::RsaPublicParts kek_parts,
                   crypto::GetRsaPublic(kek_public));

  bool native = options.wrap.hybrid && options.route != Route::kTwoStep &&
                probes.native_ok.value_or(false);
  if (options.route == Route::kNative && !native) {
    return absl::FailedPreconditionError(absl::StrCat(
        "native CKM_RSA_AES_KEY_WRAP requested but ",
        !options.wrap.hybrid   ? std::string("the method is direct")
        : probes.native_listed ? probes.native_detail
                               : std::string("the token does not offer it")));
  }
  if (!native && !probes.oaep_ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "token lacks ", OaepMechanismName(hash), ": ", probes.oaep_detail,
        hash == crypto::OaepHash::kSha1
            ? ""
            : "; --from-file wraps a key file in software"));
  }
  ExportResult result;
  ASSIGN_OR_RETURN(ObjectRef kek_ref,
                   token.ImportRsaPublic(kek_parts.n, kek_parts.e));
  ScopedObject kek(token, kek_ref);
  if (native) {
    ASSIGN_OR_RETURN(result.ciphertext,
                     token.WrapRsaAes(hash, kek.get(), target));
    result.route = "native CKM_RSA_AES_KEY_WRAP";
    if (hash != crypto::OaepHash::kSha1) {
      absl::StrAppend(&result.route, " (OAEP ", HashWord(hash), ")");
    }
  } else if (!options.wrap.hybrid) {
    ASSIGN_OR_RETURN(result.ciphertext,
                     token.WrapOaep(hash, kek.get(), target));
    if (result.ciphertext.size() != n) {
      return absl::InternalError(absl::StrCat("token's RSA-OAEP output is ",
                                              result.ciphertext.size(),
                                              " bytes, expected ", n));
    }
    result.route =
        absl::StrCat("direct: RSA-OAEP-", HashWord(hash), " in the token");
    return result;
  } else {
    RETURN_IF_ERROR(CheckKwpUsable(token, probes.kwp, info));
    ASSIGN_OR_RETURN(ObjectRef k_ref,
                     token.GenerateEphemeralAes(kEphemeralKeyBytes));
    ScopedObject k(token, k_ref);
    ASSIGN_OR_RETURN(std::vector<uint8_t> c1,
                     token.WrapOaep(hash, kek.get(), k.get()));
    ASSIGN_OR_RETURN(std::vector<uint8_t> c2,
                     token.WrapKwp(probes.kwp.mechanism, k.get(), target));
    if (c1.size() != n) {
      return absl::InternalError(absl::StrCat(
          "token's RSA-OAEP output is ", c1.size(), " bytes, expected ", n));
    }
    c1.insert(c1.end(), c2.begin(), c2.end());
    result.ciphertext = std::move(c1);
    result.route =
        absl::StrCat("two-step: RSA-OAEP-", HashWord(hash), " + ",
                     MechName(probes.kwp.mechanism), " in the token");
  }
  RETURN_IF_ERROR(CheckCiphertextLength(result.ciphertext.size(), n));
  return result;
}

}  // namespace keyferry::byok
