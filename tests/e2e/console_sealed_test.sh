#!/usr/bin/env bash
# The web console of a sealed keyferryd in a real browser (as
# console_test.sh): `keyferryd init` splits the master key into 3 shares (2
# needed) before the start; console/sealed_test.mjs signs in while sealed
# and follows the unseal. Needs KEYFERRYD, KEYFERRY, KF_SOURCE_DIR and
# KF_BUILD_DIR (set by ctest).
set -euo pipefail
: "${KF_SOURCE_DIR:?KF_SOURCE_DIR must name the source tree}"
CONSOLE_DIR="$KF_SOURCE_DIR/tests/e2e/console"
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
source "$CONSOLE_DIR/common.sh"
console_install
kf_pre_launch() {
  mkdir -p "$KF_DATA_DIR"
  printf 'console sealed test\n' >"$KF_STATE/pass"
  "$KEYFERRYD" init --data-dir "$KF_DATA_DIR" --shares 3 --threshold 2 \
    --share-dir "$KF_STATE/shares" --passphrase-file "$KF_STATE/pass" >/dev/null
}
kf_start
export KF_SHARES="$KF_STATE/shares" KF_PASSPHRASE_FILE="$KF_STATE/pass"
console_trust
console_out
rm -f "$KF_TEST_OUT"/sealed-*.png

# Minting opens the custody, which needs the shares while sealed.
KF_OFFICER_TOKEN=$(kf_token officer 3600 --share "$KF_SHARES/share-1.json" \
  --share "$KF_SHARES/share-2.json" --passphrase-file "$KF_PASSPHRASE_FILE")
export KF_OFFICER_TOKEN
console_run sealed_test.mjs
