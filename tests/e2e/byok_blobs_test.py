"""End to end: .byok blobs written by an independent implementation of the
Azure BYOK specification (Python's `cryptography`: RSA-OAEP-SHA1 of a random
AES-256 key || RFC 5649 KWP of the target), imported into a keyferryd started
by tests/e2e/byok_blobs_test.sh over raw HTTPS (http.client, no azure SDK).

Each imported key is proved outside keyferryd: RSA/EC signatures made by
keyferryd are verified with the target's own public key, the public JWK is
compared with the target's, and AES keys must wrap (A*KW, deterministic) byte
for byte like `cryptography` does with the known key, and unwrap back.
Negative cases must answer 400 BadParameter and store nothing.

Run with /usr/bin/python3 (Debian's interpreter with python3-cryptography 38).
Prints "byok_blobs_test: N passed, M failed" and exits non-zero on failure.
"""

import base64
import hashlib
import http.client
import json
import os
import shlex
import ssl
import subprocess
import sys
import time
import traceback
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (aes_key_unwrap,
                                                    aes_key_wrap,
                                                    aes_key_wrap_with_padding)

VAULT = os.environ["KF_VAULT_URL"]
OTHER_VAULT = os.environ.get("KF_OTHER_VAULT_URL")
RESOURCE = os.environ["KF_RESOURCE"]
KEYFERRYD = os.environ["KEYFERRYD"]
DATA_DIR = os.environ["KF_DATA_DIR"]
CA = os.environ["KF_CA"]
API = "7.4"

passed = 0
failed = 0
VERBOSE = bool(os.environ.get("KF_VERBOSE"))
# KF_CUSTODY=pkcs11: keyferryd imports inside a SoftHSMv2 token and never
# sees the PKCS#8. What only the plaintext shows (bytes after the DER, the
# optional embedded publicKey, the consistency of d and the CRT values) is
# then the token's to judge, and SoftHSM accepts all of it
# (docs/security-model.md §3). In that mode those blobs must import as the
# key the DER describes: the published public key is the private key's own
# (recovered from the token's signatures for EC), and it signs.
HSM = os.environ.get("KF_CUSTODY") == "pkcs11"


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        if VERBOSE:
            print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)
    return cond


def case(fn):
    """Runs one scenario; an exception is one failure."""
    global failed
    try:
        fn()
    except Exception:  # noqa: BLE001 - a test runner reports every error
        failed += 1
        print(f"FAIL {fn.__name__} raised:", file=sys.stderr)
        traceback.print_exc()
    return fn


# ---------------------------------------------------------------- encodings

def b64u(data, pad=False):
    s = base64.urlsafe_b64encode(data).decode()
    return s if pad else s.rstrip("=")


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def int_bytes(i, length=None):
    if length is None:
        length = max(1, (i.bit_length() + 7) // 8)
    return i.to_bytes(length, "big")


def b64u_int(i, length=None):
    return b64u(int_bytes(i, length))


# --------------------------------------------------------------------- HTTP

SSL_CTX = ssl.create_default_context(cafile=CA)


def mint(principal):
    return subprocess.check_output(
        [KEYFERRYD, "token", "--data-dir", DATA_DIR, "--listen",
         f"127.0.0.1:{os.environ['KF_PORT']}", "--principal", principal,
         "--resource", RESOURCE]
        + shlex.split(os.environ.get("KF_CUSTODY_FLAGS", ""))).decode().strip()


TOKEN = mint("officer")


def req(method, path, body=None, vault=VAULT, raw_body=None):
    """One HTTPS request; returns (status, parsed JSON or None, raw text).
    (The timeout bounds a hang; an RSA-4096 KEK's generation on a loaded
    2-core machine may take a good part of a minute.)"""
    u = urllib.parse.urlsplit(vault)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=SSL_CTX,
                                       timeout=120)
    sep = "&" if "?" in path else "?"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    data = None
    if raw_body is not None:
        data = raw_body
    elif body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, f"{path}{sep}api-version={API}", body=data,
                     headers=headers)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
    finally:
        conn.close()
    try:
        js = json.loads(text) if text else None
    except ValueError:
        js = None
    return r.status, js, text


def short(text, n=400):
    return text if len(text) <= n else text[:n] + f"...({len(text)} chars)"


def err_code(js):
    try:
        return js["error"]["code"]
    except (TypeError, KeyError):
        return None


def err_msg(js):
    try:
        return js["error"]["message"]
    except (TypeError, KeyError):
        return ""


def version_of(kid):
    return kid.rstrip("/").rsplit("/", 1)[1]


# --------------------------------------------------------------- BYOK blob

OAEP_SHA1 = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                         algorithm=hashes.SHA1(), label=None)


def seal(kek_pub, payload, oaep=OAEP_SHA1, transient=None):
    """C1 || C2 of the spec (section 1.2); returns (ciphertext, transient)."""
    k = transient if transient is not None else os.urandom(32)
    c1 = kek_pub.encrypt(k, oaep)
    c2 = aes_key_wrap_with_padding(k, payload)
    return c1 + c2, k


def container(kid, ciphertext, *, ct_pad=False, pretty=False,
              schema="1.0.0", alg="dir", enc="CKM_RSA_AES_KEY_WRAP",
              generator="byok_blobs_test.py (python cryptography); software",
              extra=None, ct_text=None):
    """The .byok JSON bytes (byok-formats.md 1.1)."""
    doc = {"schema_version": schema,
           "header": {"kid": kid, "alg": alg, "enc": enc},
           "ciphertext": ct_text if ct_text is not None else b64u(ciphertext, ct_pad)}
    if generator is not None:
        doc["generator"] = generator
    if extra:
        doc.update(extra)
    if pretty:
        return json.dumps(doc, indent=2).encode()
    return json.dumps(doc, separators=(",", ":")).encode()


# ------------------------------------------------------------------ targets

CURVES = {
    "P-256": (ec.SECP256R1(), 32, hashes.SHA256(), "ES256",
              "1.2.840.10045.3.1.7"),
    "P-384": (ec.SECP384R1(), 48, hashes.SHA384(), "ES384",
              "1.3.132.0.34"),
    "P-521": (ec.SECP521R1(), 66, hashes.SHA512(), "ES512",
              "1.3.132.0.35"),
    "P-256K": (ec.SECP256K1(), 32, hashes.SHA256(), "ES256K",
               "1.3.132.0.10"),
}


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = int_bytes(n)
    return bytes([0x80 | len(b)]) + b


def der(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def der_oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(enc))
    return der(0x06, body)


def ec_pkcs8_minimal(priv, crv):
    """PKCS#8 with an ECPrivateKey without parameters or publicKey (the
    SoftHSM form; byok-formats.md 1.3), built by hand."""
    _, size, _, _, oid = CURVES[crv]
    d = int_bytes(priv.private_numbers().private_value, size)
    ecpk = der(0x30, der(0x02, b"\x01") + der(0x04, d))
    algid = der(0x30, der_oid("1.2.840.10045.2.1") + der_oid(oid))
    return der(0x30, der(0x02, b"\x00") + algid + der(0x04, ecpk))


class Target:
    def __init__(self, label, kind, key, payload, crv=None, bits=None):
        self.label = label
        self.kind = kind        # "RSA", "EC", "oct"
        self.key = key          # private key object, or raw bytes for oct
        self.payload = payload  # P
        self.crv = crv
        self.bits = bits

    @property
    def kty(self):
        return {"RSA": "RSA-HSM", "EC": "EC-HSM", "oct": "oct-HSM"}[self.kind]

    def ops(self):
        if self.kind == "oct":
            return ["wrapKey", "unwrapKey", "encrypt", "decrypt"]
        return ["sign", "verify"]


def rsa_target(bits):
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    p = k.private_bytes(serialization.Encoding.DER,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption())
    return Target(f"RSA-{bits}", "RSA", k, p, bits=bits)


def ec_target(crv, minimal=False):
    k = ec.generate_private_key(CURVES[crv][0])
    if minimal:
        p = ec_pkcs8_minimal(k, crv)
        # The hand-built DER must be a valid PKCS#8 of the same key.
        back = serialization.load_der_private_key(p, None)
        assert back.private_numbers() == k.private_numbers()
    else:
        p = k.private_bytes(serialization.Encoding.DER,
                            serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return Target(f"EC-{crv}{'-min' if minimal else ''}", "EC", k, p, crv=crv)


def aes_target(bits):
    k = os.urandom(bits // 8)
    return Target(f"AES-{bits}", "oct", k, k, bits=bits)


# ---------------------------------------------------------------- KEKs

class Kek:
    def __init__(self, name, kid, pub):
        self.name = name
        self.kid = kid
        self.pub = pub
        self.uses = 0

    @property
    def nbytes(self):
        return (self.pub.key_size + 7) // 8


def create_rsa(name, size, ops, vault=VAULT):
    st, js, text = req("POST", f"/keys/{name}/create",
                       {"kty": "RSA-HSM", "key_size": size, "key_ops": ops},
                       vault=vault)
    if st != 200:
        raise RuntimeError(f"create {name}: {st} {short(text)}")
    key = js["key"]
    pub = rsa.RSAPublicNumbers(int.from_bytes(b64u_dec(key["e"]), "big"),
                               int.from_bytes(b64u_dec(key["n"]), "big")
                               ).public_key()
    return Kek(name, key["kid"], pub), js


# ------------------------------------------------------------ operations

def import_body(kty, key_hsm, ops=None, crv=None, hsm=True, attributes=None):
    key = {"kty": kty, "key_hsm": key_hsm}
    if ops is not None:
        key["key_ops"] = ops
    if crv is not None:
        key["crv"] = crv
    body = {"key": key}
    if hsm is not None:
        body["Hsm"] = hsm
    if attributes is not None:
        body["attributes"] = attributes
    return body


def expected_public_jwk(t):
    if t.kind == "RSA":
        pn = t.key.public_key().public_numbers()
        return {"n": b64u_int(pn.n), "e": b64u_int(pn.e)}
    if t.kind == "EC":
        size = CURVES[t.crv][1]
        pn = t.key.public_key().public_numbers()
        return {"crv": t.crv, "x": b64u_int(pn.x, size),
                "y": b64u_int(pn.y, size)}
    return {}


PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k", "key_hsm")


def prove_works(label, t, kid):
    """Use the imported key through keyferryd and check it outside."""
    name_ver = kid.split("/keys/", 1)[1]
    if t.kind == "RSA":
        for alg, h, hcls in (("RS256", hashlib.sha256, hashes.SHA256()),
                             ("RS384", hashlib.sha384, hashes.SHA384()),
                             ("RS512", hashlib.sha512, hashes.SHA512())):
            digest = h(f"{label} {alg}".encode()).digest()
            st, js, text = req("POST", f"/keys/{name_ver}/sign",
                               {"alg": alg, "value": b64u(digest)})
            if not check(f"{label} sign {alg} status", st == 200,
                         f"{st} {short(text)}"):
                continue
            sig = b64u_dec(js["value"])
            try:
                t.key.public_key().verify(sig, digest, padding.PKCS1v15(),
                                          utils.Prehashed(hcls))
                ok = True
            except Exception as e:  # noqa: BLE001
                ok = False
                print(f"   verify error {e!r}", file=sys.stderr)
            check(f"{label} {alg} signature verifies outside keyferryd", ok)
    elif t.kind == "EC":
        _, size, hcls, alg, _ = CURVES[t.crv]
        h = hashes.Hash(hcls)
        h.update(f"{label} {alg}".encode())
        digest = h.finalize()
        st, js, text = req("POST", f"/keys/{name_ver}/sign",
                           {"alg": alg, "value": b64u(digest)})
        if check(f"{label} sign {alg} status", st == 200,
                 f"{st} {short(text)}"):
            sig = b64u_dec(js["value"])
            check(f"{label} {alg} JOSE signature length", len(sig) == 2 * size,
                  f"{len(sig)} != {2 * size}")
            r = int.from_bytes(sig[:size], "big")
            s = int.from_bytes(sig[size:], "big")
            try:
                t.key.public_key().verify(
                    utils.encode_dss_signature(r, s), digest,
                    ec.ECDSA(utils.Prehashed(hcls)))
                ok = True
            except Exception as e:  # noqa: BLE001
                ok = False
                print(f"   verify error {e!r}", file=sys.stderr)
            check(f"{label} {alg} signature verifies outside keyferryd", ok)
    else:
        alg = f"A{t.bits}KW"
        cek = os.urandom(32)
        st, js, text = req("POST", f"/keys/{name_ver}/wrapkey",
                           {"alg": alg, "value": b64u(cek)})
        if check(f"{label} wrapkey {alg} status", st == 200,
                 f"{st} {short(text)}"):
            wrapped = b64u_dec(js["value"])
            check(f"{label} {alg} wrap equals aes_key_wrap(known key)",
                  wrapped == aes_key_wrap(t.key, cek),
                  f"got {wrapped.hex()}")
            check(f"{label} known key unwraps keyferryd's wrap",
                  aes_key_unwrap(t.key, wrapped) == cek)
            st, js, text = req("POST", f"/keys/{name_ver}/unwrapkey",
                               {"alg": alg, "value": b64u(wrapped)})
            check(f"{label} unwrapkey {alg}",
                  st == 200 and b64u_dec(js["value"]) == cek,
                  f"{st} {short(text)}")
        # A second, independent proof: GCM encrypt in keyferryd, decrypt here.
        galg = f"A{t.bits}GCM"
        pt = f"{label} gcm".encode()
        aad = b"byok-aad"
        st, js, text = req("POST", f"/keys/{name_ver}/encrypt",
                           {"alg": galg, "value": b64u(pt), "aad": b64u(aad)})
        if check(f"{label} encrypt {galg} status", st == 200,
                 f"{st} {short(text)}"):
            try:
                out = AESGCM(t.key).decrypt(
                    b64u_dec(js["iv"]),
                    b64u_dec(js["value"]) + b64u_dec(js["tag"]), aad)
            except Exception as e:  # noqa: BLE001
                out = repr(e)
            check(f"{label} {galg} decrypts outside keyferryd with known key",
                  out == pt, f"{out!r} resp={short(text)}")


def import_ok(label, name, t, key_hsm, *, crv_override=None, attributes=None):
    crv = t.crv if crv_override is None else crv_override
    ops = t.ops()
    st, js, text = req("PUT", f"/keys/{name}",
                       import_body(t.kty, key_hsm, ops, crv,
                                   attributes=attributes))
    if not check(f"{label} import status", st == 200, f"{st} {short(text)}"):
        return None
    key = js.get("key", {})
    kid = key.get("kid", "")
    check(f"{label} kid names the key",
          kid.startswith(f"{VAULT}/keys/{name}/") and len(version_of(kid)) == 32,
          kid)
    check(f"{label} kty", key.get("kty") == t.kty, str(key.get("kty")))
    check(f"{label} key_ops", sorted(key.get("key_ops", [])) == sorted(ops),
          str(key.get("key_ops")))
    leaked = [m for m in PRIVATE_MEMBERS if m in key]
    check(f"{label} no private members in response", not leaked, str(leaked))
    for m, v in expected_public_jwk(t).items():
        check(f"{label} public JWK {m} equals target's", key.get(m) == v,
              f"{key.get(m)!r} != {v!r}")
    # The stored key reads back the same.
    st2, js2, text2 = req("GET", f"/keys/{name}/{version_of(kid)}")
    if check(f"{label} GET after import", st2 == 200, f"{st2} {short(text2)}"):
        k2 = js2["key"]
        for m, v in expected_public_jwk(t).items():
            check(f"{label} GET {m}", k2.get(m) == v)
        check(f"{label} GET no private members",
              not [m for m in PRIVATE_MEMBERS if m in k2])
    prove_works(label, t, kid)
    return kid


def expect_refused(label, name, body=None, raw_body=None, secrets=()):
    st, js, text = req("PUT", f"/keys/{name}", body, raw_body=raw_body)
    ok = check(f"NEG {label}: 400 BadParameter",
               st == 400 and err_code(js) == "BadParameter",
               f"got {st} {short(text)}")
    if VERBOSE and ok:
        print(f"   {label}: {st} {short(text, 300)}")
    msg = text
    for s in secrets:
        for form in (s.hex(), b64u(s), base64.b64encode(s).decode()):
            if len(form) >= 16 and form.lower() in msg.lower():
                check(f"NEG {label}: no key material in the error", False,
                      "the response contains secret bytes")
                break
    if st == 400:
        check(f"NEG {label}: message says something", len(err_msg(js)) > 0)
    st2, _, text2 = req("GET", f"/keys/{name}/")
    check(f"NEG {label}: nothing stored (GET /keys/{name}/ is 404)",
          st2 == 404, f"got {st2} {short(text2)}")
    st3, _, text3 = req("GET", f"/deletedkeys/{name}")
    check(f"NEG {label}: nothing in deletedkeys", st3 == 404,
          f"got {st3} {short(text3)}")
    return st, js


# ================================================================= main

T0 = time.time()
KEKS = {}
TARGETS = {}
STATS = {"key_hsm_padded": 0, "ct_padded": 0, "both": 0, "pretty": 0}


def setup():
    for size in (2048, 3072, 4096):
        kek, js = create_rsa(f"kek-{size}", size, ["import"])
        KEKS[size] = kek
        check(f"KEK {size} key_ops", js["key"].get("key_ops") == ["import"],
              str(js["key"].get("key_ops")))
        check(f"KEK {size} kty", js["key"].get("kty") == "RSA-HSM",
              str(js["key"].get("kty")))
        check(f"KEK {size} modulus size", kek.pub.key_size == size,
              str(kek.pub.key_size))
    for bits in (2048, 3072, 4096):
        TARGETS[f"RSA-{bits}"] = rsa_target(bits)
    for crv in CURVES:
        TARGETS[f"EC-{crv}"] = ec_target(crv)
    TARGETS["EC-P-256-min"] = ec_target("P-256", minimal=True)
    TARGETS["EC-P-521-min"] = ec_target("P-521", minimal=True)
    for bits in (128, 192, 256):
        TARGETS[f"AES-{bits}"] = aes_target(bits)
    print(f"setup done in {time.time() - T0:.1f}s")


setup()


@case
def kek_is_import_only():
    kek = KEKS[2048]
    ver = version_of(kek.kid)
    digest = hashlib.sha256(b"x").digest()
    st, js, text = req("POST", f"/keys/{kek.name}/{ver}/sign",
                       {"alg": "RS256", "value": b64u(digest)})
    check("KEK cannot sign (403)", st == 403, f"{st} {short(text)}")
    ct = kek.pub.encrypt(b"hello", OAEP_SHA1)
    st, js, text = req("POST", f"/keys/{kek.name}/{ver}/decrypt",
                       {"alg": "RSA-OAEP", "value": b64u(ct)})
    check("KEK cannot decrypt (403)", st == 403, f"{st} {short(text)}")


@case
def matrix():
    """Every target under every KEK, padded/unpadded base64url mixed."""
    i = 0
    for tl, t in TARGETS.items():
        for size, kek in KEKS.items():
            kh_pad = i % 2 == 1
            ct_pad = (i // 2) % 2 == 1
            pretty = i % 5 == 0
            gen = None if i % 7 == 3 else "byok_blobs_test.py; software"
            extra = {"x-unknown-member": [1, 2]} if i % 11 == 4 else None
            i += 1
            ct, k = seal(kek.pub, t.payload)
            check(f"{tl}/KEK{size} C1 length is n",
                  len(ct) - kek.nbytes == 8 * -(-len(t.payload) // 8) + 8)
            blob = container(kek.kid, ct, ct_pad=ct_pad, pretty=pretty,
                             generator=gen, extra=extra)
            key_hsm = b64u(blob, kh_pad)
            if kh_pad and key_hsm.endswith("="):
                STATS["key_hsm_padded"] += 1
            ct_text = json.loads(blob)["ciphertext"]
            if ct_pad and ct_text.endswith("="):
                STATS["ct_padded"] += 1
                if kh_pad and key_hsm.endswith("="):
                    STATS["both"] += 1
            if pretty:
                STATS["pretty"] += 1
            name = f"imp-{tl}-k{size}".lower()
            attrs = {"enabled": True} if i % 3 == 0 else None
            kid = import_ok(f"{tl}/KEK{size} (key_hsm {'pad' if kh_pad else 'nopad'},"
                            f" ct {'pad' if ct_pad else 'nopad'})",
                            name, t, key_hsm, attributes=attrs)
            if kid:
                kek.uses += 1
    for size, kek in KEKS.items():
        check(f"KEK {size} used at least 3 times", kek.uses >= 3, str(kek.uses))
    check("some key_hsm actually padded", STATS["key_hsm_padded"] > 0, str(STATS))
    check("some ciphertext actually padded", STATS["ct_padded"] > 0, str(STATS))
    check("padded ciphertext inside padded key_hsm", STATS["both"] > 0, str(STATS))
    if VERBOSE:
        print(f"   matrix stats: {STATS}")


@case
def softhsm_trailing_zeros():
    """PKCS#8 + 1..7 zero bytes is accepted (SoftHSM 2.6.1 padding);
    8 zero bytes, or a non-zero trailer, is refused."""
    sizes = list(KEKS)
    t_ec = TARGETS["EC-P-256"]
    t_rsa = TARGETS["RSA-2048"]
    for z in range(1, 8):
        for t in (t_ec, t_rsa):
            kek = KEKS[sizes[z % 3]]
            ct, _ = seal(kek.pub, t.payload + b"\x00" * z)
            blob = container(kek.kid, ct, ct_pad=z % 2 == 0)
            import_ok(f"{t.label}+{z} zero bytes/KEK{kek.pub.key_size}",
                      f"pad{z}-{t.label}".lower(), t, b64u(blob, z % 2 == 1))
    for t in (t_ec, t_rsa):
        kek = KEKS[2048]
        for label, name, trailer in (
                ("+ 8 zero bytes", "pad8", b"\x00" * 8),
                ("+ non-zero trailer", "padnz", b"\x00\x00\x01"),
                ("+ 16 zero bytes", "pad16", b"\x00" * 16)):
            ct, k = seal(kek.pub, t.payload + trailer)
            key_hsm = b64u(container(kek.kid, ct))
            if HSM:
                import_ok(f"{t.label} {label} (in-token import: the token's "
                          "parser judges the DER)", f"{name}-{t.label}".lower(),
                          t, key_hsm)
                continue
            expect_refused(f"{t.label} {label}", f"{name}-{t.label}".lower(),
                           import_body(t.kty, key_hsm, t.ops(), t.crv),
                           secrets=(k,))


def neg(label, name, t, kek=None, *, kid=None, payload=None, kty=None,
        crv="same", ct_bytes=None, oaep=OAEP_SHA1, key_hsm=None, **ckw):
    kek = kek or KEKS[2048]
    secrets = []
    if key_hsm is None:
        if ct_bytes is None:
            ct_bytes, k = seal(kek.pub, t.payload if payload is None else payload,
                               oaep=oaep)
            secrets.append(k)
        if isinstance(ct_bytes, tuple):
            ct_bytes = ct_bytes[0]
        key_hsm = b64u(container(kid or kek.kid, ct_bytes, **ckw))
    if t.kind != "oct":
        secrets.append(t.payload)
    else:
        secrets.append(t.key)
    body = import_body(kty or t.kty, key_hsm, t.ops(),
                       t.crv if crv == "same" else crv)
    return expect_refused(label, name, body, secrets=secrets)


@case
def negatives():
    k2 = KEKS[2048]
    k3 = KEKS[3072]
    t_ec = TARGETS["EC-P-256"]
    t_rsa = TARGETS["RSA-2048"]
    t_aes = TARGETS["AES-256"]

    base = k2.kid.rsplit("/", 1)[0]
    neg("unknown kid version", "neg-kid-version", t_ec,
        kid=f"{base}/{os.urandom(16).hex()}")
    neg("unknown KEK name", "neg-kid-name", t_ec,
        kid=f"{VAULT}/keys/no-such-kek/{version_of(k2.kid)}")
    neg("kid without version", "neg-kid-nover", t_ec, kid=base)
    neg("kid not a URL", "neg-kid-garbage", t_ec, kid="kek-2048")

    # A KEK with other ops (sign/verify), used with its own kid.
    sk, _ = create_rsa("signer-not-kek", 2048, ["sign", "verify"])
    neg("KEK with other ops (sign/verify)", "neg-kek-ops", t_ec, kek=sk)
    # A key with every RSA op except import: still not a KEK.
    ak, _ = create_rsa("allops-not-kek", 2048,
                       ["sign", "verify", "encrypt", "decrypt", "wrapKey",
                        "unwrapKey"])
    neg("KEK without import op (all other ops)", "neg-kek-allops", t_ec, kek=ak)
    # import plus something else: either refused at creation or not a KEK.
    st, js, text = req("POST", "/keys/mixed-kek/create",
                       {"kty": "RSA-HSM", "key_size": 2048,
                        "key_ops": ["import", "decrypt"]})
    if st == 200:
        mk = js["key"]
        ops = mk.get("key_ops")
        if sorted(ops or []) == ["decrypt", "import"]:
            pub = rsa.RSAPublicNumbers(int.from_bytes(b64u_dec(mk["e"]), "big"),
                                       int.from_bytes(b64u_dec(mk["n"]), "big")
                                       ).public_key()
            neg("KEK with import+decrypt", "neg-kek-mixed", t_ec,
                kek=Kek("mixed-kek", mk["kid"], pub))
        else:
            print(f"   note: create with ops import+decrypt gave key_ops {ops}")
    else:
        check("create import+decrypt refused with 400", st == 400,
              f"{st} {short(text)}")

    # A KEK of the other vault.
    if OTHER_VAULT:
        ok, _ = create_rsa("kek-other", 2048, ["import"], vault=OTHER_VAULT)
        neg("KEK of another vault", "neg-kek-othervault", t_ec, kek=ok)
        # Same KEK, kid rewritten to this vault's host: name/version unknown here.
        neg("other vault KEK's version under this host", "neg-kek-otherhost",
            t_ec, kek=ok, kid=ok.kid.replace(OTHER_VAULT, VAULT))
        # Our KEK's kid with the host of the other vault.
        neg("kid naming another vault's host", "neg-kid-host", t_ec,
            kid=k2.kid.replace(VAULT, OTHER_VAULT))
    # The whole vault URL must match, not only its first label.
    host = urllib.parse.urlparse(VAULT).netloc          # myvault.localhost:PORT
    label, _, rest = host.partition(".")
    neg("kid with this vault's label under another domain", "neg-kid-evil",
        t_ec, kid=k2.kid.replace(host, f"{label}.evil.example:{rest.split(':')[-1]}"))
    neg("kid with this vault's host on another port", "neg-kid-port", t_ec,
        kid=k2.kid.replace(host, f"{host.split(':')[0]}:1"))

    # Container fields.
    neg("wrong enc", "neg-enc", t_ec, enc="CKM_AES_KEY_WRAP_PAD")
    neg("wrong enc (lower case)", "neg-enc-lc", t_ec, enc="ckm_rsa_aes_key_wrap")
    neg("wrong alg", "neg-alg", t_ec, alg="RSA-OAEP")
    neg("wrong schema_version", "neg-schema", t_ec, schema="2.0.0")

    # Missing members.
    ct, k = seal(k2.pub, t_ec.payload)
    for miss in ("schema_version", "header", "ciphertext"):
        doc = json.loads(container(k2.kid, ct))
        del doc[miss]
        expect_refused(f"missing {miss}", f"neg-miss-{miss}".replace("_", "-"),
                       import_body("EC-HSM", b64u(json.dumps(doc).encode()),
                                   t_ec.ops(), "P-256"), secrets=(k,))
    doc = json.loads(container(k2.kid, ct))
    del doc["header"]["kid"]
    expect_refused("missing header.kid", "neg-miss-kid",
                   import_body("EC-HSM", b64u(json.dumps(doc).encode()),
                               t_ec.ops(), "P-256"), secrets=(k,))

    # Ciphertext damage.
    ct, k = seal(k2.pub, t_ec.payload)
    bad = bytearray(ct)
    bad[17] ^= 0x01
    neg("flipped byte in OAEP part", "neg-flip-oaep", t_ec, ct_bytes=bytes(bad))
    bad = bytearray(ct)
    bad[k2.nbytes - 1] ^= 0x80
    neg("flipped last byte of OAEP part", "neg-flip-oaep-last", t_ec,
        ct_bytes=bytes(bad))
    bad = bytearray(ct)
    bad[k2.nbytes + 3] ^= 0x01   # inside the KWP IV / first semiblock
    neg("flipped byte in KWP part (head)", "neg-flip-kwp-head", t_ec,
        ct_bytes=bytes(bad))
    bad = bytearray(ct)
    bad[-1] ^= 0x01
    neg("flipped byte in KWP part (last)", "neg-flip-kwp", t_ec,
        ct_bytes=bytes(bad))
    neg("truncated ciphertext (-8 bytes)", "neg-trunc8", t_ec,
        ct_bytes=ct[:-8])
    neg("truncated ciphertext (-1 byte)", "neg-trunc1", t_ec,
        ct_bytes=ct[:-1])
    neg("ciphertext = OAEP part only", "neg-c1only", t_ec,
        ct_bytes=ct[:k2.nbytes])
    neg("ciphertext shorter than n", "neg-short", t_ec,
        ct_bytes=ct[:k2.nbytes - 8])
    neg("empty ciphertext", "neg-empty-ct", t_ec, ct_bytes=b"")
    # Blob sealed under the 3072 KEK but naming the 2048 one.
    ct3, k = seal(k3.pub, t_ec.payload)
    neg("blob for KEK 3072 naming KEK 2048", "neg-wrong-kek", t_ec,
        ct_bytes=ct3, kid=k2.kid)
    # OAEP with SHA-256 instead of SHA-1.
    neg("OAEP SHA-256 instead of SHA-1", "neg-oaep-sha256", t_ec,
        oaep=padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()),
                          algorithm=hashes.SHA256(), label=None))
    # Plain RFC 3394 (no padding) for a multiple-of-8 payload instead of KWP.
    k = os.urandom(32)
    neg("RFC 3394 instead of RFC 5649", "neg-kw3394", t_aes,
        ct_bytes=k2.pub.encrypt(k, OAEP_SHA1) + aes_key_wrap(k, t_aes.key))
    # Ciphertext in the standard base64 alphabet.
    while True:
        ct, k = seal(k2.pub, t_ec.payload)
        std = base64.b64encode(ct).decode().rstrip("=")
        if "+" in std or "/" in std:
            break
    neg("ciphertext in standard base64 (+ /)", "neg-ct-std", t_ec,
        ct_bytes=ct, ct_text=std)
    neg("ciphertext with whitespace", "neg-ct-ws", t_ec, ct_bytes=ct,
        ct_text=b64u(ct)[:40] + " \n" + b64u(ct)[40:])

    # key_hsm itself.
    neg("key_hsm not JSON", "neg-notjson", t_ec,
        key_hsm=b64u(b"this is not a json document at all"))
    neg("key_hsm JSON array", "neg-jsonarray", t_ec, key_hsm=b64u(b"[1,2,3]"))
    good = container(k2.kid, seal(k2.pub, t_ec.payload)[0])
    neg("key_hsm not base64url (!)", "neg-notb64", t_ec,
        key_hsm="eyJ!!" + b64u(good)[5:])
    # Standard base64 of ASCII text has '+' or '/' only where a '>' or '?'
    # byte ends a 3-byte group; a generator with "???>>>" guarantees both.
    good = container(k2.kid, seal(k2.pub, t_ec.payload)[0],
                     generator="odd chars ???>>> here")
    std = base64.b64encode(good).decode()
    assert "+" in std and "/" in std, std
    # keyferryd deliberately tolerates the standard alphabet in every
    # base64url field (B64Field in src/http/keys_api.cc); the spec does not
    # say. Either refuse it cleanly, or import exactly the right key.
    st, js, text = req("PUT", "/keys/lenient-key-hsm-std",
                       import_body("EC-HSM", std, t_ec.ops(), "P-256"))
    if st == 200:
        print("   note: key_hsm in the standard base64 alphabet is accepted")
        check("key_hsm in standard base64: the right key",
              js["key"].get("x") == expected_public_jwk(t_ec)["x"])
    else:
        check("key_hsm in standard base64: 400 BadParameter",
              st == 400 and err_code(js) == "BadParameter",
              f"{st} {short(text)}")
    neg("key_hsm empty", "neg-empty", t_ec, key_hsm="")
    big = container(k2.kid, seal(k2.pub, t_ec.payload)[0],
                    generator="A" * (100 * 1024))
    neg("oversized blob (100 KiB)", "neg-oversized", t_ec, key_hsm=b64u(big))

    # Request/recovered key mismatches.
    neg("EC blob imported as RSA-HSM", "neg-ec-as-rsa", t_ec, kty="RSA-HSM",
        crv=None)
    neg("RSA blob imported as EC-HSM", "neg-rsa-as-ec", t_rsa, kty="EC-HSM",
        crv="P-256")
    neg("AES blob imported as RSA-HSM", "neg-aes-as-rsa", t_aes,
        kty="RSA-HSM")
    neg("RSA blob imported as oct-HSM", "neg-rsa-as-oct", t_rsa,
        kty="oct-HSM")
    neg("EC blob imported as oct-HSM", "neg-ec-as-oct", t_ec, kty="oct-HSM",
        crv=None)
    neg("P-384 blob with crv P-256", "neg-crv", TARGETS["EC-P-384"],
        crv="P-256")
    neg("P-256K blob with crv P-256", "neg-crv-k", TARGETS["EC-P-256K"],
        crv="P-256")
    neg("P-256 blob with crv P-521", "neg-crv-521", t_ec, crv="P-521")

    # Target keys that are not allowed.
    r1024 = rsa_target(1024)
    neg("RSA-1024 target", "neg-rsa1024", r1024)
    for n in (15, 17, 20, 31, 64):
        neg(f"oct target of {n} bytes", f"neg-oct{n}", t_aes,
            payload=os.urandom(n))
    neg("random bytes instead of PKCS#8", "neg-garbage-rsa", t_rsa,
        payload=os.urandom(1216))
    # P must be PKCS#8 (byok-formats.md 1.3, docs/byok-format.md 3; the
    # parser's own contract is "exactly one DER PrivateKeyInfo").
    neg("PKCS#1 RSAPrivateKey instead of PKCS#8", "neg-pkcs1", t_rsa,
        payload=t_rsa.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
    neg("SEC1 ECPrivateKey instead of PKCS#8", "neg-sec1", t_ec,
        payload=t_ec.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))

    # PKCS#8 whose halves disagree: importing it would publish a public key
    # that does not belong to the signing key.
    other = ec.generate_private_key(ec.SECP256R1())

    def point(k):
        return k.public_key().public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint)
    p = t_ec.payload
    assert p.count(point(t_ec.key)) == 1
    wrongpub = p.replace(point(t_ec.key), point(other))
    if HSM:
        # The token ignores the embedded point; keyferryd publishes the key
        # recovered from the token's signatures: t_ec's own.
        ct, _ = seal(KEKS[2048].pub, wrongpub)
        import_ok("EC PKCS#8 whose publicKey is another key's (in-token: "
                  "the real public key is published)", "neg-ec-wrongpub",
                  t_ec, b64u(container(KEKS[2048].kid, ct)))
    else:
        neg("EC PKCS#8 whose publicKey is another key's", "neg-ec-wrongpub",
            t_ec, payload=wrongpub)
    pn = t_rsa.key.private_numbers()
    for field in ("d", "dmp1"):
        v = getattr(pn, field)
        enc = int_bytes(v)
        if enc[0] & 0x80:
            enc = b"\x00" + enc
        p = t_rsa.payload
        assert p.count(enc) == 1
        bad = bytearray(enc)
        bad[-1] ^= 0x02
        if HSM:
            # OpenSSL inside the token checks its CRT result and falls back
            # to d, so either damage still gives the key's signatures.
            ct, _ = seal(KEKS[2048].pub, p.replace(enc, bytes(bad)))
            import_ok(f"RSA PKCS#8 with inconsistent {field} (in-token: "
                      "signatures still verify)", f"neg-rsa-bad-{field}",
                      t_rsa, b64u(container(KEKS[2048].kid, ct)))
            continue
        neg(f"RSA PKCS#8 with inconsistent {field}", f"neg-rsa-bad-{field}",
            t_rsa, payload=p.replace(enc, bytes(bad)))


@case
def kek_state():
    """The KEK must be enabled and within nbf/exp."""
    t = TARGETS["EC-P-256"]
    kek, _ = create_rsa("kek-state", 2048, ["import"])
    ver = version_of(kek.kid)

    def patch(attrs):
        st, js, text = req("PATCH", f"/keys/kek-state/{ver}",
                           {"attributes": attrs})
        if not check(f"PATCH KEK {attrs}", st == 200, f"{st} {short(text)}"):
            raise RuntimeError("patch failed")

    patch({"enabled": False})
    neg("disabled KEK", "neg-kek-disabled", t, kek=kek)
    patch({"enabled": True, "exp": int(time.time()) - 3600})
    neg("expired KEK", "neg-kek-expired", t, kek=kek)
    patch({"exp": int(time.time()) + 3600, "nbf": int(time.time()) + 1800})
    neg("KEK not yet valid", "neg-kek-nbf", t, kek=kek)
    patch({"nbf": int(time.time()) - 60})
    ct, _ = seal(kek.pub, t.payload)
    import_ok("KEK back in its validity window", "kek-state-ok", t,
              b64u(container(kek.kid, ct)))


@case
def new_version_by_import():
    """A second BYOK import under an existing name adds a version."""
    t1 = TARGETS["EC-P-384"]
    t2 = ec_target("P-384")
    kek = KEKS[4096]
    ct, _ = seal(kek.pub, t1.payload)
    kid1 = import_ok("versioned v1", "byok-versioned", t1,
                     b64u(container(kek.kid, ct)))
    ct, _ = seal(kek.pub, t2.payload)
    kid2 = import_ok("versioned v2", "byok-versioned", t2,
                     b64u(container(kek.kid, ct), True))
    if kid1 and kid2:
        check("second import is a new version", kid1 != kid2)
        st, js, text = req("GET", "/keys/byok-versioned/versions")
        vers = {version_of(i["kid"]) for i in (js or {}).get("value", [])}
        check("both versions listed",
              {version_of(kid1), version_of(kid2)} <= vers,
              f"{st} {short(text)}")
        # The old version still signs with the old key.
        prove_works("versioned v1 after v2", t1, kid1)


@case
def hsm_flag_variants():
    """az sends "Hsm": false with key_hsm; the SDKs may omit it."""
    t = TARGETS["EC-P-256K"]
    kek = KEKS[3072]
    for hsm, name in ((False, "byok-hsm-false"), (None, "byok-hsm-absent")):
        ct, _ = seal(kek.pub, t.payload)
        st, js, text = req("PUT", f"/keys/{name}",
                           import_body(t.kty, b64u(container(kek.kid, ct)),
                                       t.ops(), t.crv, hsm=hsm,
                                       attributes={"enabled": True}))
        if check(f"import with Hsm={hsm}", st == 200, f"{st} {short(text)}"):
            check(f"Hsm={hsm}: kty EC-HSM", js["key"].get("kty") == "EC-HSM",
                  str(js["key"].get("kty")))
            prove_works(f"Hsm={hsm}", t, js["key"]["kid"])


@case
def refused_import_keeps_existing_key():
    """A refused import under an existing name leaves the key unchanged."""
    t = TARGETS["EC-P-256"]
    kek = KEKS[2048]
    ct, _ = seal(kek.pub, t.payload)
    kid = import_ok("existing", "byok-existing", t, b64u(container(kek.kid, ct)))
    if not kid:
        return
    bad = bytearray(ct)
    bad[-3] ^= 0x10
    st, js, text = req("PUT", "/keys/byok-existing",
                       import_body("EC-HSM", b64u(container(kek.kid, bytes(bad))),
                                   t.ops(), "P-256"))
    check("bad import on existing name: 400 BadParameter",
          st == 400 and err_code(js) == "BadParameter", f"{st} {short(text)}")
    st, js, text = req("GET", "/keys/byok-existing/versions")
    vers = [i["kid"] for i in (js or {}).get("value", [])]
    check("existing key still has exactly one version", len(vers) == 1,
          f"{st} {short(text)}")
    st, js, text = req("GET", "/keys/byok-existing/")
    check("latest version unchanged",
          st == 200 and js["key"]["kid"] == kid, f"{st} {short(text)}")


print(f"byok_blobs_test: {passed} passed, {failed} failed "
      f"({time.time() - T0:.1f}s)")
sys.exit(1 if failed else 0)
