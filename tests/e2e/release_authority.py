"""Makes the test's own attestation authority for release_test.sh: an RSA
signing key (issuer.pem) and its JWK Set (jwks.json, kid "sig-1") in the
directory named by argv[1], and a second key the authority never published
(impostor.pem), for tokens whose signature must not verify."""

import base64
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64u_int(n):
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def write_key(path, key):
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(path, 0o600)


def main():
    out = sys.argv[1]
    issuer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_key(os.path.join(out, "issuer.pem"), issuer)
    write_key(os.path.join(out, "impostor.pem"),
              rsa.generate_private_key(public_exponent=65537, key_size=2048))
    pub = issuer.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "kid": "sig-1", "use": "sig",
                      "alg": "RS256", "n": b64u_int(pub.n),
                      "e": b64u_int(pub.e)}]}
    with open(os.path.join(out, "jwks.json"), "w") as f:
        json.dump(jwks, f)


if __name__ == "__main__":
    main()
