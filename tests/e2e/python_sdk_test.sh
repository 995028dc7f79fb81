#!/usr/bin/env bash
# The Python SDK (Debian's python3-azure) end to end against a fresh
# keyferryd: see python_sdk_test.py. Needs KEYFERRYD and KF_SOURCE_DIR.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start
/usr/bin/python3 "$KF_SOURCE_DIR/tests/e2e/python_sdk_test.py"
