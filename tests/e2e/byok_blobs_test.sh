#!/usr/bin/env bash
# Independent .byok blobs (built from the spec with Python's cryptography) imported
# into a fresh keyferryd over raw HTTPS (see byok_blobs_test.py: it runs the
# scenarios of byok_blobs_imports.py and byok_blobs_negatives.py).
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start
# -B: the parts import each other; write no __pycache__ into the source tree.
/usr/bin/python3 -B "$KF_SOURCE_DIR/tests/e2e/byok_blobs_test.py"
