"""What the parts of python_sdk_test.py share: the environment of
tests/e2e/harness.sh, a small runner (check, case, run_cases), tokens and
SDK clients, independent crypto with `cryptography`, raw HTTPS for what the
SDK cannot express, and the "refused, and the store unchanged" check.

Importing this module reads the environment kf_start exports (KEYFERRYD,
KF_DATA_DIR, KF_PORT, KF_VAULT_URL, KF_OTHER_VAULT_URL, KF_RESOURCE, KF_CA);
the parts register their scenarios with @case and python_sdk_test.py runs
them in the order they were registered.
"""

import base64
import hashlib
import http.client
import json
import logging
import os
import re
import shlex
import ssl
import subprocess
import sys
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.keyvault.keys import JsonWebKey, KeyClient
from azure.keyvault.keys.crypto import (CryptographyClient, KeyWrapAlgorithm,
                                        SignatureAlgorithm)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as sympadding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# The 7.0-7.2 generated models log every KeyCreateParameters field they
# lack (public_exponent, release_policy); that is the SDK talking to itself.
logging.getLogger("azure.keyvault.keys._generated").setLevel(logging.ERROR)

VAULT = os.environ["KF_VAULT_URL"]
OTHER_VAULT = os.environ["KF_OTHER_VAULT_URL"]
RESOURCE = os.environ["KF_RESOURCE"]
KEYFERRYD = os.environ["KEYFERRYD"]
DATA_DIR = os.environ["KF_DATA_DIR"]
PORT = int(os.environ["KF_PORT"])
CA = os.environ["KF_CA"]
RECOVERABLE_DAYS = 7  # harness.sh starts keyferryd with --recoverable-days 7
# KF_CUSTODY names keyferryd's custody (tests/e2e/harness.sh): software
# (default), pkcs11 (a SoftHSMv2 token) or pkcs11-nss (NSS softokn).
# Everything must work as with the software custody except each token's
# documented limits (docs/security-model.md §3), which keyferryd must refuse
# with 400 naming the limit, never do in software:
# - SoftHSM: its RSA-OAEP is SHA-1 only, so RSA-OAEP-256 is refused;
# - NSS softokn: no secp256k1, so P-256K keys (ES256K) are refused; and it
#   generates no RSA key with the public exponent 3.
CUSTODY = os.environ.get("KF_CUSTODY", "software")
OAEP_SHA1_ONLY = CUSTODY == "pkcs11"
NO_SECP256K1 = CUSTODY == "pkcs11-nss"
NO_RSA_E3 = CUSTODY == "pkcs11-nss"
RSA_CIPHERS = ("RSA1_5", "RSA-OAEP") + (
    () if OAEP_SHA1_ONLY else ("RSA-OAEP-256",))
RSA_WRAP = (KeyWrapAlgorithm.rsa_oaep if OAEP_SHA1_ONLY
            else KeyWrapAlgorithm.rsa_oaep_256)
RSA_WRAP_PADDING = "RSA-OAEP" if OAEP_SHA1_ONLY else "RSA-OAEP-256"
API = "7.4"  # for raw requests; the SDK itself sends 7.4-preview.1

# ---------------------------------------------------------------------------
# A small runner: check() counts, case() runs one scenario.

from e2e_runner import case, check, run_cases  # noqa: F401,E402


# ---------------------------------------------------------------------------
# Tokens and clients.


def mint(principal, lifetime=3600, resource=RESOURCE):
    """A JWT from `keyferryd token`, the operator's mint."""
    out = subprocess.run(
        [KEYFERRYD, "token", "--data-dir", DATA_DIR, "--listen",
         f"127.0.0.1:{PORT}", "--principal", principal, "--resource",
         resource, "--lifetime", str(lifetime)]
        + shlex.split(os.environ.get("KF_CUSTODY_FLAGS", "")),
        check=True, capture_output=True)
    return out.stdout.decode().strip()


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    if isinstance(s, bytes):
        s = s.decode()
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def claims_of(token):
    return json.loads(unb64u(token.split(".")[1]))


class TokenCredential:
    """A TokenCredential whose tokens come from `keyferryd token`.

    Records the scopes the SDK asks for: the challenge keyferryd sends must
    lead the SDK to ask for "<resource>/.default".
    """

    _cache = {}

    def __init__(self, principal, token=None):
        self.principal = principal
        self.fixed = token
        self.scopes_seen = []

    def get_token(self, *scopes, **kwargs):
        self.scopes_seen.append(scopes)
        if self.fixed is not None:
            tok = self.fixed
        else:
            tok = TokenCredential._cache.get(self.principal)
            if tok is None:
                tok = mint(self.principal)
                TokenCredential._cache[self.principal] = tok
        exp = claims_of(tok).get("exp", int(time.time()) + 600)
        # An already expired token is handed out as valid for a minute so
        # that the SDK sends it instead of asking again.
        return AccessToken(tok, max(int(exp), int(time.time()) + 60))


# No retries, so that a 5xx or a dropped connection is seen rather than
# retried away; a bounded read timeout, so that a request the server never
# answers fails in 2 minutes instead of the SDK's default 5. (Not less: an
# RSA-4096 key generation takes seconds, with a long tail, and several times
# that on a loaded 2-core machine running the other tests beside this one.)
SDK_OPTS = {"retry_total": 0, "connection_timeout": 30, "read_timeout": 120}

OFFICER_CRED = TokenCredential("officer")
officer = KeyClient(VAULT, OFFICER_CRED, **SDK_OPTS)


def kc(principal, vault=VAULT):
    return KeyClient(vault, TokenCredential(principal), **SDK_OPTS)


def local_crypto(key, principal="officer"):
    """CryptographyClient as users make it: from a KeyVaultKey.

    With the public JWK in hand the SDK runs encrypt/wrap/verify for RSA and
    verify for EC itself and sends only sign/decrypt/unwrap to the vault.
    """
    return CryptographyClient(key, TokenCredential(principal), **SDK_OPTS)


def remote(key, principal="officer"):
    """A CryptographyClient that sends every operation to keyferryd.

    azure-keyvault-keys 4.8.0b3 runs public-key operations locally when it
    has the JWK and, for oct keys (a vault never returns `k`), makes up a
    random AES key in SymmetricKey.from_jwk and uses that instead of asking
    the vault. Marking key reads as forbidden keeps the client remote.
    """
    key_id = key if isinstance(key, str) else key.id
    c = CryptographyClient(key_id, TokenCredential(principal), **SDK_OPTS)
    c._keys_get_forbidden = True  # pylint: disable=protected-access
    return c


def officer_sign(key, alg, digest, principal="officer"):
    return local_crypto(key, principal).sign(SignatureAlgorithm(alg),
                                             digest).signature


# ---------------------------------------------------------------------------
# Independent crypto with `cryptography`.

HASH = {"256": (hashlib.sha256, hashes.SHA256()),
        "384": (hashlib.sha384, hashes.SHA384()),
        "512": (hashlib.sha512, hashes.SHA512())}
CURVES = {"P-256": (ec.SECP256R1(), 32, "ES256"),
          "P-384": (ec.SECP384R1(), 48, "ES384"),
          "P-521": (ec.SECP521R1(), 66, "ES512"),
          "P-256K": (ec.SECP256K1(), 32, "ES256K")}


def bits(alg):
    return "256" if alg == "ES256K" else alg[2:5]


def digest_for(alg, msg):
    return HASH[bits(alg)][0](msg).digest()


def public_key_of(jwk):
    if jwk.kty in ("RSA", "RSA-HSM"):
        return rsa.RSAPublicNumbers(int.from_bytes(jwk.e, "big"),
                                    int.from_bytes(jwk.n, "big")).public_key()
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"),
        CURVES[jwk.crv][0]).public_key()


def verify_outside(pub, alg, digest, sig):
    """Verifies a JOSE signature over a digest with `cryptography`."""
    h = HASH[bits(alg)][1]
    try:
        if alg.startswith("RS"):
            pub.verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(h))
        elif alg.startswith("PS"):
            pub.verify(sig, digest,
                       padding.PSS(mgf=padding.MGF1(h),
                                   salt_length=h.digest_size),
                       utils.Prehashed(h))
        else:
            half = len(sig) // 2
            der = utils.encode_dss_signature(
                int.from_bytes(sig[:half], "big"),
                int.from_bytes(sig[half:], "big"))
            pub.verify(der, digest, ec.ECDSA(utils.Prehashed(h)))
        return True
    except Exception:  # noqa: BLE001 - any failure means "does not verify"
        return False


RSA_PADDING = {
    "RSA1_5": padding.PKCS1v15(),
    "RSA-OAEP": padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None),
    "RSA-OAEP-256": padding.OAEP(padding.MGF1(hashes.SHA256()),
                                 hashes.SHA256(), None),
}


def aes_cbc(key, iv, data, encrypt, pad):
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    if encrypt:
        if pad:
            p = sympadding.PKCS7(128).padder()
            data = p.update(data) + p.finalize()
        e = c.encryptor()
        return e.update(data) + e.finalize()
    d = c.decryptor()
    out = d.update(data) + d.finalize()
    if pad:
        u = sympadding.PKCS7(128).unpadder()
        out = u.update(out) + u.finalize()
    return out


def rsa_jwk(priv, key_ops=None, kty="RSA"):
    n = priv.private_numbers()
    pn = n.public_numbers
    size = (pn.n.bit_length() + 7) // 8
    half = size // 2

    def be(v, ln):
        return v.to_bytes(ln, "big")

    return JsonWebKey(kty=kty, n=be(pn.n, size),
                      e=be(pn.e, (pn.e.bit_length() + 7) // 8),
                      d=be(n.d, size), p=be(n.p, half), q=be(n.q, half),
                      dp=be(n.dmp1, half), dq=be(n.dmq1, half),
                      qi=be(n.iqmp, half), key_ops=key_ops)


def ec_jwk(priv, crv, key_ops=None):
    n = priv.private_numbers()
    ln = CURVES[crv][1]
    return JsonWebKey(kty="EC", crv=crv,
                      x=n.public_numbers.x.to_bytes(ln, "big"),
                      y=n.public_numbers.y.to_bytes(ln, "big"),
                      d=n.private_value.to_bytes(ln, "big"), key_ops=key_ops)


# ---------------------------------------------------------------------------
# Raw HTTPS, for what the SDK cannot express.

CTX = ssl.create_default_context(cafile=CA)


class Raw:
    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers
        self.text = text
        try:
            self.doc = json.loads(text) if text else None
        except ValueError:
            self.doc = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def raw(method, path, body=None, token=None, headers=None, host=None):
    conn = http.client.HTTPSConnection(host or "myvault.localhost", PORT,
                                       context=CTX, timeout=60)
    h = {}
    if body is not None:
        h["Content-Type"] = "application/json"
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        return Raw(r.status, r.getheaders(), text)
    finally:
        conn.close()


def envelope_ok(doc):
    """The Azure error envelope: {"error":{"code","message"[,"innererror"]}}."""
    if not isinstance(doc, dict) or not isinstance(doc.get("error"), dict):
        return False
    e = doc["error"]
    if not isinstance(e.get("code"), str) or not e["code"]:
        return False
    if not isinstance(e.get("message"), str) or not e["message"]:
        return False
    inner = e.get("innererror")
    return inner is None or (isinstance(inner, dict) and
                             isinstance(inner.get("code"), str))


class Outcome:
    """What a refused call answered, from the SDK or from raw HTTPS."""

    def __init__(self, status, doc, headers=None, succeeded=False):
        self.status = status
        self.doc = doc
        self.headers = headers or []
        self.succeeded = succeeded
        err = (doc or {}).get("error") if isinstance(doc, dict) else None
        err = err if isinstance(err, dict) else {}
        self.code = err.get("code")
        self.message = err.get("message") or ""
        self.inner = (err.get("innererror") or {}).get("code") \
            if isinstance(err.get("innererror"), dict) else None

    def __str__(self):
        return f"status={self.status} body={json.dumps(self.doc)[:400]}"


def attempt(fn):
    """Runs fn; an SDK HttpResponseError or a raw answer becomes an Outcome."""
    try:
        r = fn()
    except HttpResponseError as err:
        try:
            doc = json.loads(err.response.text())
        except Exception:  # noqa: BLE001 - a non-JSON body stays None
            doc = None
        return Outcome(err.status_code, doc,
                       list(err.response.headers.items()))
    if isinstance(r, Raw):
        return Outcome(r.status, r.doc, r.headers,
                       succeeded=200 <= r.status < 300)
    return Outcome(200, None, succeeded=True)


def ts(d):
    return None if d is None else int(d.timestamp())


def store_state():
    """Every key, version and attribute, and every deleted key."""
    keys = {}
    for p in officer.list_properties_of_keys(max_page_size=25):
        versions = {}
        for v in officer.list_properties_of_key_versions(p.name):
            versions[v.version] = (v.enabled, ts(v.not_before),
                                   ts(v.expires_on), ts(v.updated_on),
                                   tuple(sorted((v.tags or {}).items())))
        keys[p.name] = (p.version, versions)
    deleted = sorted((d.name, d.properties.version)
                     for d in officer.list_deleted_keys())
    return keys, deleted


def refused(name, fn, statuses, codes=None, inner=None, message=None,
            unchanged=True):
    """fn must be refused with a status in `statuses` and Azure's envelope;
    the store must be the same afterwards."""
    before = store_state() if unchanged else None
    o = attempt(fn)
    ok = check(f"{name}: refused", not o.succeeded and o.status in statuses,
               str(o))
    if ok:
        check(f"{name}: error envelope", envelope_ok(o.doc), str(o))
        if codes is not None:
            check(f"{name}: error code in {codes}", o.code in codes, str(o))
        if inner is not None:
            check(f"{name}: inner code {inner}", o.inner == inner, str(o))
        if message is not None:
            check(f"{name}: message matches {message!r}",
                  re.search(message, o.message, re.I) is not None, str(o))
    if unchanged:
        after = store_state()
        check(f"{name}: store unchanged", after == before,
              f"before={before} after={after}" if after != before else "")
    return o


KID_RE = re.compile(r"^%s/keys/([0-9a-zA-Z-]+)/([0-9a-f]{32})$" %
                    re.escape(VAULT))


def kid_ok(key, name):
    m = KID_RE.match(key.id or "")
    return m is not None and m.group(1) == name and \
        m.group(2) == key.properties.version
