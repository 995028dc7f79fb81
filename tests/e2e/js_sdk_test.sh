#!/usr/bin/env bash
# End to end with the real Azure JS SDK (@azure/keyvault-keys, @azure/identity
# from npm, pinned by js/package-lock.json) against a keyferryd started here.
# See js/keys_test.mjs (it runs js/keys_create.mjs, keys_crypto.mjs and
# keys_lifecycle.mjs in order). Needs KEYFERRYD and KF_SOURCE_DIR (set by ctest).
set -euo pipefail
: "${KF_SOURCE_DIR:?KF_SOURCE_DIR must name the source tree}"
dir="$KF_SOURCE_DIR/tests/e2e/js"

# Install the pinned SDK only when node_modules is missing or older than the
# lock file (npm writes node_modules/.package-lock.json on every install).
# node_modules is shared by this test's runs (e2e_js_sdk_test and its _pkcs11
# twin run in parallel under ctest -j): `npm ci` first deletes node_modules,
# so the check and the install hold an exclusive lock on the directory, and
# node runs under a shared one.
(
  flock -w 600 9 || { echo "js_sdk_test: no lock on $dir in 600 s" >&2; exit 1; }
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     [ ! -d "$dir/node_modules/@azure/keyvault-keys" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    cd "$dir" && npm ci --no-audit --no-fund --loglevel=error
  fi
) 9<"$dir"

source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start

cd "$dir"
exec 9<"$dir"
flock -s -w 600 9 || { echo "js_sdk_test: no lock on $dir in 600 s" >&2; exit 1; }
node keys_test.mjs
