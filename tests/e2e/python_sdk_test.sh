#!/usr/bin/env bash
# The Python SDK (Debian's python3-azure) end to end against a fresh
# keyferryd: see python_sdk_test.py (it runs the scenarios of
# python_sdk_keys.py, python_sdk_lifecycle.py and python_sdk_access.py).
# Needs KEYFERRYD and KF_SOURCE_DIR.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start
# -B: the parts import each other; write no __pycache__ into the source tree.
/usr/bin/python3 -B "$KF_SOURCE_DIR/tests/e2e/python_sdk_test.py"
