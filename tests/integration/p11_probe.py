#!/usr/bin/env python3
"""A minimal PKCS#11 client written from the specification with ctypes.

It shares no code with keyferry and is test-only: it lets the tests ask a
token that OpenSC's pkcs11-tool cannot open (a module that needs an
initialization string in CK_C_INITIALIZE_ARGS.pReserved, such as NSS
softokn) what its secret keys do.

  aes-ecb-zero MODULE INIT_STRING TOKEN_LABEL KEY_LABEL
      Logs in with the PIN in $KEYFERRY_PIN, finds the one AES secret key
      labelled KEY_LABEL and prints, in hex, its CKM_AES_ECB encryption of
      one all-zero block: a value any holder of the same key reproduces,
      without the token revealing the key. Exit 1 on any failure.

  ecdsa-sign MODULE INIT_STRING TOKEN_LABEL KEY_LABEL DIGEST_HEX
      As above, finds the one EC private key labelled KEY_LABEL and prints
      its CKM_ECDSA signature of the digest, r || s in hex.
"""
import ctypes as C
import os
import sys

ULONG = C.c_ulong
CKR_OK = 0
CKF_SERIAL_SESSION, CKF_RW_SESSION = 0x4, 0x2
CKU_USER = 1
CKA_CLASS, CKA_KEY_TYPE, CKA_LABEL = 0x0, 0x100, 0x3
CKO_SECRET_KEY, CKK_AES = 4, 0x1F
CKO_PRIVATE_KEY, CKK_EC = 3, 0x3
CKM_AES_ECB = 0x1081
CKM_ECDSA = 0x1041

# CK_FUNCTION_LIST (PKCS#11 2.40 §5.16): a CK_VERSION, then the functions in
# this order; only the ones used here get a name.
FUNCTIONS = """C_Initialize C_Finalize C_GetInfo C_GetFunctionList C_GetSlotList
C_GetSlotInfo C_GetTokenInfo C_GetMechanismList C_GetMechanismInfo C_InitToken
C_InitPIN C_SetPIN C_OpenSession C_CloseSession C_CloseAllSessions
C_GetSessionInfo C_GetOperationState C_SetOperationState C_Login C_Logout
C_CreateObject C_CopyObject C_DestroyObject C_GetObjectSize C_GetAttributeValue
C_SetAttributeValue C_FindObjectsInit C_FindObjects C_FindObjectsFinal
C_EncryptInit C_Encrypt C_EncryptUpdate C_EncryptFinal C_DecryptInit
C_Decrypt C_DecryptUpdate C_DecryptFinal C_DigestInit C_Digest C_DigestUpdate
C_DigestKey C_DigestFinal C_SignInit C_Sign""".split()


class Version(C.Structure):
    _fields_ = [("major", C.c_ubyte), ("minor", C.c_ubyte)]


class FunctionList(C.Structure):
    _fields_ = [("version", Version)] + [(f, C.c_void_p) for f in FUNCTIONS]


class InitArgs(C.Structure):
    _fields_ = [("CreateMutex", C.c_void_p), ("DestroyMutex", C.c_void_p),
                ("LockMutex", C.c_void_p), ("UnlockMutex", C.c_void_p),
                ("flags", ULONG), ("pReserved", C.c_char_p)]


class Attribute(C.Structure):
    _fields_ = [("type", ULONG), ("pValue", C.c_void_p),
                ("ulValueLen", ULONG)]


class Mechanism(C.Structure):
    _fields_ = [("mechanism", ULONG), ("pParameter", C.c_void_p),
                ("ulParameterLen", ULONG)]


class Client:
    def __init__(self, module):
        lib = C.CDLL(module)
        fl = C.POINTER(FunctionList)()
        lib.C_GetFunctionList.argtypes = [C.POINTER(C.POINTER(FunctionList))]
        lib.C_GetFunctionList.restype = ULONG
        self.check("C_GetFunctionList", lib.C_GetFunctionList(C.byref(fl)))
        self.fl = fl.contents

    @staticmethod
    def check(what, rv):
        if rv != CKR_OK:
            raise RuntimeError(f"{what}: CK_RV 0x{rv:X}")

    def call(self, name, *args):
        fn = C.CFUNCTYPE(ULONG)(getattr(self.fl, name))
        self.check(name, fn(*args))


def one_key(cl, session, label, klass=CKO_SECRET_KEY, key_type=CKK_AES):
    lab = label.encode()
    cls, kt = ULONG(klass), ULONG(key_type)
    tmpl = (Attribute * 3)(
        Attribute(CKA_CLASS, C.cast(C.byref(cls), C.c_void_p), C.sizeof(cls)),
        Attribute(CKA_KEY_TYPE, C.cast(C.byref(kt), C.c_void_p), C.sizeof(kt)),
        Attribute(CKA_LABEL, C.cast(C.c_char_p(lab), C.c_void_p), len(lab)))
    cl.call("C_FindObjectsInit", session, tmpl, ULONG(3))
    found, n = (ULONG * 2)(), ULONG(0)
    cl.call("C_FindObjects", session, found, ULONG(2), C.byref(n))
    cl.call("C_FindObjectsFinal", session)
    if n.value != 1:
        raise RuntimeError(f"{n.value} keys labelled {label!r}, want 1")
    return found[0]


def logged_in(module, init, token, action):
    """Runs action(client, session) in a logged-in session on TOKEN."""
    cl = Client(module)
    args = InitArgs(flags=0, pReserved=init.encode())
    cl.call("C_Initialize", C.byref(args))
    try:
        count = ULONG(0)
        cl.call("C_GetSlotList", C.c_ubyte(1), None, C.byref(count))
        slots = (ULONG * count.value)()
        cl.call("C_GetSlotList", C.c_ubyte(1), slots, C.byref(count))
        slot = None
        for s in slots[:count.value]:
            info = C.create_string_buffer(208)  # CK_TOKEN_INFO, label first
            cl.call("C_GetTokenInfo", ULONG(s), info)
            if info.raw[:32].decode().rstrip(" ") == token:
                slot = s
        if slot is None:
            raise RuntimeError(f"no token labelled {token!r}")
        session = ULONG(0)
        cl.call("C_OpenSession", ULONG(slot),
                ULONG(CKF_SERIAL_SESSION | CKF_RW_SESSION), None, None,
                C.byref(session))
        pin = os.environ["KEYFERRY_PIN"].encode()
        cl.call("C_Login", session, ULONG(CKU_USER), C.c_char_p(pin),
                ULONG(len(pin)))
        action(cl, session)
        cl.call("C_CloseSession", session)
    finally:
        cl.call("C_Finalize", None)


def aes_ecb_zero(cl, session, label):
    key = one_key(cl, session, label)
    mech = Mechanism(CKM_AES_ECB, None, 0)
    cl.call("C_EncryptInit", session, C.byref(mech), ULONG(key))
    block = (C.c_ubyte * 16)()
    out, out_len = (C.c_ubyte * 16)(), ULONG(16)
    cl.call("C_Encrypt", session, block, ULONG(16), out, C.byref(out_len))
    if out_len.value != 16:
        raise RuntimeError(f"C_Encrypt wrote {out_len.value} bytes")
    print(bytes(out).hex())


def ecdsa_sign(cl, session, label, digest_hex):
    key = one_key(cl, session, label, CKO_PRIVATE_KEY, CKK_EC)
    digest = bytes.fromhex(digest_hex)
    mech = Mechanism(CKM_ECDSA, None, 0)
    cl.call("C_SignInit", session, C.byref(mech), ULONG(key))
    data = (C.c_ubyte * len(digest)).from_buffer_copy(digest)
    out, out_len = (C.c_ubyte * 256)(), ULONG(256)
    cl.call("C_Sign", session, data, ULONG(len(digest)), out,
            C.byref(out_len))
    print(bytes(out[:out_len.value]).hex())


def main():
    argv = sys.argv[1:]
    if len(argv) == 5 and argv[0] == "aes-ecb-zero":
        action = lambda cl, session: aes_ecb_zero(cl, session, argv[4])
    elif len(argv) == 6 and argv[0] == "ecdsa-sign":
        action = lambda cl, session: ecdsa_sign(cl, session, argv[4], argv[5])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        logged_in(argv[1], argv[2], argv[3], action)
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        print(f"p11_probe: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
