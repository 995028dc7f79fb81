#!/usr/bin/env bash
# The identity endpoint's secretless legacy MSI style (POST with
# 'Metadata: true' and no secret) is an operator's opt-in per local uid:
#   1. --identity-legacy-uids self: keyferryd warns at start naming the uid;
#      a POST from a process of that uid gets a token that works on the keys
#      API; the same POST from another uid (nobody, 65534) is refused 401
#      and no token is minted; the secret styles still serve anyone who
#      holds the secret.
#   2. --identity-legacy-uids 65534: now nobody is honoured and root is not.
#   3. Without the setting: refused for everyone, saying it is disabled.
# Every request is in the audit log as identity-token:<style> with the
# peer's uid in the principal, and `keyferry audit verify` accepts the log.
# The other-uid checks (the only negative ones of 1, and all of 2) run the
# client with setpriv (util-linux), so they need root; otherwise they are
# skipped, with a SKIP line. Audit records are written before the answer is
# sent: each is in the log when its answer arrives.
# Needs KEYFERRYD, KEYFERRY and KF_SOURCE_DIR (ctest sets them).
set -euo pipefail
: "${KEYFERRY:?KEYFERRY must name the keyferry binary}"
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"

SELF=$(id -u)
NOBODY=65534
AS_NOBODY=(setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups)
can_switch=0
if [ "$SELF" = 0 ] && command -v setpriv >/dev/null; then
  can_switch=1
else
  echo "SKIP: identity_legacy_test: the other-uid checks (uid $NOBODY refused" \
    "in 1, all of 2) need root and setpriv"
fi

kf_start --identity-legacy-uids self

# nobody must read the CA certificate: a world-readable copy.
chmod 711 "$KF_STATE"
mkdir -m 755 "$KF_STATE/pub"
cp "$KF_CA" "$KF_STATE/pub/ca.pem"
chmod 644 "$KF_STATE/pub/ca.pem"
CA=$KF_STATE/pub/ca.pem

# legacy [COMMAND PREFIX...]: the legacy POST, as az 2.45 sends it without
# APPSETTING_WEBSITE_SITE_NAME; prints the body, then the status line.
legacy() {
  "$@" curl -s --cacert "$CA" -w '\n%{http_code}' -H 'Metadata: true' \
    --data-urlencode "resource=$KF_RESOURCE" "$MSI_ENDPOINT"
}
# secret2017 [COMMAND PREFIX...]: the App Service 2017-09-01 style.
secret2017() {
  "$@" curl -s --cacert "$CA" -w '\n%{http_code}' -H "secret: $IDENTITY_HEADER" \
    "$MSI_ENDPOINT/?resource=$KF_RESOURCE&api-version=2017-09-01"
}
status_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
token_of() {
  body_of "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("access_token",""))'
}
list_keys() {  # list_keys TOKEN -> HTTP status of GET /keys
  curl -s -o /dev/null -w '%{http_code}' --cacert "$KF_CA" \
    -H "Authorization: Bearer $1" "$KF_VAULT_URL/keys?api-version=7.4"
}
# audit_records: the identity records of the audit log, one per line as
# operation|principal|status|error.
audit_records() {
  python3 - "$KF_DATA_DIR/audit.log" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["operation"].startswith("identity-token"):
        print(f'{r["operation"]}|{r["principal"]}|{r["status"]}|{r["error"]}')
EOF
}

# --- 1. --identity-legacy-uids self ------------------------------------------
grep -q "\"event\":\"identity_legacy_style_enabled\",\"uids\":\"$SELF\"" \
  "$KF_STATE/keyferryd.log" && ok || bad "no start-up warning naming uid $SELF"

out=$(legacy)
if [ "$(status_of "$out")" = 200 ] && tok=$(token_of "$out") && [ -n "$tok" ]; then
  ok
  [ "$(list_keys "$tok")" = 200 ] && ok || bad "legacy token refused by the keys API"
else
  bad "legacy POST as uid $SELF: $out"
fi

if [ "$can_switch" = 1 ]; then
  out=$(legacy "${AS_NOBODY[@]}")
  [ "$(status_of "$out")" = 401 ] && ok || bad "legacy POST as nobody: $out"
  [[ "$(body_of "$out")" == *"uid $NOBODY may not use the legacy MSI style"* ]] &&
    ok || bad "refusal text: $out"
  [[ "$out" != *access_token* ]] && ok || bad "nobody got a token: $out"
  # The secret is the credential: nobody holding it is served.
  out=$(secret2017 "${AS_NOBODY[@]}")
  [ "$(status_of "$out")" = 200 ] && ok || bad "2017 style as nobody with the secret: $out"
fi

recs=$(audit_records)
grep -qxF "identity-token:legacy-msi|officer (uid $SELF)|200|" <<<"$recs" &&
  ok || bad "no audited legacy token for uid $SELF: $recs"
if [ "$can_switch" = 1 ]; then
  grep -qxF "identity-token:legacy-msi|officer (uid $NOBODY)|401|unauthorized" <<<"$recs" &&
    ok || bad "no audited refusal for nobody: $recs"
  ! grep -qF "officer (uid $NOBODY)|200" <<<"$recs" && ok ||
    bad "a legacy token was minted for nobody: $recs"
  grep -qxF "identity-token:app-service-2017|officer|200|" <<<"$recs" &&
    ok || bad "2017 style not audited: $recs"
fi

# --- 2. --identity-legacy-uids 65534: the list decides, not root -------------
if [ "$can_switch" = 1 ]; then
  kf_stop
  kf_launch --identity-legacy-uids "$NOBODY"
  out=$(legacy "${AS_NOBODY[@]}")
  if [ "$(status_of "$out")" = 200 ] && tok=$(token_of "$out") && [ -n "$tok" ]; then
    ok
    [ "$(list_keys "$tok")" = 200 ] && ok || bad "nobody's legacy token refused by the keys API"
  else
    bad "legacy POST as a listed nobody: $out"
  fi
  out=$(legacy)
  [ "$(status_of "$out")" = 401 ] && ok || bad "legacy POST as unlisted root: $out"
  [[ "$(body_of "$out")" == *"uid 0 may not"* ]] && ok || bad "root refusal text: $out"
  recs=$(audit_records)
  grep -qxF "identity-token:legacy-msi|officer (uid $NOBODY)|200|" <<<"$recs" &&
    ok || bad "no audited legacy token for listed nobody: $recs"
  grep -qxF "identity-token:legacy-msi|officer (uid 0)|401|unauthorized" <<<"$recs" &&
    ok || bad "no audited refusal for unlisted root: $recs"
fi

# --- 3. default: the secretless style is off ---------------------------------
kf_stop
kf_launch
if grep -c '"event":"identity_legacy_style_enabled"' "$KF_STATE/keyferryd.log" |
   grep -qx "$([ "$can_switch" = 1 ] && echo 2 || echo 1)"; then
  ok
else
  bad "start-up warning without the setting"
fi
out=$(legacy)
[ "$(status_of "$out")" = 401 ] && ok || bad "legacy POST by default: $out"
[[ "$(body_of "$out")" == *"is disabled"*"identity-legacy-uids"* ]] && ok ||
  bad "default refusal text: $out"
[[ "$out" != *access_token* ]] && ok || bad "token by default: $out"
out=$(secret2017)
[ "$(status_of "$out")" = 200 ] && ok || bad "2017 style by default: $out"
recs=$(audit_records)
grep -qxF "identity-token:legacy-msi|officer|401|unauthorized" <<<"$recs" &&
  ok || bad "default refusal not audited: $recs"
kf_stop

"$KEYFERRY" audit verify --log "$KF_DATA_DIR/audit.log" >"$KF_STATE/verify" 2>&1 &&
  grep -q "chain intact" "$KF_STATE/verify" && ok ||
  bad "audit verify: $(cat "$KF_STATE/verify")"

skipped=
[ "$can_switch" = 1 ] || skipped=", other-uid checks skipped"
echo "identity_legacy_test: $passes passed, $fails failed$skipped"
[ "$fails" -eq 0 ]
