#include "byok/token_unwrap.h"

#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/envelope.h"
#include "hsm/errors.h"
#include "hsm/module.h"

namespace keyferry::byok {
namespace {

// KeepCause returns `out` with the payloads (the CK_RV) of `cause`, so
// callers can still branch on the token's answer.
absl::Status KeepCause(absl::Status out, const absl::Status& cause) {
  cause.ForEachPayload([&out](absl::string_view url, const absl::Cord& p) {
    out.SetPayload(url, p);
  });
  return out;
}

absl::Status TokenFault(const absl::Status& s, std::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("the token failed while ", Sv(what), ": ", s.message()));
}

const char* OaepName(crypto::OaepHash h) {
  switch (h) {
    case crypto::OaepHash::kSha1:
      return "RSA-OAEP-SHA1";
    case crypto::OaepHash::kSha256:
      return "RSA-OAEP-SHA256";
    case crypto::OaepHash::kSha384:
      return "RSA-OAEP-SHA384";
    case crypto::OaepHash::kSha512:
      return "RSA-OAEP-SHA512";
    default:
      return "RSA-OAEP";
  }
}

const char* KindName(crypto::KeyType kind) {
  return kind == crypto::KeyType::kRsa ? "RSA" : "EC";
}

}  // namespace

absl::StatusOr<TokenUnwrapper> TokenUnwrapper::Open(
    hsm::Session& s, hsm::ObjectHandle kek, size_t kek_bytes,
    std::span<const uint8_t> ciphertext, const TokenUnwrapRoute& route) {
  if (route.direct) {
    if (ciphertext.size() != kek_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a direct RSA-OAEP blob is one ", kek_bytes,
          "-byte block under this KEK; this one has ", ciphertext.size(),
          " bytes"));
    }
    if (route.native) {
      return absl::InvalidArgumentError("a direct blob has no native route");
    }
    return TokenUnwrapper(s, kek, ciphertext, kek_bytes, route);
  }
  RETURN_IF_ERROR(CheckCiphertextLength(ciphertext.size(), kek_bytes));
  if (route.native && route.oaep_hash != crypto::OaepHash::kSha1) {
    return absl::InvalidArgumentError(
        "CKM_RSA_AES_KEY_WRAP as keyferry asks for it uses OAEP with SHA-1 "
        "only; use the composed route");
  }
  TokenUnwrapper u(s, kek, ciphertext, kek_bytes, route);
  if (route.native) return u;
  absl::StatusOr<hsm::ObjectHandle> eh =
      s.UnwrapKey(hsm::RsaOaep(route.oaep_hash), kek,
                  ciphertext.subspan(0, kek_bytes), hsm::TransferKeyTemplate());
  if (!eh.ok()) {
    if (hsm::IsTokenFault(eh.status())) {
      return TokenFault(eh.status(), "decrypting the BYOK transfer key");
    }
    return absl::InvalidArgumentError(
        absl::StrCat("the transfer key does not decrypt with the KEK (",
                     OaepName(route.oaep_hash),
                     " in the token failed): wrong KEK or damaged blob"));
  }
  u.transfer_ = hsm::ScopedObject(s, *eh);
  return u;
}

std::string TokenUnwrapper::route() const {
  if (route_.native) return "native CKM_RSA_AES_KEY_WRAP";
  if (route_.direct) {
    return absl::StrCat("direct: ", OaepName(route_.oaep_hash),
                        " in the token");
  }
  return absl::StrCat("composed: ", OaepName(route_.oaep_hash), " + ",
                      hsm::MechanismName(route_.kwp_mechanism),
                      " in the token");
}

absl::StatusOr<hsm::ScopedObject> TokenUnwrapper::Unwrap(const hsm::Template& t,
                                                         crypto::KeyType kind) {
  absl::StatusOr<hsm::ObjectHandle> got;
  std::string step, refused;
  if (route_.native) {
    got = s_->UnwrapKey(hsm::RsaAesKeyWrap(256), kek_, ciphertext_, t);
    step = "unwrapping the BYOK blob";
    if (!got.ok()) {
      refused = absl::StrCat(
          "the token could not unwrap the BYOK blob with the KEK "
          "(CKM_RSA_AES_KEY_WRAP): ",
          got.status().message());
    }
  } else if (route_.direct) {
    got = s_->UnwrapKey(hsm::RsaOaep(route_.oaep_hash), kek_, ciphertext_, t);
    step = "unwrapping the direct blob";
    refused = absl::StrCat("the key does not decrypt with the KEK (",
                           OaepName(route_.oaep_hash),
                           " in the token failed): wrong KEK or damaged blob");
  } else {
    got = s_->UnwrapKey({route_.kwp_mechanism}, transfer_.get(),
                        ciphertext_.subspan(kek_bytes_), t);
    step = "unwrapping the BYOK target key";
    refused = absl::StrCat(
        "the target key does not unwrap as ",
        kind == crypto::KeyType::kAes
            ? "an AES key"
            : absl::StrCat("an ", KindName(kind), " private key"),
        " (RFC 5649 in the token failed): the blob is damaged or kty does "
        "not match the key inside");
  }
  if (got.ok()) return hsm::ScopedObject(*s_, *got);
  if (hsm::IsTokenFault(got.status())) return TokenFault(got.status(), step);
  return KeepCause(absl::InvalidArgumentError(refused), got.status());
}

absl::StatusOr<UnwrappedKey> DescribeUnwrapped(hsm::Session& s,
                                               hsm::ObjectHandle obj,
                                               crypto::KeyType kind,
                                               size_t payload_bound) {
  UnwrappedKey out;
  out.type = kind;
  if (kind == crypto::KeyType::kAes) {
    absl::StatusOr<uint64_t> len = hsm::ReadValueLen(s, obj);
    uint64_t bytes = len.ok() ? *len : 0;
    if (bytes == 0) {
      bytes = payload_bound;
      const std::vector<uint8_t> block(16, 0);
      if (!s.Encrypt({hsm::kAesEcb}, obj, block).ok()) bytes = 0;
    }
    out.bits = static_cast<int>(bytes * 8);
    if (out.bits != 128 && out.bits != 192 && out.bits != 256) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the AES key in the blob is not 16, 24 or 32 bytes long (",
          out.bits == 0 ? std::string("the token refuses it as an AES key")
                        : absl::StrCat(out.bits, " bits"),
          ")"));
    }
    return out;
  }
  ASSIGN_OR_RETURN(crypto::KeyType type, hsm::ReadKeyType(s, obj));
  if (type != kind) {
    return absl::InvalidArgumentError(
        absl::StrCat("the target key in the blob is not an ", KindName(kind),
                     " private key: kty does not match the key inside"));
  }
  if (kind == crypto::KeyType::kRsa) {
    ASSIGN_OR_RETURN(out.rsa, hsm::ReadRsaPublic(s, obj));
    size_t lead = 0;
    while (lead < out.rsa.n.size() && out.rsa.n[lead] == 0) ++lead;
    out.bits = static_cast<int>((out.rsa.n.size() - lead) * 8);
    return out;
  }
  ASSIGN_OR_RETURN(crypto::Curve curve, hsm::ReadEcCurve(s, obj));
  out.curve = curve;
  out.bits = crypto::CurveBits(curve);
  return out;
}

}  // namespace keyferry::byok
