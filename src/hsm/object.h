// ScopedObject: the one owner of a token object handle outside the calls
// that make it. It destroys the object when it goes out of scope unless the
// object was released. Custody and BYOK export alike hold every session
// object they make in one, so no path forgets (or repeats) a destroy.
//
// Thread safety: a ScopedObject is not shared between threads; the
// ObjectDestroyer it names must be usable from the thread that drops it.
#ifndef KEYFERRY_HSM_OBJECT_H_
#define KEYFERRY_HSM_OBJECT_H_

#include <cstdint>

#include "absl/status/status.h"

namespace keyferry::hsm {

using ObjectHandle = uint64_t;

// ObjectDestroyer destroys token objects (C_DestroyObject): a Session, a
// byok::ExportSession, or a custody's janitor that logs its failures.
class ObjectDestroyer {
 public:
  virtual ~ObjectDestroyer() = default;
  // Destroy destroys `h`. Errors are returned, never thrown.
  virtual absl::Status Destroy(ObjectHandle h) = 0;
};

class ScopedObject {
 public:
  // An empty ScopedObject owns nothing.
  ScopedObject() = default;
  // ScopedObject owns `h`, to be destroyed by `destroyer` (borrowed; it
  // must outlive this object or the release of `h`).
  ScopedObject(ObjectDestroyer& destroyer, ObjectHandle h)
      : destroyer_(&destroyer), h_(h) {}
  // Destroys the object if still owned; a failure of that destroy is the
  // destroyer's to report (it cannot be returned from here).
  ~ScopedObject() { (void)Reset(); }
  ScopedObject(ScopedObject&& o) noexcept : destroyer_(o.destroyer_), h_(o.h_) {
    o.destroyer_ = nullptr;
  }
  ScopedObject& operator=(ScopedObject&& o) noexcept {
    if (this != &o) {
      (void)Reset();
      destroyer_ = o.destroyer_;
      h_ = o.h_;
      o.destroyer_ = nullptr;
    }
    return *this;
  }
  ScopedObject(const ScopedObject&) = delete;
  ScopedObject& operator=(const ScopedObject&) = delete;

  // get returns the handle (still owned).
  ObjectHandle get() const { return h_; }
  // owns tells whether the object is still to be destroyed here.
  bool owns() const { return destroyer_ != nullptr; }
  // Release gives up ownership without destroying (the object was handed
  // over, or the token lost it and the handle may name another object now)
  // and returns the handle.
  ObjectHandle Release() {
    destroyer_ = nullptr;
    return h_;
  }
  // Reset destroys the object now (if owned) and returns the destroy's
  // status; OK when nothing was owned.
  absl::Status Reset() {
    if (destroyer_ == nullptr) return absl::OkStatus();
    ObjectDestroyer* d = destroyer_;
    destroyer_ = nullptr;
    return d->Destroy(h_);
  }

 private:
  ObjectDestroyer* destroyer_ = nullptr;
  ObjectHandle h_ = 0;
};

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_OBJECT_H_
