// Pkcs11Custody: the blob (wrapped key + MAC) and the session objects
// unwrapped from it.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "custody/cipher_rules.h"
#include "custody/pkcs11_internal.h"
#include "hsm/errors.h"
#include "hsm/mechanisms.h"
#include "hsm/templates.h"

namespace keyferry::custody {
namespace p11 {
namespace {

constexpr std::string_view kMagic = "KFP1";
// Wrapped by the exportable master wrap key (releasable).
constexpr std::string_view kExportMagic = "KFE1";

std::string_view AsStringView(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

std::vector<uint8_t> BlobHeader(const HeldKey& k, bool exportable) {
  return custody::BlobHeader(exportable ? kExportMagic : kMagic, k);
}

std::vector<uint8_t> BlobMacInput(std::span<const uint8_t> header,
                                  std::span<const uint8_t> binding,
                                  std::span<const uint8_t> wrapped) {
  return LengthPrefixed(AsStringView(header)).Add(binding).Raw(wrapped).Take();
}

absl::StatusOr<BlobParts> ParseBlob(const HeldKey& key) {
  BlobParts p;
  const std::vector<uint8_t>& b = key.blob;
  p.exportable = b.size() >= kExportMagic.size() &&
                 std::equal(kExportMagic.begin(), kExportMagic.end(), b.begin());
  p.header = BlobHeader(key, p.exportable);
  if (b.size() < kHeaderBytes + kMacBytes + 16 ||
      !std::equal(p.header.begin(), p.header.end(), b.begin())) {
    return absl::DataLossError(
        "sealed key material is not a PKCS#11 custody blob for this key type");
  }
  std::span<const uint8_t> all(b);
  p.mac = all.subspan(kHeaderBytes, kMacBytes);
  p.wrapped = all.subspan(kHeaderBytes + kMacBytes);
  return p;
}

std::vector<uint8_t> AssembleBlob(std::span<const uint8_t> header,
                                  std::span<const uint8_t> mac,
                                  std::span<const uint8_t> wrapped) {
  std::vector<uint8_t> out(header.begin(), header.end());
  out.insert(out.end(), mac.begin(), mac.end());
  out.insert(out.end(), wrapped.begin(), wrapped.end());
  return out;
}

namespace {

// CacheKey is u32be(len(binding)) | binding | blob.
std::string CacheKey(std::span<const uint8_t> binding,
                     std::span<const uint8_t> blob) {
  const std::vector<uint8_t> k = LengthPrefixed("").Add(binding).Take();
  std::string out(AsStringView(k));
  out.append(AsStringView(blob));
  return out;
}

}  // namespace
}  // namespace p11

absl::StatusOr<std::vector<uint8_t>> Pkcs11Custody::Mac(
    hsm::Session& s, std::span<const uint8_t> header,
    std::span<const uint8_t> binding, std::span<const uint8_t> wrapped) {
  return s.Sign({hsm::kSha256Hmac}, mac_key_,
                p11::BlobMacInput(header, binding, wrapped));
}

absl::StatusOr<HeldKey> Pkcs11Custody::Hold(hsm::Session& s,
                                            hsm::ScopedObject obj, HeldKey held,
                                            std::span<const uint8_t> binding,
                                            bool exportable) {
  absl::StatusOr<std::vector<uint8_t>> wrapped = s.WrapKey(
      {limits_.kwp_mechanism}, exportable ? export_wrap_key_ : wrap_key_,
      obj.get());
  (void)obj.Reset();
  if (!wrapped.ok()) {
    return p11::Step(wrapped.status(), "wrapping the key under the master key");
  }
  const std::vector<uint8_t> header = p11::BlobHeader(held, exportable);
  ASSIGN_OR_RETURN(std::vector<uint8_t> mac, Mac(s, header, binding, *wrapped));
  held.blob = p11::AssembleBlob(header, mac, *wrapped);
  return held;
}

absl::StatusOr<HeldKey> Pkcs11Custody::HoldWithPublic(
    hsm::Session& s, hsm::ScopedObject obj, HeldKey held,
    absl::StatusOr<crypto::EvpPkeyPtr> pub, std::span<const uint8_t> binding,
    bool exportable) {
  if (!pub.ok()) return pub.status();
  ASSIGN_OR_RETURN(held.public_jwk, crypto::PublicKeyToJwk(pub->get()));
  return Hold(s, std::move(obj), std::move(held), binding, exportable);
}

absl::Status Pkcs11Custody::CheckBlob(hsm::Session& s, const HeldKey& key,
                                      std::span<const uint8_t> binding) {
  ASSIGN_OR_RETURN(p11::BlobParts blob, p11::ParseBlob(key));
  absl::Status v =
      s.VerifyMac({hsm::kSha256Hmac}, mac_key_,
                  p11::BlobMacInput(blob.header, binding, blob.wrapped),
                  blob.mac);
  if (v.code() == absl::StatusCode::kInvalidArgument) {
    return absl::DataLossError(
        "sealed key material does not verify under this token's master key "
        "for this key (damaged, moved, or another deployment's)");
  }
  return v;
}

absl::StatusOr<std::shared_ptr<Pkcs11Custody::Resident>> Pkcs11Custody::Use(
    hsm::Session& s, const HeldKey& key, std::span<const uint8_t> binding) {
  std::string ck = p11::CacheKey(binding, key.blob);
  std::shared_ptr<Resident> cached;
  if (cache_->Lookup(ck, [&](std::shared_ptr<Resident>& r) { cached = r; })) {
    return cached;
  }
  // Read on a miss only, before the key is unwrapped: a ForgetCachedKeys (a
  // purge) while it is being unwrapped keeps it out of the cache.
  const uint64_t generation = cache_->generation();
  RETURN_IF_ERROR(CheckBlob(s, key, binding));
  ASSIGN_OR_RETURN(p11::BlobParts blob, p11::ParseBlob(key));
  // The MAC covers the magic: only a blob made exportable opens under the
  // exportable master, as an extractable (by wrap only: sensitive) object.
  hsm::Template t =
      key.kind == KeyKind::kOct
          ? hsm::SecretKeyTemplate(blob.exportable)
          : hsm::PrivateKeyTemplate(p11::PrivateKeyType(key.kind),
                                    blob.exportable);
  absl::StatusOr<hsm::ObjectHandle> h = s.UnwrapKey(
      {limits_.kwp_mechanism},
      blob.exportable ? export_wrap_key_ : wrap_key_, blob.wrapped, t);
  if (!h.ok()) {
    if (hsm::IsStaleHandle(h.status())) return h.status();
    return absl::DataLossError(
        absl::StrCat("the token could not unwrap this key's material: ",
                     h.status().message()));
  }
  auto r = std::make_shared<Resident>(*janitor_, *h);
  // An entry another thread cached meanwhile is kept; `r` then lives only
  // as long as this operation. Evicted objects are destroyed (through the
  // janitor) after the cache's lock is released.
  cache_->InsertIfGeneration(std::move(ck), r, generation);
  return r;
}

absl::StatusOr<HeldKey> Pkcs11Custody::Rebind(
    const HeldKey& key, std::span<const uint8_t> old_binding,
    std::span<const uint8_t> new_binding) {
  ASSIGN_OR_RETURN(Lease lease, pool_->Borrow(/*check=*/true));
  hsm::Session& s = *lease;
  RETURN_IF_ERROR(CheckBlob(s, key, old_binding));
  ASSIGN_OR_RETURN(p11::BlobParts blob, p11::ParseBlob(key));
  ASSIGN_OR_RETURN(std::vector<uint8_t> mac,
                   Mac(s, blob.header, new_binding, blob.wrapped));
  HeldKey moved = key;
  moved.blob = p11::AssembleBlob(blob.header, mac, blob.wrapped);
  return moved;
}

}  // namespace keyferry::custody
