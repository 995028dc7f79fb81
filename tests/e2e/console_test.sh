#!/usr/bin/env bash
# The web console in a real browser: Debian's chromium driven by
# playwright-core (npm, pinned by console/package-lock.json; no browser
# download) against a keyferryd started here. See console/console_test.mjs
# for the steps. Chromium trusts keyferryd's CA through a private NSS
# database in a throwaway HOME (certutil), so TLS is verified as for any
# site: no certificate errors are ignored. Screenshots go to $KF_TEST_OUT
# (default: <build>/test-output/console). Needs KEYFERRYD, KF_SOURCE_DIR
# and KF_BUILD_DIR (set by ctest).
set -euo pipefail
: "${KF_SOURCE_DIR:?KF_SOURCE_DIR must name the source tree}"
dir="$KF_SOURCE_DIR/tests/e2e/console"
[ -x /usr/bin/chromium ] || { echo "console_test: /usr/bin/chromium is missing (scripts/deps.sh test)" >&2; exit 1; }

# The pinned playwright-core, installed only when missing or older than the
# lock file; the install holds an exclusive lock on the directory (npm ci
# deletes node_modules), the run a shared one (as js_sdk_test.sh).
(
  flock -w 600 9 || { echo "console_test: no lock on $dir in 600 s" >&2; exit 1; }
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     [ ! -d "$dir/node_modules/playwright-core" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  fi
) 9<"$dir"

source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start

# A HOME of our own: chromium reads its trust anchors from $HOME/.pki/nssdb,
# where keyferryd's CA is added as a trusted CA ("C,,").
export KF_BROWSER_HOME="$KF_STATE/browser-home"
mkdir -p "$KF_BROWSER_HOME/.pki/nssdb"
certutil -N -d "sql:$KF_BROWSER_HOME/.pki/nssdb" --empty-password
certutil -A -d "sql:$KF_BROWSER_HOME/.pki/nssdb" -n keyferryd-test-ca -t "C,," -i "$KF_CA"

KF_OFFICER_TOKEN=$(kf_token officer)
KF_READER_TOKEN=$(kf_token reader)
export KF_OFFICER_TOKEN KF_READER_TOKEN
export KF_TEST_OUT="${KF_TEST_OUT:-${KF_BUILD_DIR:-$KF_STATE}/test-output/console}"
mkdir -p "$KF_TEST_OUT"
# Only this test's own files, from an earlier run.
rm -f "$KF_TEST_OUT"/*.png "$KF_TEST_OUT"/*.byok "$KF_TEST_OUT"/*.pem \
  "$KF_TEST_OUT"/*.bin "$KF_TEST_OUT"/*.keybackup

cd "$dir"
exec 9<"$dir"
flock -s -w 600 9 || { echo "console_test: no lock on $dir in 600 s" >&2; exit 1; }
node console_test.mjs
