"""BYOK blob scenarios, part 2 (run by byok_blobs_test.py): blobs and
requests that must be refused with 400 BadParameter, with no key material in
the answer and nothing stored (expect_refused): the kid, the container, the
ciphertext, key_hsm itself, kty/crv mismatches, disallowed or inconsistent
targets, the KEK's state, and a refused import under an existing name.
"""

import base64
import json
import os
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from byok_common import (HSM, KEKS, TOKEN_CHECKS_RSA_VALUES, Kek, OAEP_SHA1,
                         OTHER_VAULT, TARGETS,
                         VAULT, b64u, b64u_dec, case, check, container,
                         create_rsa, err_code, expect_refused,
                         expected_public_jwk, import_body, import_ok,
                         int_bytes, neg, req, rsa_target, seal, short,
                         version_of)


@case
def negatives_kid():
    """A kid that names no usable KEK of this vault: unknown versions and
    names, keys that are not import-only KEKs, the other vault, look-alike
    hosts."""
    k2 = KEKS[2048]
    t_ec = TARGETS["EC-P-256"]
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


@case
def negatives_container():
    """The .byok container: wrong enc, alg or schema_version, a member
    missing."""
    k2 = KEKS[2048]
    t_ec = TARGETS["EC-P-256"]
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


@case
def negatives_ciphertext():
    """The ciphertext: damaged, truncated, sealed under another KEK or
    with the wrong OAEP hash or key wrap, or not in base64url."""
    k2 = KEKS[2048]
    k3 = KEKS[3072]
    t_ec = TARGETS["EC-P-256"]
    t_aes = TARGETS["AES-256"]
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


@case
def negatives_key_hsm():
    """key_hsm itself: not JSON, not base64url, empty, oversized."""
    k2 = KEKS[2048]
    t_ec = TARGETS["EC-P-256"]
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


@case
def negatives_kty_crv():
    """The request names another kty or crv than the blob holds."""
    t_ec = TARGETS["EC-P-256"]
    t_rsa = TARGETS["RSA-2048"]
    t_aes = TARGETS["AES-256"]
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


@case
def negatives_targets():
    """Targets that are not allowed: RSA-1024, AES of other sizes,
    garbage, PKCS#1 or SEC1 instead of PKCS#8."""
    t_ec = TARGETS["EC-P-256"]
    t_rsa = TARGETS["RSA-2048"]
    t_aes = TARGETS["AES-256"]
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


@case
def negatives_inconsistent_pkcs8():
    """A PKCS#8 whose halves disagree: importing it would publish a public
    key that does not belong to the signing key (in-token: the token's
    parser judges it, and the published key must be the real one)."""
    t_ec = TARGETS["EC-P-256"]
    t_rsa = TARGETS["RSA-2048"]
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
        if HSM and not TOKEN_CHECKS_RSA_VALUES:
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
