// BYOK export from a token: the wrap of a profile (docs/byok-format.md §5)
// computed inside the HSM: hybrid (CKM_RSA_AES_KEY_WRAP natively, or
// RSA-OAEP of an ephemeral AES key plus RFC 5649 in two steps) or direct
// (RSA-OAEP of an AES key), with the profile's OAEP hash, guarded by
// known-answer probes (docs/byok-format.md §2–§3, §6).
#ifndef KEYFERRY_BYOK_EXPORT_H_
#define KEYFERRY_BYOK_EXPORT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "byok/envelope.h"
#include "byok/export_session.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::byok {

enum class Route { kAuto, kNative, kTwoStep };

struct ExportOptions {
  Route route = Route::kAuto;
  WrapSpec wrap;  // hash, hybrid or direct
  // The RFC 5649 mechanism; unset: the one the known-answer test picks
  // (ChooseKwp).
  std::optional<uint64_t> kwp_mechanism;
};

// KwpChoice is the RFC 5649 mechanism a token will be asked for, chosen by
// known-answer test, never by number: the same number means RFC 5649 on
// one token (CKM_AES_KEY_WRAP_PAD, 0x210A, on SoftHSM) and RFC 3394 with
// PKCS#7 padding on another (0x210A under PKCS#11 3.0's reading, where RFC
// 5649 is CKM_AES_KEY_WRAP_KWP, 0x210B).
struct KwpChoice {
  uint64_t mechanism = kCkmAesKeyWrapPad;
  bool listed = false;            // the token offers `mechanism` for wrapping
  ExportSession::KwpProbe probe;  // its known-answer test
  // One line per candidate not chosen, with its verdict, for `token info`.
  std::vector<std::string> others;
};

// ChooseKwp probes `requested`, or else each RFC 5649 candidate the token
// offers (0x210A, then 0x210B) and picks the first that passes both wrap
// and unwrap tests; failing that, one whose wrap has the known padding
// defect but whose unwrap passes (the caller decides what that allows);
// failing that, the first candidate, with its failure in probe.detail.
// An error means the token could not be asked at all.
absl::StatusOr<KwpChoice> ChooseKwp(ExportSession& token,
                                    std::optional<uint64_t> requested);

// ProbeReport is what `keyferry token info` prints and export relies on.
struct ProbeReport {
  crypto::OaepHash hash = crypto::OaepHash::kSha1;  // the hash probed
  bool native_listed = false;
  std::optional<bool> native_ok;  // unset when not listed
  std::string native_detail;
  KwpChoice kwp;
  bool oaep_ok = false;
  std::string oaep_detail;
};

// RunProbes runs every known-answer probe on throwaway session objects,
// the OAEP ones (CKM_RSA_PKCS_OAEP and CKM_RSA_AES_KEY_WRAP) with `hash`.
// Failures of individual probes are recorded, not returned; an error means
// the token could not be asked at all.
absl::StatusOr<ProbeReport> RunProbes(
    ExportSession& token, std::optional<uint64_t> kwp_mechanism,
    crypto::OaepHash hash = crypto::OaepHash::kSha1);

// OaepMechanismName names CKM_RSA_PKCS_OAEP with `hash` and its MGF, e.g.
// "CKM_RSA_PKCS_OAEP with SHA-256 (CKG_MGF1_SHA256)".
std::string OaepMechanismName(crypto::OaepHash hash);

struct ExportResult {
  std::vector<uint8_t> ciphertext;  // C1 || C2 (hybrid) or C1 (direct)
  std::string route;  // "native CKM_RSA_AES_KEY_WRAP" or "two-step …"
};

// ExportFromToken wraps `target` for `kek_public` (RSA 2048/3072/4096) as
// `options.wrap` says. Refuses, with a message naming the reason and no
// output, a target that is not extractable, a token whose mechanisms fail
// the probes for the hash asked (naming the mechanism and parameters it
// lacks), a direct wrap of anything but an AES key, and a target that the
// token's known KWP padding defect would wrap wrongly. Every
// temporary object (KEK session copy, ephemeral AES key, probe objects) is
// destroyed on every path.
absl::StatusOr<ExportResult> ExportFromToken(ExportSession& token,
                                             ObjectRef target,
                                             EVP_PKEY* kek_public,
                                             const ExportOptions& options);

}  // namespace keyferry::byok

#endif  // KEYFERRY_BYOK_EXPORT_H_
