// The PKCS#11 C ABI: p11-kit's header plus the PKCS#11 3.x names it lacks.
// Only src/hsm includes this.
#ifndef KEYFERRY_HSM_PKCS11_H_
#define KEYFERRY_HSM_PKCS11_H_

#include <p11-kit/pkcs11.h>

#ifndef CKM_AES_KEY_WRAP_KWP
#define CKM_AES_KEY_WRAP_KWP (0x210BUL)
#endif
#ifndef CKM_AES_KEY_WRAP_PKCS7
#define CKM_AES_KEY_WRAP_PKCS7 (0x210CUL)
#endif

// CK_RSA_AES_KEY_WRAP_PARAMS (OASIS PKCS#11 v3.1 §2.1.21).
struct KfRsaAesKeyWrapParams {
  CK_ULONG ulAESKeyBits;
  CK_RSA_PKCS_OAEP_PARAMS* pOAEPParams;
};

#endif  // KEYFERRY_HSM_PKCS11_H_
