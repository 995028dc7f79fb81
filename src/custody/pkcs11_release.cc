// Pkcs11Custody: Secure Key Release, the wrap made in the token
// (docs/api.md §Secure Key Release, docs/security-model.md §3).
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "byok/export.h"
#include "byok/pkcs11_export_session.h"
#include "custody/pkcs11_internal.h"
#include "hsm/errors.h"
#include "hsm/templates.h"

namespace keyferry::custody {

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::WrapForRelease(
    const HeldKey& key, std::span<const uint8_t> binding,
    EVP_PKEY* wrapping_key, crypto::OaepHash hash) {
  // Refused before the token is asked: a key held under the ordinary
  // master wrap key is never opened extractable.
  ASSIGN_OR_RETURN(p11::BlobParts blob, p11::ParseBlob(key));
  if (!blob.exportable) {
    return absl::FailedPreconditionError(
        "this key is not held exportable in the token (it was not created "
        "or imported with exportable = true) and cannot be released");
  }
  using Out = std::vector<uint8_t>;
  return pool_->Run<Out>([&](hsm::Session& s) -> absl::StatusOr<Out> {
    // Use checks the blob MAC (which covers the magic) and unwraps the key
    // under the exportable master as a sensitive, extractable session
    // object.
    ASSIGN_OR_RETURN(std::shared_ptr<Resident> obj, Use(s, key, binding));
    if (key.kind == KeyKind::kEc &&
        hsm::HoldsStandInPublicValue(s, obj->handle())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "EC keys are not released from ", platform_,
          ": the token writes a stand-in, not the key's public point, into "
          "the PKCS#8 it wraps (docs/tokens.md)"));
    }
    byok::Pkcs11ExportSession token(s, platform_);
    byok::ExportOptions o;
    o.wrap.hash = hash;
    o.wrap.hybrid = true;
    o.kwp_mechanism = limits_.kwp_mechanism;
    // Every session object of the wrap (the wrapping public key, the
    // ephemeral AES key, the probes' objects) is destroyed on every path.
    absl::StatusOr<byok::ExportResult> r =
        byok::ExportFromToken(token, obj->handle(), wrapping_key, o);
    if (!r.ok()) {
      if (hsm::IsStaleHandle(r.status())) return r.status();
      return p11::Step(r.status(), "wrapping the key for release in the token");
    }
    return std::move(r->ciphertext);
  });
}

}  // namespace keyferry::custody
