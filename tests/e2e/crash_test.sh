#!/usr/bin/env bash
# Crash safety: keyferryd is killed with SIGKILL at random moments while 4
# clients stream key creations and imports (create EC, create oct-HSM, JWK
# import, BYOK import), 0.4-2.0 s after the round's first acknowledged
# request, then restarted, KF_CRASH_ROUNDS times (default 4).
# Afterwards every acknowledged key must be there and work, every
# unacknowledged one must be absent or complete, the vault must list
# nothing else, the SQLite store must pass integrity_check and the audit
# log's chain must verify. The audit log must hold the record of every
# request answered 200 (by x-ms-request-id), each acknowledged create or
# import with the version made, and no create or import recorded as done
# may be missing from the vault. With KF_CUSTODY=pkcs11 the token must hold no
# object but keyferryd's three master keys.
# Needs KEYFERRYD, KEYFERRY, KF_SOURCE_DIR.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
: "${KEYFERRY:?KEYFERRY must name the keyferry binary}"
ROUNDS=${KF_CRASH_ROUNDS:-4}
DRIVER="/usr/bin/python3 $KF_SOURCE_DIR/tests/e2e/crash_driver.py"

kf_start
export KF_TOKEN
KF_TOKEN=$(kf_token officer 7200)
$DRIVER setup "$KF_STATE"

fails=0
for round in $(seq 1 "$ROUNDS"); do
  journal=$KF_STATE/journal-$round.jsonl
  $DRIVER load "$KF_STATE" "$round" &
  driver=$!
  # The stream flows once a request of this round is acknowledged (however
  # long the driver takes to start on a loaded machine); kill at a random
  # moment 0.4-2.0 s after that.
  deadline=$(($(date +%s) + 60))
  until grep -qs '"event": "ack"' "$journal"; do
    if ! kill -0 "$driver" 2>/dev/null; then
      grep -qs '"event": "ack"' "$journal" && break
      echo "FAIL: round $round: the driver exited before any acknowledged request" >&2
      fails=$((fails + 1))
      break
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "FAIL: round $round: no request acknowledged in 60 s" >&2
      fails=$((fails + 1))
      break
    fi
    sleep 0.05
  done
  sleep "$(/usr/bin/python3 -c 'import random; print(round(random.uniform(0.4, 2.0), 2))')"
  kill -KILL "$KF_PID"
  wait "$KF_PID" 2>/dev/null || true
  KF_PID=
  wait "$driver"
  acked=$(grep -c '"event": "ack"' "$journal" || true)
  echo "round $round: killed keyferryd after $acked acknowledged requests"
  kf_launch
done

$DRIVER verify "$KF_STATE" "$KF_DATA_DIR/audit.log" || fails=$((fails + 1))
kf_stop

check=$(sqlite3 "$KF_DATA_DIR/keys.db" 'PRAGMA integrity_check;')
if [ "$check" = ok ]; then
  echo "store integrity_check: ok"
else
  echo "FAIL: integrity_check: $check" >&2
  fails=$((fails + 1))
fi
if ! "$KEYFERRY" audit verify --log "$KF_DATA_DIR/audit.log"; then
  echo "FAIL: audit log chain" >&2
  fails=$((fails + 1))
fi
if [ "${KF_CUSTODY:-software}" = pkcs11 ]; then
  objects=$(pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so \
    --token-label keyferryd --login --pin 1234 --list-objects 2>/dev/null |
    sed -n 's/^ *label: *//p' | sort | tr '\n' ' ')
  want="keyferryd-master-backup keyferryd-master-mac keyferryd-master-wrap keyferryd-master-wrap-exportable "
  if [ "$objects" = "$want" ]; then
    echo "token objects: only the master keys"
  else
    echo "FAIL: token objects after the crashes: $objects" >&2
    fails=$((fails + 1))
  fi
fi
echo "crash_test: $ROUNDS rounds, $fails failures"
[ "$fails" -eq 0 ]
