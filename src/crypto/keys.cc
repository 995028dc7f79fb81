#include "crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/errors.h"

namespace keyferry::crypto {
namespace {

absl::StatusOr<EvpPkeyPtr> Decode(std::span<const uint8_t> data, int selection,
                                  const char* input_type,
                                  const char* structure) {
  EVP_PKEY* raw = nullptr;
  OsslDecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(
      &raw, input_type, structure, nullptr, selection, nullptr, nullptr));
  if (!dctx) return SslError(absl::StatusCode::kInternal, "decoder setup");
  const unsigned char* p = data.data();
  size_t len = data.size();
  if (OSSL_DECODER_from_data(dctx.get(), &p, &len) != 1 || raw == nullptr) {
    EVP_PKEY_free(raw);
    ERR_clear_error();
    return absl::InvalidArgumentError("not a recognized key encoding");
  }
  EvpPkeyPtr key(raw);
  if (len != 0 && input_type != nullptr &&
      std::string_view(input_type) == "DER") {
    return absl::InvalidArgumentError("trailing bytes after the DER key");
  }
  return key;
}

absl::StatusOr<std::vector<uint8_t>> BnParam(EVP_PKEY* key, const char* name,
                                             int pad_to = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("key has no ", name));
  }
  BnPtr bn(raw);
  int len = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::vector<uint8_t> out(static_cast<size_t>(len));
  if (BN_bn2binpad(bn.get(), out.data(), len) < 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, " too long"));
  }
  return out;
}

bool HasBnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  bool ok = EVP_PKEY_get_bn_param(key, name, &raw) == 1;
  BN_clear_free(raw);
  ERR_clear_error();
  return ok;
}

absl::StatusOr<std::string> Encode(EVP_PKEY* key, int selection,
                                   const char* type, const char* structure,
                                   SecretBytes* secret_out) {
  OsslEncoderCtxPtr ectx(
      OSSL_ENCODER_CTX_new_for_pkey(key, selection, type, structure, nullptr));
  if (!ectx || OSSL_ENCODER_CTX_get_num_encoders(ectx.get()) == 0) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("no ", type, " ", structure, " encoder"));
  }
  unsigned char* data = nullptr;
  size_t len = 0;
  if (OSSL_ENCODER_to_data(ectx.get(), &data, &len) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument, "key encoding");
  }
  std::string out;
  if (secret_out != nullptr) {
    *secret_out = SecretBytes(std::span<const uint8_t>(data, len));
  } else {
    out.assign(reinterpret_cast<char*>(data), len);
  }
  OPENSSL_clear_free(data, len);
  return out;
}

absl::StatusOr<EvpPkeyPtr> FromData(const char* type, int selection,
                                    OSSL_PARAM* params) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("cannot build ", type, " key"));
  }
  return EvpPkeyPtr(raw);
}

// JWK parsing, bounded (base/json.h).
absl::StatusOr<nlohmann::json> ParseJwkJson(std::span<const uint8_t> data) {
  absl::StatusOr<nlohmann::json> j = keyferry::ParseJson(std::string_view(
      reinterpret_cast<const char*>(data.data()), data.size()));
  if (!j.ok()) return absl::InvalidArgumentError("not valid JSON");
  return j;
}

absl::StatusOr<std::vector<uint8_t>> JwkField(const nlohmann::json& j,
                                              const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("JWK lacks \"", name, "\""));
  }
  auto v = Base64UrlDecode(it->get<std::string>());
  if (!v.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWK \"", name, "\" is not base64url"));
  }
  return v;
}

absl::StatusOr<EvpPkeyPtr> ParsePublicJwk(std::span<const uint8_t> data) {
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJwkJson(data));
  if (!j.is_object()) return absl::InvalidArgumentError("JWK is not an object");
  if (j.contains("key") && j["key"].is_object()) j = j["key"];  // a KeyBundle
  auto kty = j.find("kty");
  if (kty == j.end() || !kty->is_string()) {
    return absl::InvalidArgumentError("JWK lacks \"kty\"");
  }
  std::string t = kty->get<std::string>();
  if (t == "RSA" || t == "RSA-HSM") {
    ASSIGN_OR_RETURN(auto n, JwkField(j, "n"));
    ASSIGN_OR_RETURN(auto e, JwkField(j, "e"));
    return RsaPublicFromParts(n, e);
  }
  if (t == "EC" || t == "EC-HSM") {
    auto crv = j.find("crv");
    if (crv == j.end() || !crv->is_string()) {
      return absl::InvalidArgumentError("JWK lacks \"crv\"");
    }
    ASSIGN_OR_RETURN(Curve c, ParseCurve(crv->get<std::string>()));
    ASSIGN_OR_RETURN(auto x, JwkField(j, "x"));
    ASSIGN_OR_RETURN(auto y, JwkField(j, "y"));
    return EcPublicFromParts(c, x, y);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("JWK kty \"", t, "\" is not RSA or EC"));
}

bool LooksLikeJson(std::span<const uint8_t> d) {
  for (uint8_t c : d) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{';
  }
  return false;
}

}  // namespace

std::string_view CurveJwkName(Curve c) {
  switch (c) {
    case Curve::kP256:
      return "P-256";
    case Curve::kP384:
      return "P-384";
    case Curve::kP521:
      return "P-521";
    case Curve::kSecp256k1:
      return "P-256K";
  }
  return "";
}

std::string_view CurveOpenSslName(Curve c) {
  switch (c) {
    case Curve::kP256:
      return "prime256v1";
    case Curve::kP384:
      return "secp384r1";
    case Curve::kP521:
      return "secp521r1";
    case Curve::kSecp256k1:
      return "secp256k1";
  }
  return "";
}

int CurveBits(Curve c) {
  return c == Curve::kP521 ? 521 : CurveFieldBytes(c) * 8;
}

int CurveFieldBytes(Curve c) {
  switch (c) {
    case Curve::kP256:
      return 32;
    case Curve::kP384:
      return 48;
    case Curve::kP521:
      return 66;
    case Curve::kSecp256k1:
      return 32;
  }
  return 0;
}

absl::StatusOr<Curve> ParseCurve(std::string_view name) {
  std::string n = absl::AsciiStrToLower(Sv(name));
  if (n == "p-256" || n == "prime256v1" || n == "secp256r1" || n == "p256") {
    return Curve::kP256;
  }
  if (n == "p-384" || n == "secp384r1" || n == "p384") return Curve::kP384;
  if (n == "p-521" || n == "secp521r1" || n == "p521") return Curve::kP521;
  if (n == "p-256k" || n == "secp256k1" || n == "p256k")
    return Curve::kSecp256k1;
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported curve '", Sv(name),
                   "' (P-256, P-384, P-521 or P-256K/secp256k1)"));
}

std::string DescribeForHumans(const KeyDescription& d) {
  switch (d.type) {
    case KeyType::kRsa:
      return absl::StrCat("RSA-", d.bits);
    case KeyType::kEc:
      return absl::StrCat("EC ", d.curve ? Sv(CurveJwkName(*d.curve)) : "?");
    case KeyType::kAes:
      return absl::StrCat("AES-", d.bits);
  }
  return "?";
}

absl::StatusOr<KeyDescription> Describe(EVP_PKEY* key) {
  if (key == nullptr) return absl::InvalidArgumentError("no key");
  KeyDescription d;
  d.bits = EVP_PKEY_get_bits(key);
  if (EVP_PKEY_is_a(key, "RSA")) {
    d.type = KeyType::kRsa;
    d.has_private = HasBnParam(key, OSSL_PKEY_PARAM_RSA_D);
    return d;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    d.type = KeyType::kEc;
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof group, &len) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          "EC key with explicit or unknown curve");
    }
    ASSIGN_OR_RETURN(d.curve, ParseCurve(group));
    d.has_private = HasBnParam(key, OSSL_PKEY_PARAM_PRIV_KEY);
    return d;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported key type ",
      EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?",
      " (RSA or EC expected)"));
}

absl::StatusOr<EvpPkeyPtr> ParsePublicKey(std::span<const uint8_t> data) {
  if (data.empty()) return absl::InvalidArgumentError("empty key file");
  if (LooksLikeJson(data)) return ParsePublicJwk(data);
  auto key = Decode(data, EVP_PKEY_PUBLIC_KEY, nullptr, nullptr);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        "not a public key in PEM, DER (SubjectPublicKeyInfo or PKCS#1) or JWK");
  }
  RETURN_IF_ERROR(Describe(key->get()).status());
  return PublicKeyOf(key->get());
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(const SecretBytes& data) {
  if (data.empty()) return absl::InvalidArgumentError("empty key file");
  auto bytes = data.data(SecretAccess::Get());
  auto key = Decode(bytes, EVP_PKEY_KEYPAIR, nullptr, nullptr);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        "not an unencrypted private key in PEM or DER (PKCS#8, PKCS#1 or "
        "SEC1)");
  }
  ASSIGN_OR_RETURN(KeyDescription d, Describe(key->get()));
  if (!d.has_private) {
    return absl::InvalidArgumentError("key file holds no private key");
  }
  return key;
}

absl::StatusOr<EvpPkeyPtr> ParsePkcs8Der(const SecretBytes& der,
                                         bool allow_trailing_zeros) {
  auto p = der.data(SecretAccess::Get());
  std::optional<size_t> seq = DerSequenceLength(p);
  if (!seq.has_value()) {
    return absl::InvalidArgumentError("not a DER PKCS#8 structure");
  }
  size_t total = *seq;
  size_t trailing = p.size() - total;
  if (trailing > 0) {
    bool zeros = true;
    for (size_t i = total; i < p.size(); ++i) zeros &= p[i] == 0;
    if (!allow_trailing_zeros || !zeros || trailing > 7) {
      return absl::InvalidArgumentError("trailing bytes after the PKCS#8 DER");
    }
  }
  // OpenSSL 3.0's decoder takes "PrivateKeyInfo" as a preference and would
  // also accept PKCS#1 RSAPrivateKey or SEC1 ECPrivateKey: check the
  // structure itself first.
  {
    const unsigned char* q = p.data();
    PKCS8_PRIV_KEY_INFO* info =
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &q, static_cast<long>(total));
    bool exact = info != nullptr && q == p.data() + total;
    if (exact) {
      // DER only: OpenSSL's reader also takes BER (e.g. a constructed
      // string as the algorithm parameters), which would make the same key
      // readable from many encodings (found by fuzz/pkcs8_diff.cc).
      unsigned char* der = nullptr;
      int n = i2d_PKCS8_PRIV_KEY_INFO(info, &der);
      exact = n == static_cast<int>(total) &&
              CRYPTO_memcmp(der, p.data(), total) == 0;
      OPENSSL_clear_free(der, n > 0 ? static_cast<size_t>(n) : 0);
    }
    PKCS8_PRIV_KEY_INFO_free(info);  // clears the key octets
    if (!exact) {
      ERR_clear_error();
      return absl::InvalidArgumentError("not a DER PKCS#8 structure");
    }
  }
  auto key = Decode(p.first(total), EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo");
  if (!key.ok())
    return absl::InvalidArgumentError("not a DER PKCS#8 private key");
  ASSIGN_OR_RETURN(KeyDescription d, Describe(key->get()));
  if (!d.has_private)
    return absl::InvalidArgumentError("PKCS#8 holds no private key");
  return key;
}

std::optional<size_t> DerSequenceLength(std::span<const uint8_t> p) {
  if (p.size() < 2 || p[0] != 0x30) return std::nullopt;
  size_t total = 0;
  if (p[1] < 0x80) {
    total = 2 + p[1];
  } else {
    size_t nlen = p[1] & 0x7f;
    if (nlen < 1 || nlen > 3 || p.size() < 2 + nlen) return std::nullopt;
    size_t v = 0;
    for (size_t i = 0; i < nlen; ++i) v = v << 8 | p[2 + i];
    total = 2 + nlen + v;
  }
  if (total > p.size()) return std::nullopt;
  return total;
}

absl::StatusOr<SecretBytes> PrivateKeyToPkcs8Der(EVP_PKEY* key) {
  SecretBytes out;
  RETURN_IF_ERROR(
      Encode(key, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", &out).status());
  return out;
}

absl::StatusOr<SecretBytes> PrivateKeyToPem(EVP_PKEY* key) {
  SecretBytes out;
  RETURN_IF_ERROR(
      Encode(key, EVP_PKEY_KEYPAIR, "PEM", "PrivateKeyInfo", &out).status());
  return out;
}

absl::StatusOr<std::string> PublicKeyToPem(EVP_PKEY* key) {
  return Encode(key, EVP_PKEY_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo",
                nullptr);
}

absl::StatusOr<std::vector<uint8_t>> PublicKeyToDer(EVP_PKEY* key) {
  ASSIGN_OR_RETURN(std::string der, Encode(key, EVP_PKEY_PUBLIC_KEY, "DER",
                                           "SubjectPublicKeyInfo", nullptr));
  return std::vector<uint8_t>(der.begin(), der.end());
}

absl::StatusOr<EvpPkeyPtr> PublicKeyOf(EVP_PKEY* key) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> der, PublicKeyToDer(key));
  return Decode(der, EVP_PKEY_PUBLIC_KEY, "DER", "SubjectPublicKeyInfo");
}

namespace {

// Bn reads one BIGNUM parameter into a clearing owner (null when absent).
BnPtr Bn(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return BnPtr(raw);
}

// RsaCrtConsistent checks a two-prime RSA key's CRT values against each
// other with a few multiplications: n = p·q, dP = d mod (p-1),
// dQ = d mod (q-1), e·dP = 1 mod (p-1), e·dQ = 1 mod (q-1), q·qInv = 1
// mod p. It does not test p and q for primality (what makes OpenSSL's own
// pairwise check cost dozens of signatures): a composite factor can only
// be the importer's own weak key, while every inconsistency that would make
// the key compute wrong results is caught. nullopt: not a two-prime CRT key.
std::optional<bool> RsaCrtConsistent(EVP_PKEY* key) {
  BnPtr n = Bn(key, OSSL_PKEY_PARAM_RSA_N), e = Bn(key, OSSL_PKEY_PARAM_RSA_E),
        d = Bn(key, OSSL_PKEY_PARAM_RSA_D),
        p = Bn(key, OSSL_PKEY_PARAM_RSA_FACTOR1),
        q = Bn(key, OSSL_PKEY_PARAM_RSA_FACTOR2),
        dp = Bn(key, OSSL_PKEY_PARAM_RSA_EXPONENT1),
        dq = Bn(key, OSSL_PKEY_PARAM_RSA_EXPONENT2),
        qinv = Bn(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  if (!n || !e || !d || !p || !q || !dp || !dq || !qinv) return std::nullopt;
  if (BnPtr third = Bn(key, OSSL_PKEY_PARAM_RSA_FACTOR3)) return std::nullopt;
  std::unique_ptr<BN_CTX, SslDeleter<BN_CTX, BN_CTX_free>> ctx(
      BN_CTX_secure_new());
  BnPtr t(BN_new()), pm1(BN_new()), qm1(BN_new());
  if (!ctx || !t || !pm1 || !qm1) return false;
  if (BN_cmp(p.get(), BN_value_one()) <= 0 ||
      BN_cmp(q.get(), BN_value_one()) <= 0 || !BN_is_odd(e.get()) ||
      BN_cmp(e.get(), BN_value_one()) <= 0 || BN_cmp(d.get(), n.get()) >= 0) {
    return false;
  }
  if (!BN_mul(t.get(), p.get(), q.get(), ctx.get()) ||
      BN_cmp(t.get(), n.get()) != 0) {
    return false;
  }
  if (!BN_sub(pm1.get(), p.get(), BN_value_one()) ||
      !BN_sub(qm1.get(), q.get(), BN_value_one())) {
    return false;
  }
  const auto mod_is = [&](const BIGNUM* a, const BIGNUM* m,
                          const BIGNUM* want) {
    return BN_mod(t.get(), a, m, ctx.get()) == 1 && BN_cmp(t.get(), want) == 0;
  };
  const auto mul_mod_is_one = [&](const BIGNUM* a, const BIGNUM* b,
                                  const BIGNUM* m) {
    return BN_mod_mul(t.get(), a, b, m, ctx.get()) == 1 && BN_is_one(t.get());
  };
  return mod_is(d.get(), pm1.get(), dp.get()) &&
         mod_is(d.get(), qm1.get(), dq.get()) &&
         mul_mod_is_one(e.get(), dp.get(), pm1.get()) &&
         mul_mod_is_one(e.get(), dq.get(), qm1.get()) &&
         mul_mod_is_one(q.get(), qinv.get(), p.get());
}

}  // namespace

absl::Status CheckKeyPair(EVP_PKEY* key) {
  const auto mismatch = [] {
    return absl::InvalidArgumentError(
        "the private and public parts of the key do not match");
  };
  if (EVP_PKEY_is_a(key, "RSA")) {
    std::optional<bool> crt = RsaCrtConsistent(key);
    ERR_clear_error();
    if (crt.has_value()) {
      if (!*crt) return mismatch();
      return absl::OkStatus();
    }
    // Not two-prime CRT: OpenSSL's full check below.
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_pairwise_check(ctx.get()) != 1) {
    ERR_clear_error();
    return mismatch();
  }
  return absl::OkStatus();
}

bool PublicKeysEqual(EVP_PKEY* a, EVP_PKEY* b) {
  if (a == nullptr || b == nullptr) return false;
  bool eq = EVP_PKEY_eq(a, b) == 1;
  ERR_clear_error();
  return eq;
}

absl::StatusOr<RsaPublicParts> GetRsaPublic(EVP_PKEY* key) {
  if (key == nullptr || !EVP_PKEY_is_a(key, "RSA")) {
    return absl::InvalidArgumentError("not an RSA key");
  }
  RsaPublicParts out;
  ASSIGN_OR_RETURN(out.n, BnParam(key, OSSL_PKEY_PARAM_RSA_N));
  ASSIGN_OR_RETURN(out.e, BnParam(key, OSSL_PKEY_PARAM_RSA_E));
  return out;
}

absl::StatusOr<EcPublicParts> GetEcPublic(EVP_PKEY* key) {
  ASSIGN_OR_RETURN(KeyDescription d, Describe(key));
  if (d.type != KeyType::kEc)
    return absl::InvalidArgumentError("not an EC key");
  EcPublicParts out;
  out.curve = *d.curve;
  int fb = CurveFieldBytes(out.curve);
  ASSIGN_OR_RETURN(out.x, BnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, fb));
  ASSIGN_OR_RETURN(out.y, BnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, fb));
  return out;
}

absl::StatusOr<EvpPkeyPtr> RsaPublicFromParts(std::span<const uint8_t> n,
                                              std::span<const uint8_t> e) {
  if (n.empty() || e.empty())
    return absl::InvalidArgumentError("empty RSA n or e");
  BnPtr bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  BnPtr bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) !=
          1) {
    return SslError(absl::StatusCode::kInternal, "RSA parameters");
  }
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return SslError(absl::StatusCode::kInternal, "RSA parameters");
  return FromData("RSA", EVP_PKEY_PUBLIC_KEY, params.get());
}

absl::StatusOr<EvpPkeyPtr> EcPublicFromParts(Curve curve,
                                             std::span<const uint8_t> x,
                                             std::span<const uint8_t> y) {
  size_t fb = static_cast<size_t>(CurveFieldBytes(curve));
  if (x.size() != fb || y.size() != fb) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EC ", Sv(CurveJwkName(curve)), " coordinates must be ", fb, " bytes"));
  }
  std::vector<uint8_t> point;
  point.reserve(1 + 2 * fb);
  point.push_back(0x04);
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  std::string group(CurveOpenSslName(curve));
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  auto key = FromData("EC", EVP_PKEY_PUBLIC_KEY, params);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("EC point is not on ", Sv(CurveJwkName(curve))));
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("EC point is not on ", Sv(CurveJwkName(curve))));
  }
  return key;
}

absl::StatusOr<std::string> PublicKeyToJwk(EVP_PKEY* key) {
  ASSIGN_OR_RETURN(KeyDescription d, Describe(key));
  nlohmann::json j;
  if (d.type == KeyType::kRsa) {
    ASSIGN_OR_RETURN(RsaPublicParts p, GetRsaPublic(key));
    j = {{"kty", "RSA"},
         {"n", Base64UrlEncode(p.n)},
         {"e", Base64UrlEncode(p.e)}};
  } else {
    ASSIGN_OR_RETURN(EcPublicParts p, GetEcPublic(key));
    j = {{"kty", "EC"},
         {"crv", std::string(CurveJwkName(p.curve))},
         {"x", Base64UrlEncode(p.x)},
         {"y", Base64UrlEncode(p.y)}};
  }
  return j.dump();
}

absl::StatusOr<EvpPkeyPtr> GenerateRsa(int bits, uint32_t public_exponent) {
  if (bits < 1024 || bits > 16384) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA size ", bits, " unsupported"));
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  BnPtr e(BN_new());
  if (!ctx || !e || BN_set_word(e.get(), public_exponent) != 1 ||
      EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    "RSA key generation setup");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return SslError(absl::StatusCode::kInternal, "RSA key generation");
  }
  return EvpPkeyPtr(raw);
}

absl::StatusOr<EvpPkeyPtr> GenerateEc(Curve curve) {
  std::string group(CurveOpenSslName(curve));
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group.c_str());
  if (raw == nullptr)
    return SslError(absl::StatusCode::kInternal, "EC key generation");
  return EvpPkeyPtr(raw);
}

}  // namespace keyferry::crypto
