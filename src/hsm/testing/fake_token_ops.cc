// The fake token's mechanisms (see fake_token.h), computed with OpenSSL:
// AES key generation, a minimal EC key pair generation (attributes only, no
// key material), RFC 5649 wrap and unwrap (CKM_AES_KEY_WRAP_KWP), RFC 3394
// over PKCS#7 padding (CKM_AES_KEY_WRAP_PAD), AES-GCM (single part) and
// HMAC-SHA256. Test-only.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>

#include "hsm/testing/fake_token_internal.h"

namespace kf_fake_ops {
namespace {

using kf_fake::Bytes;
using kf_fake::Object;
using kf_fake::Operation;
using kf_fake::SessionState;
using kf_fake::State;
using Lock = std::lock_guard<std::mutex>;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// Session looks up `s` and checks the login for object operations.
CK_RV Session(State& g, CK_SESSION_HANDLE s, SessionState** out) {
  *out = kf_fake::FindSession(g, s);
  if (*out == nullptr) {
    return g.initialized ? CKR_SESSION_HANDLE_INVALID
                         : CKR_CRYPTOKI_NOT_INITIALIZED;
  }
  return g.logged_in ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
}

bool IsAesKey(const Object& k) {
  size_t n = k.Has(CKA_VALUE) ? k.attrs.at(CKA_VALUE).size() : 0;
  return k.Ulong(CKA_CLASS) == CKO_SECRET_KEY &&
         k.Ulong(CKA_KEY_TYPE) == CKK_AES && (n == 16 || n == 24 || n == 32);
}

// Cipher runs one EVP key-wrap cipher over `in` into `out`.
CK_RV Cipher(const EVP_CIPHER* c, bool wrap, const Bytes& kek,
             const uint8_t* in, size_t n, Bytes& out) {
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return CKR_HOST_MEMORY;
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  out.assign(n + 16, 0);
  int len = 0, fin = 0;
  if (EVP_CipherInit_ex(ctx.get(), c, nullptr, kek.data(), nullptr,
                        wrap ? 1 : 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), out.data(), &len, in, static_cast<int>(n)) !=
          1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    return wrap ? CKR_FUNCTION_FAILED : CKR_WRAPPED_KEY_INVALID;
  }
  out.resize(static_cast<size_t>(len) + static_cast<size_t>(fin));
  return CKR_OK;
}

// KeyWrap wraps (`wrap`) or unwraps `in` under `kek`: CKM_AES_KEY_WRAP_KWP
// is RFC 5649; CKM_AES_KEY_WRAP_PAD is RFC 3394 over PKCS#7 padding to a
// multiple of 8 bytes (PKCS#11 3.0's reading of the number, which some
// tokens follow), so that a known-answer test tells the two apart.
CK_RV KeyWrap(CK_MECHANISM_TYPE mech, bool wrap, const Bytes& kek,
              const uint8_t* in, size_t n, Bytes& out) {
  const bool kwp = mech == CKM_AES_KEY_WRAP_KWP;
  const EVP_CIPHER* c =
      kek.size() == 16   ? (kwp ? EVP_aes_128_wrap_pad() : EVP_aes_128_wrap())
      : kek.size() == 24 ? (kwp ? EVP_aes_192_wrap_pad() : EVP_aes_192_wrap())
                         : (kwp ? EVP_aes_256_wrap_pad() : EVP_aes_256_wrap());
  if (kwp) return Cipher(c, wrap, kek, in, n, out);
  if (wrap) {
    Bytes padded(in, in + n);
    const size_t pad = 8 - n % 8;
    padded.insert(padded.end(), pad, static_cast<uint8_t>(pad));
    return Cipher(c, true, kek, padded.data(), padded.size(), out);
  }
  if (CK_RV rv = Cipher(c, false, kek, in, n, out); rv != CKR_OK) return rv;
  const size_t pad = out.empty() ? 0 : out.back();
  if (pad == 0 || pad > 8 || pad > out.size() ||
      std::any_of(out.end() - static_cast<std::ptrdiff_t>(pad), out.end(),
                  [pad](uint8_t b) { return b != pad; })) {
    return CKR_WRAPPED_KEY_INVALID;
  }
  out.resize(out.size() - pad);
  return CKR_OK;
}

// Gcm encrypts (`enc`: ciphertext || tag) or decrypts (`in` holds the tag
// last) with the parameters of `op`.
CK_RV Gcm(bool enc, const Operation& op, const uint8_t* in, size_t n,
          Bytes& out) {
  if (!enc && n < op.tag_bytes) return CKR_ENCRYPTED_DATA_LEN_RANGE;
  const size_t body = enc ? n : n - op.tag_bytes;
  const EVP_CIPHER* c = op.key.size() == 16   ? EVP_aes_128_gcm()
                        : op.key.size() == 24 ? EVP_aes_192_gcm()
                                              : EVP_aes_256_gcm();
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return CKR_HOST_MEMORY;
  out.assign(body + (enc ? op.tag_bytes : 0), 0);
  int len = 0, fin = 0;
  bool ok = EVP_CipherInit_ex(ctx.get(), c, nullptr, nullptr, nullptr,
                              enc ? 1 : 0) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN,
                                static_cast<int>(op.iv.size()), nullptr) == 1 &&
            EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, op.key.data(),
                              op.iv.data(), enc ? 1 : 0) == 1;
  if (ok && !op.aad.empty()) {
    ok = EVP_CipherUpdate(ctx.get(), nullptr, &len, op.aad.data(),
                          static_cast<int>(op.aad.size())) == 1;
  }
  len = 0;
  if (ok && body > 0) {
    ok = EVP_CipherUpdate(ctx.get(), out.data(), &len, in,
                          static_cast<int>(body)) == 1;
  }
  if (ok && !enc) {
    Bytes tag(in + body, in + n);
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG,
                             static_cast<int>(tag.size()), tag.data()) == 1;
  }
  ok = ok && EVP_CipherFinal_ex(ctx.get(), out.data() + len, &fin) == 1;
  if (ok && enc) {
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG,
                             static_cast<int>(op.tag_bytes),
                             out.data() + body) == 1;
  }
  if (!ok) return enc ? CKR_FUNCTION_FAILED : CKR_ENCRYPTED_DATA_INVALID;
  return CKR_OK;
}

// StartGcm checks a CKM_AES_GCM mechanism and key into `op`.
CK_RV StartGcm(const CK_MECHANISM& m, const Object& key,
               CK_ATTRIBUTE_TYPE usage, Operation& op) {
  if (m.mechanism != CKM_AES_GCM) return CKR_MECHANISM_INVALID;
  if (m.pParameter == nullptr || m.ulParameterLen != sizeof(CK_GCM_PARAMS)) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  const auto* p = static_cast<const CK_GCM_PARAMS*>(m.pParameter);
  if (p->pIv == nullptr || p->ulIvLen == 0 || p->ulTagBits % 8 != 0 ||
      p->ulTagBits < 96 || p->ulTagBits > 128 ||
      (p->pAAD == nullptr && p->ulAADLen != 0)) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  if (!IsAesKey(key)) return CKR_KEY_TYPE_INCONSISTENT;
  if (!key.Bool(usage, false)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  op = Operation();
  op.mech = CKM_AES_GCM;
  op.key = key.attrs.at(CKA_VALUE);
  op.iv.assign(p->pIv, p->pIv + p->ulIvLen);
  if (p->ulAADLen != 0) op.aad.assign(p->pAAD, p->pAAD + p->ulAADLen);
  op.tag_bytes = p->ulTagBits / 8;
  op.active = true;
  return CKR_OK;
}

// Init is the shared part of C_EncryptInit/C_DecryptInit/C_SignInit.
template <typename Start>
CK_RV Init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key,
           Operation SessionState::*which, unsigned long KfFakeStats::*counter,
           Start start) {
  if (m == nullptr) return CKR_ARGUMENTS_BAD;
  State& g = kf_fake::G();
  Lock lock(g.mu);
  SessionState* ss;
  if (CK_RV rv = Session(g, s, &ss); rv != CKR_OK) return rv;
  ++(g.stats.*counter);
  Operation& op = ss->*which;
  if (op.active) return CKR_OPERATION_ACTIVE;
  Object* k;
  if (CK_RV rv = kf_fake::FindKey(g, key, &k); rv != CKR_OK) return rv;
  return start(*m, *k, op);
}

// Run is the shared part of C_Encrypt/C_Decrypt/C_Sign: `compute` makes
// the whole result and `answer` the length a size query is told.
template <typename Compute, typename Answer>
CK_RV Run(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR out,
          CK_ULONG_PTR out_len, Operation SessionState::*which,
          unsigned long KfFakeStats::*counter, Compute compute, Answer answer) {
  if (data == nullptr && n != 0) return CKR_ARGUMENTS_BAD;
  State& g = kf_fake::G();
  Lock lock(g.mu);
  SessionState* ss;
  if (CK_RV rv = Session(g, s, &ss); rv != CKR_OK) return rv;
  ++(g.stats.*counter);
  Operation& op = ss->*which;
  if (!op.active) return CKR_OPERATION_NOT_INITIALIZED;
  Bytes result;
  if (CK_RV rv = compute(op, data, n, result); rv != CKR_OK) {
    op.active = false;
    return rv;
  }
  return kf_fake::Deliver(g, result, answer(g, n, result), out, out_len, &op);
}

}  // namespace

CK_RV GenerateKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t,
                  CK_ULONG n, CK_OBJECT_HANDLE_PTR out) {
  if (m == nullptr || out == nullptr) return CKR_ARGUMENTS_BAD;
  State& g = kf_fake::G();
  Lock lock(g.mu);
  SessionState* ss;
  if (CK_RV rv = Session(g, s, &ss); rv != CKR_OK) return rv;
  ++g.stats.generate_key_calls;
  if (m->mechanism != CKM_AES_KEY_GEN) return CKR_MECHANISM_INVALID;
  Object o;
  if (CK_RV rv = kf_fake::Attrs(t, n, o.attrs); rv != CKR_OK) return rv;
  o.attrs.emplace(CKA_CLASS, kf_fake::Ulong(CKO_SECRET_KEY));
  o.attrs.emplace(CKA_KEY_TYPE, kf_fake::Ulong(CKK_AES));
  if (o.Ulong(CKA_CLASS) != CKO_SECRET_KEY ||
      o.Ulong(CKA_KEY_TYPE) != CKK_AES || o.Has(CKA_VALUE)) {
    return CKR_TEMPLATE_INCONSISTENT;
  }
  std::optional<CK_ULONG> len = o.Ulong(CKA_VALUE_LEN);
  if (!len) return CKR_TEMPLATE_INCOMPLETE;
  if (*len != 16 && *len != 24 && *len != 32) return CKR_KEY_SIZE_RANGE;
  if (CK_RV rv = kf_fake::CheckNewObject(g, o); rv != CKR_OK) return rv;
  Bytes value(*len);
  if (RAND_bytes(value.data(), static_cast<int>(value.size())) != 1) {
    return CKR_FUNCTION_FAILED;
  }
  o.attrs[CKA_VALUE] = std::move(value);
  o.attrs[CKA_LOCAL] = kf_fake::Bool(true);
  *out = kf_fake::AddObject(g, s, std::move(o));
  return CKR_OK;
}

CK_RV GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                      CK_ATTRIBUTE_PTR pub_t, CK_ULONG pub_n,
                      CK_ATTRIBUTE_PTR priv_t, CK_ULONG priv_n,
                      CK_OBJECT_HANDLE_PTR pub_out,
                      CK_OBJECT_HANDLE_PTR priv_out) {
  if (m == nullptr || pub_out == nullptr || priv_out == nullptr) {
    return CKR_ARGUMENTS_BAD;
  }
  State& g = kf_fake::G();
  Lock lock(g.mu);
  SessionState* ss;
  if (CK_RV rv = Session(g, s, &ss); rv != CKR_OK) return rv;
  ++g.stats.generate_key_pair_calls;
  if (m->mechanism != CKM_EC_KEY_PAIR_GEN) return CKR_MECHANISM_INVALID;
  Object pub, priv;
  if (CK_RV rv = kf_fake::Attrs(pub_t, pub_n, pub.attrs); rv != CKR_OK) {
    return rv;
  }
  if (CK_RV rv = kf_fake::Attrs(priv_t, priv_n, priv.attrs); rv != CKR_OK) {
    return rv;
  }
  if (!pub.Has(CKA_EC_PARAMS)) return CKR_TEMPLATE_INCOMPLETE;
  pub.attrs.emplace(CKA_CLASS, kf_fake::Ulong(CKO_PUBLIC_KEY));
  priv.attrs.emplace(CKA_CLASS, kf_fake::Ulong(CKO_PRIVATE_KEY));
  pub.attrs.emplace(CKA_KEY_TYPE, kf_fake::Ulong(CKK_EC));
  priv.attrs.emplace(CKA_KEY_TYPE, kf_fake::Ulong(CKK_EC));
  priv.attrs[CKA_EC_PARAMS] = pub.attrs[CKA_EC_PARAMS];
  for (const Object* o : {&pub, &priv}) {
    if (CK_RV rv = kf_fake::CheckNewObject(g, *o); rv != CKR_OK) return rv;
  }
  *pub_out = kf_fake::AddObject(g, s, std::move(pub));
  *priv_out = kf_fake::AddObject(g, s, std::move(priv));
  return CKR_OK;
}

CK_RV WrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE kek,
              CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  if (m == nullptr) return CKR_ARGUMENTS_BAD;
  State& g = kf_fake::G();
  Lock lock(g.mu);
  SessionState* ss;
  if (CK_RV rv = Session(g, s, &ss); rv != CKR_OK) return rv;
  ++g.stats.wrap_calls;
  if (m->mechanism != CKM_AES_KEY_WRAP_KWP &&
      m->mechanism != CKM_AES_KEY_WRAP_PAD) {
    return CKR_MECHANISM_INVALID;
  }
  Object *w, *k;
  if (kf_fake::FindKey(g, kek, &w) != CKR_OK) {
    return CKR_WRAPPING_KEY_HANDLE_INVALID;
  }
  if (CK_RV rv = kf_fake::FindKey(g, key, &k); rv != CKR_OK) return rv;
  if (!IsAesKey(*w)) return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
  if (!w->Bool(CKA_WRAP, false)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  if (!k->Bool(CKA_EXTRACTABLE, false)) return CKR_KEY_UNEXTRACTABLE;
  if (!k->Has(CKA_VALUE)) return CKR_KEY_NOT_WRAPPABLE;
  const Bytes& value = k->attrs.at(CKA_VALUE);
  Bytes wrapped;
  CK_RV rv = KeyWrap(m->mechanism, true, w->attrs.at(CKA_VALUE), value.data(),
                     value.size(), wrapped);
  if (rv != CKR_OK) return rv;
  // Short: the key's own length, 8-16 bytes below the wrap's.
  CK_ULONG answer = g.quirks.short_size ? value.size() : wrapped.size();
  return kf_fake::Deliver(g, wrapped, answer, out, out_len, nullptr);
}

CK_RV UnwrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE kek,
                CK_BYTE_PTR wrapped, CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR t,
                CK_ULONG n, CK_OBJECT_HANDLE_PTR out) {
  if (m == nullptr || wrapped == nullptr || out == nullptr) {
    return CKR_ARGUMENTS_BAD;
  }
  State& g = kf_fake::G();
  Lock lock(g.mu);
  SessionState* ss;
  if (CK_RV rv = Session(g, s, &ss); rv != CKR_OK) return rv;
  ++g.stats.unwrap_calls;
  Object o;
  if (CK_RV rv = kf_fake::Attrs(t, n, o.attrs); rv != CKR_OK) return rv;
  if (o.Has(kKfFakeDbAttribute)) {
    ++g.stats.unwrap_db_attr_sent;
    g.stats.unwrap_db_attr_len = o.attrs.at(kKfFakeDbAttribute).size();
  }
  if (m->mechanism != CKM_AES_KEY_WRAP_KWP &&
      m->mechanism != CKM_AES_KEY_WRAP_PAD) {
    return CKR_MECHANISM_INVALID;
  }
  if (!o.Ulong(CKA_CLASS) || !o.Ulong(CKA_KEY_TYPE)) {
    return CKR_TEMPLATE_INCOMPLETE;
  }
  const bool private_key = o.Ulong(CKA_CLASS) == CKO_PRIVATE_KEY;
  const bool demanded =
      private_key &&
      (g.quirks.demand_attr_all ||
       (g.quirks.demand_ec_attr && o.Ulong(CKA_KEY_TYPE) == CKK_EC));
  if (demanded && !o.Has(kKfFakeDbAttribute)) return CKR_TEMPLATE_INCOMPLETE;
  Object* w;
  if (kf_fake::FindKey(g, kek, &w) != CKR_OK) {
    return CKR_UNWRAPPING_KEY_HANDLE_INVALID;
  }
  if (!IsAesKey(*w)) return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
  if (!w->Bool(CKA_UNWRAP, false)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  if (CK_RV rv = kf_fake::CheckNewObject(g, o); rv != CKR_OK) return rv;
  Bytes value;
  if (CK_RV rv = KeyWrap(m->mechanism, false, w->attrs.at(CKA_VALUE), wrapped,
                         wrapped_len, value);
      rv != CKR_OK) {
    return rv;
  }
  if (!private_key) o.attrs[CKA_VALUE_LEN] = kf_fake::Ulong(value.size());
  o.attrs[CKA_VALUE] = std::move(value);
  *out = kf_fake::AddObject(g, s, std::move(o));
  return CKR_OK;
}

CK_RV EncryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                  CK_OBJECT_HANDLE key) {
  return Init(s, m, key, &SessionState::encrypt,
              &KfFakeStats::encrypt_init_calls,
              [](const CK_MECHANISM& mech, const Object& k, Operation& op) {
                return StartGcm(mech, k, CKA_ENCRYPT, op);
              });
}

CK_RV Encrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG n,
              CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Run(
      s, data, n, out, out_len, &SessionState::encrypt,
      &KfFakeStats::encrypt_calls,
      [](const Operation& op, const uint8_t* in, size_t len, Bytes& result) {
        return Gcm(true, op, in, len, result);
      },
      // Short: the tag left out.
      [](const State& g, CK_ULONG len, const Bytes& result) -> CK_ULONG {
        return g.quirks.short_size ? len : result.size();
      });
}

CK_RV DecryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                  CK_OBJECT_HANDLE key) {
  return Init(s, m, key, &SessionState::decrypt,
              &KfFakeStats::decrypt_init_calls,
              [](const CK_MECHANISM& mech, const Object& k, Operation& op) {
                return StartGcm(mech, k, CKA_DECRYPT, op);
              });
}

CK_RV Decrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG n,
              CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Run(
      s, data, n, out, out_len, &SessionState::decrypt,
      &KfFakeStats::decrypt_calls,
      [](const Operation& op, const uint8_t* in, size_t len, Bytes& result) {
        return Gcm(false, op, in, len, result);
      },
      [](const State&, CK_ULONG, const Bytes& result) -> CK_ULONG {
        return result.size();
      });
}

CK_RV SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return Init(s, m, key, &SessionState::sign, &KfFakeStats::sign_init_calls,
              [](const CK_MECHANISM& mech, const Object& k, Operation& op) {
                if (mech.mechanism != CKM_SHA256_HMAC) {
                  return CKR_MECHANISM_INVALID;
                }
                if (k.Ulong(CKA_CLASS) != CKO_SECRET_KEY || !k.Has(CKA_VALUE)) {
                  return CKR_KEY_TYPE_INCONSISTENT;
                }
                if (!k.Bool(CKA_SIGN, false)) {
                  return CKR_KEY_FUNCTION_NOT_PERMITTED;
                }
                op = Operation();
                op.mech = CKM_SHA256_HMAC;
                op.key = k.attrs.at(CKA_VALUE);
                op.active = true;
                return CKR_OK;
              });
}

CK_RV Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR out,
           CK_ULONG_PTR out_len) {
  return Run(
      s, data, n, out, out_len, &SessionState::sign, &KfFakeStats::sign_calls,
      [](const Operation& op, const uint8_t* in, size_t len, Bytes& result) {
        result.assign(EVP_MAX_MD_SIZE, 0);
        unsigned int mac_len = 0;
        static const uint8_t kEmpty = 0;
        if (HMAC(EVP_sha256(), op.key.data(), static_cast<int>(op.key.size()),
                 in == nullptr ? &kEmpty : in, len, result.data(),
                 &mac_len) == nullptr) {
          return CKR_FUNCTION_FAILED;
        }
        result.resize(mac_len);
        return CKR_OK;
      },
      // Short: half the MAC.
      [](const State& g, CK_ULONG, const Bytes& result) -> CK_ULONG {
        return g.quirks.short_size ? result.size() / 2 : result.size();
      });
}

}  // namespace kf_fake_ops
