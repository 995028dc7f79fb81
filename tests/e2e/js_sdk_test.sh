#!/usr/bin/env bash
# End to end with the real Azure JS SDK (@azure/keyvault-keys, @azure/identity
# from npm, pinned by js/package-lock.json) against a keyferryd started here.
# See js/keys_test.mjs. Needs KEYFERRYD and KF_SOURCE_DIR (set by ctest).
set -euo pipefail
: "${KF_SOURCE_DIR:?KF_SOURCE_DIR must name the source tree}"
dir="$KF_SOURCE_DIR/tests/e2e/js"

# Install the pinned SDK only when node_modules is missing or older than the
# lock file (npm writes node_modules/.package-lock.json on every install).
if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
   [ ! -d "$dir/node_modules/@azure/keyvault-keys" ] ||
   [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start

cd "$dir"
node keys_test.mjs
