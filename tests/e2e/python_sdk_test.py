"""End to end: Debian's Azure Python SDK (python3-azure: azure-keyvault-keys
4.8.0b3, azure-core) against a keyferryd started by python_sdk_test.sh.

KeyClient and CryptographyClient drive every keys operation across RSA, EC
and oct keys; every result the vault computes is checked independently with
the `cryptography` package (signatures verified with the returned public key,
ciphertexts opened with a key imported from outside, and so on). Negative
cases use the SDK where it can express the request and raw HTTPS where it
cannot, and after each one the store is compared with its state before.

Needs the environment of tests/e2e/harness.sh (kf_start): KEYFERRYD,
KF_DATA_DIR, KF_PORT, KF_VAULT_URL, KF_OTHER_VAULT_URL, KF_RESOURCE, KF_CA,
REQUESTS_CA_BUNDLE. Run with /usr/bin/python3 (Debian's interpreter, which
has azure and cryptography). Prints one line
"python_sdk_test: N passed, M failed" and exits non-zero on any failure.
"""

import base64
import hashlib
import http.client
import json
import logging
import os
import shlex
import re
import ssl
import subprocess
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.keys import (JsonWebKey, KeyClient,
                                 KeyRotationLifetimeAction, KeyRotationPolicy,
                                 KeyRotationPolicyAction)
from azure.keyvault.keys.crypto import (CryptographyClient,
                                        EncryptionAlgorithm, KeyWrapAlgorithm,
                                        SignatureAlgorithm)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sympadding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (aes_key_unwrap,
                                                    aes_key_wrap,
                                                    aes_key_wrap_with_padding)

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
# KF_CUSTODY=pkcs11: keyferryd runs on a SoftHSMv2 token. Everything must
# work as with the software custody except the token's documented limit
# (docs/security-model.md §3): its RSA-OAEP is SHA-1 only, so RSA-OAEP-256
# must be refused with 400 naming that limit, never done in software.
HSM = os.environ.get("KF_CUSTODY") == "pkcs11"
RSA_CIPHERS = ("RSA1_5", "RSA-OAEP") + (() if HSM else ("RSA-OAEP-256",))
RSA_WRAP = KeyWrapAlgorithm.rsa_oaep if HSM else KeyWrapAlgorithm.rsa_oaep_256
RSA_WRAP_PADDING = "RSA-OAEP" if HSM else "RSA-OAEP-256"
API = "7.4"  # for raw requests; the SDK itself sends 7.4-preview.1

# ---------------------------------------------------------------------------
# A small runner: check() counts, case() runs one scenario.

passed = 0
failed = 0
current_case = ""


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL [{current_case}] {name} {detail}".rstrip(),
              file=sys.stderr)
    return cond


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def run_cases():
    global failed, current_case
    only = [n for n in os.environ.get("KF_TEST_ONLY", "").split(",") if n]
    for fn in CASES:
        if only and fn.__name__ not in only:
            continue
        current_case = fn.__name__
        t0 = time.monotonic()
        try:
            fn()
        except Exception:  # noqa: BLE001 - a runner reports every error
            failed += 1
            print(f"FAIL [{fn.__name__}] raised:", file=sys.stderr)
            traceback.print_exc()
        if os.environ.get("KF_TEST_VERBOSE"):
            print(f"  {fn.__name__}: {time.monotonic() - t0:.1f}s",
                  file=sys.stderr)


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


# ---------------------------------------------------------------------------
# Scenarios.


@case
def challenge_and_scope():
    """The SDK follows keyferryd's challenge and asks for <resource>/.default."""
    cred = TokenCredential("officer")
    c = KeyClient(VAULT, cred, **SDK_OPTS)
    k = c.create_ec_key("sdk-challenge", curve="P-256")
    check("key created through the challenge", kid_ok(k, "sdk-challenge"),
          k.id)
    check("SDK asked for <resource>/.default",
          cred.scopes_seen and
          all(s == (RESOURCE + "/.default",) for s in cred.scopes_seen),
          str(cred.scopes_seen))
    r = raw("GET", f"/keys?api-version={API}")
    check("unauthenticated request -> 401", r.status == 401, str(r.status))
    chal = r.header("WWW-Authenticate") or ""
    check("challenge is Bearer", chal.startswith("Bearer "), chal)
    check("challenge resource", f'resource="{RESOURCE}"' in chal, chal)
    check("challenge authorization",
          re.search(r'authorization(_uri)?="https://[^"]+/[^"]+"', chal)
          is not None, chal)
    check("401 code Unauthorized", envelope_ok(r.doc) and
          r.doc["error"]["code"] == "Unauthorized", r.text)


@case
def store_state_sees_changes():
    """The "store unchanged" checks below are only as good as store_state:
    it must notice a new key, a new version, an update and a delete."""
    s0 = store_state()
    officer.create_ec_key("sdk-state-probe", curve="P-256")
    s1 = store_state()
    check("store_state sees a new key", s1 != s0 and
          "sdk-state-probe" in s1[0])
    officer.create_ec_key("sdk-state-probe", curve="P-256")
    s2 = store_state()
    check("store_state sees a new version", s2 != s1 and
          len(s2[0]["sdk-state-probe"][1]) == 2)
    time.sleep(1.1)  # attribute timestamps are whole seconds
    officer.update_key_properties("sdk-state-probe", tags={"x": "y"})
    s3 = store_state()
    check("store_state sees an update", s3 != s2)
    officer.begin_delete_key("sdk-state-probe").result()
    s4 = store_state()
    check("store_state sees a delete", s4 != s3 and
          "sdk-state-probe" not in s4[0] and
          "sdk-state-probe" in [n for n, _ in s4[1]])
    officer.purge_deleted_key("sdk-state-probe")
    check("store_state back to the start after purge", store_state() == s0)


@case
def rsa_keys():
    made = {}
    for size, hsm in ((2048, False), (3072, False), (4096, True)):
        name = f"sdk-rsa-{size}"
        k = officer.create_rsa_key(name, size=size, hardware_protected=hsm)
        made[size] = k
        check(f"RSA {size} kid", kid_ok(k, name), k.id)
        check(f"RSA {size} kty", k.key_type == ("RSA-HSM" if hsm else "RSA"),
              str(k.key_type))
        check(f"RSA {size} modulus size",
              int.from_bytes(k.key.n, "big").bit_length() == size)
        check(f"RSA {size} default exponent 65537",
              int.from_bytes(k.key.e, "big") == 65537)
        check(f"RSA {size} private part not returned",
              k.key.d is None and k.key.p is None and k.key.q is None)
        check(f"RSA {size} enabled", k.properties.enabled is True)
        check(f"RSA {size} created/updated",
              k.properties.created_on is not None and
              k.properties.updated_on is not None and
              abs(ts(k.properties.created_on) - time.time()) < 300)
        check(f"RSA {size} recoverable days",
              k.properties.recoverable_days == RECOVERABLE_DAYS,
              str(k.properties.recoverable_days))
        # 7 <= days < 90 is "CustomizedRecoverable+Purgeable" (spec's
        # DeletionRecoveryLevel); 90 days is "Recoverable+Purgeable".
        check(f"RSA {size} recovery level",
              k.properties.recovery_level == "CustomizedRecoverable+Purgeable",
              str(k.properties.recovery_level))
        check(f"RSA {size} default key_ops",
              set(k.key_operations or []) >=
              {"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"},
              str(k.key_operations))

    k3 = officer.create_rsa_key("sdk-rsa-e3", size=2048, public_exponent=3)
    check("public_exponent=3 honoured", int.from_bytes(k3.key.e, "big") == 3)
    d = digest_for("RS256", b"e=3")
    s = officer_sign(k3, "RS256", d)
    check("e=3 key signs verifiably",
          verify_outside(public_key_of(k3.key), "RS256", d, s))

    k = made[2048]
    pub = public_key_of(k.key)
    lc = local_crypto(k)
    rc = remote(k)
    for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
        d = digest_for(alg, b"keyferry sdk test " + alg.encode())
        res = lc.sign(SignatureAlgorithm(alg), d)
        sig = res.signature
        check(f"{alg} result kid", res.key_id == k.id, str(res.key_id))
        check(f"{alg} signature length", len(sig) == 256, str(len(sig)))
        check(f"{alg} verifies with cryptography",
              verify_outside(pub, alg, d, sig))
        check(f"{alg} oracle rejects it for another digest",
              not verify_outside(pub, alg, digest_for(alg, b"other"), sig))
        check(f"{alg} verifies in the SDK (local)",
              lc.verify(SignatureAlgorithm(alg), d, sig).is_valid)
        check(f"{alg} verifies in keyferryd",
              rc.verify(SignatureAlgorithm(alg), d, sig).is_valid)
        bad = sig[:100] + bytes([sig[100] ^ 0x40]) + sig[101:]
        check(f"{alg} keyferryd rejects an altered signature",
              rc.verify(SignatureAlgorithm(alg), d, bad).is_valid is False)
        other = digest_for(alg, b"another message")
        check(f"{alg} keyferryd rejects another digest",
              rc.verify(SignatureAlgorithm(alg), other, sig).is_valid is False)
        sig2 = lc.sign(SignatureAlgorithm(alg), d).signature
        if alg.startswith("RS"):
            check(f"{alg} is deterministic", sig2 == sig)
        else:
            check(f"{alg} salt is random", sig2 != sig and
                  verify_outside(pub, alg, d, sig2))

    for size in (3072, 4096):
        kk = made[size]
        for alg in ("RS512", "PS256"):
            d = digest_for(alg, b"big key")
            sig = officer_sign(kk, alg, d)
            check(f"RSA {size} {alg} signature", len(sig) == size // 8 and
                  verify_outside(public_key_of(kk.key), alg, d, sig))
        ct = public_key_of(kk.key).encrypt(b"to the big key",
                                           RSA_PADDING["RSA-OAEP-256"])
        if HSM:
            refused(f"RSA {size} RSA-OAEP-256 on the HSM",
                    lambda: local_crypto(kk).decrypt(
                        EncryptionAlgorithm.rsa_oaep_256, ct),
                    (400,), codes=("BadParameter",), message="SHA-1 only")
            refused(f"RSA {size} RSA-OAEP-256 encrypt on the HSM",
                    lambda: remote(kk).encrypt(
                        EncryptionAlgorithm.rsa_oaep_256, b"x"),
                    (400,), codes=("BadParameter",), message="SHA-1 only")
        else:
            check(f"RSA {size} decrypts an outside RSA-OAEP-256 ciphertext",
                  local_crypto(kk).decrypt(EncryptionAlgorithm.rsa_oaep_256,
                                           ct).plaintext == b"to the big key")

    for alg in RSA_CIPHERS:
        msg = b"secret for " + alg.encode()
        ct = pub.encrypt(msg, RSA_PADDING[alg])
        dec = lc.decrypt(EncryptionAlgorithm(alg), ct)
        check(f"{alg} decrypts a ciphertext made by cryptography",
              dec.plaintext == msg)
        e = rc.encrypt(EncryptionAlgorithm(alg), msg)
        check(f"{alg} keyferryd encrypt gives a modulus-size ciphertext",
              len(e.ciphertext) == 256 and e.ciphertext != msg)
        check(f"{alg} keyferryd encrypt -> decrypt",
              rc.decrypt(EncryptionAlgorithm(alg),
                         e.ciphertext).plaintext == msg)
        e2 = lc.encrypt(EncryptionAlgorithm(alg), msg)  # SDK, locally
        check(f"{alg} SDK-local encrypt -> keyferryd decrypt",
              rc.decrypt(EncryptionAlgorithm(alg),
                         e2.ciphertext).plaintext == msg)
        cek = os.urandom(32)
        w = rc.wrap_key(KeyWrapAlgorithm(alg), cek)
        check(f"{alg} wrap -> unwrap",
              len(w.encrypted_key) == 256 and
              rc.unwrap_key(KeyWrapAlgorithm(alg), w.encrypted_key).key == cek)
        w2 = pub.encrypt(cek, RSA_PADDING[alg])
        check(f"{alg} unwraps a key wrapped by cryptography",
              lc.unwrap_key(KeyWrapAlgorithm(alg), w2).key == cek)

    # RSA1_5 implicit rejection (draft-irtf-cfrg-rsa-guidance, as OpenSSL
    # 3.2 and Azure answer): a corrupted ciphertext is not refused, which
    # would be a padding oracle; it decrypts (200) to a synthetic message
    # derived from the key and the ciphertext: the same every time, of a
    # length a real message could have (at most k - 11 = 245 bytes), and not
    # the message. decrypt and unwrapKey are one operation.
    msg = b"rsa1_5 implicit rejection"
    bad = bytearray(pub.encrypt(msg, RSA_PADDING["RSA1_5"]))
    bad[128] ^= 0x01
    bad = bytes(bad)
    answers = []
    for call in (lambda: rc.decrypt(EncryptionAlgorithm.rsa1_5, bad).plaintext,
                 lambda: rc.decrypt(EncryptionAlgorithm.rsa1_5, bad).plaintext,
                 lambda: rc.unwrap_key(KeyWrapAlgorithm.rsa1_5, bad).key):
        try:
            answers.append(call())
        except HttpResponseError as err:
            answers.append(err)
    check("RSA1_5 corrupted ciphertext answered 200, not refused",
          all(isinstance(a, bytes) for a in answers), str(answers[0]))
    if all(isinstance(a, bytes) for a in answers):
        check("RSA1_5 corrupted ciphertext: the same message every time",
              answers[0] == answers[1] == answers[2])
        check("RSA1_5 corrupted ciphertext: a plausible length, not the "
              "message", len(answers[0]) <= 245 and answers[0] != msg,
              str(len(answers[0])))
    check("RSA1_5 valid ciphertext still decrypts after that",
          rc.decrypt(EncryptionAlgorithm.rsa1_5,
                     pub.encrypt(msg, RSA_PADDING["RSA1_5"])).plaintext == msg)


def officer_sign(key, alg, digest, principal="officer"):
    return local_crypto(key, principal).sign(SignatureAlgorithm(alg),
                                             digest).signature


@case
def ec_keys():
    for crv, (curve, ln, alg) in CURVES.items():
        name = "sdk-ec-" + crv.lower()
        hsm = crv == "P-384"
        k = officer.create_ec_key(name, curve=crv, hardware_protected=hsm)
        check(f"{crv} kid", kid_ok(k, name), k.id)
        check(f"{crv} kty", k.key_type == ("EC-HSM" if hsm else "EC"),
              str(k.key_type))
        check(f"{crv} crv", k.key.crv == crv, str(k.key.crv))
        check(f"{crv} coordinates", len(k.key.x) == ln and len(k.key.y) == ln,
              f"{len(k.key.x)} {len(k.key.y)}")
        check(f"{crv} no d", k.key.d is None)
        pub = public_key_of(k.key)  # raises if the point is not on the curve
        check(f"{crv} point on curve", pub.curve.name == curve.name)
        d = digest_for(alg, b"ec message " + crv.encode())
        sig = officer_sign(k, alg, d)
        check(f"{alg} raw r||s length", len(sig) == 2 * ln, str(len(sig)))
        check(f"{alg} verifies with cryptography",
              verify_outside(pub, alg, d, sig))
        check(f"{alg} oracle rejects it for another digest",
              not verify_outside(pub, alg, digest_for(alg, b"other"), sig))
        rc = remote(k)
        check(f"{alg} verifies in keyferryd",
              rc.verify(SignatureAlgorithm(alg), d, sig).is_valid)
        bad = bytes([sig[0] ^ 1]) + sig[1:]
        check(f"{alg} keyferryd rejects an altered signature",
              rc.verify(SignatureAlgorithm(alg), d, bad).is_valid is False)
        # A valid signature by another key of the same curve is rejected.
        stranger = ec.generate_private_key(curve)
        der = stranger.sign(d, ec.ECDSA(utils.Prehashed(HASH[bits(alg)][1])))
        r_, s_ = utils.decode_dss_signature(der)
        foreign = r_.to_bytes(ln, "big") + s_.to_bytes(ln, "big")
        check(f"{alg} keyferryd rejects another key's signature",
              rc.verify(SignatureAlgorithm(alg), d, foreign).is_valid is False)
        check(f"{crv} default key_ops are sign/verify",
              set(k.key_operations or []) >= {"sign", "verify"},
              str(k.key_operations))


@case
def oct_keys():
    for size in (128, 192, 256):
        name = f"sdk-oct-{size}"
        hsm = size == 192
        k = officer.create_oct_key(name, size=size, hardware_protected=hsm)
        check(f"oct {size} kid", kid_ok(k, name), k.id)
        check(f"oct {size} kty", k.key_type == ("oct-HSM" if hsm else "oct"),
              str(k.key_type))
        check(f"oct {size} k never returned", k.key.k is None)
        c = remote(k)
        msg = b"a message of some length, not block aligned"
        gcm = EncryptionAlgorithm(f"A{size}GCM")
        e = c.encrypt(gcm, msg, additional_authenticated_data=b"context")
        check(f"A{size}GCM iv 12 bytes, tag 16 bytes",
              e.iv is not None and len(e.iv) == 12 and
              e.tag is not None and
              len(e.tag) == 16)
        check(f"A{size}GCM ciphertext length",
              len(e.ciphertext) == len(msg) and e.ciphertext != msg)
        check(f"A{size}GCM round trip",
              c.decrypt(gcm, e.ciphertext, iv=e.iv,
                        authentication_tag=e.tag,
                        additional_authenticated_data=b"context"
                        ).plaintext == msg)
        e2 = c.encrypt(gcm, msg, additional_authenticated_data=b"context")
        check(f"A{size}GCM fresh iv per call", e2.iv != e.iv)
        bad_tag = bytes([e.tag[0] ^ 1]) + \
            e.tag[1:]
        refused(f"A{size}GCM altered tag",
                lambda: c.decrypt(gcm, e.ciphertext, iv=e.iv,
                                  authentication_tag=bad_tag,
                                  additional_authenticated_data=b"context"),
                (400,), codes=("BadParameter",))
        refused(f"A{size}GCM wrong aad",
                lambda: c.decrypt(gcm, e.ciphertext, iv=e.iv,
                                  authentication_tag=e.tag,
                                  additional_authenticated_data=b"other"),
                (400,), codes=("BadParameter",))
        block = b"exactly thirty-two bytes long!!!"
        for mode, pt in (("CBC", block), ("CBCPAD", msg)):
            alg = EncryptionAlgorithm(f"A{size}{mode}")
            iv = os.urandom(16)
            e = c.encrypt(alg, pt, iv=iv)
            check(f"A{size}{mode} keeps the caller's iv", e.iv == iv,
                  str(e.iv))
            exp_len = len(pt) if mode == "CBC" else (len(pt) // 16 + 1) * 16
            check(f"A{size}{mode} ciphertext length",
                  len(e.ciphertext) == exp_len, str(len(e.ciphertext)))
            check(f"A{size}{mode} round trip",
                  c.decrypt(alg, e.ciphertext, iv=iv).plaintext == pt)
        kw = KeyWrapAlgorithm(f"A{size}KW")
        cek = os.urandom(32)
        w = c.wrap_key(kw, cek)
        check(f"A{size}KW wrapped length", len(w.encrypted_key) == 40)
        check(f"A{size}KW round trip",
              c.unwrap_key(kw, w.encrypted_key).key == cek)


@case
def oct_known_key_vectors():
    """oct keys imported with known bytes: every vault result must match
    what `cryptography` computes with the same key."""
    for size in (128, 192, 256):
        raw_key = os.urandom(size // 8)
        name = f"sdk-oct-known-{size}"
        k = officer.import_key(name, JsonWebKey(kty="oct", k=raw_key))
        check(f"imported oct {size} kid", kid_ok(k, name), k.id)
        check(f"imported oct {size} k not echoed", k.key.k is None)
        c = remote(k)
        msg = b"known-key vectors for keyferryd"
        gcm = EncryptionAlgorithm(f"A{size}GCM")
        e = c.encrypt(gcm, msg, additional_authenticated_data=b"aad!")
        check(f"A{size}GCM opens with cryptography",
              AESGCM(raw_key).decrypt(e.iv, e.ciphertext + e.tag,
                                      b"aad!") == msg)
        iv = os.urandom(12)
        ct = AESGCM(raw_key).encrypt(iv, msg, b"aad!")
        check(f"A{size}GCM keyferryd opens cryptography's ciphertext",
              c.decrypt(gcm, ct[:-16], iv=iv, authentication_tag=ct[-16:],
                        additional_authenticated_data=b"aad!"
                        ).plaintext == msg)
        for mode, pt in (("CBC", msg[:16] * 3), ("CBCPAD", msg)):
            pad = mode == "CBCPAD"
            alg = EncryptionAlgorithm(f"A{size}{mode}")
            iv = os.urandom(16)
            e = c.encrypt(alg, pt, iv=iv)
            check(f"A{size}{mode} equals cryptography's ciphertext",
                  e.ciphertext == aes_cbc(raw_key, iv, pt, True, pad))
            ct = aes_cbc(raw_key, iv, pt + b"!", True, True) if pad else \
                aes_cbc(raw_key, iv, pt[::-1], True, False)
            want = pt + b"!" if pad else pt[::-1]
            check(f"A{size}{mode} keyferryd decrypts cryptography's",
                  c.decrypt(alg, ct, iv=iv).plaintext == want)
        cek = os.urandom(24)
        kw = KeyWrapAlgorithm(f"A{size}KW")
        w = c.wrap_key(kw, cek)
        check(f"A{size}KW equals RFC 3394 wrap by cryptography",
              w.encrypted_key == aes_key_wrap(raw_key, cek))
        check(f"A{size}KW keyferryd unwraps cryptography's",
              c.unwrap_key(kw, aes_key_wrap(raw_key, cek[::-1])).key ==
              cek[::-1])
        check(f"A{size}KW cryptography unwraps keyferryd's",
              aes_key_unwrap(raw_key, w.encrypted_key) == cek)


@case
def import_plaintext_jwk():
    # RSA, made outside the vault.
    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    k = officer.import_key("sdk-import-rsa", rsa_jwk(priv),
                           tags={"origin": "cryptography"})
    check("imported RSA kid", kid_ok(k, "sdk-import-rsa"), k.id)
    check("imported RSA public part kept",
          int.from_bytes(k.key.n, "big") == priv.public_key().public_numbers().n)
    check("imported RSA private part hidden", k.key.d is None and
          k.key.p is None and k.key.dp is None)
    check("imported RSA tags", k.properties.tags == {"origin": "cryptography"})
    for alg in ("RS256", "PS384"):
        d = digest_for(alg, b"imported " + alg.encode())
        sig = officer_sign(k, alg, d)
        check(f"imported RSA {alg} verifies with the outside public key",
              verify_outside(priv.public_key(), alg, d, sig))
    rc = remote(k)
    for alg in RSA_CIPHERS:
        e = rc.encrypt(EncryptionAlgorithm(alg), b"only the outside key")
        check(f"imported RSA: keyferryd {alg} opens with the outside key",
              priv.decrypt(e.ciphertext, RSA_PADDING[alg]) ==
              b"only the outside key")
    w = rc.wrap_key(RSA_WRAP, b"\x5a" * 32)
    check("imported RSA: keyferryd wrap opens with the outside key",
          priv.decrypt(w.encrypted_key, RSA_PADDING[RSA_WRAP_PADDING]) ==
          b"\x5a" * 32)

    # EC on every curve, made outside the vault.
    for crv, (curve, ln, alg) in CURVES.items():
        epriv = ec.generate_private_key(curve)
        name = "sdk-import-ec-" + crv.lower()
        ek = officer.import_key(name, ec_jwk(epriv, crv, ["sign", "verify"]))
        check(f"imported {crv} kid", kid_ok(ek, name), ek.id)
        check(f"imported {crv} public point kept",
              int.from_bytes(ek.key.x, "big") ==
              epriv.public_key().public_numbers().x)
        check(f"imported {crv} d hidden", ek.key.d is None)
        check(f"imported {crv} key_ops kept",
              sorted(ek.key_operations or []) == ["sign", "verify"],
              str(ek.key_operations))
        d = digest_for(alg, b"imported ec " + crv.encode())
        sig = officer_sign(ek, alg, d)
        check(f"imported {crv} {alg} verifies with the outside key",
              verify_outside(epriv.public_key(), alg, d, sig))

    # An RSA JWK whose d belongs to another key is refused, nothing stored.
    bad = rsa_jwk(priv)
    bad.d = rsa.generate_private_key(65537, 2048).private_numbers().d \
        .to_bytes(256, "big")
    refused("import of an inconsistent RSA JWK",
            lambda: officer.import_key("sdk-import-bad", bad), (400,),
            codes=("BadParameter",))
    # An EC point that is not on the curve is refused.
    epriv = ec.generate_private_key(ec.SECP256R1())
    off = ec_jwk(epriv, "P-256")
    off.y = (int.from_bytes(off.y, "big") ^ 1).to_bytes(32, "big")
    refused("import of an EC point off the curve",
            lambda: officer.import_key("sdk-import-bad", off), (400,),
            codes=("BadParameter",))


@case
def get_versions_update():
    name = "sdk-versions"
    made = [officer.create_ec_key(name, curve="P-256",
                                  tags={"gen": str(i)}) for i in range(5)]
    versions = [m.properties.version for m in made]
    check("five distinct versions", len(set(versions)) == 5)
    latest = officer.get_key(name)
    check("get latest (empty version) is the last created",
          latest.properties.version == versions[-1] and
          latest.key.x == made[-1].key.x)
    for i, m in enumerate(made):
        g = officer.get_key(name, m.properties.version)
        check(f"get by version {i}",
              g.id == m.id and g.key.x == m.key.x and
              g.properties.tags == {"gen": str(i)})
    check("names are case-insensitive",
          officer.get_key(name.upper()).properties.version == versions[-1])

    listed = list(officer.list_properties_of_key_versions(name))
    check("list versions returns each version once",
          sorted(p.version for p in listed) == sorted(versions),
          str([p.version for p in listed]))
    pages = list(officer.list_properties_of_key_versions(
        name, max_page_size=2).by_page())
    flat = [p.version for page in pages for p in page]
    check("versions paged by 2: 3 pages", len(pages) == 3, str(len(pages)))
    check("versions paged by 2: all, once", sorted(flat) == sorted(versions),
          str(flat))
    check("version items carry tags and ids",
          all(p.id.endswith("/" + p.version) and p.tags is not None
              for p in listed))

    # Update one old version: only that version changes.
    old = versions[1]
    exp = datetime.fromtimestamp(int(time.time()) + 86400 * 30, timezone.utc)
    nbf = datetime.fromtimestamp(int(time.time()) - 3600, timezone.utc)
    before_updated = made[1].properties.updated_on
    time.sleep(1.1)
    u = officer.update_key_properties(name, old, enabled=False,
                                      expires_on=exp, not_before=nbf,
                                      tags={"team": "crypto", "env": "e2e"})
    check("update answers the updated version", u.properties.version == old)
    check("update enabled=false", u.properties.enabled is False)
    check("update exp", ts(u.properties.expires_on) == ts(exp),
          str(u.properties.expires_on))
    check("update nbf", ts(u.properties.not_before) == ts(nbf),
          str(u.properties.not_before))
    check("update tags replaced",
          u.properties.tags == {"team": "crypto", "env": "e2e"},
          str(u.properties.tags))
    check("updated timestamp moved",
          ts(u.properties.updated_on) > ts(before_updated),
          f"{u.properties.updated_on} {before_updated}")
    check("created timestamp kept",
          ts(u.properties.created_on) == ts(made[1].properties.created_on))
    g = officer.get_key(name, old)
    check("update persisted", g.properties.enabled is False and
          ts(g.properties.expires_on) == ts(exp) and
          g.properties.tags == {"team": "crypto", "env": "e2e"})
    check("other versions untouched",
          officer.get_key(name).properties.enabled is True and
          officer.get_key(name).properties.tags == {"gen": "4"} and
          officer.get_key(name, versions[0]).properties.tags == {"gen": "0"})
    # Update the latest without a version; key_ops narrowed.
    u2 = officer.update_key_properties(name, key_operations=["verify"],
                                       tags={})
    check("update latest without version",
          u2.properties.version == versions[-1] and
          sorted(u2.key_operations) == ["verify"] and
          not u2.properties.tags, f"{u2.key_operations} {u2.properties.tags}")
    refused("sign with a key whose key_ops were narrowed to verify",
            lambda: remote(u2).sign(SignatureAlgorithm.es256, b"\x01" * 32),
            (400, 403), codes=("BadParameter", "Forbidden"))
    # Re-enable the old version and use it.
    officer.update_key_properties(name, old, enabled=True)
    sig = officer_sign(officer.get_key(name, old), "ES256", b"\x02" * 32)
    check("re-enabled old version signs",
          verify_outside(public_key_of(made[1].key), "ES256", b"\x02" * 32,
                         sig))


@case
def list_paging():
    names = [f"sdk-page-{i:02d}" for i in range(30)]
    for n in names:
        officer.create_ec_key(n, curve="P-256")
    every = [p for p in officer.list_properties_of_keys()]
    every_names = [p.name for p in every]
    check("list returns more than one page's worth (> 25)",
          len(every) > 25, str(len(every)))
    check("list (default paging) has every page key once",
          all(every_names.count(n) == 1 for n in names),
          str(sorted(set(names) - set(every_names))))
    check("list has no duplicates", len(every_names) == len(set(every_names)))
    check("list items: kid is the key's id without a version",
          all(p.id == f"{VAULT}/keys/{p.name}" for p in every),
          str([p.id for p in every[:3]]))
    sizes = []
    flat = []
    for p in officer.list_properties_of_keys(max_page_size=7).by_page():
        items = list(p)
        sizes.append(len(items))
        flat.extend(i.name for i in items)
    check("every page holds at most 7", all(n <= 7 for n in sizes),
          str(sizes))
    check("paging by 7 follows nextLink over every key",
          sorted(flat) == sorted(every_names),
          f"{len(flat)} vs {len(every_names)}")
    check("paging by 7 uses ceil(n/7) pages or more",
          len(sizes) >= -(-len(every_names) // 7), str(sizes))
    # Raw: maxresults and nextLink as the REST API defines them (1..25).
    t = mint("officer")
    r = raw("GET", f"/keys?api-version={API}&maxresults=3", token=t)
    check("raw list maxresults=3: 3 items and a nextLink",
          r.status == 200 and len(r.doc["value"]) == 3 and
          r.doc.get("nextLink", "").startswith(VAULT + "/keys?"), r.text[:300])
    if r.status == 200 and r.doc.get("nextLink"):
        nl = r.doc["nextLink"]
        path = nl[len(VAULT):]
        r2 = raw("GET", path, token=t)
        check("nextLink is followable and gives the next items",
              r2.status == 200 and r2.doc["value"] and
              {i["kid"] for i in r2.doc["value"]}.isdisjoint(
                  {i["kid"] for i in r.doc["value"]}), r2.text[:300])
    refused("maxresults=26", lambda: raw(
        "GET", f"/keys?api-version={API}&maxresults=26", token=t), (400,),
        codes=("BadParameter",))


@case
def delete_recover():
    name = "sdk-life"
    k = officer.create_rsa_key(name, size=2048, tags={"keep": "me"})
    d = digest_for("PS256", b"before delete")
    sig = officer_sign(k, "PS256", d)
    deleted = officer.begin_delete_key(name).result()
    check("deleted key: recovery id",
          deleted.recovery_id == f"{VAULT}/deletedkeys/{name}",
          str(deleted.recovery_id))
    check("deleted key: dates",
          deleted.deleted_date is not None and
          deleted.scheduled_purge_date is not None and
          abs((deleted.scheduled_purge_date - deleted.deleted_date)
              .total_seconds() - RECOVERABLE_DAYS * 86400) < 5)
    check("deleted key: material and id kept",
          deleted.key.n == k.key.n and deleted.id == k.id and
          deleted.properties.tags == {"keep": "me"})
    got = officer.get_deleted_key(name)
    check("get_deleted_key", got.id == k.id and
          got.recovery_id == deleted.recovery_id and got.key.n == k.key.n)
    check("list_deleted_keys has it",
          name in [x.name for x in officer.list_deleted_keys()])
    check("deleted key gone from list",
          name not in [p.name for p in officer.list_properties_of_keys()])
    o = attempt(lambda: officer.get_key(name))
    check("get of a deleted key -> 404 KeyNotFound",
          o.status == 404 and o.code == "KeyNotFound", str(o))
    refused("create over a deleted-but-recoverable name",
            lambda: officer.create_rsa_key(name, size=2048), (409,),
            codes=("Conflict",))
    rec = officer.begin_recover_deleted_key(name).result()
    check("recover answers the key", rec.id == k.id and rec.key.n == k.key.n)
    check("recovered key not deleted any more",
          name not in [x.name for x in officer.list_deleted_keys()])
    back = officer.get_key(name)
    check("recovered key: same version and tags",
          back.properties.version == k.properties.version and
          back.properties.tags == {"keep": "me"})
    check("recovered key verifies the old signature in keyferryd",
          remote(back).verify(SignatureAlgorithm.ps256, d, sig).is_valid)
    d2 = digest_for("RS256", b"after recover")
    check("recovered key signs again",
          verify_outside(public_key_of(k.key), "RS256", d2,
                         officer_sign(back, "RS256", d2)))


@case
def delete_purge():
    name = "sdk-purge"
    k = officer.create_ec_key(name, curve="P-384")
    officer.create_ec_key(name, curve="P-384")  # two versions
    officer.begin_delete_key(name).result()
    officer.purge_deleted_key(name)
    o = attempt(lambda: officer.get_deleted_key(name))
    check("purged: get_deleted_key -> 404", o.status == 404 and
          envelope_ok(o.doc), str(o))
    o = attempt(lambda: officer.get_key(name))
    check("purged: get_key -> 404 KeyNotFound", o.status == 404 and
          o.code == "KeyNotFound", str(o))
    o = attempt(lambda: officer.get_key(name, k.properties.version))
    check("purged: old version -> 404", o.status == 404, str(o))
    check("purged: not listed as deleted",
          name not in [x.name for x in officer.list_deleted_keys()])
    again = officer.create_ec_key(name, curve="P-256")
    check("purged name reusable with a new version",
          again.properties.version != k.properties.version and
          again.key.crv == "P-256")
    check("reused name has only the new version",
          [p.version for p in officer.list_properties_of_key_versions(name)]
          == [again.properties.version])
    refused("purge of a key that is not deleted",
            lambda: officer.purge_deleted_key(name), (404, 409),
            codes=("KeyNotFound", "Conflict", "NotFound"))


@case
def backup_restore():
    name = "sdk-backup"
    v1 = officer.create_rsa_key(name, size=2048, tags={"v": "1"})
    v2 = officer.create_rsa_key(name, size=2048, tags={"v": "2"})
    blob = officer.backup_key(name)
    check("backup is opaque bytes", isinstance(blob, bytes) and
          len(blob) > 64 and v1.key.n not in blob and v2.key.n not in blob)
    refused("restore while the key exists",
            lambda: officer.restore_key_backup(blob), (409,),
            codes=("Conflict",))
    officer.begin_delete_key(name).result()
    refused("restore while the key is deleted but recoverable",
            lambda: officer.restore_key_backup(blob), (409,),
            codes=("Conflict",))
    officer.purge_deleted_key(name)
    check("gone before restore",
          attempt(lambda: officer.get_key(name)).status == 404)
    r = officer.restore_key_backup(blob)
    check("restore answers the latest version",
          r.properties.version == v2.properties.version and
          r.key.n == v2.key.n and r.properties.tags == {"v": "2"},
          r.id)
    check("restore brings back every version",
          sorted(p.version for p in
                 officer.list_properties_of_key_versions(name)) ==
          sorted([v1.properties.version, v2.properties.version]))
    old = officer.get_key(name, v1.properties.version)
    check("restored old version intact",
          old.key.n == v1.key.n and old.properties.tags == {"v": "1"})
    d = digest_for("RS384", b"restored")
    check("restored key signs for the original public key",
          verify_outside(public_key_of(v2.key), "RS384", d,
                         officer_sign(r, "RS384", d)))
    ct = public_key_of(v1.key).encrypt(b"old version",
                                       RSA_PADDING["RSA-OAEP"])
    check("restored old version decrypts",
          local_crypto(old).decrypt(EncryptionAlgorithm.rsa_oaep,
                                    ct).plaintext == b"old version")
    # Into the other vault of the same deployment.
    other = kc("officer", OTHER_VAULT)
    r2 = other.restore_key_backup(blob)
    check("restore into othervault",
          r2.id.startswith(OTHER_VAULT + "/keys/" + name + "/") and
          r2.key.n == v2.key.n, r2.id)
    check("othervault copy is listed there",
          name in [p.name for p in other.list_properties_of_keys()])
    tampered = bytearray(blob)
    tampered[len(tampered) // 2] ^= 0x01
    officer.begin_delete_key(name).result()
    officer.purge_deleted_key(name)
    refused("restore of a tampered backup",
            lambda: officer.restore_key_backup(bytes(tampered)), (400,),
            codes=("BadParameter",))
    refused("restore of garbage",
            lambda: officer.restore_key_backup(b"not a backup at all"),
            (400,), codes=("BadParameter",))


@case
def rotate_and_policy():
    name = "sdk-rotate"
    k = officer.create_rsa_key(name, size=2048, key_operations=[
        "sign", "verify"], tags={"t": "1"})
    r = officer.rotate_key(name)
    check("rotate makes a new version",
          r.properties.version != k.properties.version and kid_ok(r, name))
    check("rotated key is new material of the same type and size",
          r.key_type == k.key_type and r.key.n != k.key.n and
          len(r.key.n) == len(k.key.n))
    check("rotated is the latest",
          officer.get_key(name).properties.version == r.properties.version)
    check("both versions listed",
          sorted(p.version for p in
                 officer.list_properties_of_key_versions(name)) ==
          sorted([k.properties.version, r.properties.version]))
    d = digest_for("PS512", b"rotated")
    check("rotated key signs", verify_outside(
        public_key_of(r.key), "PS512", d, officer_sign(r, "PS512", d)))

    policy = KeyRotationPolicy(
        expires_in="P90D",
        lifetime_actions=[
            KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate,
                                      time_after_create="P30D"),
            KeyRotationLifetimeAction(KeyRotationPolicyAction.notify,
                                      time_before_expiry="P7D")])
    p = officer.update_key_rotation_policy(name, policy)
    check("policy id names the key",
          p.id is not None and
          p.id.lower().endswith(f"/keys/{name}/rotationpolicy"), str(p.id))
    check("policy expiry stored", p.expires_in == "P90D", str(p.expires_in))

    def actions(pol):
        return sorted((str(a.action).lower().split(".")[-1],
                       a.time_after_create, a.time_before_expiry)
                      for a in pol.lifetime_actions)

    want = [("notify", None, "P7D"), ("rotate", "P30D", None)]
    check("policy actions stored", actions(p) == want, str(actions(p)))
    g = officer.get_key_rotation_policy(name)
    check("policy read back", g.expires_in == "P90D" and actions(g) == want,
          str(actions(g)))
    check("policy has timestamps",
          g.created_on is not None and g.updated_on is not None)
    p2 = officer.update_key_rotation_policy(name, KeyRotationPolicy(
        lifetime_actions=[KeyRotationLifetimeAction(
            KeyRotationPolicyAction.rotate, time_before_expiry="P10D")],
        expires_in="P60D"))
    check("policy replaced", p2.expires_in == "P60D" and
          actions(p2) == [("rotate", None, "P10D")], str(actions(p2)))
    check("policy replacement read back", actions(
        officer.get_key_rotation_policy(name)) == [("rotate", None, "P10D")])
    r3 = officer.rotate_key(name)
    check("rotate with a policy: new version",
          r3.properties.version not in (k.properties.version,
                                        r.properties.version))
    check("rotation under an expiry policy sets exp ~ 60 days on",
          r3.properties.expires_on is not None and
          abs(ts(r3.properties.expires_on) - (time.time() + 60 * 86400))
          < 600, str(r3.properties.expires_on))
    refused("rotation policy on an unknown key",
            lambda: officer.get_key_rotation_policy("sdk-no-such-key"),
            (404,), codes=("KeyNotFound",))


@case
def random_bytes():
    for n in (1, 32, 128):
        b = officer.get_random_bytes(n)
        check(f"rng {n} bytes", isinstance(b, bytes) and len(b) == n)
    a, b = officer.get_random_bytes(64), officer.get_random_bytes(64)
    check("rng gives different bytes each call", a != b)
    check("rng not constant", len(set(a)) > 16)
    t = mint("officer")
    for count in (0, 129):
        refused(f"rng count {count}",
                lambda: raw("POST", f"/rng?api-version={API}",
                            {"count": count}, token=t), (400,),
                codes=("BadParameter",))


@case
def api_versions():
    k = officer.create_ec_key("sdk-apiver", curve="P-256")
    for v in ("7.0", "7.1", "7.2", "7.3"):
        c = KeyClient(VAULT, OFFICER_CRED, api_version=v, **SDK_OPTS)
        g = c.get_key("sdk-apiver")
        check(f"SDK with api-version {v}: get", g.id == k.id)
        n = c.create_ec_key(f"sdk-apiver-{v.replace('.', '')}", curve="P-256")
        check(f"SDK with api-version {v}: create",
              kid_ok(n, f"sdk-apiver-{v.replace('.', '')}"))
    t = mint("officer")
    for v in ("7.0", "7.4-preview.1", "7.5", "7.6", "2025-07-01"):
        r = raw("GET", f"/keys/sdk-apiver/?api-version={v}", token=t)
        check(f"raw api-version {v}", r.status == 200 and
              r.doc.get("key", {}).get("kid") == k.id, r.text[:200])
    r = raw("GET", "/keys/sdk-apiver/?api%2Dversion=7.6", token=t)
    check("percent-encoded query name api%2Dversion", r.status == 200 and
          r.doc["key"]["kid"] == k.id, r.text[:200])
    r = raw("GET", f"/KEYS/sdk-apiver/{k.properties.version}?api-version={API}",
            token=t)
    check("path segments case-insensitive (KEYS)", r.status == 200 and
          r.doc["key"]["kid"] == k.id, r.text[:200])
    d = b"\x07" * 32
    r = raw("POST", f"/Keys/sdk-apiver/{k.properties.version}/SIGN"
            f"?api-version={API}", {"alg": "ES256", "value": b64u(d)}, token=t)
    check("path segments case-insensitive (SIGN)", r.status == 200 and
          verify_outside(public_key_of(k.key), "ES256", d,
                         unb64u(r.doc["value"])), r.text[:200])
    rk = officer.create_rsa_key("sdk-apiver-rsa", size=2048)
    r = raw("POST", f"/keys/sdk-apiver-rsa/{rk.properties.version}/wrapKey"
            f"?api-version={API}", {"alg": "RSA-OAEP", "value": b64u(d)},
            token=t)
    check("wrapKey in camel case routes", r.status == 200 and
          local_crypto(rk).unwrap_key(KeyWrapAlgorithm.rsa_oaep,
                                      unb64u(r.doc["value"])).key == d,
          r.text[:200])


@case
def second_vault():
    other = kc("officer", OTHER_VAULT)
    k = other.create_ec_key("sdk-other-only", curve="P-256")
    check("othervault kid", k.id.startswith(OTHER_VAULT + "/keys/"
                                            "sdk-other-only/"), k.id)
    check("myvault does not see othervault's key",
          attempt(lambda: officer.get_key("sdk-other-only")).status == 404)
    d = digest_for("ES256", b"other vault")
    check("othervault key signs", verify_outside(
        public_key_of(k.key), "ES256", d,
        local_crypto(k).sign(
            SignatureAlgorithm.es256, d).signature))
    refused("user has no role on othervault",
            lambda: kc("user", OTHER_VAULT).get_key("sdk-other-only"),
            (403,), codes=("Forbidden",), inner="ForbiddenByRbac")


@case
def authentication_failures():
    officer.create_ec_key("sdk-auth", curve="P-256")
    path = f"/keys/sdk-auth-new/create?api-version={API}"
    body = {"kty": "EC", "crv": "P-256"}

    o = refused("no token (create)", lambda: raw("POST", path, body), (401,),
                codes=("Unauthorized",))
    chal = dict((k.lower(), v) for k, v in o.headers).get(
        "www-authenticate", "")
    check("no token: WWW-Authenticate names the resource",
          f'resource="{RESOURCE}"' in chal, chal)
    refused("no token (get)",
            lambda: raw("GET", f"/keys/sdk-auth/?api-version={API}"), (401,),
            codes=("Unauthorized",))
    refused("Authorization not Bearer",
            lambda: raw("POST", path, body,
                        headers={"Authorization": "Basic b2ZmaWNlcjp4"}),
            (401,), codes=("Unauthorized",))

    # Expired: a negative lifetime if the mint takes it, else one second.
    try:
        expired = mint("officer", lifetime=-120)
    except subprocess.CalledProcessError:
        expired = mint("officer", lifetime=1)
        time.sleep(2.5)
    check("expired token really is expired",
          claims_of(expired)["exp"] < time.time(), str(claims_of(expired)))
    refused("expired token (raw)", lambda: raw("POST", path, body,
                                               token=expired),
            (401,), codes=("Unauthorized",))
    # Through the SDK only requests without a body: once the SDK has seen a
    # vault's challenge (ChallengeCache is per process) it sends the token at
    # once, and when that gets a 401 azure-keyvault-keys 4.8.0b3 re-sends the
    # request with its Content-Length but without its body
    # (ChallengeAuthPolicy.on_challenge: set_text_body(None)), so any server
    # waits for a body that never comes.
    refused("expired token (SDK)",
            lambda: KeyClient(VAULT, TokenCredential("officer", expired),
                              **SDK_OPTS)
            .get_key("sdk-auth"), (401,), codes=("Unauthorized",))

    good = mint("officer")
    check("minted token audience", claims_of(good).get("aud") == RESOURCE,
          str(claims_of(good)))
    head, payload, sig = good.split(".")
    i = len(sig) // 2
    flipped = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
    forged = f"{head}.{payload}.{flipped}"
    refused("forged token (signature char flipped)",
            lambda: raw("POST", path, body, token=forged), (401,),
            codes=("Unauthorized",))
    refused("forged token (SDK)",
            lambda: KeyClient(VAULT, TokenCredential("officer", forged),
                              **SDK_OPTS)
            .get_key("sdk-auth"), (401,), codes=("Unauthorized",))
    c = claims_of(good)
    c["sub"] = "someone-else"
    c["oid"] = "someone-else"
    altered = f"{head}.{b64u(json.dumps(c).encode())}.{sig}"
    refused("claims altered after signing",
            lambda: raw("POST", path, body, token=altered), (401,),
            codes=("Unauthorized",))
    none_head = b64u(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    refused("alg none token",
            lambda: raw("POST", path, body, token=f"{none_head}.{payload}."),
            (401,), codes=("Unauthorized",))
    # Same header and claims, signed by a stranger's P-256 key.
    stranger = ec.generate_private_key(ec.SECP256R1())
    der = stranger.sign(f"{head}.{payload}".encode(),
                        ec.ECDSA(hashes.SHA256()))
    r_, s_ = utils.decode_dss_signature(der)
    strange = f"{head}.{payload}.{b64u(r_.to_bytes(32, 'big') + s_.to_bytes(32, 'big'))}"
    refused("token signed by another key",
            lambda: raw("POST", path, body, token=strange), (401,),
            codes=("Unauthorized",))
    refused("garbage token", lambda: raw("POST", path, body,
                                         token="not.a.jwt"),
            (401,), codes=("Unauthorized",))
    for aud in ("https://vault.azure.net", f"https://localhost:{PORT + 1}",
                "https://management.core.windows.net/"):
        t = mint("officer", resource=aud)
        check(f"token for {aud} names that audience",
              claims_of(t).get("aud") in (aud, aud.rstrip("/")))
        refused(f"token for another audience {aud}",
                lambda: raw("POST", path, body, token=t), (401,),
                codes=("Unauthorized",))
    check("the good token still works",
          raw("GET", f"/keys/sdk-auth/?api-version={API}",
              token=good).status == 200)
    check("minted token names keyferryd's issuer and tenant",
          claims_of(good).get("iss") == f"{RESOURCE}/identity" and
          claims_of(good).get("tid"), str(claims_of(good)))
    # token-max-lifetime (default 24 h): the mint refuses more, in one line
    # with exit 2, and a token of exactly the maximum is accepted.
    day = mint("officer", lifetime=86400)
    c = claims_of(day)
    check("24 h token: exp - nbf is the lifetime",
          c["exp"] - c["nbf"] == 86400 and c["exp"] - c["iat"] == 86400,
          str(c))
    check("24 h token accepted",
          raw("GET", f"/keys/sdk-auth/?api-version={API}",
              token=day).status == 200)
    too_long = subprocess.run(
        [KEYFERRYD, "token", "--data-dir", DATA_DIR, "--listen",
         f"127.0.0.1:{PORT}", "--principal", "officer", "--lifetime",
         "86401"], capture_output=True, text=True)
    check("mint above token-max-lifetime refused (exit 2, one line)",
          too_long.returncode == 2 and not too_long.stdout and
          too_long.stderr.count("\n") == 1 and
          "token-max-lifetime" in too_long.stderr, repr(too_long))


@case
def authorization_roles():
    base = officer.create_ec_key("sdk-rbac", curve="P-256")
    rsa_k = officer.create_rsa_key("sdk-rbac-rsa", size=2048)
    oct_k = officer.create_oct_key("sdk-rbac-oct", size=256)
    d = b"\x03" * 32

    def denied(name, fn):
        refused(name, fn, (403,), codes=("Forbidden",),
                inner="ForbiddenByRbac")

    reader = kc("reader")
    check("reader can get", reader.get_key("sdk-rbac").id == base.id)
    check("reader can list", "sdk-rbac" in
          [p.name for p in reader.list_properties_of_keys()])
    check("reader can list versions", [
        p.version for p in reader.list_properties_of_key_versions("sdk-rbac")]
        == [base.properties.version])
    denied("reader create", lambda: reader.create_ec_key("sdk-rbac-new",
                                                         curve="P-256"))
    denied("reader sign", lambda: remote(base, "reader").sign(
        SignatureAlgorithm.es256, d))
    denied("reader decrypt", lambda: remote(rsa_k, "reader").decrypt(
        EncryptionAlgorithm.rsa_oaep, b"\x00" * 256))
    denied("reader update", lambda: reader.update_key_properties(
        "sdk-rbac", enabled=False))
    denied("reader delete", lambda: reader.begin_delete_key("sdk-rbac"))
    denied("reader import", lambda: reader.import_key(
        "sdk-rbac-new", ec_jwk(ec.generate_private_key(ec.SECP256R1()),
                               "P-256")))
    denied("reader backup", lambda: reader.backup_key("sdk-rbac"))

    user = kc("user")
    sig = remote(base, "user").sign(SignatureAlgorithm.es256, d).signature
    check("crypto user can sign", verify_outside(public_key_of(base.key),
                                                 "ES256", d, sig))
    check("crypto user can verify in keyferryd", remote(base, "user").verify(
        SignatureAlgorithm.es256, d, sig).is_valid)
    e = remote(rsa_k, "user").encrypt(EncryptionAlgorithm.rsa_oaep, b"u")
    check("crypto user can encrypt/decrypt", remote(rsa_k, "user").decrypt(
        EncryptionAlgorithm.rsa_oaep, e.ciphertext).plaintext == b"u")
    check("crypto user can get", user.get_key("sdk-rbac").id == base.id)
    denied("crypto user create", lambda: user.create_ec_key("sdk-rbac-new",
                                                            curve="P-256"))
    denied("crypto user delete", lambda: user.begin_delete_key("sdk-rbac"))
    denied("crypto user rotate", lambda: user.rotate_key("sdk-rbac"))
    denied("crypto user import", lambda: user.import_key(
        "sdk-rbac-new", ec_jwk(ec.generate_private_key(ec.SECP256R1()),
                               "P-256")))

    svc = kc("svcenc")
    w = remote(rsa_k, "svcenc").wrap_key(RSA_WRAP, b"\x09" * 32)
    check("service encryption user can wrap/unwrap (RSA)",
          remote(rsa_k, "svcenc").unwrap_key(
              RSA_WRAP, w.encrypted_key).key ==
          b"\x09" * 32)
    w = remote(oct_k, "svcenc").wrap_key(KeyWrapAlgorithm.aes_256,
                                         b"\x0a" * 32)
    check("service encryption user can wrap/unwrap (oct)",
          remote(oct_k, "svcenc").unwrap_key(
              KeyWrapAlgorithm.aes_256, w.encrypted_key).key == b"\x0a" * 32)
    check("service encryption user can get",
          svc.get_key("sdk-rbac").id == base.id)
    denied("service encryption user sign", lambda: remote(base, "svcenc")
           .sign(SignatureAlgorithm.es256, d))
    denied("service encryption user decrypt",
           lambda: remote(rsa_k, "svcenc").decrypt(
               EncryptionAlgorithm.rsa_oaep, e.ciphertext))
    denied("service encryption user create",
           lambda: svc.create_oct_key("sdk-rbac-new", size=256))
    denied("principal with no role: get",
           lambda: kc("nobody").get_key("sdk-rbac"))
    denied("principal with no role: list",
           lambda: list(kc("nobody").list_properties_of_keys()))


@case
def not_found():
    t = mint("officer")
    k = officer.create_ec_key("sdk-nf", curve="P-256")
    refused("get unknown key (SDK)",
            lambda: officer.get_key("sdk-no-such-key"), (404,),
            codes=("KeyNotFound",))
    err = _raises(lambda: officer.get_key("sdk-no-such-key"))
    check("404 is ResourceNotFoundError in the SDK",
          isinstance(err, ResourceNotFoundError), repr(err))
    refused("get unknown version",
            lambda: officer.get_key("sdk-nf", "0123456789abcdef" * 2),
            (404,), codes=("KeyNotFound",))
    refused("sign with unknown key (raw)",
            lambda: raw("POST", f"/keys/sdk-no-such-key//sign?api-version={API}",
                        {"alg": "ES256", "value": b64u(b"\x00" * 32)},
                        token=t), (404,), codes=("KeyNotFound",))
    refused("sign with unknown version",
            lambda: remote(f"{VAULT}/keys/sdk-nf/{'f' * 32}").sign(
                SignatureAlgorithm.es256, b"\x00" * 32), (404,),
            codes=("KeyNotFound",))
    refused("update unknown key",
            lambda: officer.update_key_properties("sdk-no-such-key",
                                                  enabled=False),
            (404,), codes=("KeyNotFound",))
    refused("delete unknown key",
            lambda: officer.begin_delete_key("sdk-no-such-key"), (404,),
            codes=("KeyNotFound",))
    refused("recover a key that is not deleted",
            lambda: officer.begin_recover_deleted_key("sdk-nf"), (404,),
            codes=("KeyNotFound",))
    refused("backup unknown key",
            lambda: officer.backup_key("sdk-no-such-key"), (404,),
            codes=("KeyNotFound",))
    refused("rotate unknown key",
            lambda: officer.rotate_key("sdk-no-such-key"), (404,),
            codes=("KeyNotFound",))
    check("known key still there", officer.get_key("sdk-nf").id == k.id)


def _raises(fn):
    try:
        fn()
    except Exception as err:  # noqa: BLE001
        return err
    return None


@case
def key_state_enforced():
    t = mint("officer")
    name = "sdk-state"
    k = officer.create_ec_key(name, curve="P-256")
    officer.update_key_properties(name, enabled=False)
    refused("sign with a disabled key",
            lambda: remote(k).sign(SignatureAlgorithm.es256, b"\x00" * 32),
            (403,), codes=("Forbidden",), message="disabled")
    refused("sign with a disabled key (latest, raw)",
            lambda: raw("POST", f"/keys/{name}//sign?api-version={API}",
                        {"alg": "ES256", "value": b64u(b"\x00" * 32)},
                        token=t), (403,), codes=("Forbidden",),
            message="disabled")
    officer.update_key_properties(name, enabled=True)
    sig = remote(k).sign(SignatureAlgorithm.es256, b"\x00" * 32).signature
    check("re-enabled key signs", verify_outside(
        public_key_of(k.key), "ES256", b"\x00" * 32, sig))

    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    ek = officer.create_rsa_key("sdk-expired", size=2048, expires_on=past)
    check("expired key stored with its exp",
          ts(ek.properties.expires_on) == ts(past))
    refused("sign with an expired key",
            lambda: remote(ek).sign(SignatureAlgorithm.rs256, b"\x00" * 32),
            (403,), codes=("Forbidden",), message="expire")
    refused("encrypt with an expired key",
            lambda: remote(ek).encrypt(EncryptionAlgorithm.rsa_oaep, b"x"),
            (403,), codes=("Forbidden",), message="expire")
    future = datetime.now(timezone.utc) + timedelta(days=1)
    nk = officer.create_ec_key("sdk-notyet", curve="P-256",
                               not_before=future)
    refused("sign with a key before its nbf",
            lambda: remote(nk).sign(SignatureAlgorithm.es256, b"\x00" * 32),
            (403,), codes=("Forbidden",))

    ok = officer.create_rsa_key("sdk-ops", size=2048,
                                key_operations=["sign", "verify"])
    check("key_ops stored", sorted(ok.key_operations) == ["sign", "verify"],
          str(ok.key_operations))
    refused("encrypt with a key whose key_ops lack encrypt",
            lambda: remote(ok).encrypt(EncryptionAlgorithm.rsa_oaep, b"x"),
            (400, 403), codes=("BadParameter", "Forbidden"))
    refused("wrapKey with a key whose key_ops lack wrapKey",
            lambda: remote(ok).wrap_key(KeyWrapAlgorithm.rsa_oaep,
                                        b"\x00" * 16),
            (400, 403), codes=("BadParameter", "Forbidden"))
    refused("decrypt with a key whose key_ops lack decrypt",
            lambda: remote(ok).decrypt(EncryptionAlgorithm.rsa_oaep,
                                       b"\x00" * 256),
            (400, 403), codes=("BadParameter", "Forbidden"))
    d = digest_for("RS256", b"allowed")
    check("the allowed op still works", verify_outside(
        public_key_of(ok.key), "RS256", d,
        remote(ok).sign(SignatureAlgorithm.rs256, d).signature))


@case
def bad_requests():
    t = mint("officer")
    rsa_k = officer.create_rsa_key("sdk-bad", size=2048)
    ec_k = officer.create_ec_key("sdk-bad-ec", curve="P-384")
    oct_k = officer.create_oct_key("sdk-bad-oct", size=128)
    v = rsa_k.properties.version

    def post(path, body):
        return lambda: raw("POST", path + f"?api-version={API}", body,
                           token=t)

    bp = dict(statuses=(400,), codes=("BadParameter",))
    refused("sign with alg XX256", post(
        f"/keys/sdk-bad/{v}/sign", {"alg": "XX256",
                                    "value": b64u(b"\x00" * 32)}), **bp)
    refused("sign with alg XX256 (SDK)", lambda: remote(rsa_k).sign(
        "XX256", b"\x00" * 32), **bp)
    refused("encrypt with alg XX-OAEP", post(
        f"/keys/sdk-bad/{v}/encrypt", {"alg": "XX-OAEP",
                                       "value": b64u(b"x")}), **bp)
    refused("ES256 on a P-384 key", lambda: remote(ec_k).sign(
        SignatureAlgorithm.es256, b"\x00" * 32), **bp)
    refused("RS256 on an EC key", lambda: remote(ec_k).sign(
        SignatureAlgorithm.rs256, b"\x00" * 32), **bp)
    refused("A256GCM on an RSA key", post(
        f"/keys/sdk-bad/{v}/encrypt", {"alg": "A256GCM",
                                       "value": b64u(b"x")}), **bp)
    refused("A256KW on a 128-bit oct key", lambda: remote(oct_k).wrap_key(
        KeyWrapAlgorithm.aes_256, b"\x00" * 16), **bp)
    refused("RS256 with a 31-byte digest", lambda: remote(rsa_k).sign(
        SignatureAlgorithm.rs256, b"\x00" * 31), **bp)
    refused("sign without value", post(f"/keys/sdk-bad/{v}/sign",
                                       {"alg": "RS256"}), **bp)
    refused("value not base64url", post(
        f"/keys/sdk-bad/{v}/sign", {"alg": "RS256", "value": "***"}), **bp)
    refused("malformed JSON (create)", post(
        "/keys/sdk-bad-json/create", '{"kty": "EC", "crv": '), **bp)
    refused("malformed JSON (sign)", post(
        f"/keys/sdk-bad/{v}/sign", '{"alg": "RS256", value}'), **bp)
    refused("JSON array instead of object", post(
        "/keys/sdk-bad-json/create", '["EC"]'), **bp)
    refused("create without kty", post("/keys/sdk-bad-json/create",
                                       {"crv": "P-256"}), **bp)
    refused("create with unknown kty", post("/keys/sdk-bad-json/create",
                                            {"kty": "DSA"}), **bp)
    refused("create with unknown curve", post(
        "/keys/sdk-bad-json/create", {"kty": "EC", "crv": "P-192"}), **bp)
    refused("create RSA-1024", post("/keys/sdk-bad-json/create",
                                    {"kty": "RSA", "key_size": 1024}), **bp)
    refused("create oct-100", post("/keys/sdk-bad-json/create",
                                   {"kty": "oct", "key_size": 100}), **bp)
    refused("key_size of the wrong type", post(
        "/keys/sdk-bad-json/create", {"kty": "RSA", "key_size": "big"}), **bp)
    refused("unknown key_op", post(
        "/keys/sdk-bad-json/create",
        {"kty": "EC", "crv": "P-256", "key_ops": ["fly"]}), **bp)
    refused("bad key name", post("/keys/bad_name!/create",
                                 {"kty": "EC", "crv": "P-256"}),
            (400, 404), codes=("BadParameter", "NotFound", "KeyNotFound"))
    refused("unsupported api-version", lambda: raw(
        "POST", "/keys/sdk-bad-json/create?api-version=6.0",
        {"kty": "EC", "crv": "P-256"}, token=t), **bp)
    refused("missing api-version", lambda: raw(
        "POST", "/keys/sdk-bad-json/create", {"kty": "EC", "crv": "P-256"},
        token=t), **bp)
    big = '{"kty":"EC","crv":"P-256","tags":{"a":"' + "x" * (1 << 20) + '"}}'
    check("oversized body is over 1 MiB", len(big) > (1 << 20))
    refused("oversized body (> 1 MiB)", post("/keys/sdk-bad-big/create", big),
            (413, 400))
    refused("oversized body on sign", post(
        f"/keys/sdk-bad/{v}/sign",
        json.dumps({"alg": "RS256", "value": "A" * ((1 << 20) + 10)})),
        (413, 400))
    check("server healthy after the bad requests",
          raw("GET", f"/keys/sdk-bad/{v}?api-version={API}",
              token=t).status == 200)


@case
def identity_endpoint_and_arm():
    """The managed-identity endpoint's styles, and ARM's routes.

    App Service 2019-08-01 (X-IDENTITY-HEADER) and 2017-09-01 (secret, as
    msrestazure sends it for az) both need the identity secret; the
    secretless legacy MSI POST is refused by default (identity-legacy-uids
    enables it: tests/e2e/identity_legacy_test.sh).
    """
    from urllib.parse import quote, urlparse
    ep = urlparse(os.environ["IDENTITY_ENDPOINT"])

    def ident(method, path, body=None, headers=None):
        conn = http.client.HTTPSConnection(ep.hostname, ep.port, context=CTX,
                                           timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        finally:
            conn.close()

    secret = {"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]}
    q = f"{ep.path}?api-version=2019-08-01&resource={quote(RESOURCE, safe='')}"
    st, doc = ident("GET", q, headers=secret)
    check("App Service style token", st == 200 and
          doc["token_type"] == "Bearer" and doc["resource"] == RESOURCE,
          str(doc))
    claims = claims_of(doc["access_token"])
    check("token names the one configured principal",
          claims["sub"] == "officer" and claims["aud"] == RESOURCE,
          str(claims))
    check("token names keyferryd's issuer",
          claims["iss"] == f"{RESOURCE}/identity", str(claims))
    check("identity token lives 3600 s",
          claims["exp"] - claims["nbf"] == 3600, str(claims))
    check("no X-IDENTITY-HEADER -> refused", ident("GET", q)[0] in (400, 401))
    check("wrong X-IDENTITY-HEADER -> refused",
          ident("GET", q, headers={"X-IDENTITY-HEADER": "wrong"})[0]
          in (400, 401))
    # App Service 2017-09-01 exactly as msrestazure's get_msi_token_webapp
    # builds it: MSI_ENDPOINT + "/?resource=R&api-version=2017-09-01" (R not
    # encoded) with header "secret".
    mgmt = "https://management.core.windows.net/"
    q17 = f"{ep.path}/?resource={mgmt}&api-version=2017-09-01"
    st, arm = ident("GET", q17, headers={"secret": os.environ["IDENTITY_HEADER"]})
    check("App Service 2017 style token", st == 200 and
          "access_token" in arm and arm["resource"] == mgmt and
          arm["expires_on"].isdigit(), str(arm))
    check("2017 style without secret -> 401", ident("GET", q17)[0] == 401)
    check("2017 style with the wrong secret -> 401",
          ident("GET", q17, headers={"secret": "wrong"})[0] == 401)
    form = "resource=" + quote(mgmt, safe="")
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    st, legacy = ident("POST", ep.path, body=form,
                       headers={"Metadata": "true", **form_type})
    check("legacy MSI style (no secret) refused by default",
          st == 401 and legacy.get("error") == "unauthorized" and
          "disabled" in legacy.get("error_description", "") and
          "access_token" not in legacy, str(legacy))
    check("legacy MSI without Metadata -> refused",
          ident("POST", ep.path, body=form, headers=form_type)[0] in (400, 401))
    # ARM, as `az cloud register` and `az login --identity` call it.
    r = raw("GET", "//metadata/endpoints?api-version=2015-01-01",
            host="localhost")
    check("ARM metadata endpoints", r.status == 200 and
          r.doc["authentication"]["audiences"], r.text)
    r = raw("GET", "/subscriptions?api-version=2019-11-01",
            token=arm["access_token"], host="localhost")
    check("ARM subscriptions", r.status == 200 and
          r.doc["value"][0]["tenantId"] == claims["tid"], r.text)
    check("ARM subscriptions need a token",
          raw("GET", "/subscriptions?api-version=2019-11-01",
              host="localhost").status == 401)
    check("identity token lists keys",
          raw("GET", f"/keys?api-version={API}",
              token=doc["access_token"]).status == 200)


@case
def sdk_byok_import():
    """BYOK through the SDK: JsonWebKey(t=<.byok bytes>), hardware protected.

    The blob is made here from the spec (OAEP-SHA1 of a transient AES-256
    key, then RFC 5649 of the PKCS#8 or raw AES key), under a KEK created
    through the SDK with key_ops exactly [import].
    """
    client = kc("officer")
    kek = client.create_rsa_key("sdk-byok-kek", size=2048,
                                hardware_protected=True,
                                key_operations=["import"])
    check("KEK is import-only", kek.key_operations == ["import"])
    kek_pub = public_key_of(kek.key)

    def byok(payload):
        transient = os.urandom(32)
        c1 = kek_pub.encrypt(transient, padding.OAEP(
            padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))
        c2 = aes_key_wrap_with_padding(transient, payload)
        return json.dumps({
            "schema_version": "1.0.0",
            "header": {"kid": kek.id, "alg": "dir",
                       "enc": "CKM_RSA_AES_KEY_WRAP"},
            "ciphertext": b64u(c1 + c2),
            "generator": "python_sdk_test"}).encode()

    def pkcs8(priv):
        return priv.private_bytes(serialization.Encoding.DER,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())

    targets = [
        ("sdk-byok-rsa", "RSA-HSM", None,
         rsa.generate_private_key(public_exponent=65537, key_size=2048),
         "PS256"),
        ("sdk-byok-ec", "EC-HSM", "P-256",
         ec.generate_private_key(ec.SECP256R1()), "ES256"),
    ]
    for name, kty, crv, priv, alg in targets:
        key = client.import_key(
            name, JsonWebKey(kty=kty, crv=crv, t=byok(pkcs8(priv)),
                             key_ops=["sign", "verify"]),
            hardware_protected=True)
        check(f"{name} kty", key.key_type == kty)
        digest = digest_for(alg, name.encode())
        sig = remote(key).sign(alg, digest).signature
        check(f"{name} signs for the source key",
              verify_outside(priv.public_key(), alg, digest, sig))

    aes = os.urandom(32)
    key = client.import_key(
        "sdk-byok-aes", JsonWebKey(kty="oct-HSM", t=byok(aes),
                                   key_ops=["wrapKey", "unwrapKey"]),
        hardware_protected=True)
    check("sdk-byok-aes kty", key.key_type == "oct-HSM")
    wrapped = remote(key).wrap_key("A256KW", b"\x5a" * 32).encrypted_key
    check("imported AES-256 wraps as the known key",
          wrapped == aes_key_wrap(aes, b"\x5a" * 32))


def main():
    run_cases()
    print(f"python_sdk_test: {passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
