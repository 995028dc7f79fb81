"""What the parts of byok_blobs_test.py share: an independent writer of
.byok blobs from the Azure BYOK specification (Python's `cryptography`:
RSA-OAEP-SHA1 of a random AES-256 key || RFC 5649 KWP of the target), raw
HTTPS to keyferryd (http.client, no azure SDK), the targets and KEKs, and
the two verdicts every case uses: import_ok (imported, the public half is
the target's, and the key works, checked outside keyferryd) and
expect_refused (400 BadParameter, no key material in the answer, nothing
stored).

Importing this module reads the environment kf_start exports and mints an
officer token; setup() makes the KEKs and targets, the parts register their
scenarios with @case and run_cases() runs them in that order.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import shlex
import ssl
import subprocess
import sys
import time
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

from e2e_runner import VERBOSE  # noqa: E402
# KF_CUSTODY=pkcs11 (a SoftHSMv2 token) or pkcs11-nss (NSS softokn):
# keyferryd imports inside the token and never sees the PKCS#8. What only
# the plaintext shows (bytes after the DER, the optional embedded publicKey,
# the consistency of d and the CRT values) is then the token's to judge, and
# both tokens accept all of it (docs/security-model.md §3). In that mode
# those blobs must import as the key the DER describes: the published public
# key is the private key's own (recovered from the token's signatures for
# EC), and it signs. Except that NSS softokn checks an RSA key's values
# (d, the CRT values) as it unwraps it: such a blob is refused with 400 as
# by the software custody. And NSS softokn has no secp256k1: a P-256K blob
# must be refused with 400 naming that limit.
CUSTODY = os.environ.get("KF_CUSTODY", "software")
HSM = CUSTODY in ("pkcs11", "pkcs11-nss")
TOKEN_CHECKS_RSA_VALUES = CUSTODY == "pkcs11-nss"
NO_SECP256K1 = CUSTODY == "pkcs11-nss"
NO_SECP256K1_MESSAGE = r"P-256K keys are not available: .*secp256k1"


from e2e_runner import case, check, run_cases  # noqa: F401,E402


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


def refused_by_token_limit(label, name, body, message):
    """A blob the token cannot hold (its documented limit): 400 naming the
    limit, nothing stored."""
    st, js = expect_refused(label, name, body)
    if st == 400:
        check(f"NEG {label}: message names the token's limit",
              re.search(message, err_msg(js)) is not None, err_msg(js))


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


# ------------------------------------------------ KEKs and targets (setup)

T0 = time.time()
KEKS = {}
TARGETS = {}


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
