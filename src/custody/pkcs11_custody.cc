#include "custody/pkcs11_custody.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/mac.h"
#include "crypto/random.h"
#include "custody/cipher_rules.h"
#include "custody/pkcs11_internal.h"
#include "hsm/errors.h"
#include "hsm/mechanisms.h"
#include "hsm/templates.h"

namespace keyferry::custody {

using hsm::ObjectHandle;
using hsm::Session;

namespace p11 {

absl::Status AsTokenFault(const absl::Status& s, std::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("the token failed while ", Sv(what), ": ", s.message()));
}

absl::Status Step(const absl::Status& s, std::string_view what) {
  return absl::Status(s.code(), absl::StrCat(Sv(what), ": ", s.message()));
}

}  // namespace p11

namespace {

// Backups: "KFB2" | iv[12] | ciphertext || tag, AES-256-GCM in the token
// under the master backup key, AAD "KFB2".
constexpr uint8_t kBackupMagic[] = {'K', 'F', 'B', '2'};

// Records are MACed with a domain prefix of their own: blob MACs start
// with a "KFP1" header, so no blob MAC input is a record MAC input.
constexpr uint8_t kRecordMagic[] = {'K', 'F', 'R', '1'};

std::vector<uint8_t> RecordMacInput(std::span<const uint8_t> record) {
  std::vector<uint8_t> in(sizeof kRecordMagic + record.size());
  std::copy(std::begin(kRecordMagic), std::end(kRecordMagic), in.begin());
  std::copy(record.begin(), record.end(), in.begin() + sizeof kRecordMagic);
  return in;
}

}  // namespace

absl::Status Pkcs11Custody::Janitor::Destroy(ObjectHandle h) {
  keyferry::MutexLock lock(&mu_);
  if (!session_) return absl::OkStatus();
  absl::Status s = session_->Destroy(h);
  if (!s.ok() && !hsm::IsStaleHandle(s)) {
    Log(LogLevel::kWarning, "pkcs11_destroy_failed",
        {{"error", std::string(s.message())}});
  }
  return s;
}

void Pkcs11Custody::Janitor::Reopen(
    const std::function<absl::StatusOr<std::unique_ptr<Session>>()>& open,
    const std::function<void(Session&)>& then) {
  keyferry::MutexLock lock(&mu_);
  session_.reset();
  absl::StatusOr<std::unique_ptr<Session>> s = open();
  if (!s.ok()) return;
  session_ = std::move(*s);
  then(*session_);
}

void Pkcs11Custody::Janitor::Close() {
  keyferry::MutexLock lock(&mu_);
  session_.reset();
}

absl::StatusOr<std::unique_ptr<Pkcs11Custody>> Pkcs11Custody::Open(
    Pkcs11Options o) {
  if (o.module_path.empty()) {
    return absl::InvalidArgumentError("the PKCS#11 custody needs a module");
  }
  if (o.token_label.empty()) {
    return absl::InvalidArgumentError("the PKCS#11 custody needs a token");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<hsm::Module> module,
                   hsm::Module::Load(o.module_path, o.load));
  std::unique_ptr<Pkcs11Custody> c(new Pkcs11Custody(std::move(module)));
  Pkcs11Custody* self = c.get();
  c->pin_ = std::move(o.pin);
  c->cache_ =
      std::make_unique<LruCache<std::shared_ptr<Resident>>>(o.cached_keys);
  ASSIGN_OR_RETURN(c->slot_, c->module_->FindSlotByTokenLabel(o.token_label));
  ASSIGN_OR_RETURN(hsm::TokenInfo ti, c->module_->GetTokenInfo(c->slot_));
  c->platform_ = absl::StrCat("PKCS#11 token '", ti.label, "' (",
                              ti.manufacturer, " ", ti.model, ", serial ",
                              ti.serial, ") via ", c->module_->description());
  c->pool_ = std::make_unique<hsm::SessionPool>(
      [self]() -> absl::StatusOr<std::unique_ptr<Session>> {
        absl::StatusOr<std::unique_ptr<Session>> s =
            Session::Open(*self->module_, self->slot_, self->pin_);
        if (!s.ok()) {
          return p11::Step(s.status(), "opening a session on the token");
        }
        return s;
      },
      std::max<size_t>(o.sessions, 2), [self] { self->TokenLost(); });
  bool janitor_open = false;
  absl::Status janitor_error = absl::OkStatus();
  c->janitor_->Reopen(
      [&]() -> absl::StatusOr<std::unique_ptr<Session>> {
        absl::StatusOr<std::unique_ptr<Session>> s =
            Session::Open(*self->module_, self->slot_, self->pin_);
        if (!s.ok()) janitor_error = s.status();
        return s;
      },
      [&](Session&) { janitor_open = true; });
  if (!janitor_open) return janitor_error;
  {
    ASSIGN_OR_RETURN(Lease lease, c->pool_->Borrow());
    RETURN_IF_ERROR(c->Reconcile(*lease));
    RETURN_IF_ERROR(c->FindOrCreateMasterKeys(*lease, o.master_keys));
    RETURN_IF_ERROR(c->Probe(*lease));
  }
  return c;
}

Pkcs11Custody::Pkcs11Custody(std::unique_ptr<hsm::Module> module)
    : module_(std::move(module)), janitor_(std::make_unique<Janitor>()) {}

Pkcs11Custody::~Pkcs11Custody() {
  cache_.reset();  // destroys the resident objects through the janitor
  janitor_->Close();
  pool_.reset();
}

absl::Status Pkcs11Custody::Reconcile(Session& s) {
  ASSIGN_OR_RETURN(std::vector<ObjectHandle> all, hsm::FindTokenObjects(s));
  for (ObjectHandle h : all) {
    absl::StatusOr<std::string> label = hsm::ReadLabel(s, h);
    if (!label.ok()) continue;
    if (label->starts_with(kTransientPrefix)) {
      RETURN_IF_ERROR(hsm::ScopedObject(s, h).Reset());
      ++reconciled_;
    }
  }
  if (reconciled_.load() > 0) {
    Log(LogLevel::kWarning, "pkcs11_reconciled",
        {{"removed", std::to_string(reconciled_.load())},
         {"what", "transient token objects left by an interrupted operation"}});
  }
  return absl::OkStatus();
}

absl::Status Pkcs11Custody::FindOrCreateMasterKeys(Session& s,
                                                   MasterKeyPolicy policy) {
  // Each master key is found by label or generated (hsm::MasterKeyTemplate).
  // Two keys under one label (a second node racing the first start) are an
  // error for the operator, never a guess.
  auto ensure = [&](const char* label,
                    hsm::MasterKeyRole role) -> absl::StatusOr<ObjectHandle> {
    ASSIGN_OR_RETURN(std::vector<ObjectHandle> h,
                     s.Find(hsm::MasterKeyMatch(role, label)));
    if (h.size() > 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          h.size(), " token keys are labelled '", label,
          "'; keyferryd needs exactly one (remove the extra ones)"));
    }
    if (h.size() == 1 && policy == MasterKeyPolicy::kMustBeNew) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the store is new (keys.db was missing or empty), but the token "
          "already holds keyferryd's master key '",
          label,
          "': this deployment's store is lost. Restore keys.db from your "
          "backup; for a new deployment use a token without keyferryd's "
          "master keys"));
    }
    if (h.size() == 1) return h[0];
    if (policy == MasterKeyPolicy::kMustExist) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the token has no master key '", label,
          "', but the store holds keys made under one: this is not the token "
          "(or not the token contents) this deployment was made with"));
    }
    ASSIGN_OR_RETURN(ObjectHandle made,
                     s.GenerateKey(hsm::MasterKeyGenMechanism(role),
                                   hsm::MasterKeyTemplate(role, label)));
    Log(LogLevel::kInfo, "pkcs11_master_key_created", {{"label", label}});
    return made;
  };
  ASSIGN_OR_RETURN(wrap_key_, ensure(kWrapLabel, hsm::MasterKeyRole::kWrap));
  ASSIGN_OR_RETURN(mac_key_, ensure(kMacLabel, hsm::MasterKeyRole::kMac));
  ASSIGN_OR_RETURN(backup_key_,
                   ensure(kBackupLabel, hsm::MasterKeyRole::kBackup));
  // The exportable master came later than the others: a token set up
  // before it gets it now (where kMustExist would refuse); a new store's
  // token must not have it either (kMustBeNew stands). Last, since `ensure`
  // reads `policy`.
  if (policy == MasterKeyPolicy::kMustExist) {
    policy = MasterKeyPolicy::kFindOrCreate;
  }
  ASSIGN_OR_RETURN(export_wrap_key_, ensure(kExportWrapLabel,
                                            hsm::MasterKeyRole::kExportWrap));
  return absl::OkStatus();
}

void Pkcs11Custody::ForgetCachedKeys() {
  // The residents go with their last user: an operation holding one
  // finishes first, then its session object is destroyed.
  (void)cache_->TakeAll();
}

void Pkcs11Custody::TokenLost() {
  Log(LogLevel::kWarning, "pkcs11_sessions_lost",
      {{"action", "dropping cached key objects and sessions; reopening"}});
  for (std::shared_ptr<Resident>& r : cache_->TakeAll()) r->MarkLost();
  {
    keyferry::MutexLock lock(&verified_mu_);
    verified_.clear();
  }
  pool_->DropIdle();
  // Token object handles may be numbered anew after a reset: the master
  // keys are found again (and transient objects removed, as at start-up).
  auto find_again = [this](Session& s) {
    absl::Status found = Reconcile(s);
    if (found.ok()) {
      found = FindOrCreateMasterKeys(s, MasterKeyPolicy::kMustExist);
    }
    if (!found.ok()) {
      Log(LogLevel::kError, "pkcs11_master_keys_lost",
          {{"error", std::string(found.message())}});
    }
  };
  janitor_->Reopen([this] { return Session::Open(*module_, slot_, pin_); },
                   find_again);
}

void Pkcs11Custody::CloseAllSessionsForTest() {
  module_->CloseAllSessions(slot_);
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::ProtectBackup(
    std::span<const uint8_t> plaintext) {
  if (!limits_.aes_gcm) {
    return absl::FailedPreconditionError(
        "backups need AES-GCM, which this token does not offer");
  }
  ASSIGN_OR_RETURN(Lease lease, pool_->Borrow(/*check=*/true));
  ASSIGN_OR_RETURN(std::vector<uint8_t> iv, crypto::RandomBytes(12));
  ASSIGN_OR_RETURN(
      std::vector<uint8_t> ct,
      lease->Encrypt(hsm::AesGcm(iv, kBackupMagic), backup_key_, plaintext));
  std::vector<uint8_t> out(kBackupMagic, kBackupMagic + 4);
  out.insert(out.end(), iv.begin(), iv.end());
  out.insert(out.end(), ct.begin(), ct.end());
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::UnprotectBackup(
    std::span<const uint8_t> b) {
  auto bad = [] {
    return absl::InvalidArgumentError(
        "the backup was not made by this deployment or is damaged");
  };
  if (b.size() < 4 + 12 + 16 ||
      !std::equal(kBackupMagic, kBackupMagic + 4, b.begin()) ||
      !limits_.aes_gcm) {
    return bad();
  }
  ASSIGN_OR_RETURN(Lease lease, pool_->Borrow(/*check=*/true));
  absl::StatusOr<SecretBytes> pt = lease->Decrypt(
      hsm::AesGcm(b.subspan(4, 12), kBackupMagic), backup_key_, b.subspan(16));
  if (!pt.ok()) return bad();
  return PlainCopy(*pt);
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::AuthenticateRecord(
    std::span<const uint8_t> record) {
  const std::vector<uint8_t> in = RecordMacInput(record);
  return pool_->Run<std::vector<uint8_t>>(
      [&](Session& s) { return s.Sign({hsm::kSha256Hmac}, mac_key_, in); });
}

absl::Status Pkcs11Custody::VerifyRecord(std::span<const uint8_t> record,
                                         std::span<const uint8_t> tag) {
  if (tag.size() != p11::kMacBytes) {
    return absl::DataLossError("the record's tag has the wrong length");
  }
  std::vector<uint8_t> pair(record.begin(), record.end());
  pair.insert(pair.end(), tag.begin(), tag.end());
  const std::vector<uint8_t> digest = crypto::Sha256(pair);
  std::string id(digest.begin(), digest.end());
  {
    keyferry::MutexLock lock(&verified_mu_);
    if (verified_.count(id) > 0) return absl::OkStatus();
  }
  const std::vector<uint8_t> in = RecordMacInput(record);
  absl::StatusOr<bool> ok =
      pool_->Run<bool>([&](Session& s) -> absl::StatusOr<bool> {
        absl::Status v = s.VerifyMac({hsm::kSha256Hmac}, mac_key_, in, tag);
        if (v.code() == absl::StatusCode::kInvalidArgument) return false;
        if (!v.ok()) return v;
        return true;
      });
  if (!ok.ok()) return ok.status();
  if (!*ok) return absl::DataLossError("the record's tag does not verify");
  keyferry::MutexLock lock(&verified_mu_);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_.insert(std::move(id));
  return absl::OkStatus();
}

}  // namespace keyferry::custody
