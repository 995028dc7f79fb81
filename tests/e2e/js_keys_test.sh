#!/usr/bin/env bash
# The JS SDK end to end against a fresh keyferryd (see jssdk/keys_test.mjs).
# Dependencies come from the npm registry, pinned by jssdk/package-lock.json.
set -euo pipefail
dir="$KF_SOURCE_DIR/tests/e2e/jssdk"
if [ ! -d "$dir/node_modules/@azure/keyvault-keys" ] ||
   [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start
cd "$dir"
node keys_test.mjs
