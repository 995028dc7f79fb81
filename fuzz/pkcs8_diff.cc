// Differential: crypto/keys.h ParsePkcs8Der (the strict PKCS#8 reader of
// .byok payloads and imports) against OpenSSL's d2i_PKCS8_PRIV_KEY_INFO +
// i2d re-encoding. Whatever we accept must be a PrivateKeyInfo OpenSSL
// reads in full and re-encodes byte for byte (so we accept DER only, not
// BER: no indefinite or non-minimal lengths), and the key it carries must
// be the key we returned. We refuse on purpose some inputs OpenSSL takes:
// a PrivateKeyInfo without a usable RSA/EC private key, or followed by
// trailing bytes (fuzz/README.md).
#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstring>

#include "crypto/keys.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyferry;
  SecretBytes der(std::span<const uint8_t>(data, size));
  absl::StatusOr<crypto::EvpPkeyPtr> ours = crypto::ParsePkcs8Der(der, false);

  const unsigned char* p = data;
  PKCS8_PRIV_KEY_INFO* info =
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(size));
  bool whole = info != nullptr && p == data + size;
  if (ours.ok()) {
    if (!whole) fuzz::Mismatch("we accept a PKCS#8 OpenSSL does not read");
    unsigned char* out = nullptr;
    int n = i2d_PKCS8_PRIV_KEY_INFO(info, &out);
    bool same = n == static_cast<int>(size) && memcmp(out, data, size) == 0;
    OPENSSL_clear_free(out, n > 0 ? n : 0);
    if (!same) fuzz::Mismatch("we accept a PKCS#8 that is not DER");
    EVP_PKEY* theirs = EVP_PKCS82PKEY(info);
    if (theirs == nullptr) fuzz::Mismatch("OpenSSL cannot use a key we accept");
    bool equal = crypto::PublicKeysEqual(ours->get(), theirs);
    EVP_PKEY_free(theirs);
    if (!equal) fuzz::Mismatch("OpenSSL reads another key than we do");
  }
  PKCS8_PRIV_KEY_INFO_free(info);
  ERR_clear_error();
  return 0;
}
