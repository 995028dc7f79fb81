#include "crypto/ec_recover.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/errors.h"
#include "crypto/sign.h"

namespace keyferry::crypto {
namespace {

struct GroupFree {
  void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
};
struct PointFree {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};
struct CtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using GroupPtr = std::unique_ptr<EC_GROUP, GroupFree>;
using PointPtr = std::unique_ptr<EC_POINT, PointFree>;
using BnCtxPtr = std::unique_ptr<BN_CTX, CtxFree>;

int Nid(Curve c) {
  switch (c) {
    case Curve::kP256:
      return NID_X9_62_prime256v1;
    case Curve::kP384:
      return NID_secp384r1;
    case Curve::kP521:
      return NID_secp521r1;
    case Curve::kSecp256k1:
      return NID_secp256k1;
  }
  return NID_undef;
}

SignAlg AlgFor(Curve c) {
  switch (c) {
    case Curve::kP256:
      return SignAlg::kEs256;
    case Curve::kP384:
      return SignAlg::kEs384;
    case Curve::kP521:
      return SignAlg::kEs512;
    case Curve::kSecp256k1:
      return SignAlg::kEs256k;
  }
  return SignAlg::kEs256;
}

absl::Status Ssl(std::string_view what) {
  return SslError(absl::StatusCode::kInternal, what);
}

}  // namespace

absl::StatusOr<std::vector<EvpPkeyPtr>> RecoverEcPublicCandidates(
    Curve curve, std::span<const uint8_t> digest,
    std::span<const uint8_t> signature) {
  const size_t fb = static_cast<size_t>(CurveFieldBytes(curve));
  if (signature.size() != 2 * fb) {
    return absl::InvalidArgumentError(absl::StrCat("an ECDSA signature on ",
                                                   Sv(CurveJwkName(curve)),
                                                   " is ", 2 * fb, " bytes"));
  }
  GroupPtr group(EC_GROUP_new_by_curve_name(Nid(curve)));
  BnCtxPtr ctx(BN_CTX_new());
  if (!group || !ctx) return Ssl("EC group");
  const BIGNUM* n = EC_GROUP_get0_order(group.get());
  if (digest.empty() || BN_num_bits(n) < static_cast<int>(8 * digest.size())) {
    return absl::InvalidArgumentError("digest longer than the curve order");
  }
  BnPtr r(BN_bin2bn(signature.data(), static_cast<int>(fb), nullptr));
  BnPtr s(BN_bin2bn(signature.data() + fb, static_cast<int>(fb), nullptr));
  BnPtr e(BN_bin2bn(digest.data(), static_cast<int>(digest.size()), nullptr));
  if (!r || !s || !e) return Ssl("BN_bin2bn");
  if (BN_is_zero(r.get()) || BN_is_zero(s.get()) || BN_cmp(r.get(), n) >= 0 ||
      BN_cmp(s.get(), n) >= 0) {
    return absl::InvalidArgumentError("ECDSA signature values out of range");
  }
  // Q = r^-1 (s R - e G)  ==  u1 G + u2 R with u1 = -e r^-1, u2 = s r^-1.
  BnPtr rinv(BN_mod_inverse(nullptr, r.get(), n, ctx.get()));
  BnPtr u1(BN_new()), u2(BN_new()), zero(BN_new());
  if (!rinv || !u1 || !u2 || !zero) return Ssl("BN");
  BN_zero(zero.get());
  if (BN_mod_mul(u1.get(), e.get(), rinv.get(), n, ctx.get()) != 1 ||
      BN_mod_sub(u1.get(), zero.get(), u1.get(), n, ctx.get()) != 1 ||
      BN_mod_mul(u2.get(), s.get(), rinv.get(), n, ctx.get()) != 1) {
    return Ssl("BN_mod_mul");
  }
  std::vector<EvpPkeyPtr> out;
  for (int parity = 0; parity < 2; ++parity) {
    PointPtr R(EC_POINT_new(group.get()));
    PointPtr Q(EC_POINT_new(group.get()));
    if (!R || !Q) return Ssl("EC_POINT_new");
    ERR_set_mark();
    const bool on_curve =
        EC_POINT_set_compressed_coordinates(group.get(), R.get(), r.get(),
                                            parity, ctx.get()) == 1;
    ERR_pop_to_mark();
    if (!on_curve) continue;
    if (EC_POINT_mul(group.get(), Q.get(), u1.get(), R.get(), u2.get(),
                     ctx.get()) != 1) {
      return Ssl("EC_POINT_mul");
    }
    if (EC_POINT_is_at_infinity(group.get(), Q.get())) continue;
    std::vector<uint8_t> point(1 + 2 * fb);
    if (EC_POINT_point2oct(group.get(), Q.get(), POINT_CONVERSION_UNCOMPRESSED,
                           point.data(), point.size(),
                           ctx.get()) != point.size()) {
      return Ssl("EC_POINT_point2oct");
    }
    std::span<const uint8_t> p(point);
    ASSIGN_OR_RETURN(EvpPkeyPtr key, EcPublicFromParts(curve, p.subspan(1, fb),
                                                       p.subspan(1 + fb, fb)));
    out.push_back(std::move(key));
  }
  return out;
}

absl::StatusOr<EvpPkeyPtr> RecoverEcPublicKey(Curve curve,
                                              std::span<const uint8_t> digest1,
                                              std::span<const uint8_t> sig1,
                                              std::span<const uint8_t> digest2,
                                              std::span<const uint8_t> sig2) {
  ASSIGN_OR_RETURN(std::vector<EvpPkeyPtr> candidates,
                   RecoverEcPublicCandidates(curve, digest1, sig1));
  for (EvpPkeyPtr& c : candidates) {
    ASSIGN_OR_RETURN(bool first,
                     VerifyDigest(c.get(), AlgFor(curve), digest1, sig1));
    ASSIGN_OR_RETURN(bool second,
                     VerifyDigest(c.get(), AlgFor(curve), digest2, sig2));
    if (first && second) return std::move(c);
  }
  return absl::NotFoundError("no public key verifies both ECDSA signatures");
}

}  // namespace keyferry::crypto
