#!/usr/bin/env bash
# Process hardening end to end: a running keyferryd has RLIMIT_CORE 0 and is
# not dumpable by default, even when started from a shell that allows core
# files; with `--allow-core-dumps true` it keeps the shell's limit and stays
# dumpable. The kernel is the oracle: /proc/<pid>/limits, and the owner of
# /proc/<pid>/status, which the kernel sets to root for a process that is
# not dumpable. So keyferryd must not run as root here: when this test runs
# as root it starts keyferryd as nobody (setpriv). Also: keyferryd refuses to
# start, with one line naming the file and its mode, when its TLS private key
# (generated or the operator's tls-key) is open to group or others, and
# changes nothing. When the hard core limit is already 0 (common in
# containers) the opt-in core limit cannot be told from the default one:
# that check is skipped (a SKIP line); the rest runs (the default limit 0,
# and the dumpable flag, which the limit does not decide).
# Needs KEYFERRYD, KF_SOURCE_DIR.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"


# A core limit that is not 0, so "0" below can only come from keyferryd.
# With a hard limit of 0 that is impossible: "0 0" below then proves
# nothing by itself (the dumpable flag still does), and with
# allow-core-dumps keyferryd keeps a limit of 0 too.
ulimit -c "$(ulimit -Hc)"
SHELL_CORE=$(ulimit -c)

REAL_KEYFERRYD=$KEYFERRYD
RUN_UID=$(id -u)
kf_pre_launch() {
  if [ "$RUN_UID" = 0 ]; then
    RUN_UID=65534
    mkdir -p "$KF_DATA_DIR"
    chown -R "$RUN_UID:$RUN_UID" "$KF_STATE"
    printf '#!/bin/sh\nexec setpriv --reuid=%s --regid=%s --clear-groups "%s" "$@"\n' \
      "$RUN_UID" "$RUN_UID" "$REAL_KEYFERRYD" >"$KF_STATE/as-nobody"
    chmod 755 "$KF_STATE/as-nobody"
    KEYFERRYD=$KF_STATE/as-nobody
  fi
}

core_limit() {  # prints the soft and hard "Max core file size" of keyferryd
  awk '/^Max core file size/ {print $5, $6}' "/proc/$KF_PID/limits"
}
proc_owner() { stat -c %u "/proc/$KF_PID/status"; }

# --- default: no core files, not dumpable -----------------------------------
kf_start
[ "$(ps -o uid= -p "$KF_PID" | tr -d ' ')" = "$RUN_UID" ] && ok ||
  bad "keyferryd runs as uid $(ps -o uid= -p "$KF_PID"), not $RUN_UID"
limit=$(core_limit)
[ "$limit" = "0 0" ] && ok || bad "default core limit: '$limit', want '0 0'"
[ "$(proc_owner)" = 0 ] && ok ||
  bad "default: /proc/$KF_PID/status owned by $(proc_owner): keyferryd is dumpable"
grep -q '"event":"core_dumps_disabled"' "$KF_STATE/keyferryd.log" && ok ||
  bad "no core_dumps_disabled log line: $(cat "$KF_STATE/keyferryd.log")"
# The vault still serves.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$KF_CA" \
  "https://localhost:$KF_PORT/healthz")
[ "$code" = 200 ] && ok || bad "healthz after hardening: $code"

# --- allow-core-dumps = true: nothing changed --------------------------------
kf_stop
: >"$KF_STATE/keyferryd.log"
kf_launch --allow-core-dumps true
if [ "$SHELL_CORE" = 0 ]; then
  echo "SKIP: process_test: the hard core limit is 0 here: keyferryd's limit" \
    "with allow-core-dumps cannot be told from the default one"
else
  limit=$(core_limit)
  want=$(awk '/^Max core file size/ {print $5, $6}' "/proc/$$/limits")  # ours
  [ "$limit" = "$want" ] && ok || bad "opt-in core limit: '$limit', want '$want'"
fi
[ "$(proc_owner)" = "$RUN_UID" ] && ok ||
  bad "opt-in: /proc/$KF_PID/status owned by $(proc_owner), want $RUN_UID (dumpable)"
grep -q '"event":"core_dumps_allowed"' "$KF_STATE/keyferryd.log" && ok ||
  bad "no core_dumps_allowed log line: $(cat "$KF_STATE/keyferryd.log")"
kf_stop

# --- TLS private keys open to group or others: keyferryd refuses to start ---
# refused_start NAME WANT ARGS...: keyferryd must exit non-zero, its last
# stderr line must be exactly WANT (a keyferryd that starts is stopped after
# 30 s and counts as a failure).
refused_start() {
  local name=$1 want=$2; shift 2
  if timeout 30 "$KEYFERRYD" serve --data-dir "$KF_DATA_DIR" --listen 127.0.0.1:0 \
      --identity-listen 127.0.0.1:0 "$@" 2>"$KF_STATE/refused.log"; then
    bad "$name: keyferryd started"
  elif [ "$(tail -n 1 "$KF_STATE/refused.log")" != "$want" ]; then
    bad "$name: last line '$(tail -n 1 "$KF_STATE/refused.log")', want '$want'"
  else
    ok
  fi
}
KEY=$KF_DATA_DIR/tls/server-key.pem
before=$(sha256sum "$KEY" "$KF_DATA_DIR/tls/server.pem" "$KF_DATA_DIR/tls/ca.pem")
chmod 644 "$KEY"
refused_start "generated key 0644" \
  "keyferryd: TLS private key file $KEY is accessible to group or others (mode 0644); it must be 0600 or stricter"
[ "$(stat -c %a "$KEY")" = 644 ] && ok || bad "key mode changed to $(stat -c %a "$KEY")"
[ "$(sha256sum "$KEY" "$KF_DATA_DIR/tls/server.pem" "$KF_DATA_DIR/tls/ca.pem")" = "$before" ] &&
  ok || bad "TLS files changed by a refused start"
chmod 600 "$KEY"
# The operator's own certificate and key (tls-cert, tls-key).
OP=$KF_STATE/operator
mkdir -p "$OP"
cp "$KF_DATA_DIR/tls/server.pem" "$OP/cert.pem"
cp "$KEY" "$OP/key.pem"
chown -R "$(stat -c %u:%g "$KF_DATA_DIR")" "$OP"
chmod 640 "$OP/key.pem"
refused_start "operator key 0640" \
  "keyferryd: TLS private key file $OP/key.pem is accessible to group or others (mode 0640); it must be 0600 or stricter" \
  --tls-cert "$OP/cert.pem" --tls-key "$OP/key.pem"
chmod 600 "$OP/key.pem"
kf_launch --tls-cert "$OP/cert.pem" --tls-key "$OP/key.pem" && ok ||
  bad "operator key 0600 refused"
kf_stop

# --- a bad value is refused before anything starts ---------------------------
if out=$("$REAL_KEYFERRYD" serve --data-dir "$KF_STATE/unused" \
    --allow-core-dumps yes 2>&1); then
  bad "allow-core-dumps yes accepted"
else
  [[ "$out" == *"allow-core-dumps: true or false"* ]] && ok ||
    bad "allow-core-dumps yes: $out"
fi

echo "process_test: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
