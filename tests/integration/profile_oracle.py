#!/usr/bin/env python3
"""Independent opener of every `keyferry export --format` profile.

Written from the destinations' documentation (docs/byok-format.md §5 cites
it) with Python's `cryptography`; it shares no code with keyferry.

Usage: profile_oracle.py MANIFEST
Each MANIFEST line is whitespace-separated:
  FORMAT METHOD FILE KEK_PRIVATE_PEM EXPECT [VAULT_TYPE|KID]
EXPECT is one of
  bytes:PATH    the recovered key encoding must equal PATH's bytes exactly
  pub:PATH      the recovered PKCS#8 key's public half must equal PATH (PEM)
  ecpoint:HEX   the recovered EC key's point (CKA_EC_POINT as pkcs11-tool prints it)
  hex:HEX       the recovered raw secret
  aesecb:HEX    the recovered AES key's AES-ECB encryption of a zero block
The last column is the `type` a vault file must name, or the kid an
azure-release file must carry. Prints one line per entry; exits 1 on the
first mismatch.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

HASHES = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256,
          "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}

# (format, method) -> (hash name, hybrid?) from each destination's docs.
METHODS = {
    ("azure", "CKM_RSA_AES_KEY_WRAP"): ("SHA1", True),
    ("azure-release", "CKM_RSA_AES_KEY_WRAP"): ("SHA1", True),
    ("azure-release", "RSA_AES_KEY_WRAP_256"): ("SHA256", True),
    ("azure-release", "RSA_AES_KEY_WRAP_384"): ("SHA384", True),
    ("aws", "RSA_AES_KEY_WRAP_SHA_1"): ("SHA1", True),
    ("aws", "RSA_AES_KEY_WRAP_SHA_256"): ("SHA256", True),
    ("aws", "RSAES_OAEP_SHA_1"): ("SHA1", False),
    ("aws", "RSAES_OAEP_SHA_256"): ("SHA256", False),
    ("gcp", "rsa-oaep-3072-sha1-aes-256"): ("SHA1", True),
    ("gcp", "rsa-oaep-4096-sha1-aes-256"): ("SHA1", True),
    ("gcp", "rsa-oaep-3072-sha256-aes-256"): ("SHA256", True),
    ("gcp", "rsa-oaep-4096-sha256-aes-256"): ("SHA256", True),
    ("gcp", "rsa-oaep-3072-sha256"): ("SHA256", False),
    ("gcp", "rsa-oaep-4096-sha256"): ("SHA256", False),
    ("vault", "SHA1"): ("SHA1", True),
    ("vault", "SHA256"): ("SHA256", True),
    ("vault", "SHA384"): ("SHA384", True),
    ("vault", "SHA512"): ("SHA512", True),
    ("oci", "RSA_OAEP_AES_SHA256"): ("SHA256", True),
    ("oci", "RSA_OAEP_SHA256"): ("SHA256", False),
}


def b64url(s):
    assert "=" not in s and "+" not in s and "/" not in s, "not base64url"
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def ciphertext_of(fmt, method, data, extra):
    """The wrapped bytes inside the destination's container."""
    if fmt in ("aws", "gcp"):
        return data
    if fmt == "azure":
        blob = json.loads(data)
        assert blob["schema_version"] == "1.0.0"
        assert blob["header"]["enc"] == method and blob["header"]["alg"] == "dir"
        return b64url(blob["ciphertext"])
    if fmt == "azure-release":
        text = data.decode("ascii")
        assert text == text.strip(), "key_hsm has surrounding whitespace"
        inner = json.loads(b64url(text))
        assert list(inner) == ["schema_version", "header", "ciphertext"]
        assert inner["schema_version"] == "1.0"
        assert inner["header"] == {"kid": extra, "alg": "dir", "enc": method}
        return b64url(inner["ciphertext"])
    if fmt == "vault":
        body = json.loads(data)
        assert body["hash_function"] == method, body["hash_function"]
        assert body["type"] == extra, body["type"]
        return base64.b64decode(body["ciphertext"], validate=True)
    if fmt == "oci":
        body = json.loads(data)
        assert body["wrappingAlgorithm"] == method
        return base64.b64decode(body["keyMaterial"], validate=True)
    raise AssertionError("unknown format " + fmt)


def open_one(fmt, method, path, kek_path, extra):
    hname, hybrid = METHODS[(fmt, method)]
    kek = serialization.load_pem_private_key(open(kek_path, "rb").read(), None)
    n = kek.key_size // 8
    ct = ciphertext_of(fmt, method, open(path, "rb").read(), extra)
    h = HASHES[hname]
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(),
                        label=None)
    if not hybrid:
        assert len(ct) == n, f"direct ciphertext is {len(ct)} bytes, not {n}"
        return kek.decrypt(ct, oaep)
    assert len(ct) >= n + 16 and (len(ct) - n) % 8 == 0, "length rule"
    k = kek.decrypt(ct[:n], oaep)
    assert len(k) == 32, f"ephemeral key is {len(k)} bytes, not AES-256"
    return aes_key_unwrap_with_padding(k, ct[n:])


def check(payload, expect):
    kind, _, value = expect.partition(":")
    if kind == "bytes":
        return payload == open(value, "rb").read()
    if kind == "hex":
        return payload.hex() == value.lower()
    if kind == "aesecb":
        assert len(payload) in (16, 24, 32), "not an AES key"
        enc = Cipher(algorithms.AES(payload), modes.ECB()).encryptor()
        return (enc.update(bytes(16)) + enc.finalize()).hex() == value.lower()
    key = serialization.load_der_private_key(payload, None)
    if kind == "pub":
        want = serialization.load_pem_public_key(open(value, "rb").read())
        fmt = (serialization.Encoding.DER,
               serialization.PublicFormat.SubjectPublicKeyInfo)
        return key.public_key().public_bytes(*fmt) == want.public_bytes(*fmt)
    if kind == "ecpoint":
        point = key.public_key().public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint)
        want = bytes.fromhex(value)
        if want[0] == 0x04 and len(want) == len(point) + 2:
            want = want[2:]  # the DER OCTET STRING around CKA_EC_POINT
        return point == want
    raise AssertionError("unknown expectation " + kind)


def main():
    count = 0
    for line in open(sys.argv[1]):
        f = line.split()
        if not f:
            continue
        fmt, method, path, kek, expect = f[:5]
        extra = f[5] if len(f) > 5 else None
        try:
            payload = open_one(fmt, method, path, kek, extra)
            ok = check(payload, expect)
        except Exception as e:  # report which entry, then fail
            print(f"ERROR {fmt} {method} {path}: {type(e).__name__} {e}")
            return 1
        if not ok:
            print(f"MISMATCH {fmt} {method} {path}")
            return 1
        count += 1
    print(f"OK {count} files opened")
    return 0


if __name__ == "__main__":
    sys.exit(main())
