#include "byok/import.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/blob.h"
#include "byok/envelope.h"
#include "byok/pkcs11_export_session.h"
#include "byok/token_unwrap.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "crypto/random.h"
#include "hsm/errors.h"
#include "hsm/mechanisms.h"
#include "hsm/module.h"
#include "hsm/templates.h"

namespace keyferry::byok {
namespace {

constexpr std::string_view kKekHost = "hsm.keyferry.invalid";

std::string Describe(crypto::KeyType type, int bits,
                     std::optional<crypto::Curve> curve) {
  switch (type) {
    case crypto::KeyType::kRsa:
      return absl::StrCat("RSA-", bits);
    case crypto::KeyType::kEc:
      return absl::StrCat("EC ", curve ? Sv(crypto::CurveJwkName(*curve))
                                       : absl::string_view("?"));
    case crypto::KeyType::kAes:
      return absl::StrCat("AES-", bits);
  }
  return "?";
}

// CheckDeclared compares what the token made with what the user declared.
absl::Status CheckDeclared(const UnwrappedKey& got, const hsm::KeySpec& spec,
                           std::string_view where) {
  if (got.type == spec.kind && got.bits == spec.bits &&
      got.curve == spec.curve) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "the blob holds an ", Describe(got.type, got.bits, got.curve),
      " key, not the declared ", Describe(spec.kind, spec.bits, spec.curve),
      " (", Sv(where), "); nothing was imported"));
}

absl::Status CheckImportFlags(const hsm::KeyFlags& f) {
  if (!f.sensitive || f.extractable || !f.token) {
    return absl::InvalidArgumentError(
        "an imported key is a sensitive, non-extractable token key: drop "
        "'nonsensitive', 'extractable' and 'nontoken' from --flags");
  }
  return absl::OkStatus();
}

// ChooseRoute decides native or composed, and the composed route's KWP.
absl::StatusOr<TokenUnwrapRoute> ChooseRoute(hsm::Session& s,
                                             const TransferBlob& blob,
                                             const TokenImportOptions& o) {
  TokenUnwrapRoute route;
  route.oaep_hash = blob.oaep_hash;
  absl::StatusOr<hsm::MechanismInfo> native =
      s.module().GetMechanism(s.slot(), hsm::kRsaAesKeyWrap);
  const bool native_ok = native.ok() && native->unwrap &&
                         blob.oaep_hash == crypto::OaepHash::kSha1;
  if (o.route == Route::kNative && !native_ok) {
    return absl::FailedPreconditionError(
        "native CKM_RSA_AES_KEY_WRAP requested but the token does not offer "
        "it for unwrapping");
  }
  if (o.route != Route::kTwoStep && native_ok) {
    route.native = true;
    return route;
  }
  Pkcs11ExportSession probe_session(s, "");
  ASSIGN_OR_RETURN(KwpChoice kwp, ChooseKwp(probe_session, o.kwp_mechanism));
  if (!kwp.listed || !kwp.probe.unwrap_ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token has no RFC 5649 unwrap that passes its known-answer test (",
        hsm::MechanismName(kwp.mechanism), ": ", kwp.probe.detail,
        kwp.others.empty() ? "" : "; ", absl::StrJoin(kwp.others, "; "), ")"));
  }
  route.kwp_mechanism = kwp.mechanism;
  return route;
}

// CheckTemplate is the session object a payload is first unwrapped into:
// sensitive, non-extractable; an AES key may encrypt (DescribeUnwrapped's
// AES-ECB test).
hsm::Template CheckTemplate(crypto::KeyType kind) {
  return kind == crypto::KeyType::kAes
             ? hsm::SecretKeyTemplate(/*extractable=*/false)
             : hsm::PrivateKeyTemplate(kind, /*extractable=*/false);
}

// ReadBack checks the token object `obj` against the checked payload.
absl::Status ReadBack(hsm::Session& s, hsm::ObjectHandle obj,
                      const hsm::KeySpec& spec, const UnwrappedKey& checked,
                      size_t payload_bound) {
  ASSIGN_OR_RETURN(hsm::KeyFlags f, hsm::ReadFlags(s, obj));
  if (!f.sensitive || f.extractable || !f.token) {
    return absl::FailedPreconditionError(
        "the token made the key nonsensitive, extractable or a session "
        "object, otherwise than asked; it was destroyed");
  }
  if (spec.kind == crypto::KeyType::kAes) {
    absl::StatusOr<uint64_t> len = hsm::ReadValueLen(s, obj);
    if (len.ok() && *len != 0 && static_cast<int>(*len * 8) != spec.bits) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the token made an AES-", *len * 8, " key, not the declared AES-",
          spec.bits, "; it was destroyed"));
    }
    if (!f.encrypt) return absl::OkStatus();  // the check object's answer
  }
  ASSIGN_OR_RETURN(UnwrappedKey got,
                   DescribeUnwrapped(s, obj, spec.kind, payload_bound));
  RETURN_IF_ERROR(CheckDeclared(got, spec, "read back from the token key"));
  if (spec.kind == crypto::KeyType::kRsa && got.rsa.n != checked.rsa.n) {
    return absl::InternalError(
        "the token key's modulus differs from the checked key's; it was "
        "destroyed");
  }
  return absl::OkStatus();
}

// TryAsSessionObject unwraps the payload with the final template as a
// session object, destroyed at once: a token that refuses a template may
// leave a half-made object behind (SoftHSM 2.6.1 keeps an object with its
// default attributes when C_UnwrapKey's template sets an attribute it holds
// read-only), and a session object goes with the session, a token object
// would stay. What a refused attempt left with the key's random `id` is
// destroyed at once.
absl::Status TryAsSessionObject(hsm::Session& s, TokenUnwrapper& unwrapper,
                                const hsm::KeySpec& spec,
                                std::span<const uint8_t> id) {
  hsm::KeyFlags flags = spec.flags;
  flags.token = false;
  absl::StatusOr<hsm::ScopedObject> trial = unwrapper.Unwrap(
      hsm::KeyObjectTemplate(spec.kind, flags, spec.label, id), spec.kind);
  if (trial.ok()) return absl::OkStatus();
  hsm::RemoveLeftovers(s, id);
  if (!spec.flags.modifiable && hsm::IsAttributeReadOnly(trial.status())) {
    // The payload unwrapped a moment ago: the template is what the token
    // refused, and a key it must not change is the part tokens refuse.
    return absl::FailedPreconditionError(
        "the token does not let an unwrapped key be made non-modifiable "
        "(CKR_ATTRIBUTE_READ_ONLY for CKA_MODIFIABLE=FALSE); add 'modifiable' "
        "to --flags to accept a key whose usage flags can be changed later; "
        "nothing was imported");
  }
  return trial.status();
}

}  // namespace

absl::StatusOr<ImportFormat> ParseImportFormat(std::string_view name) {
  if (name == "azure") return ImportFormat::kAzure;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown --format '", Sv(name), "' (import reads azure .byok blobs)"));
}

absl::StatusOr<TransferBlob> ReadTransferBlob(ImportFormat format,
                                              std::string_view text) {
  switch (format) {
    case ImportFormat::kAzure: {
      ASSIGN_OR_RETURN(Blob b, ParseBlob(text));
      TransferBlob out;
      out.ciphertext = std::move(b.ciphertext);
      out.kid = std::move(b.kid);
      return out;
    }
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<std::string> TokenKekKid(std::string_view label,
                                        EVP_PKEY* kek_public) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> spki,
                   crypto::PublicKeyToDer(kek_public));
  std::vector<uint8_t> digest = crypto::Sha256(spki);
  RETURN_IF_ERROR(CheckKekLabel(label));
  return absl::StrCat("https://", Sv(kKekHost), "/keys/", Sv(label), "/",
                      HexEncode(std::span<const uint8_t>(digest).first(16)));
}

absl::Status CheckKekLabel(std::string_view label) {
  const std::string kid = absl::StrCat("https://", Sv(kKekHost), "/keys/",
                                       Sv(label), "/", std::string(32, '0'));
  absl::StatusOr<KeyId> parsed = ParseKeyId(kid);
  if (!parsed.ok() || parsed->name != label) {
    return absl::InvalidArgumentError(
        "a KEK label must be a key name as Azure's: ^[0-9a-zA-Z-]{1,127}$");
  }
  return absl::OkStatus();
}

absl::Status CheckBlobKek(const TransferBlob& blob, std::string_view kek_label,
                          EVP_PKEY* kek_public) {
  if (!blob.kid) return absl::OkStatus();
  ASSIGN_OR_RETURN(KeyId got, ParseKeyId(*blob.kid));
  ASSIGN_OR_RETURN(std::string want_text, TokenKekKid(kek_label, kek_public));
  ASSIGN_OR_RETURN(KeyId want, ParseKeyId(want_text));
  if (got.name != want.name || got.version != want.version) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the blob's kid names KEK ", got.name, "/", got.version, ", not ",
        want.name, "/", want.version,
        " (this token's KEK, as 'keyferry kek create' printed it)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenImportResult> ImportToToken(
    hsm::Session& s, hsm::ObjectHandle kek, const TransferBlob& blob,
    const hsm::KeySpec& spec, const TokenImportOptions& options) {
  RETURN_IF_ERROR(CheckImportFlags(spec.flags));
  if (spec.label.empty()) return absl::InvalidArgumentError("missing --label");
  RETURN_IF_ERROR(hsm::CheckLabelFree(s, spec.label));
  ASSIGN_OR_RETURN(std::vector<uint8_t> n, hsm::ReadModulus(s, kek));
  size_t lead = 0;
  while (lead < n.size() && n[lead] == 0) ++lead;
  const size_t k = n.size() - lead;
  if (k != 256 && k != 384 && k != 512) {
    return absl::InvalidArgumentError(
        absl::StrCat("the KEK must be RSA 2048, 3072 or 4096 bits; this one "
                     "has ",
                     k * 8));
  }
  RETURN_IF_ERROR(CheckCiphertextLength(blob.ciphertext.size(), k));
  ASSIGN_OR_RETURN(TokenUnwrapRoute route, ChooseRoute(s, blob, options));
  ASSIGN_OR_RETURN(TokenUnwrapper unwrapper,
                   TokenUnwrapper::Open(s, kek, k, blob.ciphertext, route));
  UnwrappedKey checked;
  {
    ASSIGN_OR_RETURN(hsm::ScopedObject check,
                     unwrapper.Unwrap(CheckTemplate(spec.kind), spec.kind));
    ASSIGN_OR_RETURN(checked, DescribeUnwrapped(s, check.get(), spec.kind,
                                                unwrapper.payload_bound()));
    RETURN_IF_ERROR(CheckDeclared(checked, spec, "checked in a session key"));
  }
  TokenImportResult out;
  out.route = unwrapper.route();
  ASSIGN_OR_RETURN(out.id, crypto::RandomBytes(8));
  // No CKA_VALUE_LEN for an AES key: the payload's length is the key's, and
  // some tokens refuse it in an unwrap template (SoftHSM 2.6.1:
  // CKR_ATTRIBUTE_READ_ONLY).
  hsm::Template t =
      hsm::KeyObjectTemplate(spec.kind, spec.flags, spec.label, out.id);
  RETURN_IF_ERROR(TryAsSessionObject(s, unwrapper, spec, out.id));
  absl::StatusOr<hsm::ObjectHandle> h = hsm::MakeKeyObject(
      s, std::move(t), out.id,
      [&](const hsm::Template& tt) -> absl::StatusOr<hsm::ObjectHandle> {
        ASSIGN_OR_RETURN(hsm::ScopedObject o, unwrapper.Unwrap(tt, spec.kind));
        return o.Release();
      },
      &out.flags_not_kept);
  if (!h.ok()) {
    hsm::RemoveLeftovers(s, out.id);
    return h.status();
  }
  hsm::ScopedObject made(s, *h);
  RETURN_IF_ERROR(
      ReadBack(s, made.get(), spec, checked, unwrapper.payload_bound()));
  out.key = made.Release();
  return out;
}

}  // namespace keyferry::byok
