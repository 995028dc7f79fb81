#include "hsm/mechanisms.h"

#include <algorithm>

#include "hsm/pkcs11.h"

namespace keyferry::hsm {

static_assert(kRsaPkcsKeyPairGen == CKM_RSA_PKCS_KEY_PAIR_GEN);
static_assert(kRsaPkcs == CKM_RSA_PKCS);
static_assert(kRsaX509 == CKM_RSA_X_509);
static_assert(kRsaPkcsOaep == CKM_RSA_PKCS_OAEP);
static_assert(kRsaAesKeyWrap == CKM_RSA_AES_KEY_WRAP);
static_assert(kSha256Hmac == CKM_SHA256_HMAC);
static_assert(kGenericSecretKeyGen == CKM_GENERIC_SECRET_KEY_GEN);
static_assert(kEcKeyPairGen == CKM_EC_KEY_PAIR_GEN);
static_assert(kEcdsa == CKM_ECDSA);
static_assert(kAesKeyGen == CKM_AES_KEY_GEN);
static_assert(kAesEcb == CKM_AES_ECB);
static_assert(kAesCbc == CKM_AES_CBC);
static_assert(kAesCbcPad == CKM_AES_CBC_PAD);
static_assert(kAesGcm == CKM_AES_GCM);
static_assert(kAesKeyWrap == CKM_AES_KEY_WRAP);
static_assert(kAesKeyWrapPad == CKM_AES_KEY_WRAP_PAD);
static_assert(kAesKeyWrapKwp == CKM_AES_KEY_WRAP_KWP);

namespace {

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

CK_RSA_PKCS_OAEP_PARAMS OaepParams(crypto::OaepHash hash) {
  switch (hash) {
    case crypto::OaepHash::kSha256:
      return {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
    case crypto::OaepHash::kSha384:
      return {CKM_SHA384, CKG_MGF1_SHA384, CKZ_DATA_SPECIFIED, nullptr, 0};
    case crypto::OaepHash::kSha512:
      return {CKM_SHA512, CKG_MGF1_SHA512, CKZ_DATA_SPECIFIED, nullptr, 0};
    case crypto::OaepHash::kSha1:
      break;
  }
  return {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};
}

}  // namespace

OwnedMechanism RsaOaep(crypto::OaepHash hash) {
  auto p = std::make_shared<CK_RSA_PKCS_OAEP_PARAMS>(OaepParams(hash));
  return OwnedMechanism({CKM_RSA_PKCS_OAEP, p.get(), sizeof *p}, p);
}

OwnedMechanism RsaPss(size_t digest_bytes) {
  const CK_MECHANISM_TYPE hash = digest_bytes == 32   ? CKM_SHA256
                                 : digest_bytes == 48 ? CKM_SHA384
                                                      : CKM_SHA512;
  const CK_RSA_PKCS_MGF_TYPE mgf = digest_bytes == 32   ? CKG_MGF1_SHA256
                                   : digest_bytes == 48 ? CKG_MGF1_SHA384
                                                        : CKG_MGF1_SHA512;
  auto p = std::make_shared<CK_RSA_PKCS_PSS_PARAMS>(
      CK_RSA_PKCS_PSS_PARAMS{hash, mgf, digest_bytes});
  return OwnedMechanism({CKM_RSA_PKCS_PSS, p.get(), sizeof *p}, p);
}

OwnedMechanism AesGcm(std::span<const uint8_t> iv,
                      std::span<const uint8_t> aad) {
  struct Gcm {
    std::vector<uint8_t> iv, aad;
    CK_GCM_PARAMS params;
  };
  auto g = std::make_shared<Gcm>();
  g->iv.assign(iv.begin(), iv.end());
  g->aad.assign(aad.begin(), aad.end());
  g->params = {g->iv.data(),  g->iv.size(),  g->iv.size() * 8,
               g->aad.data(), g->aad.size(), 128};
  return OwnedMechanism({CKM_AES_GCM, &g->params, sizeof g->params}, g);
}

Mechanism AesCbc(std::span<const uint8_t> iv, bool pad) {
  return {pad ? CKM_AES_CBC_PAD : CKM_AES_CBC, iv.data(), iv.size()};
}

OwnedMechanism RsaAesKeyWrap(size_t aes_bits, crypto::OaepHash hash) {
  struct Params {
    CK_RSA_PKCS_OAEP_PARAMS oaep;
    KfRsaAesKeyWrapParams wrap;
  };
  auto p = std::make_shared<Params>();
  p->oaep = OaepParams(hash);
  p->wrap = {aes_bits, &p->oaep};
  return OwnedMechanism({CKM_RSA_AES_KEY_WRAP, &p->wrap, sizeof p->wrap}, p);
}

std::vector<uint8_t> Pkcs1DigestInfo(std::span<const uint8_t> digest) {
  std::span<const uint8_t> info =
      digest.size() == 32   ? std::span<const uint8_t>(kSha256Info)
      : digest.size() == 48 ? std::span<const uint8_t>(kSha384Info)
                            : std::span<const uint8_t>(kSha512Info);
  std::vector<uint8_t> out(info.size() + digest.size());
  std::copy(info.begin(), info.end(), out.begin());
  std::copy(digest.begin(), digest.end(),
            out.begin() + static_cast<std::ptrdiff_t>(info.size()));
  return out;
}

}  // namespace keyferry::hsm
