#include "custody/pkcs11_custody.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <list>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/envelope.h"
#include "byok/hsm_token.h"
#include "crypto/aes_wrap.h"
#include "crypto/cipher.h"
#include "crypto/ec_recover.h"
#include "crypto/mac.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"
#include "crypto/rsa_pkcs1.h"
#include "custody/cipher_rules.h"
#include "hsm/errors.h"
#include "hsm/keys.h"
#include "hsm/pkcs11.h"

namespace keyferry::custody {

using hsm::Attr;
using hsm::ObjectHandle;
using hsm::Session;

namespace {

// Sealed blob, PKCS#11 custody version 1 (docs/security-model.md §3):
//   "KFP1" | kind u8 | bits u16be | curve u8 (0xff: none) | mac[32] | wrapped
// wrapped = C_WrapKey(CKM_AES_KEY_WRAP_PAD, master wrap key, key): the
// PKCS#8 private key or the raw AES key under RFC 5649.
// mac = HMAC-SHA256 in the token, master MAC key, over
//   header || u32be(len(binding)) || binding || wrapped.
constexpr uint8_t kMagic[] = {'K', 'F', 'P', '1'};
constexpr size_t kHeaderBytes = 8;
constexpr size_t kMacBytes = 32;
// Backups: "KFB2" | iv[12] | ciphertext || tag, AES-256-GCM in the token
// under the master backup key, AAD "KFB2".
constexpr uint8_t kBackupMagic[] = {'K', 'F', 'B', '2'};

std::vector<uint8_t> Header(const HeldKey& k) {
  std::vector<uint8_t> h(kMagic, kMagic + 4);
  h.push_back(static_cast<uint8_t>(k.kind));
  h.push_back(static_cast<uint8_t>(k.bits >> 8));
  h.push_back(static_cast<uint8_t>(k.bits));
  h.push_back(k.curve ? static_cast<uint8_t>(*k.curve) : 0xff);
  return h;
}

CK_RSA_PKCS_OAEP_PARAMS Oaep(bool sha256) {
  return {sha256 ? CKM_SHA256 : CKM_SHA_1,
          sha256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr,
          0};
}

// The DER DigestInfo prefixes of RFC 8017 §9.2 note 1.
constexpr uint8_t kSha256Info[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                   0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                   0x01, 0x05, 0x00, 0x04, 0x20};
constexpr uint8_t kSha384Info[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                   0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                   0x02, 0x05, 0x00, 0x04, 0x30};
constexpr uint8_t kSha512Info[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                   0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                   0x03, 0x05, 0x00, 0x04, 0x40};

std::optional<crypto::Curve> CurveOfAlg(crypto::SignAlg a) {
  switch (a) {
    case crypto::SignAlg::kEs256:
      return crypto::Curve::kP256;
    case crypto::SignAlg::kEs384:
      return crypto::Curve::kP384;
    case crypto::SignAlg::kEs512:
      return crypto::Curve::kP521;
    case crypto::SignAlg::kEs256k:
      return crypto::Curve::kSecp256k1;
    default:
      return std::nullopt;
  }
}

std::vector<uint8_t> Concat(std::span<const uint8_t> a,
                            std::span<const uint8_t> b) {
  std::vector<uint8_t> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// RSA1_5 implicit rejection in the token: the key derivation key is
//   HMAC-SHA256(master MAC key, "KFIR1" || u32be(len(n)) || n || C)
// for the key's modulus n (minimal big-endian) and the k-octet ciphertext C:
// secret (only the token can compute it), one per key and ciphertext, and
// apart from every other use of the MAC key by its prefix. n rather than the
// binding, so that the answers stay those of the key when a backup is
// restored into another vault (Rebind), as d makes them in software.
constexpr char kKdkPrefix[] = "KFIR1";

std::vector<uint8_t> KdkInput(std::span<const uint8_t> n,
                              std::span<const uint8_t> c) {
  return LengthPrefixed(kKdkPrefix).Add(n).Raw(c).Take();
}

// Stale tells whether a failure means the token no longer knows our
// session or object handles (it was reset, or every session was closed),
// rather than anything about the request.
bool Stale(const absl::Status& s) {
  const std::optional<unsigned long> ckr = hsm::GetCkr(s);
  return ckr &&
         (*ckr == CKR_OBJECT_HANDLE_INVALID || *ckr == CKR_KEY_HANDLE_INVALID ||
          *ckr == CKR_SESSION_HANDLE_INVALID || *ckr == CKR_SESSION_CLOSED ||
          *ckr == CKR_USER_NOT_LOGGED_IN);
}

// TokenFault tells whether a failed token call is the token's or
// keyferryd's fault (a lost session, a device or memory error, a missing
// token), which the client must not be told is its own. Anything else a
// C_UnwrapKey or C_Decrypt of client data returns (SoftHSM answers
// CKR_GENERAL_ERROR to a ciphertext that does not decrypt) is about the
// data.
bool TokenFault(const absl::Status& s) {
  const std::optional<unsigned long> ckr = hsm::GetCkr(s);
  if (!ckr) return s.code() != absl::StatusCode::kInvalidArgument;
  if (Stale(s)) return true;
  switch (*ckr) {
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_COUNT:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_FUNCTION_CANCELED:
    case CKR_OPERATION_ACTIVE:
    case CKR_BUFFER_TOO_SMALL:
      return true;
    default:
      return false;
  }
}

// AsTokenFault answers a token fault as Unavailable (the token, not the
// request, failed) with the step named.
absl::Status AsTokenFault(const absl::Status& s, std::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("the token failed while ", Sv(what), ": ", s.message()));
}

// The token's own words travel in errors (CKR names are not secret), under
// a sentence that says which step failed.
absl::Status Step(const absl::Status& s, std::string_view what) {
  return absl::Status(s.code(), absl::StrCat(Sv(what), ": ", s.message()));
}

// Templates. Every attribute is explicit: token defaults are unsafe.
hsm::Template PrivateTemplate(KeyKind kind, bool extractable) {
  hsm::Template t = {
      Attr::Ulong(CKA_CLASS, CKO_PRIVATE_KEY),
      Attr::Ulong(CKA_KEY_TYPE, kind == KeyKind::kRsa ? CKK_RSA : CKK_EC),
      Attr::Bool(CKA_TOKEN, false),
      Attr::Bool(CKA_PRIVATE, true),
      Attr::Bool(CKA_SENSITIVE, true),
      Attr::Bool(CKA_EXTRACTABLE, extractable),
      Attr::Bool(CKA_SIGN, true),
      Attr::Bool(CKA_DECRYPT, kind == KeyKind::kRsa),
      Attr::Bool(CKA_UNWRAP, kind == KeyKind::kRsa),
      Attr::Bool(CKA_DERIVE, false),
  };
  return t;
}

hsm::Template SecretTemplate(bool extractable) {
  return {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
          Attr::Ulong(CKA_KEY_TYPE, CKK_AES),
          Attr::Bool(CKA_TOKEN, false),
          Attr::Bool(CKA_PRIVATE, true),
          Attr::Bool(CKA_SENSITIVE, true),
          Attr::Bool(CKA_EXTRACTABLE, extractable),
          Attr::Bool(CKA_ENCRYPT, true),
          Attr::Bool(CKA_DECRYPT, true),
          Attr::Bool(CKA_WRAP, true),
          Attr::Bool(CKA_UNWRAP, true),
          Attr::Bool(CKA_SIGN, false),
          Attr::Bool(CKA_VERIFY, false),
          Attr::Bool(CKA_DERIVE, false)};
}

// A data object for wrapKey/unwrapKey of caller data: the caller's bytes,
// not vault key material, so it is neither sensitive nor kept.
hsm::Template DataTemplate() {
  return {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
          Attr::Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
          Attr::Bool(CKA_TOKEN, false),
          Attr::Bool(CKA_PRIVATE, true),
          Attr::Bool(CKA_SENSITIVE, false),
          Attr::Bool(CKA_EXTRACTABLE, true),
          Attr::Bool(CKA_ENCRYPT, false),
          Attr::Bool(CKA_DECRYPT, false),
          Attr::Bool(CKA_SIGN, false),
          Attr::Bool(CKA_VERIFY, false),
          Attr::Bool(CKA_WRAP, false),
          Attr::Bool(CKA_UNWRAP, false),
          Attr::Bool(CKA_DERIVE, false)};
}

absl::StatusOr<crypto::Curve> CurveFromParams(std::span<const uint8_t> der) {
  for (crypto::Curve c : {crypto::Curve::kP256, crypto::Curve::kP384,
                          crypto::Curve::kP521, crypto::Curve::kSecp256k1}) {
    std::span<const uint8_t> oid = hsm::CurveOidDer(c);
    if (std::equal(oid.begin(), oid.end(), der.begin(), der.end())) return c;
  }
  return absl::InvalidArgumentError(
      "the EC key is on a curve keyferryd does not support");
}

// EcPointBytes strips the DER OCTET STRING a token wraps CKA_EC_POINT in.
std::span<const uint8_t> EcPointBytes(std::span<const uint8_t> v,
                                      size_t field_bytes) {
  const size_t raw = 1 + 2 * field_bytes;
  if (v.size() == raw && v[0] == 0x04) return v;
  if (v.size() > 2 && v[0] == 0x04) {
    size_t len = 0, off = 2;
    if (v[1] < 0x80) {
      len = v[1];
    } else if (v[1] == 0x81 && v.size() > 3) {
      len = v[2];
      off = 3;
    }
    if (len == raw && off + len == v.size()) return v.subspan(off);
  }
  return {};
}

}  // namespace

// Lease: a session borrowed from the pool for one operation.
class Pkcs11Custody::Lease {
 public:
  Lease(Pkcs11Custody* c, std::unique_ptr<Session> s)
      : c_(c), s_(std::move(s)) {}
  ~Lease() {
    if (s_) c_->Return(std::move(s_));
  }
  Session& operator*() { return *s_; }
  // Discard closes the session instead of returning it to the pool.
  void Discard() {
    if (!s_) return;
    s_.reset();
    std::lock_guard<std::mutex> lock(c_->pool_mu_);
    --c_->open_sessions_;
    c_->pool_cv_.notify_one();
  }

 private:
  Pkcs11Custody* c_;
  std::unique_ptr<Session> s_;
};

// Resident: a session object unwrapped from a blob. The last holder's
// release destroys it through the janitor session.
class Pkcs11Custody::Resident {
 public:
  Resident(Pkcs11Custody* c, ObjectHandle h) : c_(c), h_(h) {}
  ~Resident() {
    // A handle the token lost may since name another object: never destroy.
    if (lost_) return;
    std::lock_guard<std::mutex> lock(c_->janitor_mu_);
    if (c_->janitor_) {
      absl::Status s = c_->janitor_->Destroy(h_);
      if (!s.ok() && !Stale(s)) {
        Log(LogLevel::kWarning, "pkcs11_destroy_failed",
            {{"error", std::string(s.message())}});
      }
    }
  }
  ObjectHandle handle() const { return h_; }
  void MarkLost() { lost_ = true; }

 private:
  Pkcs11Custody* c_;
  ObjectHandle h_;
  std::atomic<bool> lost_{false};
};

struct Pkcs11Custody::Cache {
  using Entry = std::pair<std::string, std::shared_ptr<Resident>>;
  std::list<Entry> lru;  // key: u32 len(binding) | binding | sealed
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index;
};

namespace {
std::string CacheKey(std::span<const uint8_t> binding,
                     std::span<const uint8_t> sealed) {
  std::string k;
  k.reserve(4 + binding.size() + sealed.size());
  const uint32_t n = static_cast<uint32_t>(binding.size());
  k.push_back(static_cast<char>(n >> 24));
  k.push_back(static_cast<char>(n >> 16));
  k.push_back(static_cast<char>(n >> 8));
  k.push_back(static_cast<char>(n));
  k.append(reinterpret_cast<const char*>(binding.data()), binding.size());
  k.append(reinterpret_cast<const char*>(sealed.data()), sealed.size());
  return k;
}
}  // namespace

absl::StatusOr<std::unique_ptr<Pkcs11Custody>> Pkcs11Custody::Open(
    Pkcs11Options o) {
  if (o.module_path.empty()) {
    return absl::InvalidArgumentError("the PKCS#11 custody needs a module");
  }
  if (o.token_label.empty()) {
    return absl::InvalidArgumentError("the PKCS#11 custody needs a token");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<hsm::Module> module,
                   hsm::Module::Load(o.module_path));
  std::unique_ptr<Pkcs11Custody> c(new Pkcs11Custody(std::move(module)));
  c->pin_ = std::move(o.pin);
  c->max_sessions_ = std::max<size_t>(o.sessions, 2);
  c->cached_keys_ = o.cached_keys;
  ASSIGN_OR_RETURN(c->slot_, c->module_->FindSlotByTokenLabel(o.token_label));
  ASSIGN_OR_RETURN(hsm::TokenInfo ti, c->module_->GetTokenInfo(c->slot_));
  c->platform_ = absl::StrCat("PKCS#11 token '", ti.label, "' (",
                              ti.manufacturer, " ", ti.model, ", serial ",
                              ti.serial, ") via ", c->module_->description());
  ASSIGN_OR_RETURN(c->janitor_, Session::Open(*c->module_, c->slot_, c->pin_));
  {
    ASSIGN_OR_RETURN(std::unique_ptr<Session> s, c->Borrow());
    Lease lease(c.get(), std::move(s));
    RETURN_IF_ERROR(c->FindOrCreateMasterKeys(*lease, o.master_keys));
    RETURN_IF_ERROR(c->Probe(*lease));
  }
  return c;
}

Pkcs11Custody::Pkcs11Custody(std::unique_ptr<hsm::Module> module)
    : module_(std::move(module)), cache_(std::make_unique<Cache>()) {}

Pkcs11Custody::~Pkcs11Custody() {
  cache_.reset();
  {
    std::lock_guard<std::mutex> lock(janitor_mu_);
    janitor_.reset();
  }
  idle_.clear();
}

absl::StatusOr<std::unique_ptr<Session>> Pkcs11Custody::Borrow(bool check) {
  std::unique_lock<std::mutex> lock(pool_mu_);
  pool_cv_.wait(
      lock, [&] { return !idle_.empty() || open_sessions_ < max_sessions_; });
  if (!idle_.empty()) {
    std::unique_ptr<Session> s = std::move(idle_.back());
    idle_.pop_back();
    if (!check) return s;
    lock.unlock();
    if (s->IsAlive()) return s;
    s.reset();
    lock.lock();
    --open_sessions_;
    lock.unlock();
    TokenLost();
    return Borrow(false);
  }
  ++open_sessions_;
  lock.unlock();
  absl::StatusOr<std::unique_ptr<Session>> s =
      Session::Open(*module_, slot_, pin_);
  if (!s.ok()) {
    lock.lock();
    --open_sessions_;
    pool_cv_.notify_one();
    return Step(s.status(), "opening a session on the token");
  }
  return s;
}

void Pkcs11Custody::Return(std::unique_ptr<Session> s) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  idle_.push_back(std::move(s));
  pool_cv_.notify_one();
}

absl::Status Pkcs11Custody::FindOrCreateMasterKeys(Session& s,
                                                   MasterKeyPolicy policy) {
  // Reconcile: transient token objects an interrupted operation left.
  ASSIGN_OR_RETURN(std::vector<ObjectHandle> all,
                   s.Find({Attr::Bool(CKA_TOKEN, true)}));
  for (ObjectHandle h : all) {
    absl::StatusOr<std::vector<uint8_t>> label = s.GetAttribute(h, CKA_LABEL);
    if (!label.ok()) continue;
    if (AsString(*label).starts_with(kTransientPrefix)) {
      RETURN_IF_ERROR(s.Destroy(h));
      ++reconciled_;
    }
  }
  if (reconciled_ > 0) {
    Log(LogLevel::kWarning, "pkcs11_reconciled",
        {{"removed", std::to_string(reconciled_)},
         {"what", "transient token objects left by an interrupted operation"}});
  }

  // Each master key is found by label or generated: 32 bytes, sensitive,
  // non-extractable, non-modifiable, private, with exactly the usages
  // named. Two keys under one label (a second node racing the first start)
  // are an error for the operator, never a guess.
  auto ensure = [&](const char* label, CK_KEY_TYPE type,
                    std::initializer_list<uint64_t> usages,
                    std::optional<Attr> extra) -> absl::StatusOr<ObjectHandle> {
    ASSIGN_OR_RETURN(
        std::vector<ObjectHandle> h,
        s.Find({Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
                Attr::Ulong(CKA_KEY_TYPE, type), Attr::String(CKA_LABEL, label),
                Attr::Bool(CKA_TOKEN, true)}));
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
    hsm::Template t = {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
                       Attr::Ulong(CKA_KEY_TYPE, type),
                       Attr::String(CKA_LABEL, label),
                       Attr::Bool(CKA_TOKEN, true),
                       Attr::Bool(CKA_PRIVATE, true),
                       Attr::Bool(CKA_SENSITIVE, true),
                       Attr::Bool(CKA_EXTRACTABLE, false),
                       Attr::Bool(CKA_MODIFIABLE, false),
                       Attr::Bool(CKA_DERIVE, false),
                       Attr::Ulong(CKA_VALUE_LEN, 32)};
    for (uint64_t a : {CKA_WRAP, CKA_UNWRAP, CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN,
                       CKA_VERIFY}) {
      t.push_back(Attr::Bool(
          a, std::find(usages.begin(), usages.end(), a) != usages.end()));
    }
    if (extra) t.push_back(std::move(*extra));
    ASSIGN_OR_RETURN(
        ObjectHandle made,
        s.GenerateKey(
            {type == CKK_AES ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN},
            t));
    Log(LogLevel::kInfo, "pkcs11_master_key_created", {{"label", label}});
    return made;
  };

  // The wrapping key: whatever it unwraps is a sensitive, non-extractable
  // session object (CKA_UNWRAP_TEMPLATE), so a key once stored can never
  // be wrapped out of the token again.
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE unwrap_template[] = {
      {CKA_TOKEN, &no, sizeof no},
      {CKA_SENSITIVE, &yes, sizeof yes},
      {CKA_EXTRACTABLE, &no, sizeof no},
  };
  ASSIGN_OR_RETURN(
      wrap_key_,
      ensure(kWrapLabel, CKK_AES, {CKA_WRAP, CKA_UNWRAP},
             Attr::Bytes(CKA_UNWRAP_TEMPLATE,
                         std::span<const uint8_t>(
                             reinterpret_cast<uint8_t*>(unwrap_template),
                             sizeof unwrap_template))));
  ASSIGN_OR_RETURN(mac_key_, ensure(kMacLabel, CKK_GENERIC_SECRET,
                                    {CKA_SIGN, CKA_VERIFY}, std::nullopt));
  ASSIGN_OR_RETURN(
      backup_key_,
      ensure(kBackupLabel, CKK_AES, {CKA_ENCRYPT, CKA_DECRYPT}, std::nullopt));
  return absl::OkStatus();
}

absl::Status Pkcs11Custody::Probe(Session& s) {
  const std::string name = platform_;
  auto need = [&](uint64_t mech, const char* what) -> absl::Status {
    absl::StatusOr<hsm::MechanismInfo> m = module_->GetMechanism(slot_, mech);
    if (!m.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the token does not offer ", hsm::MechanismName(mech),
                       ", which keyferryd needs for ", what));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(
      need(CKM_AES_KEY_WRAP_PAD, "keeping keys under the master key"));
  RETURN_IF_ERROR(need(CKM_RSA_PKCS_OAEP, "BYOK import"));
  RETURN_IF_ERROR(need(CKM_SHA256_HMAC, "binding keys to their names"));
  RETURN_IF_ERROR(need(CKM_RSA_PKCS, "RS256/RS384/RS512"));
  RETURN_IF_ERROR(need(CKM_ECDSA, "ES256/ES384/ES512/ES256K"));

  // RFC 5649: unwrap must be right; a wrap that zero-pads (SoftHSM 2.6.1)
  // is tolerated for the master key because unwrap then yields the key
  // with trailing zero bytes that the token's own PKCS#8 parser ignores
  // (checked below by a full round trip), and refused for caller data.
  byok::HsmToken token(s, platform_);
  ASSIGN_OR_RETURN(byok::Token::KwpProbe kwp,
                   token.ProbeKwp(CKM_AES_KEY_WRAP_PAD));
  if (!kwp.unwrap_ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token's RFC 5649 unwrap fails its known-answer test: ",
        kwp.detail));
  }
  limits_.kwp_wrap_defect = kwp.padding_defect;
  if (!kwp.wrap_ok && !kwp.padding_defect) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token's RFC 5649 wrap fails its known-answer test: ", kwp.detail));
  }
  if (kwp.padding_defect) {
    limits_.notes.push_back(
        "RFC 5649 wrap zero-pads its input (SoftHSM 2.6.1 defect): "
        "CKM_AES_KEY_WRAP_PAD of data that is not a multiple of 8 bytes is "
        "refused");
  }
  absl::StatusOr<hsm::MechanismInfo> rsa_aes =
      module_->GetMechanism(slot_, CKM_RSA_AES_KEY_WRAP);
  limits_.rsa_aes_key_wrap = rsa_aes.ok() && rsa_aes->unwrap;

  // A throwaway RSA-2048 pair for the RSA known-answer tests.
  hsm::KeySpec spec;
  spec.kind = crypto::KeyType::kRsa;
  spec.bits = 2048;
  spec.flags = hsm::DefaultFlags(crypto::KeyType::kRsa);
  spec.flags.token = false;
  spec.flags.extractable = false;
  spec.flags.unwrap = true;
  ASSIGN_OR_RETURN(SecretBytes label_bytes, crypto::RandomSecret(8));
  spec.label = absl::StrCat(kTransientPrefix, "probe-",
                            HexEncode(label_bytes.data(SecretAccess::Get())));
  ASSIGN_OR_RETURN(hsm::GeneratedKey probe, hsm::GenerateKey(s, spec));
  ASSIGN_OR_RETURN(std::vector<uint8_t> n,
                   s.GetAttribute(probe.private_or_secret, CKA_MODULUS));
  ASSIGN_OR_RETURN(
      std::vector<uint8_t> e,
      s.GetAttribute(probe.private_or_secret, CKA_PUBLIC_EXPONENT));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub, crypto::RsaPublicFromParts(n, e));
  ASSIGN_OR_RETURN(SecretBytes msg, crypto::RandomSecret(32));
  {
    ASSIGN_OR_RETURN(
        std::vector<uint8_t> ct,
        crypto::RsaOaepEncrypt(pub.get(), crypto::OaepHash::kSha256,
                               msg.data(SecretAccess::Get())));
    CK_RSA_PKCS_OAEP_PARAMS p = Oaep(true);
    absl::StatusOr<SecretBytes> pt = s.Decrypt(
        {CKM_RSA_PKCS_OAEP, &p, sizeof p}, probe.private_or_secret, ct);
    limits_.oaep_sha256 = pt.ok() && pt->ConstantTimeEquals(msg);
    if (!limits_.oaep_sha256) {
      limits_.notes.push_back(
          "RSA-OAEP-256 is not available: the token's RSA-OAEP is SHA-1 only");
    }
  }
  {
    ASSIGN_OR_RETURN(std::vector<uint8_t> ct,
                     crypto::RsaOaepEncrypt(pub.get(), crypto::OaepHash::kSha1,
                                            msg.data(SecretAccess::Get())));
    CK_RSA_PKCS_OAEP_PARAMS p = Oaep(false);
    ASSIGN_OR_RETURN(SecretBytes pt,
                     s.Decrypt({CKM_RSA_PKCS_OAEP, &p, sizeof p},
                               probe.private_or_secret, ct));
    if (!pt.ConstantTimeEquals(msg)) {
      return absl::FailedPreconditionError(
          "the token's RSA-OAEP-SHA1 decrypt fails its known-answer test");
    }
  }
  {
    // Raw RSA (CKM_RSA_X_509), which RSA1_5 decryption with implicit
    // rejection needs: an OpenSSL PKCS#1 v1.5 ciphertext comes back as an
    // encoded message that decodes to the message.
    ASSIGN_OR_RETURN(
        std::vector<uint8_t> ct,
        crypto::RsaPkcs1Encrypt(pub.get(), msg.data(SecretAccess::Get())));
    absl::StatusOr<SecretBytes> em =
        s.Decrypt({CKM_RSA_X_509}, probe.private_or_secret, ct);
    const SecretBytes no_kdk(crypto::kImplicitRejectionKdkBytes);
    absl::StatusOr<SecretBytes> pt =
        em.ok() ? crypto::RsaPkcs1DecodeImplicitRejection(*em, no_kdk)
                : absl::StatusOr<SecretBytes>(em.status());
    limits_.rsa_raw = pt.ok() && pt->ConstantTimeEquals(msg);
    if (!limits_.rsa_raw) {
      limits_.notes.push_back(absl::StrCat(
          "RSA1_5 decryption is not available: the token's raw RSA "
          "(CKM_RSA_X_509) fails its known-answer test",
          em.ok() ? "" : absl::StrCat(" (", em.status().message(), ")")));
    }
  }
  (void)s.Destroy(probe.private_or_secret);
  if (probe.public_key) (void)s.Destroy(*probe.public_key);

  // AES-GCM against OpenSSL's answer for the same key and nonce.
  {
    absl::StatusOr<hsm::MechanismInfo> gcm =
        module_->GetMechanism(slot_, CKM_AES_GCM);
    limits_.aes_gcm = gcm.ok() && gcm->encrypt && gcm->decrypt;
    if (!limits_.aes_gcm) {
      limits_.notes.push_back(
          "AES-GCM is not available: the token lacks CKM_AES_GCM");
    }
  }
  {
    hsm::KeySpec k1;
    k1.kind = crypto::KeyType::kEc;
    k1.curve = crypto::Curve::kSecp256k1;
    k1.flags = hsm::DefaultFlags(crypto::KeyType::kEc);
    k1.flags.token = false;
    k1.label = absl::StrCat(spec.label, "-k1");
    absl::StatusOr<hsm::GeneratedKey> g = hsm::GenerateKey(s, k1);
    limits_.secp256k1 = g.ok();
    if (g.ok()) {
      (void)s.Destroy(g->private_or_secret);
      if (g->public_key) (void)s.Destroy(*g->public_key);
    } else {
      limits_.notes.push_back(
          "EC keys on secp256k1 (P-256K) are not available on this token");
    }
  }
  for (const std::string& note : limits_.notes) {
    Log(LogLevel::kInfo, "pkcs11_limit", {{"limit", note}});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::Mac(
    Session& s, std::span<const uint8_t> header,
    std::span<const uint8_t> binding, std::span<const uint8_t> wrapped) {
  std::vector<uint8_t> in(header.begin(), header.end());
  const uint32_t n = static_cast<uint32_t>(binding.size());
  for (int shift : {24, 16, 8, 0})
    in.push_back(static_cast<uint8_t>(n >> shift));
  in.insert(in.end(), binding.begin(), binding.end());
  in.insert(in.end(), wrapped.begin(), wrapped.end());
  return s.Sign({CKM_SHA256_HMAC}, mac_key_, in);
}

absl::StatusOr<HeldKey> Pkcs11Custody::Hold(Session& s, ObjectHandle obj,
                                            HeldKey held,
                                            std::span<const uint8_t> binding) {
  absl::StatusOr<std::vector<uint8_t>> wrapped =
      s.WrapKey({CKM_AES_KEY_WRAP_PAD}, wrap_key_, obj);
  (void)s.Destroy(obj);
  if (!wrapped.ok()) {
    return Step(wrapped.status(), "wrapping the key under the master key");
  }
  std::vector<uint8_t> header = Header(held);
  ASSIGN_OR_RETURN(std::vector<uint8_t> mac, Mac(s, header, binding, *wrapped));
  held.sealed = header;
  held.sealed.insert(held.sealed.end(), mac.begin(), mac.end());
  held.sealed.insert(held.sealed.end(), wrapped->begin(), wrapped->end());
  return held;
}

absl::StatusOr<HeldKey> Pkcs11Custody::HoldWithPublic(
    Session& s, ObjectHandle obj, HeldKey held,
    absl::StatusOr<crypto::EvpPkeyPtr> pub, std::span<const uint8_t> binding) {
  absl::StatusOr<std::string> jwk =
      pub.ok() ? crypto::PublicKeyToJwk(pub->get())
               : absl::StatusOr<std::string>(pub.status());
  if (!jwk.ok()) {
    (void)s.Destroy(obj);
    return jwk.status();
  }
  held.public_jwk = std::move(*jwk);
  return Hold(s, obj, std::move(held), binding);
}

absl::Status Pkcs11Custody::CheckBlob(Session& s, const HeldKey& key,
                                      std::span<const uint8_t> binding) {
  const std::vector<uint8_t> header = Header(key);
  const auto& b = key.sealed;
  if (b.size() < kHeaderBytes + kMacBytes + 16 ||
      !std::equal(header.begin(), header.end(), b.begin())) {
    return absl::DataLossError(
        "sealed key material is not a PKCS#11 custody blob for this key type");
  }
  std::span<const uint8_t> all(b);
  std::span<const uint8_t> mac = all.subspan(kHeaderBytes, kMacBytes);
  std::span<const uint8_t> wrapped = all.subspan(kHeaderBytes + kMacBytes);
  std::vector<uint8_t> in(header.begin(), header.end());
  const uint32_t n = static_cast<uint32_t>(binding.size());
  for (int shift : {24, 16, 8, 0})
    in.push_back(static_cast<uint8_t>(n >> shift));
  in.insert(in.end(), binding.begin(), binding.end());
  in.insert(in.end(), wrapped.begin(), wrapped.end());
  absl::Status v = s.Verify({CKM_SHA256_HMAC}, mac_key_, in, mac);
  if (v.code() == absl::StatusCode::kInvalidArgument) {
    return absl::DataLossError(
        "sealed key material does not verify under this token's master key "
        "for this key (damaged, moved, or another deployment's)");
  }
  return v;
}

absl::StatusOr<std::shared_ptr<Pkcs11Custody::Resident>> Pkcs11Custody::Use(
    Session& s, const HeldKey& key, std::span<const uint8_t> binding) {
  std::string ck = CacheKey(binding, key.sealed);
  if (cached_keys_ > 0) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto hit = cache_->index.find(ck);
    if (hit != cache_->index.end()) {
      cache_->lru.splice(cache_->lru.end(), cache_->lru, hit->second);
      return hit->second->second;
    }
  }
  RETURN_IF_ERROR(CheckBlob(s, key, binding));
  std::span<const uint8_t> wrapped =
      std::span<const uint8_t>(key.sealed).subspan(kHeaderBytes + kMacBytes);
  hsm::Template t = key.kind == KeyKind::kOct
                        ? SecretTemplate(false)
                        : PrivateTemplate(key.kind, false);
  absl::StatusOr<ObjectHandle> h =
      s.UnwrapKey({CKM_AES_KEY_WRAP_PAD}, wrap_key_, wrapped, t);
  if (!h.ok()) {
    if (Stale(h.status())) return h.status();
    return absl::DataLossError(
        absl::StrCat("the token could not unwrap this key's material: ",
                     h.status().message()));
  }
  auto r = std::make_shared<Resident>(this, *h);
  if (cached_keys_ > 0) {
    // `evicted` is released after the lock (its destructor takes the
    // janitor lock, never the cache lock).
    std::shared_ptr<Resident> evicted;
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_->index.count(ck) != 0) return r;  // another thread won
    if (cache_->lru.size() >= cached_keys_) {
      evicted = std::move(cache_->lru.front().second);
      cache_->index.erase(cache_->lru.front().first);
      cache_->lru.pop_front();
    }
    cache_->lru.emplace_back(std::move(ck), r);
    auto last = std::prev(cache_->lru.end());
    cache_->index.emplace(last->first, last);
  }
  return r;
}

absl::StatusOr<std::string> Pkcs11Custody::EcPublicJwk(Session& s,
                                                       ObjectHandle priv,
                                                       crypto::Curve curve) {
  const size_t n = curve == crypto::Curve::kP521   ? 64
                   : curve == crypto::Curve::kP384 ? 48
                                                   : 32;
  ASSIGN_OR_RETURN(std::vector<uint8_t> d1, crypto::RandomBytes(n));
  ASSIGN_OR_RETURN(std::vector<uint8_t> d2, crypto::RandomBytes(n));
  ASSIGN_OR_RETURN(std::vector<uint8_t> s1, s.Sign({CKM_ECDSA}, priv, d1));
  ASSIGN_OR_RETURN(std::vector<uint8_t> s2, s.Sign({CKM_ECDSA}, priv, d2));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                   crypto::RecoverEcPublicKey(curve, d1, s1, d2, s2));
  return crypto::PublicKeyToJwk(pub.get());
}

absl::StatusOr<HeldKey> Pkcs11Custody::Generate(
    const KeyRequest& r, std::span<const uint8_t> binding) {
  RETURN_IF_ERROR(CheckKeyRequest(r));
  ASSIGN_OR_RETURN(std::unique_ptr<Session> ss, Borrow(/*check=*/true));
  Lease lease(this, std::move(ss));
  Session& s = *lease;
  HeldKey held;
  held.kind = r.kind;
  switch (r.kind) {
    case KeyKind::kRsa: {
      std::vector<uint8_t> e;
      for (int shift : {24, 16, 8, 0}) {
        uint8_t b = static_cast<uint8_t>(r.public_exponent >> shift);
        if (!e.empty() || b != 0) e.push_back(b);
      }
      hsm::Template pub = {Attr::Bool(CKA_TOKEN, false),
                           Attr::Bool(CKA_ENCRYPT, false),
                           Attr::Bool(CKA_VERIFY, false),
                           Attr::Bool(CKA_WRAP, false),
                           Attr::Ulong(CKA_MODULUS_BITS, r.bits),
                           Attr::Bytes(CKA_PUBLIC_EXPONENT, e)};
      hsm::Template priv = PrivateTemplate(KeyKind::kRsa, true);
      priv.erase(priv.begin(), priv.begin() + 2);  // class/type: implied
      ASSIGN_OR_RETURN(
          auto pair, s.GenerateKeyPair({CKM_RSA_PKCS_KEY_PAIR_GEN}, pub, priv));
      (void)s.Destroy(pair.first);
      held.bits = r.bits;
      absl::StatusOr<std::vector<uint8_t>> n =
          s.GetAttribute(pair.second, CKA_MODULUS);
      absl::StatusOr<crypto::EvpPkeyPtr> pk =
          n.ok() ? crypto::RsaPublicFromParts(*n, e)
                 : absl::StatusOr<crypto::EvpPkeyPtr>(n.status());
      return HoldWithPublic(s, pair.second, std::move(held), std::move(pk),
                            binding);
    }
    case KeyKind::kEc: {
      if (*r.curve == crypto::Curve::kSecp256k1 && !limits_.secp256k1) {
        return absl::InvalidArgumentError(
            absl::StrCat("P-256K keys are not available: ", platform_,
                         " cannot generate secp256k1 keys"));
      }
      hsm::Template pub = {
          Attr::Bool(CKA_TOKEN, false), Attr::Bool(CKA_VERIFY, false),
          Attr::Bytes(CKA_EC_PARAMS, hsm::CurveOidDer(*r.curve))};
      hsm::Template priv = PrivateTemplate(KeyKind::kEc, true);
      priv.erase(priv.begin(), priv.begin() + 2);
      ASSIGN_OR_RETURN(auto pair,
                       s.GenerateKeyPair({CKM_EC_KEY_PAIR_GEN}, pub, priv));
      absl::StatusOr<std::vector<uint8_t>> point =
          s.GetAttribute(pair.first, CKA_EC_POINT);
      (void)s.Destroy(pair.first);
      held.curve = r.curve;
      held.bits = crypto::CurveBits(*r.curve);
      const size_t fb = static_cast<size_t>(crypto::CurveFieldBytes(*r.curve));
      std::span<const uint8_t> raw =
          point.ok() ? EcPointBytes(*point, fb) : std::span<const uint8_t>();
      if (raw.empty()) {
        (void)s.Destroy(pair.second);
        return absl::InternalError("the token returned no usable EC point");
      }
      absl::StatusOr<crypto::EvpPkeyPtr> pk = crypto::EcPublicFromParts(
          *r.curve, raw.subspan(1, fb), raw.subspan(1 + fb, fb));
      return HoldWithPublic(s, pair.second, std::move(held), std::move(pk),
                            binding);
    }
    case KeyKind::kOct: {
      hsm::Template t = SecretTemplate(true);
      t.push_back(Attr::Ulong(CKA_VALUE_LEN, r.bits / 8));
      absl::StatusOr<ObjectHandle> h = s.GenerateKey({CKM_AES_KEY_GEN}, t);
      if (!h.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("this HSM cannot generate a ", r.bits,
                         "-bit AES key: ", h.status().message()));
      }
      held.bits = r.bits;
      return Hold(s, *h, std::move(held), binding);
    }
  }
  return absl::InternalError("unreachable");
}

absl::StatusOr<HeldKey> Pkcs11Custody::ImportPrivate(
    EVP_PKEY* key, std::span<const uint8_t> binding) {
  // The plaintext arrived over the API (JWK import): it goes into the token
  // as an extractable session object only long enough to be wrapped.
  ASSIGN_OR_RETURN(crypto::KeyDescription d, crypto::Describe(key));
  if (!d.has_private) {
    return absl::InvalidArgumentError("key has no private part");
  }
  if (d.curve == crypto::Curve::kSecp256k1 && !limits_.secp256k1) {
    return absl::InvalidArgumentError(
        absl::StrCat("P-256K keys are not available: ", platform_,
                     " does not support secp256k1"));
  }
  HeldKey held;
  held.kind = d.type == crypto::KeyType::kRsa ? KeyKind::kRsa : KeyKind::kEc;
  held.bits = d.bits;
  held.curve = d.curve;
  ASSIGN_OR_RETURN(held.public_jwk, crypto::PublicKeyToJwk(key));
  ASSIGN_OR_RETURN(SecretBytes p8, crypto::PrivateKeyToPkcs8Der(key));
  ASSIGN_OR_RETURN(std::unique_ptr<Session> ss, Borrow(/*check=*/true));
  Lease lease(this, std::move(ss));
  Session& s = *lease;
  // Into the token through an ephemeral AES key: C_UnwrapKey parses the
  // PKCS#8 inside the token, so no private component is set attribute by
  // attribute. The ephemeral key is a known-value session object that lives
  // for this call only.
  ASSIGN_OR_RETURN(SecretBytes ek, crypto::RandomSecret(32));
  hsm::Template et = SecretTemplate(true);
  et.push_back(Attr::Secret(CKA_VALUE, ek));
  ASSIGN_OR_RETURN(ObjectHandle eh, s.CreateObject(et));
  absl::StatusOr<std::vector<uint8_t>> wrapped = crypto::KwpWrap(ek, p8);
  absl::StatusOr<ObjectHandle> h =
      wrapped.ok() ? s.UnwrapKey({CKM_AES_KEY_WRAP_PAD}, eh, *wrapped,
                                 PrivateTemplate(held.kind, true))
                   : absl::StatusOr<ObjectHandle>(wrapped.status());
  (void)s.Destroy(eh);
  if (!h.ok()) return Step(h.status(), "loading the key into the token");
  return Hold(s, *h, std::move(held), binding);
}

absl::StatusOr<HeldKey> Pkcs11Custody::ImportSecret(
    const SecretBytes& key, std::span<const uint8_t> binding) {
  if (key.size() != 16 && key.size() != 24 && key.size() != 32) {
    return absl::InvalidArgumentError("oct key must be 16, 24 or 32 bytes");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Session> ss, Borrow(/*check=*/true));
  Lease lease(this, std::move(ss));
  Session& s = *lease;
  hsm::Template t = SecretTemplate(true);
  t.push_back(Attr::Secret(CKA_VALUE, key));
  ASSIGN_OR_RETURN(ObjectHandle h, s.CreateObject(t));
  HeldKey held;
  held.kind = KeyKind::kOct;
  held.bits = static_cast<int>(key.size() * 8);
  return Hold(s, h, std::move(held), binding);
}

absl::StatusOr<HeldKey> Pkcs11Custody::ImportByok(
    const HeldKey& kek, std::span<const uint8_t> kek_binding,
    std::span<const uint8_t> ciphertext, const KeyRequest& expected,
    std::span<const uint8_t> binding) {
  if (kek.kind != KeyKind::kRsa) {
    return absl::InvalidArgumentError("the KEK is not an RSA key");
  }
  const size_t k = static_cast<size_t>(kek.bits / 8);
  RETURN_IF_ERROR(byok::CheckCiphertextLength(ciphertext.size(), k));
  ASSIGN_OR_RETURN(std::unique_ptr<Session> ss, Borrow(/*check=*/true));
  Lease lease(this, std::move(ss));
  Session& s = *lease;
  ASSIGN_OR_RETURN(std::shared_ptr<Resident> kek_obj, Use(s, kek, kek_binding));

  hsm::Template target = expected.kind == KeyKind::kOct
                             ? SecretTemplate(true)
                             : PrivateTemplate(expected.kind, true);
  CK_RSA_PKCS_OAEP_PARAMS oaep = Oaep(false);
  absl::StatusOr<ObjectHandle> got;
  if (limits_.rsa_aes_key_wrap) {
    KfRsaAesKeyWrapParams p{256, &oaep};
    got = s.UnwrapKey({CKM_RSA_AES_KEY_WRAP, &p, sizeof p}, kek_obj->handle(),
                      ciphertext, target);
    if (!got.ok()) {
      if (TokenFault(got.status())) {
        return AsTokenFault(got.status(), "unwrapping the BYOK blob");
      }
      return absl::InvalidArgumentError(
          absl::StrCat("the token could not unwrap the BYOK blob with the KEK "
                       "(CKM_RSA_AES_KEY_WRAP): ",
                       got.status().message()));
    }
  } else {
    hsm::Template eph = {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
                         Attr::Ulong(CKA_KEY_TYPE, CKK_AES),
                         Attr::Bool(CKA_TOKEN, false),
                         Attr::Bool(CKA_PRIVATE, true),
                         Attr::Bool(CKA_SENSITIVE, true),
                         Attr::Bool(CKA_EXTRACTABLE, false),
                         Attr::Bool(CKA_UNWRAP, true),
                         Attr::Bool(CKA_WRAP, false),
                         Attr::Bool(CKA_ENCRYPT, false),
                         Attr::Bool(CKA_DECRYPT, false)};
    absl::StatusOr<ObjectHandle> eh =
        s.UnwrapKey({CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep}, kek_obj->handle(),
                    ciphertext.subspan(0, k), eph);
    if (!eh.ok()) {
      if (TokenFault(eh.status())) {
        return AsTokenFault(eh.status(), "decrypting the BYOK transfer key");
      }
      return absl::InvalidArgumentError(
          "the transfer key does not decrypt with the KEK (RSA-OAEP-SHA1 in "
          "the token failed): wrong KEK or damaged blob");
    }
    got =
        s.UnwrapKey({CKM_AES_KEY_WRAP_PAD}, *eh, ciphertext.subspan(k), target);
    (void)s.Destroy(*eh);
    if (!got.ok()) {
      if (TokenFault(got.status())) {
        return AsTokenFault(got.status(), "unwrapping the BYOK target key");
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "the target key does not unwrap as ",
          expected.kind == KeyKind::kOct
              ? "an AES key"
              : absl::StrCat("an ", KeyKindName(expected.kind), " private key"),
          " (RFC 5649 in the token failed): the blob is damaged or kty does "
          "not match the key inside"));
    }
  }
  const ObjectHandle obj = *got;
  auto fail = [&](absl::Status st) {
    (void)s.Destroy(obj);
    return st;
  };
  HeldKey held;
  held.kind = expected.kind;
  if (expected.kind == KeyKind::kOct) {
    // SoftHSM leaves CKA_VALUE_LEN of an unwrapped key unset (0). RFC 5649
    // then bounds the length: the token checked the MLI, which lies in
    // (|C2| - 16, |C2| - 8], a window holding one AES size at most
    // (|C2| - 8). Whether the key is that size and not another length in
    // the window, the token tells by encrypting one block with it: AES
    // refuses keys that are not 16, 24 or 32 bytes.
    absl::StatusOr<uint64_t> len = s.GetUlong(obj, CKA_VALUE_LEN);
    uint64_t bytes = len.ok() ? *len : 0;
    if (bytes == 0) {
      bytes = ciphertext.size() - k - 8;
      const std::vector<uint8_t> block(16, 0);
      if (!s.Encrypt({CKM_AES_ECB}, obj, block).ok()) bytes = 0;
    }
    held.bits = static_cast<int>(bytes * 8);
    if (held.bits != 128 && held.bits != 192 && held.bits != 256) {
      return fail(absl::InvalidArgumentError(absl::StrCat(
          "the AES key in the blob is not 16, 24 or 32 bytes long (",
          held.bits == 0 ? std::string("the token refuses it as an AES key")
                         : absl::StrCat(held.bits, " bits"),
          ")")));
    }
  } else if (expected.kind == KeyKind::kRsa) {
    absl::StatusOr<std::vector<uint8_t>> n = s.GetAttribute(obj, CKA_MODULUS);
    absl::StatusOr<std::vector<uint8_t>> e =
        s.GetAttribute(obj, CKA_PUBLIC_EXPONENT);
    if (!n.ok()) return fail(n.status());
    if (!e.ok()) return fail(e.status());
    size_t lead = 0;
    while (lead < n->size() && (*n)[lead] == 0) ++lead;
    held.bits = static_cast<int>((n->size() - lead) * 8);
    if (absl::Status size = CheckRsaKeySize(held.bits); !size.ok()) {
      return fail(size);
    }
    absl::StatusOr<crypto::EvpPkeyPtr> pk = crypto::RsaPublicFromParts(*n, *e);
    if (!pk.ok()) return fail(pk.status());
    absl::StatusOr<std::string> jwk = crypto::PublicKeyToJwk(pk->get());
    if (!jwk.ok()) return fail(jwk.status());
    held.public_jwk = std::move(*jwk);
  } else {
    absl::StatusOr<std::vector<uint8_t>> params =
        s.GetAttribute(obj, CKA_EC_PARAMS);
    if (!params.ok()) return fail(params.status());
    absl::StatusOr<crypto::Curve> curve = CurveFromParams(*params);
    if (!curve.ok()) return fail(curve.status());
    if (expected.curve && *curve != *expected.curve) {
      return fail(absl::InvalidArgumentError(absl::StrCat(
          "the EC key in the blob is on ", Sv(crypto::CurveJwkName(*curve)),
          ", but crv asks for ", Sv(crypto::CurveJwkName(*expected.curve)))));
    }
    held.curve = *curve;
    held.bits = crypto::CurveBits(*curve);
    absl::StatusOr<std::string> jwk = EcPublicJwk(s, obj, *curve);
    if (!jwk.ok()) return fail(jwk.status());
    held.public_jwk = std::move(*jwk);
  }
  if (expected.bits != 0 && expected.kind != KeyKind::kEc &&
      held.bits != expected.bits) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("the key in the blob has ", held.bits, " bits, but ",
                     expected.bits, " were asked for")));
  }
  return Hold(s, obj, std::move(held), binding);
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::ProtectBackup(
    std::span<const uint8_t> plaintext) {
  if (!limits_.aes_gcm) {
    return absl::FailedPreconditionError(
        "backups need AES-GCM, which this token does not offer");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Session> ss, Borrow(/*check=*/true));
  Lease lease(this, std::move(ss));
  ASSIGN_OR_RETURN(std::vector<uint8_t> iv, crypto::RandomBytes(12));
  CK_GCM_PARAMS p{iv.data(),           iv.size(),
                  iv.size() * 8,       const_cast<uint8_t*>(kBackupMagic),
                  sizeof kBackupMagic, 128};
  ASSIGN_OR_RETURN(
      std::vector<uint8_t> ct,
      (*lease).Encrypt({CKM_AES_GCM, &p, sizeof p}, backup_key_, plaintext));
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
  ASSIGN_OR_RETURN(std::unique_ptr<Session> ss, Borrow(/*check=*/true));
  Lease lease(this, std::move(ss));
  std::vector<uint8_t> iv(b.begin() + 4, b.begin() + 16);
  CK_GCM_PARAMS p{iv.data(),           iv.size(),
                  iv.size() * 8,       const_cast<uint8_t*>(kBackupMagic),
                  sizeof kBackupMagic, 128};
  absl::StatusOr<SecretBytes> pt =
      (*lease).Decrypt({CKM_AES_GCM, &p, sizeof p}, backup_key_, b.subspan(16));
  if (!pt.ok()) return bad();
  return PlainCopy(*pt);
}

void Pkcs11Custody::TokenLost() {
  Log(LogLevel::kWarning, "pkcs11_sessions_lost",
      {{"action", "dropping cached key objects and sessions; reopening"}});
  std::list<Cache::Entry> dropped;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    dropped.swap(cache_->lru);
    cache_->index.clear();
  }
  for (Cache::Entry& e : dropped) e.second->MarkLost();
  {
    std::lock_guard<std::mutex> lock(verified_mu_);
    verified_.clear();
  }
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    open_sessions_ -= idle_.size();
    idle_.clear();
    pool_cv_.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(janitor_mu_);
    janitor_.reset();
    absl::StatusOr<std::unique_ptr<Session>> j =
        Session::Open(*module_, slot_, pin_);
    if (j.ok()) {
      janitor_ = std::move(*j);
      // Token object handles may be numbered anew after a reset.
      absl::Status found =
          FindOrCreateMasterKeys(*janitor_, MasterKeyPolicy::kMustExist);
      if (!found.ok()) {
        Log(LogLevel::kError, "pkcs11_master_keys_lost",
            {{"error", std::string(found.message())}});
      }
    }
  }
}

void Pkcs11Custody::CloseAllSessionsForTest() {
  module_->functions()->C_CloseAllSessions(slot_);
}

template <typename T>
absl::StatusOr<T> Pkcs11Custody::WithKey(
    const HeldKey& key, std::span<const uint8_t> binding,
    const std::function<absl::StatusOr<T>(hsm::Session&, hsm::ObjectHandle)>&
        op) {
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(std::unique_ptr<Session> ss, Borrow());
    Lease lease(this, std::move(ss));
    absl::StatusOr<std::shared_ptr<Resident>> obj = Use(*lease, key, binding);
    if (obj.ok()) {
      absl::StatusOr<T> r = op(*lease, (*obj)->handle());
      if (r.ok() || attempt > 0 || !Stale(r.status())) return r;
    } else if (attempt > 0 || !Stale(obj.status())) {
      return obj.status();
    }
    // Once: the token lost our sessions; start over with fresh ones.
    lease.Discard();
    TokenLost();
  }
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::Sign(
    const HeldKey& key, std::span<const uint8_t> binding, crypto::SignAlg alg,
    std::span<const uint8_t> digest) {
  if (digest.size() != crypto::DigestBytes(alg)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(crypto::SignAlgName(alg)), " signs a ",
                     crypto::DigestBytes(alg), "-byte digest"));
  }
  const std::optional<crypto::Curve> curve = CurveOfAlg(alg);
  if (curve) {
    if (key.kind != KeyKind::kEc || key.curve != curve) {
      return absl::InvalidArgumentError(
          absl::StrCat(Sv(crypto::SignAlgName(alg)), " needs an EC key on ",
                       Sv(crypto::CurveJwkName(*curve))));
    }
  } else if (key.kind != KeyKind::kRsa) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(crypto::SignAlgName(alg)), " needs an RSA key"));
  }
  using Out = std::vector<uint8_t>;
  return WithKey<Out>(
      key, binding, [&](Session& s, ObjectHandle h) -> absl::StatusOr<Out> {
        if (curve) return s.Sign({CKM_ECDSA}, h, digest);
        CK_MECHANISM_TYPE hash = digest.size() == 32   ? CKM_SHA256
                                 : digest.size() == 48 ? CKM_SHA384
                                                       : CKM_SHA512;
        const bool pss = alg == crypto::SignAlg::kPs256 ||
                         alg == crypto::SignAlg::kPs384 ||
                         alg == crypto::SignAlg::kPs512;
        if (pss) {
          CK_RSA_PKCS_MGF_TYPE mgf = digest.size() == 32   ? CKG_MGF1_SHA256
                                     : digest.size() == 48 ? CKG_MGF1_SHA384
                                                           : CKG_MGF1_SHA512;
          CK_RSA_PKCS_PSS_PARAMS p{hash, mgf, digest.size()};
          return s.Sign({CKM_RSA_PKCS_PSS, &p, sizeof p}, h, digest);
        }
        std::span<const uint8_t> info =
            digest.size() == 32   ? std::span<const uint8_t>(kSha256Info)
            : digest.size() == 48 ? std::span<const uint8_t>(kSha384Info)
                                  : std::span<const uint8_t>(kSha512Info);
        return s.Sign({CKM_RSA_PKCS}, h, Concat(info, digest));
      });
}

absl::StatusOr<CipherOutput> Pkcs11Custody::Encrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& in) {
  RETURN_IF_ERROR(CheckCipherFits(key, in.alg));
  CipherOutput out;
  if (in.alg == CipherAlg::kRsaOaep256 && !limits_.oaep_sha256) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA-OAEP-256 is not available on this vault's HSM (",
                     platform_, "): its RSA-OAEP is SHA-1 only; use RSA-OAEP"));
  }
  if (IsRsaCipher(in.alg)) {
    // The public half: the same arithmetic in or out of the token.
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                     crypto::ParsePublicKey(AsBytes(key.public_jwk)));
    ASSIGN_OR_RETURN(out.value, RsaPublicEncrypt(pub.get(), in.alg, in.value));
    return out;
  }
  if (IsAesGcm(in.alg) && !limits_.aes_gcm) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-GCM is not available on this vault's HSM (", platform_, ")"));
  }
  RETURN_IF_ERROR(CheckAesEncryptInput(in));
  if (IsAesCbc(in.alg) && in.value.size() % 16 != 0) {
    return absl::InvalidArgumentError(
        "AES-CBC without padding needs a multiple of 16 bytes");
  }
  if (in.alg == CipherAlg::kCkmAesKeyWrapPad) {
    if (limits_.kwp_wrap_defect && in.value.size() % 8 != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "this vault's HSM (", platform_,
          ") pads RFC 5649 wraps wrongly for input that is not a multiple of "
          "8 bytes (the SoftHSM 2.6.1 defect); wrap a multiple of 8 bytes"));
    }
  }
  // The IV is chosen once, outside a retry, so a retried call reuses it.
  if ((IsAesGcm(in.alg) || IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) &&
      in.iv.empty()) {
    ASSIGN_OR_RETURN(out.iv, crypto::RandomBytes(IsAesGcm(in.alg) ? 12 : 16));
  } else {
    out.iv = in.iv;
  }
  return WithKey<CipherOutput>(
      key, binding,
      [&](Session& s, ObjectHandle obj) -> absl::StatusOr<CipherOutput> {
        CipherOutput result = out;
        if (IsAesGcm(in.alg)) {
          CK_GCM_PARAMS p{
              result.iv.data(),     result.iv.size(),
              result.iv.size() * 8, const_cast<uint8_t*>(in.aad.data()),
              in.aad.size(),        128};
          ASSIGN_OR_RETURN(
              std::vector<uint8_t> ct,
              s.Encrypt({CKM_AES_GCM, &p, sizeof p}, obj, in.value));
          if (ct.size() < 16)
            return absl::InternalError("AES-GCM output too short");
          result.tag.assign(ct.end() - 16, ct.end());
          ct.resize(ct.size() - 16);
          result.value = std::move(ct);
          return result;
        }
        if (IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) {
          ASSIGN_OR_RETURN(
              result.value,
              s.Encrypt({IsAesCbc(in.alg) ? CKM_AES_CBC : CKM_AES_CBC_PAD,
                         result.iv.data(), result.iv.size()},
                        obj, in.value));
          return result;
        }
        // Key wrap of caller data: the data becomes a short-lived session
        // object the oct key wraps (C_WrapKey), as tokens offer AES key wrap
        // for wrap/unwrap only.
        hsm::Template t = DataTemplate();
        t.push_back(Attr::Secret(CKA_VALUE, SecretBytes(in.value)));
        ASSIGN_OR_RETURN(ObjectHandle data, s.CreateObject(t));
        absl::StatusOr<std::vector<uint8_t>> w = s.WrapKey(
            {IsAesKw(in.alg) ? CKM_AES_KEY_WRAP : CKM_AES_KEY_WRAP_PAD}, obj,
            data);
        (void)s.Destroy(data);
        if (!w.ok()) return w.status();
        result.value = std::move(*w);
        return result;
      });
}

absl::StatusOr<CipherOutput> Pkcs11Custody::Decrypt(
    const HeldKey& key, std::span<const uint8_t> binding,
    const CipherInput& in) {
  RETURN_IF_ERROR(CheckCipherFits(key, in.alg));
  if (in.alg == CipherAlg::kRsaOaep256 && !limits_.oaep_sha256) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA-OAEP-256 is not available on this vault's HSM (",
                     platform_, "): its RSA-OAEP is SHA-1 only; use RSA-OAEP"));
  }
  if (IsAesGcm(in.alg) && !limits_.aes_gcm) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-GCM is not available on this vault's HSM (", platform_, ")"));
  }
  RETURN_IF_ERROR(CheckAesDecryptInput(in));
  if (in.alg == CipherAlg::kRsa15) return DecryptRsa15(key, binding, in.value);
  // One fixed message per family, whatever the token said (no oracle).
  const bool kw = IsAesKw(in.alg);
  const char* failed = IsRsaCipher(in.alg) ? "RSA-OAEP decryption failed"
                       : IsAesGcm(in.alg)  ? "AES-GCM authentication failed"
                       : (IsAesCbc(in.alg) || IsAesCbcPad(in.alg))
                           ? "AES-CBC decryption failed"
                       : kw ? "AES-KW unwrap failed: integrity check"
                            : "AES-KWP unwrap failed: integrity check";
  if (!IsRsaCipher(in.alg) && !IsAesGcm(in.alg) && !IsAesCbc(in.alg) &&
      !IsAesCbcPad(in.alg) &&
      ((kw && (in.value.size() < 24 || in.value.size() % 8 != 0)) ||
       (!kw && (in.value.size() < 16 || in.value.size() % 8 != 0)))) {
    return absl::InvalidArgumentError(failed);
  }
  absl::StatusOr<SecretBytes> pt = WithKey<SecretBytes>(
      key, binding,
      [&](Session& s, ObjectHandle obj) -> absl::StatusOr<SecretBytes> {
        absl::StatusOr<SecretBytes> pt;
        if (IsRsaCipher(in.alg)) {
          CK_RSA_PKCS_OAEP_PARAMS p = Oaep(in.alg == CipherAlg::kRsaOaep256);
          pt = s.Decrypt({CKM_RSA_PKCS_OAEP, &p, sizeof p}, obj, in.value);
        } else if (IsAesGcm(in.alg)) {
          std::vector<uint8_t> iv = in.iv;
          CK_GCM_PARAMS p{iv.data(),     iv.size(),
                          iv.size() * 8, const_cast<uint8_t*>(in.aad.data()),
                          in.aad.size(), 128};
          pt = s.Decrypt({CKM_AES_GCM, &p, sizeof p}, obj,
                         Concat(in.value, in.tag));
        } else if (IsAesCbc(in.alg) || IsAesCbcPad(in.alg)) {
          std::vector<uint8_t> iv = in.iv;
          pt = s.Decrypt({IsAesCbc(in.alg) ? CKM_AES_CBC : CKM_AES_CBC_PAD,
                          iv.data(), iv.size()},
                         obj, in.value);
        } else {
          absl::StatusOr<ObjectHandle> h =
              s.UnwrapKey({kw ? CKM_AES_KEY_WRAP : CKM_AES_KEY_WRAP_PAD}, obj,
                          in.value, DataTemplate());
          if (h.ok()) {
            pt = s.GetSecretAttribute(*h, CKA_VALUE);
            (void)s.Destroy(*h);
          } else {
            pt = h.status();
          }
        }
        // What the token refuses about the caller's data is one fixed
        // message per family (no oracle); a token fault stays one (and a
        // lost session is retried by WithKey).
        if (!pt.ok() && !TokenFault(pt.status())) {
          return absl::InvalidArgumentError(failed);
        }
        return pt;
      });
  if (!pt.ok()) {
    // A damaged key record (DataLoss) or a token fault is the server's
    // failure, never the caller's 400.
    if (hsm::GetCkr(pt.status()) && TokenFault(pt.status())) {
      return AsTokenFault(pt.status(), "decrypting");
    }
    return pt.status();
  }
  CipherOutput out;
  out.value = PlainCopy(*pt);
  return out;
}

absl::StatusOr<CipherOutput> Pkcs11Custody::DecryptRsa15(
    const HeldKey& key, std::span<const uint8_t> binding,
    std::span<const uint8_t> ciphertext) {
  if (!limits_.rsa_raw) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RSA1_5 decryption is not available on this vault's HSM (", platform_,
        "): it offers no raw RSA (CKM_RSA_X_509), which RSA1_5 needs to "
        "decrypt without a padding oracle; use RSA-OAEP"));
  }
  // Length and range are checked on the public key: they are public, and
  // the token then never sees input it would refuse.
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                   crypto::ParsePublicKey(AsBytes(key.public_jwk)));
  ASSIGN_OR_RETURN(std::vector<uint8_t> c,
                   crypto::PadRsaCiphertext(pub.get(), ciphertext));
  ASSIGN_OR_RETURN(crypto::RsaPublicParts parts,
                   crypto::GetRsaPublic(pub.get()));
  const std::vector<uint8_t> kdk_input = KdkInput(parts.n, c);
  struct InToken {
    SecretBytes em, kdk;
  };
  // Both token calls run whatever the ciphertext holds: neither fails on
  // padding, so timing and errors say nothing about it.
  absl::StatusOr<InToken> t = WithKey<InToken>(
      key, binding,
      [&](Session& s, ObjectHandle obj) -> absl::StatusOr<InToken> {
        InToken r;
        ASSIGN_OR_RETURN(r.em, s.Decrypt({CKM_RSA_X_509}, obj, c));
        ASSIGN_OR_RETURN(r.kdk,
                         s.SignSecret({CKM_SHA256_HMAC}, mac_key_, kdk_input));
        return r;
      });
  if (!t.ok()) return t.status();
  if (t->em.size() != c.size() ||
      t->kdk.size() != crypto::kImplicitRejectionKdkBytes) {
    return absl::InternalError(
        "RSA1_5: the token's raw RSA or HMAC answered with the wrong length");
  }
  ASSIGN_OR_RETURN(SecretBytes pt,
                   crypto::RsaPkcs1DecodeImplicitRejection(t->em, t->kdk));
  CipherOutput out;
  out.value = PlainCopy(pt);
  return out;
}

absl::StatusOr<HeldKey> Pkcs11Custody::Rebind(
    const HeldKey& key, std::span<const uint8_t> old_binding,
    std::span<const uint8_t> new_binding) {
  ASSIGN_OR_RETURN(std::unique_ptr<Session> ss, Borrow(/*check=*/true));
  Lease lease(this, std::move(ss));
  Session& s = *lease;
  RETURN_IF_ERROR(CheckBlob(s, key, old_binding));
  const std::vector<uint8_t> header = Header(key);
  std::span<const uint8_t> wrapped =
      std::span<const uint8_t>(key.sealed).subspan(kHeaderBytes + kMacBytes);
  ASSIGN_OR_RETURN(std::vector<uint8_t> mac,
                   Mac(s, header, new_binding, wrapped));
  HeldKey moved = key;
  moved.sealed = header;
  moved.sealed.insert(moved.sealed.end(), mac.begin(), mac.end());
  moved.sealed.insert(moved.sealed.end(), wrapped.begin(), wrapped.end());
  return moved;
}

template <typename T>
absl::StatusOr<T> Pkcs11Custody::WithSession(
    const std::function<absl::StatusOr<T>(hsm::Session&)>& op) {
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(std::unique_ptr<Session> ss, Borrow());
    Lease lease(this, std::move(ss));
    absl::StatusOr<T> r = op(*lease);
    if (r.ok() || attempt > 0 || !Stale(r.status())) return r;
    lease.Discard();
    TokenLost();
  }
}

namespace {

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

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::AuthenticateRecord(
    std::span<const uint8_t> record) {
  const std::vector<uint8_t> in = RecordMacInput(record);
  return WithSession<std::vector<uint8_t>>(
      [&](Session& s) { return s.Sign({CKM_SHA256_HMAC}, mac_key_, in); });
}

absl::Status Pkcs11Custody::VerifyRecord(std::span<const uint8_t> record,
                                         std::span<const uint8_t> tag) {
  if (tag.size() != kMacBytes) {
    return absl::DataLossError("the record's tag has the wrong length");
  }
  std::vector<uint8_t> pair(record.begin(), record.end());
  pair.insert(pair.end(), tag.begin(), tag.end());
  const std::vector<uint8_t> digest = crypto::Sha256(pair);
  std::string id(digest.begin(), digest.end());
  {
    std::lock_guard<std::mutex> lock(verified_mu_);
    if (verified_.count(id) > 0) return absl::OkStatus();
  }
  const std::vector<uint8_t> in = RecordMacInput(record);
  absl::StatusOr<bool> ok =
      WithSession<bool>([&](Session& s) -> absl::StatusOr<bool> {
        absl::Status v = s.Verify({CKM_SHA256_HMAC}, mac_key_, in, tag);
        if (v.code() == absl::StatusCode::kInvalidArgument) return false;
        if (!v.ok()) return v;
        return true;
      });
  if (!ok.ok()) return ok.status();
  if (!*ok) return absl::DataLossError("the record's tag does not verify");
  std::lock_guard<std::mutex> lock(verified_mu_);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_.insert(std::move(id));
  return absl::OkStatus();
}

}  // namespace keyferry::custody
