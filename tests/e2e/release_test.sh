#!/usr/bin/env bash
# Secure Key Release end to end (docs/api.md §Secure Key Release): Debian's
# Python SDK (release_key, KeyReleasePolicy) against a fresh keyferryd that
# trusts one attestation authority, whose signing key and JWK Set this test
# makes itself; see release_test.py. With KF_CUSTODY=pkcs11 (SoftHSM) the
# keys are released with the wrap made in the token, within the token's limits.
# Needs KEYFERRYD and KF_SOURCE_DIR.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
# The authority's key and JWK Set must exist before keyferryd starts, and
# KF_STATE (removed at exit) is made by kf_start: make them aside, then move
# them in once keyferryd has read the JWK Set.
attest=$(mktemp -d /tmp/kf_attest.XXXXXX)
/usr/bin/python3 -B "$KF_SOURCE_DIR/tests/e2e/release_authority.py" "$attest"
export KF_ATTEST_ISSUER="https://attest.localhost/"
kf_start --release-authority "$KF_ATTEST_ISSUER=$attest/jwks.json" \
  --grant releaser:myvault:crypto-service-release-user || {
  rm -rf "$attest"
  exit 1
}
mv "$attest" "$KF_STATE/attest"
export KF_ATTEST_DIR="$KF_STATE/attest"
/usr/bin/python3 -B "$KF_SOURCE_DIR/tests/e2e/release_test.py"
