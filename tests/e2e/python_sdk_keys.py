"""Python SDK scenarios, part 1 (run by python_sdk_test.py): the challenge and
the store probe, key creation and every cryptographic operation on RSA, EC
and oct keys, known-key vectors, and imports (plaintext JWK and BYOK).
"""

import json
import os
import re
import time

from azure.core.exceptions import HttpResponseError
from azure.keyvault.keys import JsonWebKey, KeyClient
from azure.keyvault.keys.crypto import (EncryptionAlgorithm, KeyWrapAlgorithm,
                                        SignatureAlgorithm)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (aes_key_unwrap,
                                                    aes_key_wrap,
                                                    aes_key_wrap_with_padding)

from sdk_common import (API, CURVES, HASH, NO_RSA_E3, NO_SECP256K1,
                        OAEP_SHA1_ONLY, RECOVERABLE_DAYS, RESOURCE,
                        RSA_CIPHERS, RSA_PADDING, RSA_WRAP, RSA_WRAP_PADDING,
                        SDK_OPTS, TokenCredential, VAULT, aes_cbc, b64u, bits,
                        case, check, digest_for, ec_jwk, envelope_ok, kc,
                        kid_ok, local_crypto, officer, officer_sign,
                        public_key_of, raw, refused, remote, rsa_jwk,
                        store_state, ts, verify_outside)


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

    if NO_RSA_E3:
        refused("public_exponent=3 on a token that generates no such key",
                lambda: officer.create_rsa_key("sdk-rsa-e3", size=2048,
                                               public_exponent=3),
                (400,), codes=("BadParameter",), message="public exponent 3")
    else:
        k3 = officer.create_rsa_key("sdk-rsa-e3", size=2048,
                                    public_exponent=3)
        check("public_exponent=3 honoured",
              int.from_bytes(k3.key.e, "big") == 3)
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
        if OAEP_SHA1_ONLY:
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


@case
def ec_keys():
    for crv, (curve, ln, alg) in CURVES.items():
        name = "sdk-ec-" + crv.lower()
        hsm = crv == "P-384"
        if crv == "P-256K" and NO_SECP256K1:
            refused(f"{crv} on a token without secp256k1",
                    lambda: officer.create_ec_key(name, curve=crv,
                                                  hardware_protected=hsm),
                    (400,), codes=("BadParameter",),
                    message="P-256K keys are not available: .*secp256k1")
            continue
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
        if crv == "P-256K" and NO_SECP256K1:
            refused(f"import of a {crv} key into a token without secp256k1",
                    lambda: officer.import_key(
                        name, ec_jwk(epriv, crv, ["sign", "verify"])),
                    (400,), codes=("BadParameter",),
                    message="P-256K keys are not available: .*secp256k1")
            continue
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
