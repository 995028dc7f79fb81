"""Secure Key Release end to end (docs/api.md §Secure Key Release), run by
release_test.sh against a fresh keyferryd that trusts one attestation
authority (KF_ATTEST_ISSUER, key and JWK Set in KF_ATTEST_DIR).

Debian's azure-keyvault-keys 4.8.0b3 creates exportable RSA-HSM, EC-HSM and
oct-HSM keys with a KeyReleasePolicy and calls release_key with attestation
tokens minted here (JWTs assembled by hand, signed with `cryptography`). The
result is opened as Microsoft's sample release clients open it: the JWS
verified with the certificate of its x5c (which must be the vault's TLS
certificate), key_hsm's ciphertext split at the wrapping modulus, RSA-OAEP
with the hash of `enc`, then RFC 5649 unwrap. The released key is compared
with the vault's both ways: a vault signature verified with the released
key, a signature of the released key verified by the vault. Every refusal
(wrong issuer, bad signature, expired, claim mismatch, nonce mismatch,
non-exportable key, exportable key without policy, immutable policy change,
roles without release) must be Azure's error with nothing released.

With KF_CUSTODY=pkcs11 (SoftHSM 2.6.1) and pkcs11-nss (NSS softokn) the
wrap is made in the token (docs/api.md §8.5) and each token's limits are
checked as refusals (409 naming the reason, nothing released): SoftHSM
2.6.1 releases EC P-384 and oct keys with CKM_RSA_AES_KEY_WRAP only (its
RFC 5649 wrap zero-pads, so RSA and P-256 encodings are refused; it has no
RSA-OAEP with SHA-256, so RSA_AES_KEY_WRAP_256 is refused naming it); NSS
softokn releases RSA and oct keys with every enc and refuses EC keys.
"""

import base64
import json
import os
import ssl
import sys
import time

from azure.keyvault.keys import KeyExportEncryptionAlgorithm, KeyReleasePolicy
from azure.keyvault.keys.crypto import KeyWrapAlgorithm, SignatureAlgorithm
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.keywrap import (aes_key_unwrap,
                                                    aes_key_unwrap_with_padding)

import e2e_runner
from e2e_runner import case, check
from sdk_common import (CUSTODY, OAEP_SHA1_ONLY, PORT, b64u, kc,
                        local_crypto, officer, public_key_of, refused, remote,
                        unb64u, verify_outside)

ISSUER = os.environ["KF_ATTEST_ISSUER"]
ATTEST_DIR = os.environ["KF_ATTEST_DIR"]
RELEASER = kc("releaser")


def load_key(name):
    with open(os.path.join(ATTEST_DIR, name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


ISSUER_KEY = load_key("issuer.pem")
IMPOSTOR_KEY = load_key("impostor.pem")
# The confidential workload's ephemeral key: the token carries its public
# half in x-ms-runtime.keys, only this test holds the private half.
WORKLOAD_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64u_int(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def workload_jwk():
    pub = WORKLOAD_KEY.public_key().public_numbers()
    return {"kid": "TpmEphemeralEncryptionKey", "kty": "RSA",
            "key_ops": ["encrypt"], "n": b64u_int(pub.n),
            "e": b64u_int(pub.e)}


def claims(**over):
    now = int(time.time())
    c = {"iss": ISSUER, "iat": now, "nbf": now, "exp": now + 600,
         "sdk-test": True,
         "x-ms-isolation-tee": {"x-ms-attestation-type": "sevsnpvm"},
         "x-ms-runtime": {"keys": [workload_jwk()],
                          "client-payload": {"nonce": "MTIzNA=="}}}
    c.update(over)
    return c


def token(payload, key=None, kid="sig-1"):
    """An attestation JWT as the SDK teams' test service mints them."""
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    signing_input = (b64u(json.dumps(header).encode()) + "." +
                     b64u(json.dumps(payload).encode()))
    sig = (key or ISSUER_KEY).sign(signing_input.encode(), padding.PKCS1v15(),
                                   hashes.SHA256())
    return signing_input + "." + b64u(sig)


def policy(immutable=False, sdk_test=True):
    doc = {"anyOf": [{"allOf": [{"claim": "sdk-test", "equals": sdk_test},
                                {"claim": "x-ms-isolation-tee."
                                          "x-ms-attestation-type",
                                 "equals": "sevsnpvm"}],
                      "authority": ISSUER}],
           "version": "1.0.0"}
    return KeyReleasePolicy(json.dumps(doc).encode(), immutable=immutable)


def vault_certificate_der():
    pem = ssl.get_server_certificate(("myvault.localhost", PORT))
    return ssl.PEM_cert_to_DER_cert(pem)


OAEP_HASH = {"CKM_RSA_AES_KEY_WRAP": hashes.SHA1(),
             "RSA_AES_KEY_WRAP_256": hashes.SHA256(),
             "RSA_AES_KEY_WRAP_384": hashes.SHA384()}


def open_release(value):
    """Verifies the JWS and unwraps key_hsm; returns (payload, plaintext)."""
    head_b64, body_b64, sig_b64 = value.split(".")
    header = json.loads(unb64u(head_b64))
    leaf_der = base64.b64decode(header["x5c"][0])
    check("x5c[0] is the vault's TLS certificate",
          leaf_der == vault_certificate_der())
    cert = x509.load_der_x509_certificate(leaf_der)
    check("x5t is the SHA-1 thumbprint",
          header["x5t"] == b64u(cert.fingerprint(hashes.SHA1())))
    check("x5t#S256 is the SHA-256 thumbprint",
          header["x5t#S256"] == b64u(cert.fingerprint(hashes.SHA256())))
    pub = cert.public_key()
    signed = (head_b64 + "." + body_b64).encode()
    sig = unb64u(sig_b64)
    if header["alg"] == "RS256":
        pub.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
    else:
        check("JWS alg fits the EC certificate", header["alg"] == "ES256")
        half = len(sig) // 2
        der = utils.encode_dss_signature(int.from_bytes(sig[:half], "big"),
                                         int.from_bytes(sig[half:], "big"))
        pub.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    check("JWS signature verifies with x5c[0]", True)
    payload = json.loads(unb64u(body_b64))
    env = json.loads(unb64u(payload["response"]["key"]["key"]["key_hsm"]))
    check("key_hsm envelope", env["schema_version"] == "1.0" and
          env["header"]["alg"] == "dir" and
          env["header"]["kid"] == "TpmEphemeralEncryptionKey" and
          env["header"]["enc"] == payload["request"]["enc"], str(env))
    ct = unb64u(env["ciphertext"])
    n = WORKLOAD_KEY.key_size // 8
    h = OAEP_HASH[payload["request"]["enc"]]
    aes = WORKLOAD_KEY.decrypt(ct[:n], padding.OAEP(padding.MGF1(h), h, None))
    return payload, aes_key_unwrap_with_padding(aes, ct[n:])


def released_matches_vault(key, plaintext, alg):
    """Vault signature verified by the released key; released key's
    signature verified by the vault."""
    priv = serialization.load_der_private_key(plaintext, None)
    h = {"256": hashes.SHA256(), "384": hashes.SHA384()}[alg[2:]]
    digest = os.urandom(h.digest_size)
    vault_sig = local_crypto(key).sign(SignatureAlgorithm(alg), digest).signature
    check(f"{alg}: vault signature verifies with the released key",
          verify_outside(priv.public_key(), alg, digest, vault_sig))
    if alg.startswith("RS"):
        mine = priv.sign(digest, padding.PKCS1v15(), utils.Prehashed(h))
    else:
        r, s = utils.decode_dss_signature(
            priv.sign(digest, ec.ECDSA(utils.Prehashed(h))))
        half = h.digest_size
        mine = r.to_bytes(half, "big") + s.to_bytes(half, "big")
    check(f"{alg}: released key's signature verifies in the vault",
          remote(key).verify(SignatureAlgorithm(alg), digest, mine).is_valid)
    check(f"{alg}: released key is the vault key's private half",
          priv.public_key().public_numbers() ==
          public_key_of(key.key).public_numbers())


# What each custody releases (docs/api.md §8.5). SoftHSM 2.6.1's RFC 5649
# wrap zero-pads, so only encodings that are a multiple of 8 bytes (EC
# P-384's PKCS#8, AES keys) leave its token, with OAEP SHA-1 only; NSS
# softokn wraps an EC key with a stand-in public value, so its EC keys stay.
TOKEN_REFUSES = {
    "pkcs11": {"RSA": "zero-pads the key", "P-256": "zero-pads the key"},
    "pkcs11-nss": {"P-256": "stand-in", "P-384": "stand-in"},
}.get(CUSTODY, {})


def release_or_refusal(name, what, make, **kw):
    """Creates the key with make(name); releases it, or, where the custody
    refuses `what`, checks the refusal (409 naming why, nothing released)
    and returns None."""
    key = make(name)
    why = TOKEN_REFUSES.get(what)
    if why is not None:
        release_refused(f"{what} release from {CUSTODY}",
                        lambda: RELEASER.release_key(name, token(claims()),
                                                     **kw),
                        409, why, codes=("Conflict",))
        return key, None
    return key, RELEASER.release_key(name, token(claims()), **kw)


@case
def release_rsa_ec_oct():
    # A token with RSA-OAEP SHA-1 only releases with CKM_RSA_AES_KEY_WRAP.
    enc256 = (KeyExportEncryptionAlgorithm.ckm_rsa_aes_key_wrap
              if OAEP_SHA1_ONLY else
              KeyExportEncryptionAlgorithm.rsa_aes_key_wrap_256)
    enc384 = (KeyExportEncryptionAlgorithm.ckm_rsa_aes_key_wrap
              if OAEP_SHA1_ONLY else
              KeyExportEncryptionAlgorithm.rsa_aes_key_wrap_384)
    rsa_key, result = release_or_refusal(
        "skr-rsa", "RSA",
        lambda n: officer.create_rsa_key(n, hardware_protected=True,
                                         exportable=True,
                                         release_policy=policy()))
    check("exportable attribute", rsa_key.properties.exportable is True)
    check("release policy read back",
          json.loads(rsa_key.properties.release_policy.encoded_policy)
          ["anyOf"][0]["allOf"][0]["equals"] is True)
    if result is not None:
        payload, plain = open_release(result.value)
        check("request.kid without a version",
              payload["request"]["kid"].endswith("/keys/skr-rsa"))
        check("default enc",
              payload["request"]["enc"] == "CKM_RSA_AES_KEY_WRAP")
        released_matches_vault(rsa_key, plain, "RS256")

    for curve, alg in (("P-256", "ES256"), ("P-384", "ES384")):
        name = "skr-ec" + curve[2:]
        ec_key = officer.create_ec_key(name, curve=curve,
                                       hardware_protected=True,
                                       exportable=True,
                                       release_policy=policy())
        why = TOKEN_REFUSES.get(curve)
        kw = {"version": ec_key.properties.version, "algorithm": enc256,
              "nonce": "1234"}
        if why is not None:
            release_refused(f"{curve} release from {CUSTODY}",
                            lambda: RELEASER.release_key(
                                name, token(claims()), **kw),
                            409, why, codes=("Conflict",))
            continue
        result = RELEASER.release_key(name, token(claims()), **kw)
        payload, plain = open_release(result.value)
        check("nonce echoed", payload["request"].get("nonce") == "1234")
        check("request.kid with the version",
              payload["request"]["kid"].endswith(ec_key.properties.version))
        released_matches_vault(ec_key, plain, alg)

    oct_key = officer.create_oct_key("skr-oct", hardware_protected=True,
                                     size=256, exportable=True,
                                     release_policy=policy())
    result = RELEASER.release_key("skr-oct", token(claims()),
                                  algorithm=enc384)
    _, plain = open_release(result.value)
    check("oct: 32 raw bytes", len(plain) == 32)
    secret = os.urandom(32)
    wrapped = remote(oct_key).wrap_key(KeyWrapAlgorithm.aes_256,
                                       secret).encrypted_key
    check("oct: what the vault wraps, the released key unwraps",
          aes_key_unwrap(plain, wrapped) == secret)


def release_refused(name, fn, status, message, codes=("Forbidden",)):
    o = refused(name, fn, (status,), codes=codes, message=message)
    check(f"{name}: nothing released", "key_hsm" not in json.dumps(o.doc))


@case
def refusals():
    officer.create_ec_key("skr-deny", hardware_protected=True,
                          exportable=True, release_policy=policy())
    officer.create_ec_key("skr-plain", hardware_protected=True)
    rel = RELEASER.release_key
    release_refused("wrong issuer",
                    lambda: rel("skr-deny", token(claims(iss="https://evil/"))),
                    403, "not a trusted attestation authority")
    good = token(claims())
    tampered = good.rsplit(".", 1)[0][:-4] + "AAAA." + good.rsplit(".", 1)[1]
    release_refused("bad signature (altered payload)",
                    lambda: rel("skr-deny", tampered), 403,
                    "does not verify|compact JWS")
    release_refused("bad signature (unpublished key)",
                    lambda: rel("skr-deny", token(claims(), IMPOSTOR_KEY)),
                    403, "signature does not verify")
    release_refused("kid not in the JWK Set",
                    lambda: rel("skr-deny", token(claims(), kid="sig-2")),
                    403, "kid is not a key")
    now = int(time.time())
    release_refused("expired",
                    lambda: rel("skr-deny",
                                token(claims(exp=now - 3600, nbf=now - 7200))),
                    403, "expired")
    release_refused("claim mismatch",
                    lambda: rel("skr-deny", token(claims(**{"sdk-test":
                                                            False}))),
                    403, "does not satisfy the key's release policy")
    release_refused("nonce mismatch",
                    lambda: rel("skr-deny", token(claims()), nonce="5678"),
                    403, "nonce")
    release_refused("non-exportable key",
                    lambda: rel("skr-plain", token(claims())), 403,
                    "not exportable")
    for who in ("user", "reader", "svcenc"):
        release_refused(f"role without release ({who})",
                        lambda: kc(who).release_key("skr-deny",
                                                    token(claims())),
                        403, "keys/release/action")
    release_refused("exportable without policy",
                    lambda: officer.create_ec_key("skr-nopolicy",
                                                  hardware_protected=True,
                                                  exportable=True),
                    400, "AKV.SKR.1004", codes=("BadParameter",))
    release_refused("software key exportable",
                    lambda: officer.create_ec_key("skr-soft", exportable=True,
                                                  release_policy=policy()),
                    400, "AKV.SKR.1006", codes=("BadParameter",))


@case
def immutable_policy():
    officer.create_rsa_key("skr-imm", hardware_protected=True, exportable=True,
                           release_policy=policy(immutable=True))
    release_refused("immutable policy change",
                    lambda: officer.update_key_properties(
                        "skr-imm", release_policy=policy(sdk_test=False)),
                    400, "AKV.SKR.1020: Immutable Key Release Policy cannot "
                         "be modified", codes=("BadParameter",))
    # A mutable one changes, and the new policy decides.
    # oct: every custody and token releases it (docs/api.md §8.5).
    officer.create_oct_key("skr-mut", hardware_protected=True, size=256,
                           exportable=True, release_policy=policy())
    updated = officer.update_key_properties(
        "skr-mut", release_policy=policy(sdk_test=False))
    check("policy updated", json.loads(
        updated.properties.release_policy.encoded_policy)
        ["anyOf"][0]["allOf"][0]["equals"] is False)
    release_refused("old claims after the update",
                    lambda: RELEASER.release_key("skr-mut", token(claims())),
                    403, "does not satisfy")
    result = RELEASER.release_key("skr-mut",
                                  token(claims(**{"sdk-test": False})))
    check("released under the new policy", bool(result.value))


@case
def token_without_oaep_sha256_refuses_it():
    if not OAEP_SHA1_ONLY:
        return
    officer.create_oct_key("skr-tok256", hardware_protected=True, size=256,
                           exportable=True, release_policy=policy())
    release_refused("RSA_AES_KEY_WRAP_256 on a token without OAEP SHA-256",
                    lambda: RELEASER.release_key(
                        "skr-tok256", token(claims()),
                        algorithm=KeyExportEncryptionAlgorithm
                        .rsa_aes_key_wrap_256),
                    409, "CKM_RSA_PKCS_OAEP with SHA-256",
                    codes=("Conflict",))


def main():
    e2e_runner.run_cases()
    print(f"release_test: {e2e_runner.passed} passed, "
          f"{e2e_runner.failed} failed")
    return 1 if e2e_runner.failed or e2e_runner.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
