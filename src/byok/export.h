// BYOK export from a token: CKM_RSA_AES_KEY_WRAP computed inside the HSM,
// natively or in two steps, guarded by known-answer probes
// (docs/byok-format.md §2–§3; shared reference byok-formats.md §3).
#ifndef KEYFERRY_BYOK_EXPORT_H_
#define KEYFERRY_BYOK_EXPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "byok/export_session.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::byok {

enum class Route { kAuto, kNative, kTwoStep };

struct ExportOptions {
  Route route = Route::kAuto;
  uint64_t kwp_mechanism = kCkmAesKeyWrapPad;  // SoftHSM's RFC 5649 number
};

// ProbeReport is what `keyferry token info` prints and export relies on.
struct ProbeReport {
  bool native_listed = false;
  std::optional<bool> native_ok;  // unset when not listed
  std::string native_detail;
  bool kwp_listed = false;
  ExportSession::KwpProbe kwp;
  bool oaep_ok = false;
  std::string oaep_detail;
};

// RunProbes runs every known-answer probe on throwaway session objects.
// Failures of individual probes are recorded, not returned; an error means
// the token could not be asked at all.
absl::StatusOr<ProbeReport> RunProbes(ExportSession& token,
                                      uint64_t kwp_mechanism);

struct ExportResult {
  std::vector<uint8_t> ciphertext;  // C1 || C2
  std::string route;  // "native CKM_RSA_AES_KEY_WRAP" or "two-step …"
};

// ExportFromToken wraps `target` for `kek_public` (RSA 2048/3072/4096).
// Refuses, with a message naming the reason and no output, a target that is
// not extractable, a token whose mechanisms fail the probes, and a target
// that the token's known KWP padding defect would wrap wrongly. Every
// temporary object (KEK session copy, ephemeral AES key, probe objects) is
// destroyed on every path.
absl::StatusOr<ExportResult> ExportFromToken(ExportSession& token,
                                             ObjectRef target,
                                             EVP_PKEY* kek_public,
                                             const ExportOptions& options);

}  // namespace keyferry::byok

#endif  // KEYFERRY_BYOK_EXPORT_H_
