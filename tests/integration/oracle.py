#!/usr/bin/env python3
"""Independent .byok oracle built from the spec with Python's `cryptography`.

It shares no code with keyferry. Subcommands:
  open BLOB KEK_PRIVATE_PEM [--expect-secret-hex H] [--expect-public-pem P]
       [--expect-ec-point HEX]
      Splits the ciphertext at the KEK modulus length, RSA-OAEP-SHA1 decrypts
      the AES key, RFC 5649-unwraps the payload and compares it with the
      expectation. Prints one line describing the payload; exit 1 on mismatch.
  make BLOB KEK_PUBLIC_PEM KID (--secret-hex H | --private-pem P) [--padded]
      Writes a .byok blob (for keyferry's reader and, later, keyferryd import).
"""
import argparse
import base64
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, ec
from cryptography.hazmat.primitives.keywrap import (
    aes_key_unwrap_with_padding, aes_key_wrap_with_padding)

OAEP_SHA1 = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                         algorithm=hashes.SHA1(), label=None)


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def public_der(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def cmd_open(a):
    blob = json.load(open(a.blob))
    assert blob["schema_version"] == "1.0.0", "schema_version"
    assert blob["header"]["alg"] == "dir", "alg"
    assert blob["header"]["enc"] == "CKM_RSA_AES_KEY_WRAP", "enc"
    ct = b64url_decode(blob["ciphertext"])
    kek = serialization.load_pem_private_key(open(a.kek, "rb").read(), None)
    n = kek.key_size // 8
    k = kek.decrypt(ct[:n], OAEP_SHA1)
    payload = aes_key_unwrap_with_padding(k, ct[n:])
    if a.expect_secret_hex is not None:
        if payload.hex() != a.expect_secret_hex.lower():
            print("MISMATCH: recovered secret differs")
            return 1
        print(f"OK secret {len(payload) * 8} bits, aes key {len(k) * 8} bits")
        return 0
    if len(payload) in (16, 24, 32) and a.expect_public_pem is None:
        print(f"OK raw AES-{len(payload) * 8} key, aes key {len(k) * 8} bits")
        return 0
    key = serialization.load_der_private_key(payload, None)
    if a.expect_public_pem is not None:
        want = serialization.load_pem_public_key(
            open(a.expect_public_pem, "rb").read())
        if public_der(key.public_key()) != public_der(want):
            print("MISMATCH: recovered key's public half differs")
            return 1
    if a.expect_ec_point is not None:
        point = key.public_key().public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint)
        want = bytes.fromhex(a.expect_ec_point)
        if want[0] == 0x04 and len(want) == len(point) + 2:
            want = want[2:]  # DER OCTET STRING around the point (CKA_EC_POINT)
        if point != want:
            print("MISMATCH: recovered key's EC point differs")
            return 1
    kind = ("RSA-%d" % key.key_size if isinstance(key, rsa.RSAPrivateKey)
            else "EC " + key.curve.name)
    print(f"OK {kind}, pkcs8 {len(payload)} bytes, aes key {len(k) * 8} bits")
    return 0


def cmd_make(a):
    kek = serialization.load_pem_public_key(open(a.kek, "rb").read())
    if a.secret_hex:
        payload = bytes.fromhex(a.secret_hex)
    else:
        key = serialization.load_pem_private_key(
            open(a.private_pem, "rb").read(), None)
        payload = key.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    k = os.urandom(32)
    ct = kek.encrypt(k, OAEP_SHA1) + aes_key_wrap_with_padding(k, payload)
    text = base64.urlsafe_b64encode(ct).decode()
    if not a.padded:
        text = text.rstrip("=")
    blob = {"schema_version": "1.0.0",
            "header": {"kid": a.kid, "alg": "dir",
                       "enc": "CKM_RSA_AES_KEY_WRAP"},
            "ciphertext": text,
            "generator": "keyferry test oracle (python cryptography)"}
    with open(a.blob, "w") as f:
        json.dump(blob, f, indent=2)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("open")
    o.add_argument("blob")
    o.add_argument("kek")
    o.add_argument("--expect-secret-hex")
    o.add_argument("--expect-public-pem")
    o.add_argument("--expect-ec-point",
                   help="hex CKA_EC_POINT as pkcs11-tool -O prints it")
    m = sub.add_parser("make")
    m.add_argument("blob")
    m.add_argument("kek")
    m.add_argument("kid")
    m.add_argument("--secret-hex")
    m.add_argument("--private-pem")
    m.add_argument("--padded", action="store_true")
    a = p.parse_args()
    return cmd_open(a) if a.cmd == "open" else cmd_make(a)


if __name__ == "__main__":
    sys.exit(main())
