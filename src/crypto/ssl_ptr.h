// Owned OpenSSL objects: one deleter per type, as Tink's ssl_unique_ptr.h.
#ifndef KEYFERRY_CRYPTO_SSL_PTR_H_
#define KEYFERRY_CRYPTO_SSL_PTR_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace keyferry::crypto {

template <typename T, void (*F)(T*)>
struct SslDeleter {
  void operator()(T* p) const { F(p); }
};

inline void FreeBio(BIO* b) { BIO_free_all(b); }

using EvpPkeyPtr =
    std::unique_ptr<EVP_PKEY, SslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpPkeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, SslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EvpCipherCtxPtr =
    std::unique_ptr<EVP_CIPHER_CTX,
                    SslDeleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using EvpCipherPtr =
    std::unique_ptr<EVP_CIPHER, SslDeleter<EVP_CIPHER, EVP_CIPHER_free>>;
using EvpMdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, SslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EvpMdPtr = std::unique_ptr<EVP_MD, SslDeleter<EVP_MD, EVP_MD_free>>;
using EvpMacPtr = std::unique_ptr<EVP_MAC, SslDeleter<EVP_MAC, EVP_MAC_free>>;
using EvpMacCtxPtr =
    std::unique_ptr<EVP_MAC_CTX, SslDeleter<EVP_MAC_CTX, EVP_MAC_CTX_free>>;
using EvpKdfPtr = std::unique_ptr<EVP_KDF, SslDeleter<EVP_KDF, EVP_KDF_free>>;
using EvpKdfCtxPtr =
    std::unique_ptr<EVP_KDF_CTX, SslDeleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, SslDeleter<BIO, FreeBio>>;
using BnPtr = std::unique_ptr<BIGNUM, SslDeleter<BIGNUM, BN_clear_free>>;
using OsslDecoderCtxPtr =
    std::unique_ptr<OSSL_DECODER_CTX,
                    SslDeleter<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>>;
using OsslEncoderCtxPtr =
    std::unique_ptr<OSSL_ENCODER_CTX,
                    SslDeleter<OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free>>;
using OsslParamBldPtr =
    std::unique_ptr<OSSL_PARAM_BLD,
                    SslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using OsslParamPtr =
    std::unique_ptr<OSSL_PARAM, SslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;
using X509Ptr = std::unique_ptr<X509, SslDeleter<X509, X509_free>>;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION,
                    SslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES,
                    SslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using NameConstraintsPtr =
    std::unique_ptr<NAME_CONSTRAINTS,
                    SslDeleter<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free>>;

}  // namespace keyferry::crypto

#endif  // KEYFERRY_CRYPTO_SSL_PTR_H_
