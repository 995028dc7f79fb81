#include "crypto/jwk.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/status.h"
#include "crypto/keys.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::crypto {
namespace {

using json = nlohmann::json;

absl::Status Invalid(std::string_view why) {
  return absl::InvalidArgumentError(absl::string_view(why.data(), why.size()));
}

// Member decodes a base64url member into a BIGNUM, clearing the bytes.
absl::StatusOr<BnPtr> Member(const json& jwk, const char* name,
                             bool required = true) {
  if (!jwk.contains(name)) {
    if (!required) return BnPtr();
    return Invalid(absl::StrCat("'", name, "' is missing"));
  }
  if (!jwk[name].is_string()) {
    return Invalid(absl::StrCat("'", name, "' is not a string"));
  }
  absl::StatusOr<std::vector<uint8_t>> bytes =
      Base64UrlDecode(jwk[name].get_ref<const std::string&>());
  if (!bytes.ok() || bytes->empty()) {
    return Invalid(absl::StrCat("'", name, "' is not base64url"));
  }
  BnPtr bn(BN_bin2bn(bytes->data(), static_cast<int>(bytes->size()), nullptr));
  OPENSSL_cleanse(bytes->data(), bytes->size());
  if (!bn) return absl::InternalError("BN_bin2bn failed");
  return bn;
}

absl::StatusOr<EvpPkeyPtr> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return Invalid("the key parameters are not consistent");
  }
  EvpPkeyPtr key(raw);
  if (!CheckKeyPair(key.get()).ok()) {
    return Invalid("the private and public parts do not match");
  }
  return key;
}

absl::StatusOr<EvpPkeyPtr> Rsa(const json& jwk) {
  ASSIGN_OR_RETURN(BnPtr n, Member(jwk, "n"));
  ASSIGN_OR_RETURN(BnPtr e, Member(jwk, "e"));
  ASSIGN_OR_RETURN(BnPtr d, Member(jwk, "d"));
  ASSIGN_OR_RETURN(BnPtr p, Member(jwk, "p"));
  ASSIGN_OR_RETURN(BnPtr q, Member(jwk, "q"));
  ASSIGN_OR_RETURN(BnPtr dp, Member(jwk, "dp"));
  ASSIGN_OR_RETURN(BnPtr dq, Member(jwk, "dq"));
  ASSIGN_OR_RETURN(BnPtr qi, Member(jwk, "qi"));
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1,
                              p.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2,
                              q.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1,
                              dp.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2,
                              dq.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
                              qi.get())) {
    return absl::InternalError("OSSL_PARAM_BLD failed");
  }
  return FromData("RSA", bld.get());
}

absl::StatusOr<EvpPkeyPtr> Ec(const json& jwk) {
  if (!jwk.contains("crv") || !jwk["crv"].is_string()) {
    return Invalid("'crv' is missing");
  }
  absl::StatusOr<Curve> curve = ParseCurve(jwk["crv"].get<std::string>());
  if (!curve.ok()) return Invalid("'crv' is not a supported curve");
  const size_t field = CurveFieldBytes(*curve);
  std::vector<uint8_t> point = {0x04};
  for (const char* m : {"x", "y"}) {
    if (!jwk.contains(m) || !jwk[m].is_string()) {
      return Invalid(absl::StrCat("'", m, "' is missing"));
    }
    absl::StatusOr<std::vector<uint8_t>> c =
        Base64UrlDecode(jwk[m].get<std::string>());
    if (!c.ok() || c->size() != field) {
      return Invalid(
          absl::StrCat("'", m, "' is not a ", field, "-byte coordinate"));
    }
    point.insert(point.end(), c->begin(), c->end());
  }
  ASSIGN_OR_RETURN(BnPtr d, Member(jwk, "d"));
  std::string group(CurveOpenSslName(*curve));
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                       group.c_str(), 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                        point.data(), point.size()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get())) {
    return absl::InternalError("OSSL_PARAM_BLD failed");
  }
  return FromData("EC", bld.get());
}

}  // namespace

absl::StatusOr<EvpPkeyPtr> PrivateKeyFromJwk(const json& jwk) {
  if (!jwk.is_object() || !jwk.contains("kty") || !jwk["kty"].is_string()) {
    return Invalid("'kty' is missing");
  }
  const std::string kty = jwk["kty"].get<std::string>();
  if (kty == "RSA" || kty == "RSA-HSM") return Rsa(jwk);
  if (kty == "EC" || kty == "EC-HSM") return Ec(jwk);
  return Invalid("'kty' must be RSA or EC for a private key");
}

}  // namespace keyferry::crypto
