#!/usr/bin/env bash
# Independent .byok blobs (built from the spec with Python's cryptography) imported
# into a fresh keyferryd over raw HTTPS (see byok_blobs_test.py).
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start
/usr/bin/python3 "$KF_SOURCE_DIR/tests/e2e/byok_blobs_test.py"
