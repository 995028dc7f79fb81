# What the console's browser tests share (console_test.sh,
# console_sealed_test.sh). Source it after harness.sh.

# console_install installs the pinned playwright-core (console/package-lock.json)
# when missing or older than the lock file, never a browser
# (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1: Debian's chromium is used). The
# install holds an exclusive lock on the directory (npm ci deletes
# node_modules), as js_sdk_test.sh does; console_run holds a shared one.
console_install() {
  [ -x /usr/bin/chromium ] || {
    echo "console tests: /usr/bin/chromium is missing (scripts/deps.sh test)" >&2
    return 1
  }
  (
    flock -w 600 9 || { echo "console tests: no lock on $CONSOLE_DIR in 600 s" >&2; exit 1; }
    if [ ! -f "$CONSOLE_DIR/node_modules/.package-lock.json" ] ||
       [ ! -d "$CONSOLE_DIR/node_modules/playwright-core" ] ||
       [ "$CONSOLE_DIR/package-lock.json" -nt "$CONSOLE_DIR/node_modules/.package-lock.json" ]; then
      cd "$CONSOLE_DIR" &&
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
    fi
  ) 9<"$CONSOLE_DIR"
}

# console_trust makes a HOME of the browser's own (KF_BROWSER_HOME):
# chromium reads its trust anchors from $HOME/.pki/nssdb, where keyferryd's
# CA is added as a trusted CA ("C,,"). So TLS is verified as for any site:
# no certificate error is ignored. Call after kf_start.
console_trust() {
  export KF_BROWSER_HOME="$KF_STATE/browser-home"
  mkdir -p "$KF_BROWSER_HOME/.pki/nssdb"
  certutil -N -d "sql:$KF_BROWSER_HOME/.pki/nssdb" --empty-password &&
    certutil -A -d "sql:$KF_BROWSER_HOME/.pki/nssdb" -n keyferryd-test-ca \
      -t "C,," -i "$KF_CA"
}

# console_out sets KF_TEST_OUT (default <build>/test-output/console), where
# screenshots and downloads go.
console_out() {
  export KF_TEST_OUT="${KF_TEST_OUT:-${KF_BUILD_DIR:-$KF_STATE}/test-output/console}"
  mkdir -p "$KF_TEST_OUT"
}

# console_run SCRIPT runs a test script with node under a shared lock on
# the directory (no npm ci meanwhile).
console_run() {
  (
    cd "$CONSOLE_DIR" &&
      flock -s -w 600 9 || { echo "console tests: no lock on $CONSOLE_DIR in 600 s" >&2; exit 1; }
    node "$1"
  ) 9<"$CONSOLE_DIR"
}
