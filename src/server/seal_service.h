// SealService: the /sys endpoints of a sealed keyferryd (docs/sealing.md §4).
//
//   GET  /sys/seal-status   no token: {"sealed","vault_id","threshold",
//                           "shares","progress","nonce",
//                           "reconstruction_failed"}
//   POST /sys/unseal        {"share": <share file object>, "nonce"?,
//                           "passphrase"?, "reset"?}: the share is the
//                           credential; once an attempt is in progress every
//                           submission names its nonce (seal::Unsealer); the
//                           K-th correct share opens the custody. With
//                           "reset": true the attempt is discarded instead.
//   POST /sys/seal          operator token (Crypto Officer on every vault):
//                           drops the custody and the master key
//
// Errors use the Azure envelope {"error":{"code","message"}}, the code also
// on http::Response::error_code (http::AzureError sets both). Every unseal
// and seal answer carries its audit note (operation "unseal" with principal
// "share N", or "seal" with the operator), recorded before it is sent.
// Thread-safe.
#ifndef KEYFERRY_SERVER_SEAL_SERVICE_H_
#define KEYFERRY_SERVER_SEAL_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "base/mutex.h"
#include "custody/sealed_custody.h"
#include "http/message.h"
#include "seal/shares.h"

namespace keyferry::server {

struct SealServiceOptions {
  seal::SealInfo info;  // the seal's seal.json as read at start
  custody::SealedCustody* custody = nullptr;  // borrowed
  // open makes the working custody from the reassembled master key.
  std::function<absl::StatusOr<std::unique_ptr<custody::Custody>>(
      SecretBytes master)>
      open;
  // on_unsealed (may be empty) runs once the opened custody is at work in
  // `custody`; when it fails, keyferryd seals again and the unseal answers
  // its error.
  std::function<absl::Status()> on_unsealed;
  // authorize_seal returns the principal allowed to seal, or the refusal.
  std::function<absl::StatusOr<std::string>(const http::Request&)>
      authorize_seal;
  // save_info (may be empty) writes seal.json. It is called once, after an
  // unseal of a seal without share check values, with those values added
  // (derived from the shares that reconstructed the key); a failure is
  // logged and the unseal stands.
  std::function<absl::Status(const seal::SealInfo&)> save_info;
};

// Thread-safe: the unseal attempt, the seal info and the custody's
// sealing are changed under one mutex.
class SealService {
 public:
  explicit SealService(SealServiceOptions options);

  // IsSysPath tells whether `request` is for /sys/...
  static bool IsSysPath(const http::Request& request);
  // Handle answers a /sys request.
  http::Response Handle(const http::Request& request);
  // SealedResponse is the 503 every other request gets while sealed.
  static http::Response SealedResponse();

 private:
  std::string StatusJson() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // SaveLearnedShareChecks hands share check values the Unsealer derived to
  // save_info.
  void SaveLearnedShareChecks() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  http::Response Unseal(const http::Request& request) ABSL_LOCKS_EXCLUDED(mu_);
  http::Response Seal(const http::Request& request) ABSL_LOCKS_EXCLUDED(mu_);

  // options_.info is read only to build info_; the rest is set once.
  const SealServiceOptions options_;
  keyferry::Mutex mu_;
  seal::SealInfo info_ ABSL_GUARDED_BY(mu_);
  seal::Unsealer unsealer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_SEAL_SERVICE_H_
