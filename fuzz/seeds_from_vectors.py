#!/usr/bin/env python3
"""Writes the seed inputs that come from test vectors and documented
request shapes into fuzz/corpus/<target>/ (fuzz/README.md): Wycheproof and
RFC 5649 (tests/vectors), keys generated with python3-cryptography, the
keys-API bodies the SDK suites send (tests/e2e). Deterministic except for
the generated keys. Run from the repository root:
    python3 fuzz/seeds_from_vectors.py fuzz/corpus
"""
import base64
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

OUT = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus"
VEC = "tests/vectors"


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def be(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return n.to_bytes(size, "big")


def rsa_jwk(k):
    n = k.private_numbers()
    pub = n.public_numbers
    return {"kty": "RSA", "n": b64u(be(pub.n)), "e": b64u(be(pub.e)),
            "d": b64u(be(n.d)), "p": b64u(be(n.p)), "q": b64u(be(n.q)),
            "dp": b64u(be(n.dmp1)), "dq": b64u(be(n.dmq1)),
            "qi": b64u(be(n.iqmp))}


def ec_jwk(k, crv, size):
    n = k.private_numbers()
    return {"kty": "EC", "crv": crv, "x": b64u(be(n.public_numbers.x, size)),
            "y": b64u(be(n.public_numbers.y, size)),
            "d": b64u(be(n.private_value, size))}


def keys():
    rsa_key = rsa.generate_private_key(65537, 2048)
    ecs = [(ec.SECP256R1(), "P-256", 32), (ec.SECP384R1(), "P-384", 48),
           (ec.SECP521R1(), "P-521", 66), (ec.SECP256K1(), "P-256K", 32)]
    der, pem = serialization.Encoding.DER, serialization.Encoding.PEM
    p8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    write("jwk", "rsa2048", json.dumps(rsa_jwk(rsa_key)))
    pub = rsa_jwk(rsa_key)
    write("jwk", "rsa2048_public", json.dumps({k: pub[k] for k in "kty n e".split()}))
    write("der_keys", "rsa2048_pkcs8", rsa_key.private_bytes(der, p8, none))
    write("der_keys", "rsa2048_pkcs1",
          rsa_key.private_bytes(der, serialization.PrivateFormat.TraditionalOpenSSL, none))
    write("der_keys", "rsa2048_spki", rsa_key.public_key().public_bytes(der, spki))
    write("der_keys", "rsa2048_pem", rsa_key.private_bytes(pem, p8, none))
    write("pkcs8_diff", "rsa2048", rsa_key.private_bytes(der, p8, none))
    for curve, crv, size in ecs:
        k = ec.generate_private_key(curve)
        tag = crv.replace("-", "").lower()
        jwk = ec_jwk(k, crv, size)
        write("jwk", tag, json.dumps(jwk))
        write("jwk", tag + "_public", json.dumps({m: jwk[m] for m in "kty crv x y".split()}))
        write("der_keys", tag + "_pkcs8", k.private_bytes(der, p8, none))
        write("der_keys", tag + "_sec1",
              k.private_bytes(der, serialization.PrivateFormat.TraditionalOpenSSL, none))
        write("der_keys", tag + "_spki", k.public_key().public_bytes(der, spki))
        write("pkcs8_diff", tag, k.private_bytes(der, p8, none))
    # Wycheproof's own RSA keys (PKCS#8 and JWK), a few sizes.
    misc = json.load(open(os.path.join(VEC, "rsa_oaep_misc_test.json")))
    seen = set()
    for g in misc["testGroups"]:
        if g["keySize"] in seen or g["keySize"] > 4096:
            continue
        seen.add(g["keySize"])
        write("pkcs8_diff", "wycheproof_%d" % g["keySize"], bytes.fromhex(g["privateKeyPkcs8"]))
        if "privateKeyJwk" in g:
            write("jwk", "wycheproof_%d" % g["keySize"], json.dumps(g["privateKeyJwk"]))


def kwp():
    sizes = {16: 0, 24: 1, 32: 2}
    rfc = json.load(open(os.path.join(VEC, "rfc5649.json")))
    for i, t in enumerate(rfc["tests"]):
        kek = bytes.fromhex(t["kek"])
        write("kwp_diff", "rfc5649_%d_wrap" % i, bytes([sizes[len(kek)]]) + kek + bytes.fromhex(t["key"]))
        write("kwp_diff", "rfc5649_%d_unwrap" % i, bytes([sizes[len(kek)] | 4]) + kek + bytes.fromhex(t["wrapped"]))
    wp = json.load(open(os.path.join(VEC, "aes_kwp_test.json")))
    n = 0
    for g in wp["testGroups"]:
        for t in g["tests"][::6]:
            kek = bytes.fromhex(t["key"])
            if len(kek) not in sizes or len(t["ct"]) > 200:
                continue
            write("kwp_diff", "wycheproof_%d" % t["tcId"] if g["keySize"] == 128 else
                  "wycheproof_%d_%d" % (g["keySize"], t["tcId"]),
                  bytes([sizes[len(kek)] | 4]) + kek + bytes.fromhex(t["ct"]))
            n += 1


def texts():
    for name, s in [("empty", ""), ("pad1", "QUJD"), ("pad2", "QUI="), ("pad3", "QQ=="),
                    ("url", "-_-_"), ("std", "+/+/"), ("nopad", "QQ"), ("bad", "Q")]:
        write("base64_diff", name, s)
    write("json", "object", '{"a":[1,2.5,-3e2,true,false,null],"b":{"c":"\\u00e9\\n"}}')
    write("json", "deep", "[" * 16 + "]" * 16)
    write("json", "too_deep", "[" * 17 + "]" * 17)
    write("config", "full", "\n".join([
        "# keyferryd configuration", "listen = 127.0.0.1", "port = 8443",
        "domain = localhost", "vaults = myvault,other-vault",
        "custody = software", "store = sqlite", "token-max-lifetime = 3600",
        "", "\0--port", "9443", "\0--vaults=abc"]))
    write("config", "minimal", "port = 1\n")


def keys_api():
    # Byte 0 picks the route: fuzz/keys_api.cc kRoutes.
    r = {"create": 0, "import": 1, "update": 2, "policy": 3, "sign_rsa": 4,
         "sign_ec": 5, "verify_rsa": 6, "verify_ec": 7, "encrypt_rsa": 8,
         "decrypt_rsa": 9, "encrypt_oct": 10, "decrypt_oct": 11,
         "wrap_rsa": 12, "unwrap_rsa": 13, "wrap_oct": 14, "unwrap_oct": 15,
         "backup": 16, "restore": 17, "rotate": 18, "rng": 19}
    d32 = b64u(bytes(range(32)))
    bodies = {
        "create_rsa": ("create", {"kty": "RSA", "key_size": 2048, "public_exponent": 65537,
                                  "key_ops": ["sign", "verify"], "attributes": {"enabled": True, "exp": 1900000000},
                                  "tags": {"team": "x"}}),
        "create_ec": ("create", {"kty": "EC-HSM", "crv": "P-384"}),
        "create_oct": ("create", {"kty": "oct-HSM", "key_size": 128}),
        "import_ec": ("import", {"key": ec_jwk(ec.generate_private_key(ec.SECP256R1()), "P-256", 32),
                                 "Hsm": False, "attributes": {"exportable": False}}),
        "import_oct": ("import", {"key": {"kty": "oct", "k": d32}}),
        "update": ("update", {"key_ops": ["sign"], "attributes": {"enabled": True, "nbf": 1700000000},
                              "tags": {"a": "b"}}),
        "policy": ("policy", {"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"},
                                                   "action": {"type": "Rotate"}},
                                                  {"trigger": {"timeBeforeExpiry": "P30D"},
                                                   "action": {"type": "Notify"}}],
                              "attributes": {"expiryTime": "P1Y"}}),
        "sign_rsa": ("sign_rsa", {"alg": "PS256", "value": d32}),
        "sign_ec": ("sign_ec", {"alg": "ES256", "value": d32}),
        "verify_rsa": ("verify_rsa", {"alg": "RS256", "digest": d32, "value": b64u(bytes(256))}),
        "verify_ec": ("verify_ec", {"alg": "ES256", "digest": d32, "value": b64u(bytes(64))}),
        "encrypt_rsa": ("encrypt_rsa", {"alg": "RSA-OAEP-256", "value": d32}),
        "decrypt_rsa": ("decrypt_rsa", {"alg": "RSA-OAEP", "value": b64u(bytes(256))}),
        "encrypt_oct": ("encrypt_oct", {"alg": "A256GCM", "value": d32, "aad": d32}),
        "decrypt_oct": ("decrypt_oct", {"alg": "A256GCM", "value": d32, "iv": b64u(bytes(12)),
                                        "tag": b64u(bytes(16))}),
        "decrypt_cbc": ("decrypt_oct", {"alg": "A256CBCPAD", "value": d32, "iv": b64u(bytes(16))}),
        "wrap_rsa": ("wrap_rsa", {"alg": "RSA1_5", "value": d32}),
        "unwrap_rsa": ("unwrap_rsa", {"alg": "RSA-OAEP-256", "value": b64u(bytes(256))}),
        "wrap_oct": ("wrap_oct", {"alg": "A256KW", "value": d32}),
        "unwrap_oct": ("unwrap_oct", {"alg": "A256KW", "value": b64u(bytes(40))}),
        "backup": ("backup", {}),
        "restore": ("restore", {"value": b64u(b"KFB1" + bytes(40))}),
        "rotate": ("rotate", {}),
        "rng": ("rng", {"count": 32}),
    }
    for name, (route, body) in bodies.items():
        write("keys_api", name, bytes([r[route]]) + json.dumps(body).encode())
        write("json", "body_" + name, json.dumps(body))


keys()
kwp()
texts()
keys_api()
