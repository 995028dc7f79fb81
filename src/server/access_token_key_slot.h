// AccessTokenKeySlot holds keyferryd's token signing key (AccessTokenSigner)
// once it is loaded: at start, or at the first unseal of a sealed deployment.
// Set once, then kept until exit, so a reader may keep the pointer it got.
// Thread-safe: Get never blocks; Set is serialized.
#ifndef KEYFERRY_SERVER_ACCESS_TOKEN_KEY_SLOT_H_
#define KEYFERRY_SERVER_ACCESS_TOKEN_KEY_SLOT_H_

#include <atomic>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "auth/identity_endpoint.h"
#include "base/mutex.h"
#include "server/access_token_signer.h"

namespace keyferry::server {

class AccessTokenKeySlot {
 public:
  // Get returns the signer, or nullptr while none is set (sealed).
  const AccessTokenSigner* Get() const { return signer_.load(); }

  // Set keeps `signer` and makes it visible to Get. A second call keeps
  // the first signer (readers may hold it) and drops `signer`; returns
  // whether `signer` was kept.
  bool Set(std::unique_ptr<AccessTokenSigner> signer) ABSL_LOCKS_EXCLUDED(mu_) {
    keyferry::MutexLock lock(&mu_);
    if (owner_ != nullptr) return false;
    owner_ = std::move(signer);
    signer_.store(owner_.get());
    return true;
  }

  // AccessTokenKey returns the key for the identity endpoint, or Unavailable
  // "keyferryd is sealed: …" while none is set.
  absl::StatusOr<auth::AccessTokenKey> AccessTokenKey() const {
    const AccessTokenSigner* s = Get();
    if (s == nullptr) {
      return absl::UnavailableError(
          "keyferryd is sealed: no token can be issued until it is unsealed");
    }
    return auth::AccessTokenKey{s->key_id(), s->signer()};
  }

 private:
  mutable keyferry::Mutex mu_;
  std::unique_ptr<AccessTokenSigner> owner_ ABSL_GUARDED_BY(mu_);
  std::atomic<const AccessTokenSigner*> signer_{nullptr};  // owner_.get()
};

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_ACCESS_TOKEN_KEY_SLOT_H_
