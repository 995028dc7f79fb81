#!/usr/bin/env bash
# The Python SDK end to end against a fresh keyferryd (see python_keys_test.py).
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start
/usr/bin/python3 "$KF_SOURCE_DIR/tests/e2e/python_keys_test.py"
