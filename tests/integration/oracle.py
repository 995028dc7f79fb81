#!/usr/bin/env python3
"""Independent .byok oracle built from the spec with Python's `cryptography`.

It shares no code with keyferry. Subcommands:
  open BLOB KEK_PRIVATE_PEM [--expect-secret-hex H] [--expect-public-pem P]
       [--expect-ec-point HEX] [--expect-aes-ecb-zero HEX] [--strict]
      Splits the ciphertext at the KEK modulus length, RSA-OAEP-SHA1 decrypts
      the AES key, RFC 5649-unwraps the payload and compares it with the
      expectation. --expect-aes-ecb-zero: the payload is an AES key whose
      AES-ECB encryption of one zero block is HEX (a token's answer for a key
      it does not reveal). --strict: a DER payload's outer length must fill
      the plaintext RFC 5649 recovered exactly (no trailing bytes, such as a
      token's zero padding counted into the plaintext length). Prints one
      line describing the payload; exit 1 on mismatch.
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
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import (
    aes_key_unwrap_with_padding, aes_key_wrap_with_padding)

OAEP_SHA1 = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                         algorithm=hashes.SHA1(), label=None)


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def public_der(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def der_length(data):
    """The length of the DER TLV at the start of data (None if not one)."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    if data[1] < 0x80:
        return 2 + data[1]
    n = data[1] & 0x7F
    if n == 0 or n > 4 or len(data) < 2 + n:
        return None
    return 2 + n + int.from_bytes(data[2:2 + n], "big")


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
    if a.expect_aes_ecb_zero is not None:
        if len(payload) not in (16, 24, 32):
            print(f"MISMATCH: {len(payload)}-byte payload is not an AES key")
            return 1
        enc = Cipher(algorithms.AES(payload), modes.ECB()).encryptor()
        if (enc.update(bytes(16)) + enc.finalize()).hex() != \
                a.expect_aes_ecb_zero.lower():
            print("MISMATCH: recovered AES key encrypts differently")
            return 1
        print(f"OK AES-{len(payload) * 8} key, aes key {len(k) * 8} bits")
        return 0
    if a.strict and len(payload) not in (16, 24, 32) \
            and der_length(payload) != len(payload):
        print(f"MISMATCH: DER length {der_length(payload)} != "
              f"plaintext length {len(payload)}")
        return 1
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
    o.add_argument("--expect-aes-ecb-zero",
                   help="hex AES-ECB encryption of a zero block by the key")
    o.add_argument("--strict", action="store_true",
                   help="DER length must equal the plaintext length")
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
