#include "byok/import.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/json.h"
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

// ChooseRoute decides native, composed or direct, and the KWP mechanism.
// Every check runs on throwaway session objects, before anything is made.
absl::StatusOr<TokenUnwrapRoute> ChooseRoute(hsm::Session& s,
                                             const TransferBlob& blob,
                                             const TokenImportOptions& o) {
  TokenUnwrapRoute route;
  route.oaep_hash = blob.oaep_hash;
  route.direct = !blob.hybrid;
  absl::StatusOr<hsm::MechanismInfo> native =
      s.module().GetMechanism(s.slot(), hsm::kRsaAesKeyWrap);
  const bool native_ok = native.ok() && native->unwrap && blob.hybrid &&
                         blob.oaep_hash == crypto::OaepHash::kSha1;
  if (o.route == Route::kNative && !native_ok) {
    return absl::FailedPreconditionError(
        "native CKM_RSA_AES_KEY_WRAP requested but the token does not offer "
        "it for unwrapping this blob (hybrid, OAEP SHA-1 only)");
  }
  if (o.route != Route::kTwoStep && native_ok) {
    route.native = true;
    return route;
  }
  Pkcs11ExportSession probe_session(s, "");
  ASSIGN_OR_RETURN(ProbeReport probes,
                   RunProbes(probe_session, o.kwp_mechanism, blob.oaep_hash));
  if (!probes.oaep_ok) {
    return absl::FailedPreconditionError(
        absl::StrCat("token lacks ", OaepMechanismName(blob.oaep_hash), " (",
                     probes.oaep_detail, "); nothing was imported"));
  }
  const KwpChoice& kwp = probes.kwp;
  // A direct AES key may need a KWP wrap to be measured (MeasureDirectAes).
  if (!kwp.listed || !kwp.probe.unwrap_ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token has no RFC 5649 unwrap that passes its known-answer test (",
        hsm::MechanismName(kwp.mechanism), ": ", kwp.probe.detail,
        kwp.others.empty() ? "" : "; ", absl::StrJoin(kwp.others, "; "), ")"));
  }
  route.kwp_mechanism = kwp.mechanism;
  return route;
}

// MeasureDirectAes returns the byte length of the AES key a direct blob
// holds: CKA_VALUE_LEN of a session copy, or where the token leaves it
// unset (SoftHSM 2.6.1), the RFC 5649 wrap of an extractable session copy
// under an ephemeral in-token AES key, minus 8 (16, 24 and 32 need no
// padding). Both objects are destroyed on return; no key bytes leave the
// token unwrapped.
absl::StatusOr<size_t> MeasureDirectAes(hsm::Session& s,
                                        TokenUnwrapper& unwrapper,
                                        uint64_t kwp_mechanism) {
  ASSIGN_OR_RETURN(hsm::ScopedObject copy,
                   unwrapper.Unwrap(hsm::SecretKeyTemplate(/*extractable=*/true),
                                    crypto::KeyType::kAes));
  absl::StatusOr<uint64_t> len = hsm::ReadValueLen(s, copy.get());
  if (len.ok() && *len != 0) return static_cast<size_t>(*len);
  Pkcs11ExportSession token(s, "");
  ASSIGN_OR_RETURN(ObjectRef eph_ref, token.GenerateEphemeralAes(32));
  ScopedObject eph(token, eph_ref);
  ASSIGN_OR_RETURN(std::vector<uint8_t> wrapped,
                   token.WrapKwp(kwp_mechanism, eph.get(), copy.get()));
  if (wrapped.size() < 16) {
    return absl::InternalError("the token's RFC 5649 wrap is too short");
  }
  return wrapped.size() - 8;
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

// ContainerJson is what a JSON container holds.
struct ContainerJson {
  std::vector<uint8_t> ciphertext;
  std::optional<std::string> kid;
};

// StringField returns j[key] when it is a string.
absl::StatusOr<std::string> StringField(const nlohmann::json& j,
                                        const char* key, const char* where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": missing string \"", key, "\""));
  }
  return it->get<std::string>();
}

absl::Status SameMethod(const Profile& p, const std::string& got,
                        const char* field) {
  if (got == p.method) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " is '", got, "', not --format ", p.format, "'s ", p.method,
      " (give the method the file was made with)"));
}

// ReadContainerJson reads the azure-release, vault and oci containers
// (docs/byok-format.md §5, as WriteContainer writes them).
absl::StatusOr<ContainerJson> ReadContainerJson(const Profile& p,
                                                std::string_view text) {
  ContainerJson out;
  std::string_view body = StdSv(absl::StripAsciiWhitespace(Sv(text)));
  std::string inner;
  if (p.container == Container::kAzureRelease) {
    absl::StatusOr<std::vector<uint8_t>> raw = Base64UrlDecode(body);
    if (!raw.ok()) {
      return absl::InvalidArgumentError("key_hsm is not base64url");
    }
    inner.assign(raw->begin(), raw->end());
    body = inner;
  }
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(body));
  if (!j.is_object()) {
    return absl::InvalidArgumentError("the container is not a JSON object");
  }
  std::string b64;
  switch (p.container) {
    case Container::kAzureRelease: {
      auto h = j.find("header");
      if (h == j.end() || !h->is_object()) {
        return absl::InvalidArgumentError("key_hsm: missing object \"header\"");
      }
      ASSIGN_OR_RETURN(std::string enc, StringField(*h, "enc", "header"));
      RETURN_IF_ERROR(SameMethod(p, enc, "header.enc"));
      ASSIGN_OR_RETURN(std::string alg, StringField(*h, "alg", "header"));
      if (alg != "dir") {
        return absl::InvalidArgumentError("header.alg is not \"dir\"");
      }
      ASSIGN_OR_RETURN(out.kid, StringField(*h, "kid", "header"));
      ASSIGN_OR_RETURN(b64, StringField(j, "ciphertext", "key_hsm"));
      absl::StatusOr<std::vector<uint8_t>> ct = Base64UrlDecode(b64);
      if (!ct.ok()) {
        return absl::InvalidArgumentError("ciphertext is not base64url");
      }
      out.ciphertext = std::move(*ct);
      return out;
    }
    case Container::kVaultJson: {
      ASSIGN_OR_RETURN(std::string h, StringField(j, "hash_function", "vault"));
      RETURN_IF_ERROR(SameMethod(p, h, "hash_function"));
      ASSIGN_OR_RETURN(b64, StringField(j, "ciphertext", "vault"));
      break;
    }
    case Container::kOciJson: {
      ASSIGN_OR_RETURN(std::string a,
                       StringField(j, "wrappingAlgorithm", "oci"));
      RETURN_IF_ERROR(SameMethod(p, a, "wrappingAlgorithm"));
      ASSIGN_OR_RETURN(b64, StringField(j, "keyMaterial", "oci"));
      break;
    }
    default:
      return absl::InternalError("not a JSON container");
  }
  absl::StatusOr<std::vector<uint8_t>> ct = Base64Decode(b64);
  if (!ct.ok()) return absl::InvalidArgumentError("ciphertext is not base64");
  out.ciphertext = std::move(*ct);
  return out;
}

}  // namespace

absl::StatusOr<TransferBlob> ReadTransferBlob(const Profile& profile,
                                              std::string_view text) {
  TransferBlob out;
  out.oaep_hash = profile.wrap.hash;
  out.hybrid = profile.wrap.hybrid;
  switch (profile.container) {
    case Container::kAzureByok: {
      ASSIGN_OR_RETURN(Blob b, ParseBlob(text));
      out.ciphertext = std::move(b.ciphertext);
      out.kid = std::move(b.kid);
      return out;
    }
    case Container::kRaw:
      out.ciphertext.assign(text.begin(), text.end());
      return out;
    case Container::kAzureRelease:
    case Container::kVaultJson:
    case Container::kOciJson:
      break;
  }
  ASSIGN_OR_RETURN(ContainerJson c, ReadContainerJson(profile, text));
  out.ciphertext = std::move(c.ciphertext);
  out.kid = std::move(c.kid);
  return out;
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
  if (!blob.hybrid && spec.kind != crypto::KeyType::kAes) {
    return absl::FailedPreconditionError(
        "a token unwraps only secret (AES) keys directly with RSA-OAEP; a "
        "direct blob of an RSA or EC key cannot be imported into a token");
  }
  if (blob.hybrid) {
    RETURN_IF_ERROR(CheckCiphertextLength(blob.ciphertext.size(), k));
  }
  ASSIGN_OR_RETURN(TokenUnwrapRoute route, ChooseRoute(s, blob, options));
  ASSIGN_OR_RETURN(TokenUnwrapper unwrapper,
                   TokenUnwrapper::Open(s, kek, k, blob.ciphertext, route));
  size_t bound = unwrapper.payload_bound();
  if (unwrapper.direct()) {
    ASSIGN_OR_RETURN(bound,
                     MeasureDirectAes(s, unwrapper, route.kwp_mechanism));
  }
  UnwrappedKey checked;
  {
    ASSIGN_OR_RETURN(hsm::ScopedObject check,
                     unwrapper.Unwrap(CheckTemplate(spec.kind), spec.kind));
    ASSIGN_OR_RETURN(checked,
                     DescribeUnwrapped(s, check.get(), spec.kind, bound));
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
  RETURN_IF_ERROR(ReadBack(s, made.get(), spec, checked, bound));
  out.key = made.Release();
  return out;
}

}  // namespace keyferry::byok
