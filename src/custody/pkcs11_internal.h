// Internal to Pkcs11Custody (pkcs11_*.cc): the blob format, the janitor,
// resident session objects and their cache, and the error words shared by
// the files the custody is split into.
#ifndef KEYFERRY_CUSTODY_PKCS11_INTERNAL_H_
#define KEYFERRY_CUSTODY_PKCS11_INTERNAL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "base/mutex.h"
#include "base/status.h"
#include "custody/pkcs11_custody.h"
#include "hsm/object.h"
#include "hsm/session.h"

namespace keyferry::custody {
namespace p11 {

// Sealed blob, PKCS#11 custody version 1 (docs/security-model.md §3):
//   magic | kind u8 | bits u16be | curve u8 (0xff: none) | mac[32] | wrapped
// magic "KFP1": wrapped = C_WrapKey(RFC 5649, master wrap key, key), the
// PKCS#8 private key or the raw AES key; "KFE1": the same under the
// exportable master wrap key (an exportable key, releasable).
// mac = HMAC-SHA256 in the token, master MAC key, over BlobMacInput.
inline constexpr size_t kHeaderBytes = kBlobHeaderBytes;
inline constexpr size_t kMacBytes = 32;

// BlobHeader is custody::BlobHeader with this custody's magic: "KFE1" when
// `exportable`, else "KFP1".
std::vector<uint8_t> BlobHeader(const HeldKey& key, bool exportable);
// BlobMacInput is header || u32be(len(binding)) || binding || wrapped: the
// one place the blob MAC input is built (for making and checking).
std::vector<uint8_t> BlobMacInput(std::span<const uint8_t> header,
                                  std::span<const uint8_t> binding,
                                  std::span<const uint8_t> wrapped);
// BlobParts views a blob of `key`: its MAC and wrapped key.
struct BlobParts {
  std::vector<uint8_t> header;
  bool exportable = false;  // magic KFE1
  std::span<const uint8_t> mac, wrapped;
};
// ParseBlob splits `key.blob`. DataLoss when it is too short or its
// header is not the one for key's kind, bits and curve.
absl::StatusOr<BlobParts> ParseBlob(const HeldKey& key);
// AssembleBlob is header | mac | wrapped.
std::vector<uint8_t> AssembleBlob(std::span<const uint8_t> header,
                                  std::span<const uint8_t> mac,
                                  std::span<const uint8_t> wrapped);

// PrivateKeyType is the crypto::KeyType of an RSA or EC `kind`, for the hsm
// templates.
inline crypto::KeyType PrivateKeyType(KeyKind kind) {
  return kind == KeyKind::kRsa ? crypto::KeyType::kRsa : crypto::KeyType::kEc;
}

// AsTokenFault answers a token fault as Unavailable (the token, not the
// request, failed) with the step named.
absl::Status AsTokenFault(const absl::Status& s, std::string_view what);
// Step puts a sentence saying which step failed before the token's own
// words (CKR names are not secret).
absl::Status Step(const absl::Status& s, std::string_view what);

}  // namespace p11

// Janitor: a session of its own that destroys session objects dropped by
// any thread (Resident), and that TokenLost reopens. Thread-safe.
class Pkcs11Custody::Janitor : public hsm::ObjectDestroyer {
 public:
  // Destroy destroys `h` on the janitor session; a failure other than a
  // stale handle is logged (pkcs11_destroy_failed) and returned. OK and
  // nothing done while the janitor has no session.
  absl::Status Destroy(hsm::ObjectHandle h) override ABSL_LOCKS_EXCLUDED(mu_);
  // Reopen closes the janitor session, opens another with `open` and, if
  // that worked, runs `then` on it.
  void Reopen(
      const std::function<absl::StatusOr<std::unique_ptr<hsm::Session>>()>&
          open,
      const std::function<void(hsm::Session&)>& then) ABSL_LOCKS_EXCLUDED(mu_);
  // Close closes the janitor session.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  keyferry::Mutex mu_;
  std::unique_ptr<hsm::Session> session_ ABSL_GUARDED_BY(mu_);
};

// Resident: a session object unwrapped from a blob. The last holder's
// release destroys it through the janitor, unless the token was lost (the
// handle may since name another object).
class Pkcs11Custody::Resident {
 public:
  Resident(Janitor& janitor, hsm::ObjectHandle h) : obj_(janitor, h) {}
  ~Resident() {
    if (lost_) obj_.Release();
  }
  hsm::ObjectHandle handle() const { return obj_.get(); }
  void MarkLost() { lost_ = true; }

 private:
  hsm::ScopedObject obj_;
  std::atomic<bool> lost_{false};
};

template <typename T>
absl::StatusOr<T> Pkcs11Custody::WithKey(
    const HeldKey& key, std::span<const uint8_t> binding,
    const std::function<absl::StatusOr<T>(hsm::Session&, hsm::ObjectHandle)>&
        op) {
  return pool_->Run<T>([&](hsm::Session& s) -> absl::StatusOr<T> {
    ASSIGN_OR_RETURN(std::shared_ptr<Resident> obj, Use(s, key, binding));
    return op(s, obj->handle());
  });
}

}  // namespace keyferry::custody

#endif  // KEYFERRY_CUSTODY_PKCS11_INTERNAL_H_
