"""End to end: .byok blobs written by an independent implementation of the
Azure BYOK specification (Python's `cryptography`: RSA-OAEP-SHA1 of a random
AES-256 key || RFC 5649 KWP of the target), imported into a keyferryd started
by tests/e2e/byok_blobs_test.sh over raw HTTPS (http.client, no azure SDK).

Each imported key is proved outside keyferryd: RSA/EC signatures made by
keyferryd are verified with the target's own public key, the public JWK is
compared with the target's, and AES keys must wrap (A*KW, deterministic) byte
for byte like `cryptography` does with the known key, and unwrap back.
Negative cases must answer 400 BadParameter and store nothing.

The scenarios live in two parts, registered in this order with @case and
run one after the other against the same keyferryd: byok_blobs_imports.py
(what must import) and byok_blobs_negatives.py (what must be refused).
byok_common.py holds what they share (the blob writer, HTTPS, the targets
and KEKs that setup() makes).

Run with /usr/bin/python3 (Debian's interpreter with python3-cryptography 38).
Prints "byok_blobs_test: N passed, M failed" and exits non-zero on failure.
"""

import sys
import time

import e2e_runner
import byok_common
# Each import registers that part's scenarios (byok_common.case); the order
# of these imports is the order they run in.
import byok_blobs_imports  # noqa: F401
import byok_blobs_negatives  # noqa: F401


def main():
    byok_common.setup()
    byok_common.run_cases()
    print(f"byok_blobs_test: {e2e_runner.passed} passed, "
          f"{e2e_runner.failed} failed "
          f"({time.time() - byok_common.T0:.1f}s)")
    return 1 if e2e_runner.failed or e2e_runner.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
