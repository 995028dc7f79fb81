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

constexpr uint8_t kMagic[] = {'K', 'F', 'P', '1'};

std::string_view AsStringView(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

std::vector<uint8_t> BlobHeader(const HeldKey& k) {
  std::vector<uint8_t> h(kMagic, kMagic + 4);
  h.push_back(static_cast<uint8_t>(k.kind));
  h.push_back(static_cast<uint8_t>(k.bits >> 8));
  h.push_back(static_cast<uint8_t>(k.bits));
  h.push_back(k.curve ? static_cast<uint8_t>(*k.curve) : 0xff);
  return h;
}

std::vector<uint8_t> BlobMacInput(std::span<const uint8_t> header,
                                  std::span<const uint8_t> binding,
                                  std::span<const uint8_t> wrapped) {
  return LengthPrefixed(AsStringView(header)).Add(binding).Raw(wrapped).Take();
}

absl::StatusOr<BlobParts> ParseBlob(const HeldKey& key) {
  BlobParts p;
  p.header = BlobHeader(key);
  const std::vector<uint8_t>& b = key.sealed;
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

// CacheKey is u32be(len(binding)) | binding | sealed.
std::string CacheKey(std::span<const uint8_t> binding,
                     std::span<const uint8_t> sealed) {
  const std::vector<uint8_t> k = LengthPrefixed("").Add(binding).Take();
  std::string out(AsStringView(k));
  out.append(AsStringView(sealed));
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
                                            std::span<const uint8_t> binding) {
  absl::StatusOr<std::vector<uint8_t>> wrapped =
      s.WrapKey({hsm::kAesKeyWrapPad}, wrap_key_, obj.get());
  (void)obj.Reset();
  if (!wrapped.ok()) {
    return p11::Step(wrapped.status(), "wrapping the key under the master key");
  }
  const std::vector<uint8_t> header = p11::BlobHeader(held);
  ASSIGN_OR_RETURN(std::vector<uint8_t> mac, Mac(s, header, binding, *wrapped));
  held.sealed = p11::AssembleBlob(header, mac, *wrapped);
  return held;
}

absl::StatusOr<HeldKey> Pkcs11Custody::HoldWithPublic(
    hsm::Session& s, hsm::ScopedObject obj, HeldKey held,
    absl::StatusOr<crypto::EvpPkeyPtr> pub, std::span<const uint8_t> binding) {
  if (!pub.ok()) return pub.status();
  ASSIGN_OR_RETURN(held.public_jwk, crypto::PublicKeyToJwk(pub->get()));
  return Hold(s, std::move(obj), std::move(held), binding);
}

absl::Status Pkcs11Custody::CheckBlob(hsm::Session& s, const HeldKey& key,
                                      std::span<const uint8_t> binding) {
  ASSIGN_OR_RETURN(p11::BlobParts blob, p11::ParseBlob(key));
  absl::Status v =
      s.Verify({hsm::kSha256Hmac}, mac_key_,
               p11::BlobMacInput(blob.header, binding, blob.wrapped), blob.mac);
  if (v.code() == absl::StatusCode::kInvalidArgument) {
    return absl::DataLossError(
        "sealed key material does not verify under this token's master key "
        "for this key (damaged, moved, or another deployment's)");
  }
  return v;
}

absl::StatusOr<std::shared_ptr<Pkcs11Custody::Resident>> Pkcs11Custody::Use(
    hsm::Session& s, const HeldKey& key, std::span<const uint8_t> binding) {
  std::string ck = p11::CacheKey(binding, key.sealed);
  if (cached_keys_ > 0) {
    keyferry::MutexLock lock(&cache_mu_);
    auto hit = cache_->index.find(ck);
    if (hit != cache_->index.end()) {
      cache_->lru.splice(cache_->lru.end(), cache_->lru, hit->second);
      return hit->second->second;
    }
  }
  RETURN_IF_ERROR(CheckBlob(s, key, binding));
  std::span<const uint8_t> wrapped =
      std::span<const uint8_t>(key.sealed)
          .subspan(p11::kHeaderBytes + p11::kMacBytes);
  hsm::Template t =
      key.kind == KeyKind::kOct
          ? hsm::SecretKeyTemplate(false)
          : hsm::PrivateKeyTemplate(p11::PrivateKeyType(key.kind), false);
  absl::StatusOr<hsm::ObjectHandle> h =
      s.UnwrapKey({hsm::kAesKeyWrapPad}, wrap_key_, wrapped, t);
  if (!h.ok()) {
    if (hsm::IsStaleHandle(h.status())) return h.status();
    return absl::DataLossError(
        absl::StrCat("the token could not unwrap this key's material: ",
                     h.status().message()));
  }
  auto r = std::make_shared<Resident>(*janitor_, *h);
  if (cached_keys_ > 0) {
    // `evicted` is released after the lock (its destructor takes the
    // janitor lock, never the cache lock).
    std::shared_ptr<Resident> evicted;
    keyferry::MutexLock lock(&cache_mu_);
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
  moved.sealed = p11::AssembleBlob(blob.header, mac, blob.wrapped);
  return moved;
}

}  // namespace keyferry::custody
