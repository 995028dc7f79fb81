#!/usr/bin/env bash
# The web console in a real browser: Debian's chromium driven by
# playwright-core (npm, pinned by console/package-lock.json; no browser
# download) against a keyferryd started here; console/console_test.mjs has
# the steps. Chromium trusts keyferryd's CA through a private NSS database
# (console/common.sh). Screenshots of each page at 1280x800 and 390x844 go
# to $KF_TEST_OUT (default: <build>/test-output/console). Needs KEYFERRYD,
# KF_SOURCE_DIR and KF_BUILD_DIR (set by ctest).
set -euo pipefail
: "${KF_SOURCE_DIR:?KF_SOURCE_DIR must name the source tree}"
CONSOLE_DIR="$KF_SOURCE_DIR/tests/e2e/console"
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
source "$CONSOLE_DIR/common.sh"
console_install
kf_start
console_trust
console_out
# Only this test's own files, from an earlier run.
rm -f "$KF_TEST_OUT"/[0-9]*.png "$KF_TEST_OUT"/failure.png "$KF_TEST_OUT"/*.byok \
  "$KF_TEST_OUT"/*.pem "$KF_TEST_OUT"/*.bin "$KF_TEST_OUT"/*.keybackup

KF_OFFICER_TOKEN=$(kf_token officer)
KF_READER_TOKEN=$(kf_token reader)
export KF_OFFICER_TOKEN KF_READER_TOKEN
console_run console_test.mjs
