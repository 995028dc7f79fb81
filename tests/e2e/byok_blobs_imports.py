"""BYOK blob scenarios, part 1 (run by byok_blobs_test.py): blobs that must
import. KEKs are import-only; every target under every KEK with the
encodings mixed; SoftHSM's trailing zero bytes; a second import as a new
version; the Hsm flag as az and the SDKs send it.
"""

import hashlib
import json

from byok_common import (HSM, KEKS, NO_SECP256K1, NO_SECP256K1_MESSAGE,
                         OAEP_SHA1, TARGETS, VERBOSE, b64u, case, check,
                         container, ec_target, expect_refused, import_body,
                         import_ok, prove_works, refused_by_token_limit, req,
                         seal, short, version_of)


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


STATS = {"key_hsm_padded": 0, "ct_padded": 0, "both": 0, "pretty": 0}


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
            if t.crv == "P-256K" and NO_SECP256K1:
                refused_by_token_limit(
                    f"{tl}/KEK{size} on a token without secp256k1", name,
                    import_body(t.kty, key_hsm, t.ops(), t.crv,
                                attributes=attrs), NO_SECP256K1_MESSAGE)
                continue
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
    # (P-384 where the token has no secp256k1: the matrix covers that.)
    t = TARGETS["EC-P-384" if NO_SECP256K1 else "EC-P-256K"]
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
