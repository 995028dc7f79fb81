"""make_byok.py KEK_PEM KID OUT_BYOK OUT_TARGET_PUB_PEM [--bad-alg]

Writes a .byok for an RSA-2048 target wrapped under the KEK public key in
KEK_PEM (the PEM the console downloaded), with header kid KID, using the
independent BYOK writer of byok_common.py (Python cryptography: RSA-OAEP-SHA1
|| RFC 5649 KWP); writes the target's public key as PEM, so the test can
verify signatures outside keyferryd. --bad-alg writes header.alg "RSA-OAEP"
instead of "dir" (a blob the console's structure check must refuse).
"""

import os
import sys

from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from byok_common import container, rsa_target, seal  # noqa: E402


def main():
    kek_pem, kid, out_byok, out_pub = sys.argv[1:5]
    bad_alg = "--bad-alg" in sys.argv[5:]
    with open(kek_pem, "rb") as f:
        kek_pub = serialization.load_pem_public_key(f.read())
    target = rsa_target(2048)
    ciphertext, _ = seal(kek_pub, target.payload)
    blob = container(kid, ciphertext, alg="RSA-OAEP" if bad_alg else "dir",
                     generator="console_test make_byok.py (python cryptography)")
    with open(out_byok, "wb") as f:
        f.write(blob)
    with open(out_pub, "wb") as f:
        f.write(target.key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo))


if __name__ == "__main__":
    main()
