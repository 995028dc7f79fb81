"""End to end: the real Azure Python SDK (Debian's python3-azure) against a
keyferryd started by tests/e2e/python_keys_test.sh, plus raw HTTPS requests
for the negative cases the SDK cannot express.

Run with /usr/bin/python3 (Debian's interpreter, which has azure and
cryptography). Prints "python_keys_test: N passed, M failed".
"""

import base64
import hashlib
import http.client
import json
import os
import ssl
import subprocess
import sys
import time
import traceback

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.keys import (JsonWebKey, KeyClient, KeyRotationLifetimeAction,
                                 KeyRotationPolicy, KeyRotationPolicyAction)
from azure.keyvault.keys.crypto import (CryptographyClient, EncryptionAlgorithm,
                                        KeyWrapAlgorithm, SignatureAlgorithm)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

VAULT = os.environ["KF_VAULT_URL"]
RESOURCE = os.environ["KF_RESOURCE"]
KEYFERRYD = os.environ["KEYFERRYD"]
DATA_DIR = os.environ["KF_DATA_DIR"]
PORT = int(os.environ["KF_PORT"])

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


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


def mint(principal, lifetime=3600, resource=RESOURCE):
    return subprocess.check_output(
        [KEYFERRYD, "token", "--data-dir", DATA_DIR, "--listen",
         f"127.0.0.1:{PORT}", "--principal", principal, "--resource",
         resource, "--lifetime", str(lifetime)]).decode().strip()


class Cred:
    """A TokenCredential backed by `keyferryd token` (the operator's mint)."""

    def __init__(self, principal):
        self.principal = principal
        self.token = None

    def get_token(self, *scopes, **kwargs):
        if self.token is None:
            self.token = mint(self.principal)
        return AccessToken(self.token, int(time.time()) + 3000)


officer = KeyClient(VAULT, Cred("officer"))


def crypto(key, principal="officer"):
    return CryptographyClient(key, Cred(principal))


def remote(key, principal="officer"):
    """A CryptographyClient that sends every operation to keyferryd.

    Debian's azure-keyvault-keys 4.8.0b3 runs oct-key operations locally when
    it has the key's JWK, and since a vault never returns `k` its
    SymmetricKey.from_jwk makes up a random key instead: the results would
    never reach the server. Marking key reads as forbidden keeps the client
    remote (public-key operations are also sent to the server this way).
    """
    c = CryptographyClient(key.id, Cred(principal))
    c._keys_get_forbidden = True  # pylint: disable=protected-access
    return c


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def public_key_of(jwk):
    """The public key of a KeyVaultKey's JWK, built by `cryptography`."""
    if jwk.kty.startswith("RSA"):
        n = int.from_bytes(jwk.n, "big")
        e = int.from_bytes(jwk.e, "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(),
             "P-521": ec.SECP521R1(), "P-256K": ec.SECP256K1()}[jwk.crv]
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"),
        curve).public_key()


HASHES = {"256": (hashlib.sha256, hashes.SHA256()),
          "384": (hashlib.sha384, hashes.SHA384()),
          "512": (hashlib.sha512, hashes.SHA512())}


def verify_outside(pub, alg, digest, sig):
    """Verifies a JOSE signature over a digest with `cryptography`."""
    h = HASHES[alg[2:5] if alg != "ES256K" else "256"][1]
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


# ---------------------------------------------------------------------------
# Raw HTTPS for the negative cases.

CTX = ssl.create_default_context(cafile=os.environ["KF_CA"])


def raw(method, path, body=None, token=None, headers=None, host=None):
    conn = http.client.HTTPSConnection("myvault.localhost", PORT, context=CTX,
                                       timeout=30)
    h = {"Content-Type": "application/json"}
    if host:
        h["Host"] = host
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return r.status, r.getheader("WWW-Authenticate"), doc


def error_code(doc):
    return (doc or {}).get("error", {}).get("code")


def inner_code(doc):
    return ((doc or {}).get("error", {}).get("innererror") or {}).get("code")


def snapshot():
    """Every key and version, to prove a refused request changed nothing."""
    out = {}
    for p in officer.list_properties_of_keys():
        out[p.name] = sorted(v.version for v in
                             officer.list_properties_of_key_versions(p.name))
    return out


# ---------------------------------------------------------------------------


@case
def rsa_keys_sign_encrypt_wrap():
    for size in (2048, 3072, 4096):
        k = officer.create_rsa_key(f"rsa{size}", size=size,
                                   hardware_protected=size == 4096)
        check(f"rsa{size} kty", k.key_type in ("RSA", "RSA-HSM"))
        check(f"rsa{size} size", len(k.key.n) * 8 == size)
        check(f"rsa{size} kid host", k.id.startswith(VAULT + "/keys/"))
    k3 = officer.create_rsa_key("rsa-e3", size=2048, public_exponent=3)
    check("public_exponent 3", int.from_bytes(k3.key.e, "big") == 3)

    k = officer.get_key("rsa2048")
    c = crypto(k)
    pub = public_key_of(k.key)
    for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
        digest = HASHES[alg[2:5]][0](b"keyferry " + alg.encode()).digest()
        s = c.sign(SignatureAlgorithm(alg), digest)
        check(f"{alg} kid", s.key_id == k.id)
        check(f"{alg} verified outside keyferryd",
              verify_outside(pub, alg, digest, s.signature))
        v = remote(k).verify(SignatureAlgorithm(alg), digest, s.signature)
        check(f"{alg} server verify", v.is_valid)
        bad = bytes([s.signature[0] ^ 1]) + s.signature[1:]
        check(f"{alg} server verify rejects",
              not remote(k).verify(SignatureAlgorithm(alg), digest,
                                   bad).is_valid)

    for alg, pad in (("RSA1_5", padding.PKCS1v15()),
                     ("RSA-OAEP", padding.OAEP(padding.MGF1(hashes.SHA1()),
                                               hashes.SHA1(), None)),
                     ("RSA-OAEP-256",
                      padding.OAEP(padding.MGF1(hashes.SHA256()),
                                   hashes.SHA256(), None))):
        msg = b"plaintext for " + alg.encode()
        # Encrypted outside keyferryd, decrypted inside.
        ct = pub.encrypt(msg, pad)
        d = c.decrypt(EncryptionAlgorithm(alg), ct)
        check(f"{alg} decrypt of an outside ciphertext", d.plaintext == msg)
        e = remote(k).encrypt(EncryptionAlgorithm(alg), msg)
        check(f"{alg} server encrypt size",
              len(e.ciphertext) == 256)
        check(f"{alg} round trip",
              c.decrypt(EncryptionAlgorithm(alg), e.ciphertext).plaintext == msg)
        w = remote(k).wrap_key(KeyWrapAlgorithm(alg), b"\x42" * 32)
        check(f"{alg} wrap/unwrap",
              c.unwrap_key(KeyWrapAlgorithm(alg), w.encrypted_key).key ==
              b"\x42" * 32)


@case
def ec_keys_sign_verify():
    for crv, alg in (("P-256", "ES256"), ("P-384", "ES384"),
                     ("P-521", "ES512"), ("P-256K", "ES256K")):
        k = officer.create_ec_key("ec-" + crv.lower(), curve=crv)
        check(f"{crv} crv", k.key.crv == crv)
        c = crypto(k)
        digest = HASHES[alg[2:5] if alg != "ES256K" else "256"][0](
            b"ec " + crv.encode()).digest()
        s = c.sign(SignatureAlgorithm(alg), digest)
        check(f"{alg} raw r||s length",
              len(s.signature) == 2 * ((k.key.x and len(k.key.x)) or 0))
        check(f"{alg} verified outside keyferryd",
              verify_outside(public_key_of(k.key), alg, digest, s.signature))
        check(f"{alg} verify", c.verify(SignatureAlgorithm(alg), digest,
                                        s.signature).is_valid)


@case
def oct_keys_encrypt_wrap():
    for size in (128, 192, 256):
        k = officer.create_oct_key(f"aes{size}", size=size,
                                   hardware_protected=True)
        check(f"oct{size} kty", k.key_type == "oct-HSM")
        c = remote(k)
        msg = b"sixteen byte msg" * 2
        gcm = EncryptionAlgorithm(f"A{size}GCM")
        e = c.encrypt(gcm, msg, additional_authenticated_data=b"ctx")
        check(f"A{size}GCM iv/tag", len(e.iv) == 12 and len(e.tag) == 16)
        d = c.decrypt(gcm, e.ciphertext, iv=e.iv, authentication_tag=e.tag,
                      additional_authenticated_data=b"ctx")
        check(f"A{size}GCM round trip", d.plaintext == msg)
        try:
            c.decrypt(gcm, e.ciphertext, iv=e.iv, authentication_tag=e.tag,
                      additional_authenticated_data=b"other")
            check(f"A{size}GCM wrong aad refused", False)
        except HttpResponseError as err:
            check(f"A{size}GCM wrong aad refused", err.status_code == 400)
        for mode in ("CBC", "CBCPAD"):
            alg = EncryptionAlgorithm(f"A{size}{mode}")
            iv = os.urandom(16)
            e = c.encrypt(alg, msg if mode == "CBC" else b"odd length", iv=iv)
            d = c.decrypt(alg, e.ciphertext, iv=iv)
            check(f"A{size}{mode} round trip",
                  d.plaintext == (msg if mode == "CBC" else b"odd length"))
        w = c.wrap_key(KeyWrapAlgorithm(f"A{size}KW"), b"\x11" * 32)
        check(f"A{size}KW unwrap",
              c.unwrap_key(KeyWrapAlgorithm(f"A{size}KW"),
                           w.encrypted_key).key == b"\x11" * 32)


@case
def import_plaintext_jwk():
    # Keys made outside keyferryd, imported, then used: the signature must
    # verify with the outside public key.
    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = priv.private_numbers()
    jwk = JsonWebKey(kty="RSA", n=n.public_numbers.n.to_bytes(256, "big"),
                     e=n.public_numbers.e.to_bytes(3, "big"),
                     d=n.d.to_bytes(256, "big"), p=n.p.to_bytes(128, "big"),
                     q=n.q.to_bytes(128, "big"), dp=n.dmp1.to_bytes(128, "big"),
                     dq=n.dmq1.to_bytes(128, "big"),
                     qi=n.iqmp.to_bytes(128, "big"), key_ops=["sign", "verify"])
    k = officer.import_key("imported-rsa", jwk)
    digest = hashlib.sha256(b"imported").digest()
    s = crypto(k).sign(SignatureAlgorithm.rs256, digest)
    check("imported RSA signs for the outside key",
          verify_outside(priv.public_key(), "RS256", digest, s.signature))
    check("imported key hides d", k.key.d is None)

    epriv = ec.generate_private_key(ec.SECP384R1())
    en = epriv.private_numbers()
    ejwk = JsonWebKey(kty="EC", crv="P-384",
                      x=en.public_numbers.x.to_bytes(48, "big"),
                      y=en.public_numbers.y.to_bytes(48, "big"),
                      d=en.private_value.to_bytes(48, "big"))
    ek = officer.import_key("imported-ec", ejwk)
    digest = hashlib.sha384(b"imported ec").digest()
    s = crypto(ek).sign(SignatureAlgorithm.es384, digest)
    check("imported EC signs for the outside key",
          verify_outside(epriv.public_key(), "ES384", digest, s.signature))

    aes = os.urandom(32)
    ok = officer.import_key("imported-aes", JsonWebKey(kty="oct-HSM", k=aes),
                            hardware_protected=True)
    w = remote(ok).wrap_key(KeyWrapAlgorithm.aes_256, b"\x07" * 16)
    check("imported AES wraps like the known key",
          w.encrypted_key == aes_key_wrap(aes, b"\x07" * 16))
    e = remote(ok).encrypt(EncryptionAlgorithm.a256_gcm, b"known key")
    check("imported AES-GCM opens outside keyferryd",
          AESGCM(aes).decrypt(e.iv, e.ciphertext + e.tag, None) == b"known key")

    # An inconsistent RSA JWK (d of another key) is refused.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk.d = other.private_numbers().d.to_bytes(256, "big")
    try:
        officer.import_key("bad-jwk", jwk)
        check("inconsistent JWK refused", False)
    except HttpResponseError as err:
        check("inconsistent JWK refused", err.status_code == 400 and
              err.error.code == "BadParameter")


@case
def versions_update_list_paging():
    names = [f"page-{i:02d}" for i in range(7)]
    for n in names:
        officer.create_ec_key(n, curve="P-256")
    v1 = officer.get_key("page-00")
    v2 = officer.create_ec_key("page-00", curve="P-256", tags={"gen": "2"})
    check("latest is the new version",
          officer.get_key("page-00").properties.version ==
          v2.properties.version)
    check("old version by id",
          officer.get_key("page-00", v1.properties.version).key.x == v1.key.x)
    versions = list(officer.list_properties_of_key_versions("page-00"))
    check("two versions", len(versions) == 2)
    # Pages of 2 through nextLink: every key exactly once.
    seen = []
    for page in officer.list_properties_of_keys(max_page_size=2).by_page():
        items = list(page)
        check("page size <= 2", len(items) <= 2)
        seen.extend(p.name for p in items)
    check("paging returns every key once",
          all(seen.count(n) == 1 for n in names), str(seen))
    exp = int(time.time()) + 86400
    from datetime import datetime, timezone
    u = officer.update_key_properties(
        "page-01", tags={"team": "crypto"}, enabled=True,
        expires_on=datetime.fromtimestamp(exp, timezone.utc))
    check("update tags", u.properties.tags == {"team": "crypto"})
    check("update exp", int(u.properties.expires_on.timestamp()) == exp)
    g = officer.get_key("PAGE-01")  # names are case-insensitive
    check("tags kept", g.properties.tags == {"team": "crypto"})


@case
def delete_recover_purge_backup_restore():
    officer.create_ec_key("lifecycle", curve="P-256")
    poller = officer.begin_delete_key("lifecycle")
    deleted = poller.result()
    check("deleted has recovery id", deleted.recovery_id.endswith(
        "/deletedkeys/lifecycle"))
    check("scheduled purge is 7 days on",
          abs((deleted.scheduled_purge_date - deleted.deleted_date)
              .total_seconds() - 7 * 86400) < 2)
    check("listed as deleted", "lifecycle" in
          [d.name for d in officer.list_deleted_keys()])
    try:
        officer.get_key("lifecycle")
        check("deleted key is gone", False)
    except ResourceNotFoundError:
        check("deleted key is gone", True)
    try:
        officer.create_ec_key("lifecycle", curve="P-256")
        check("name of a deleted key is not reusable", False)
    except HttpResponseError as err:
        check("name of a deleted key is not reusable",
              err.status_code == 409, str(err))
    officer.begin_recover_deleted_key("lifecycle").result()
    k = officer.get_key("lifecycle")
    s = crypto(k).sign(SignatureAlgorithm.es256, b"\x01" * 32)
    check("recovered key signs", len(s.signature) == 64)

    backup = officer.backup_key("lifecycle")
    officer.begin_delete_key("lifecycle").result()
    officer.purge_deleted_key("lifecycle")
    try:
        officer.get_deleted_key("lifecycle")
        check("purged", False)
    except ResourceNotFoundError:
        check("purged", True)
    r = officer.restore_key_backup(backup)
    check("restored same version", r.properties.version == k.properties.version)
    check("restored key verifies the old signature",
          crypto(r).verify(SignatureAlgorithm.es256, b"\x01" * 32,
                           s.signature).is_valid)
    # A backup restores into another vault of this deployment.
    other = KeyClient(os.environ["KF_OTHER_VAULT_URL"], Cred("officer"))
    r2 = other.restore_key_backup(backup)
    check("restore into another vault",
          r2.id.startswith(os.environ["KF_OTHER_VAULT_URL"]))
    # A tampered backup is refused.
    bad = bytearray(backup)
    bad[len(bad) // 2] ^= 1
    try:
        officer.restore_key_backup(bytes(bad))
        check("tampered backup refused", False)
    except HttpResponseError as err:
        check("tampered backup refused", err.status_code in (400, 409))


@case
def rotate_and_policy_and_random():
    k = officer.create_rsa_key("rotating", size=2048)
    r = officer.rotate_key("rotating")
    check("rotate makes a new version",
          r.properties.version != k.properties.version)
    check("rotated key keeps kty and size",
          r.key_type == k.key_type and len(r.key.n) == len(k.key.n))
    policy = KeyRotationPolicy(
        expires_in="P90D",
        lifetime_actions=[KeyRotationLifetimeAction(
            KeyRotationPolicyAction.rotate, time_after_create="P30D")])
    p = officer.update_key_rotation_policy("rotating", policy)
    check("policy stored", p.lifetime_actions[0].time_after_create == "P30D")
    got = officer.get_key_rotation_policy("rotating")
    check("policy read back", got.expires_in == "P90D" and
          got.lifetime_actions[0].action == KeyRotationPolicyAction.rotate)
    bad = KeyRotationPolicy(lifetime_actions=[KeyRotationLifetimeAction(
        KeyRotationPolicyAction.rotate, time_after_create="P1D")])
    try:
        officer.update_key_rotation_policy("rotating", bad)
        check("too-short rotation refused", False)
    except HttpResponseError as err:
        check("too-short rotation refused", err.status_code == 400)
    rnd = officer.get_random_bytes(64)
    check("random bytes", len(rnd) == 64 and rnd != officer.get_random_bytes(64))


@case
def negative_cases():
    before = snapshot()
    t = mint("officer")
    path = "/keys/neg/create?api-version=7.4"
    body = {"kty": "EC", "crv": "P-256"}

    st, challenge, doc = raw("POST", path, body)
    check("no token -> 401", st == 401 and error_code(doc) == "Unauthorized")
    check("challenge resource", challenge is not None and
          f'resource="{RESOURCE}"' in challenge, str(challenge))

    expired = mint("officer", lifetime=-120)
    st, _, doc = raw("POST", path, body, token=expired)
    check("expired token -> 401", st == 401, str(doc))

    head, payload, sig = t.split(".")
    forged = f"{head}.{payload}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}"
    st, _, doc = raw("POST", path, body, token=forged)
    check("forged signature -> 401", st == 401, str(doc))
    other_aud = mint("officer", resource="https://vault.azure.net")
    st, _, doc = raw("POST", path, body, token=other_aud)
    check("token for another audience -> 401", st == 401, str(doc))
    # Claims altered after signing (here: the subject) are refused.
    swapped = json.loads(unb64u(payload))
    swapped["sub"] = "reader"
    st, _, doc = raw("POST", path, body, token=f"{head}.{b64u(json.dumps(swapped).encode())}.{sig}")
    check("altered claims -> 401", st == 401, str(doc))

    officer.create_ec_key("neg-sign", curve="P-256")
    before = snapshot()
    reader = KeyClient(VAULT, Cred("reader"))
    check("reader can get", reader.get_key("neg-sign").name == "neg-sign")
    check("reader can list", "neg-sign" in
          [p.name for p in reader.list_properties_of_keys()])
    for who, op in (("reader", "create"), ("reader", "sign"),
                    ("user", "create"), ("user", "delete"),
                    ("svcenc", "sign"), ("nobody", "get")):
        try:
            c = KeyClient(VAULT, Cred(who))
            if op == "create":
                c.create_ec_key("neg-new", curve="P-256")
            elif op == "delete":
                c.begin_delete_key("neg-sign")
            elif op == "get":
                c.get_key("neg-sign")
            else:
                crypto(officer.get_key("neg-sign"), who).sign(
                    SignatureAlgorithm.es256, b"\x00" * 32)
            check(f"{who} {op} -> 403", False)
        except HttpResponseError as err:
            check(f"{who} {op} -> 403", err.status_code == 403 and
                  err.error.code == "Forbidden" and
                  inner_code(json.loads(err.response.text())) ==
                  "ForbiddenByRbac", str(err))
    user_sig = crypto(officer.get_key("neg-sign"), "user").sign(
        SignatureAlgorithm.es256, b"\x00" * 32)
    check("crypto user can sign", len(user_sig.signature) == 64)
    oct_key = officer.create_oct_key("neg-wrap", size=256)
    w = remote(oct_key, "svcenc").wrap_key(KeyWrapAlgorithm.aes_256,
                                           b"\x01" * 16)
    check("service encryption user can wrap", len(w.encrypted_key) == 24)
    before = snapshot()

    st, _, doc = raw("GET", "/keys/nosuchkey/?api-version=7.4", token=t)
    check("unknown key -> 404 KeyNotFound", st == 404 and
          error_code(doc) == "KeyNotFound", str(doc))
    st, _, doc = raw("GET", "/keys/neg-sign/" + "0" * 32 + "?api-version=7.4",
                     token=t)
    check("unknown version -> 404", st == 404 and
          error_code(doc) == "KeyNotFound", str(doc))

    officer.update_key_properties("neg-sign", enabled=False)
    st, _, doc = raw("POST", "/keys/neg-sign//sign?api-version=7.4",
                     {"alg": "ES256", "value": b64u(b"\x00" * 32)}, token=t)
    check("disabled key -> 403 KeyDisabled", st == 403 and
          inner_code(doc) == "KeyDisabled", str(doc))
    officer.update_key_properties("neg-sign", enabled=True)

    from datetime import datetime, timezone
    officer.create_ec_key("neg-expired", curve="P-256",
                          expires_on=datetime.fromtimestamp(
                              int(time.time()) - 60, timezone.utc))
    st, _, doc = raw("POST", "/keys/neg-expired//sign?api-version=7.4",
                     {"alg": "ES256", "value": b64u(b"\x00" * 32)}, token=t)
    check("expired key -> 403 KeyExpired", st == 403 and
          inner_code(doc) == "KeyExpired", str(doc))

    officer.create_rsa_key("neg-ops", size=2048, key_operations=["sign", "verify"])
    before = snapshot()
    st, _, doc = raw("POST", "/keys/neg-ops//encrypt?api-version=7.4",
                     {"alg": "RSA-OAEP", "value": b64u(b"x")}, token=t)
    check("op not in key_ops -> 403", st == 403 and
          inner_code(doc) == "KeyOperationForbidden", str(doc))
    st, _, doc = raw("POST", "/keys/neg-ops//sign?api-version=7.4",
                     {"alg": "XX256", "value": b64u(b"\x00" * 32)}, token=t)
    check("bad algorithm -> 400", st == 400 and
          error_code(doc) == "BadParameter", str(doc))
    st, _, doc = raw("POST", "/keys/neg-ops//sign?api-version=7.4",
                     {"alg": "RS256", "value": b64u(b"\x00" * 31)}, token=t)
    check("wrong digest length -> 400", st == 400, str(doc))
    st, _, doc = raw("POST", "/keys/neg-json/create?api-version=7.4",
                     '{"kty": "EC", ', token=t)
    check("malformed JSON -> 400", st == 400 and
          error_code(doc) == "BadParameter", str(doc))
    st, _, doc = raw("POST", "/keys/neg-json/create?api-version=7.4",
                     {"kty": "EC", "key_size": "big"}, token=t)
    check("wrong member type -> 400", st == 400 and
          error_code(doc) == "BadParameter", str(doc))
    st, _, doc = raw("POST", "/keys/neg-json/create?api-version=7.4",
                     {"kty": "RSA", "key_size": 1024}, token=t)
    check("RSA-1024 -> 400", st == 400, str(doc))
    st, _, doc = raw("POST", "/keys/neg-big/create?api-version=7.4",
                     '{"kty":"EC","tags":{"a":"' + "x" * (2 << 20) + '"}}',
                     token=t)
    check("oversized body -> 413", st == 413, f"{st} {doc}")
    st, _, doc = raw("POST", "/keys/neg-json/create?api-version=9.9",
                     body, token=t)
    check("unknown api-version -> 400", st == 400 and
          error_code(doc) == "BadParameter", str(doc))
    st, _, doc = raw("POST", "/keys/neg-json/create", body, token=t)
    check("missing api-version -> 400", st == 400, str(doc))
    for v in ("7.0", "7.2", "7.4-preview.1", "7.6", "2025-07-01"):
        st, _, doc = raw("GET", f"/keys/neg-sign/?api-version={v}", token=t)
        check(f"api-version {v} accepted", st == 200, str(doc))
    st, _, doc = raw("GET", "/keys/neg-sign/?api%2Dversion=7.5", token=t)
    check("percent-encoded api-version", st == 200, str(doc))
    st, _, doc = raw("GET", "/keys/rsa4096/?api-version=7.5", token=t)
    check("hsmPlatform on -HSM keys from 7.5", st == 200 and
          "keyferry" in doc["attributes"].get("hsmPlatform", ""), str(doc))
    st, _, doc = raw("GET", "/keys/rsa4096/?api-version=7.4", token=t)
    check("no hsmPlatform in 7.4", st == 200 and
          "hsmPlatform" not in doc["attributes"], str(doc))
    st, _, doc = raw("POST", "/KEYS/neg-ops//Sign?api-version=7.4",
                     {"alg": "RS256", "value": b64u(b"\x00" * 32)}, token=t)
    check("path segments are case-insensitive", st == 200, str(doc))
    st, _, doc = raw("GET", "/keys?api-version=7.4", token=t,
                     host=f"nosuchvault.localhost:{PORT}")
    check("unknown vault -> 404", st == 404, str(doc))
    check("store unchanged by refused requests", snapshot() == before)


@case
def identity_endpoint_and_arm():
    """The managed-identity endpoint in both styles, and ARM's subscriptions."""
    from urllib.parse import quote, urlparse
    ep = urlparse(os.environ["IDENTITY_ENDPOINT"])

    def ident(method, path, body=None, headers=None):
        conn = http.client.HTTPSConnection(ep.hostname, ep.port, context=CTX,
                                           timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, (json.loads(data) if data else None)

    q = f"{ep.path}?api-version=2019-08-01&resource={quote(RESOURCE, safe='')}"
    st, doc = ident("GET", q, headers={
        "X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]})
    check("App Service style token", st == 200 and doc["token_type"] == "Bearer"
          and doc["resource"] == RESOURCE, str(doc))
    claims = json.loads(unb64u(doc["access_token"].split(".")[1]))
    check("token names the one configured principal",
          claims["sub"] == "officer" and claims["aud"] == RESOURCE, str(claims))
    st, _ = ident("GET", q)
    check("no X-IDENTITY-HEADER -> refused", st in (400, 401))
    st, _ = ident("GET", q, headers={"X-IDENTITY-HEADER": "wrong"})
    check("wrong X-IDENTITY-HEADER -> refused", st in (400, 401))
    form = "resource=" + quote("https://management.core.windows.net/", safe="")
    st, doc = ident("POST", ep.path, body=form, headers={
        "Metadata": "true",
        "Content-Type": "application/x-www-form-urlencoded"})
    check("legacy MSI style token", st == 200 and "access_token" in doc and
          "expires_on" in doc, str(doc))
    st, _ = ident("POST", ep.path, body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    check("legacy MSI without Metadata -> refused", st in (400, 401))
    # ARM's GET /subscriptions, as `az login --identity` calls it.
    conn = http.client.HTTPSConnection("localhost", PORT, context=CTX,
                                       timeout=30)
    conn.request("GET", "/subscriptions?api-version=2019-11-01",
                 headers={"Authorization": "Bearer " + doc["access_token"]})
    r = conn.getresponse()
    subs = json.loads(r.read())
    conn.close()
    check("ARM subscriptions", r.status == 200 and
          subs["value"][0]["tenantId"] == claims["tid"], str(subs))
    # The identity token works on the vault.
    st, _, d = raw("GET", "/keys?api-version=7.4",
                   token=ident("GET", q, headers={
                       "X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]})[1]
                   ["access_token"])
    check("identity token lists keys", st == 200, str(d))


print(f"python_keys_test: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
