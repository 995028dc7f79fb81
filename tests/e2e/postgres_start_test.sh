#!/usr/bin/env bash
# keyferryd on PostgreSQL refuses a start it cannot make safely, with one
# line, a non-zero exit and nothing written: a wrong password, an
# unreachable host, a database whose schema is newer than this keyferryd,
# and a node started with a different master key (the custody check,
# docs/security-model.md). "Nothing written": the database's content
# (pg_dump --data-only) is byte for byte the same afterwards, and the
# refused node's data directory holds none of the deployment's files. Then
# the deployment starts as before and still serves its key.
# Needs KEYFERRYD, KF_SOURCE_DIR.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
export KF_STORE=postgres
kf_start
KF_TOKEN=$(kf_token officer 3600)

api() {  # api METHOD PATH [BODY]: prints the status code
  local args=(-s --cacert "$KF_CA" -o "$KF_STATE/out" -w '%{http_code}' -X "$1"
    -H "Authorization: Bearer $KF_TOKEN" -H 'Content-Type: application/json')
  [ $# -ge 3 ] && args+=(--data "$3")
  curl "${args[@]}" "$KF_VAULT_URL$2?api-version=7.4" || true
}
dump() {
  PGPASSWORD=$KF_PG_PASSWORD pg_dump -h "$KF_PG_DIR" -U kf --data-only \
    keyferry | grep -v '^--\|^\\restrict\|^\\unrestrict' | sha256sum
}

code=$(api POST /keys/StartKey/create '{"kty":"EC","crv":"P-256"}')
[ "$code" = 200 ] && ok || bad "create: $code $(cat "$KF_STATE/out")"
kf_stop
GOOD_URL=$KEYFERRY_POSTGRES_URL

# refused NAME WANT DATA_DIR [FLAGS...]: starts keyferryd, which must exit
# non-zero within 60 s with one line that is not a log record and holds
# WANT, without the database changing and without writing the deployment's
# files into DATA_DIR.
refused() {
  local name=$1 want=$2 dir=$3
  shift 3
  local before rc=0 start=$SECONDS
  before=$(dump)
  timeout 60 "$KEYFERRYD" serve --data-dir "$dir" --store postgres \
    --listen 127.0.0.1:0 --identity-listen 127.0.0.1:0 "$@" \
    >"$KF_STATE/refused.out" 2>"$KF_STATE/refused.err" || rc=$?
  local lines
  lines=$(grep -vc '^{"' "$KF_STATE/refused.err" || true)
  if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$lines" = 1 ] &&
     grep -v '^{"' "$KF_STATE/refused.err" | grep -qi -- "$want"; then
    ok
  else
    bad "$name: rc $rc, $lines non-log lines, want '$want': $(cat "$KF_STATE/refused.err")"
  fi
  grep -q "$KF_PG_PASSWORD\|WrongPw7" "$KF_STATE/refused.err" &&
    bad "$name: a password is in the output" || ok
  [ "$(dump)" = "$before" ] && ok || bad "$name: the database changed"
  local f
  for f in tenant-id identity-header keys.db; do
    [ ! -e "$dir/$f" ] && ok || bad "$name: $dir/$f was written"
  done
  echo "$name: refused in $((SECONDS - start)) s: $(grep -v '^{"' "$KF_STATE/refused.err")"
}

# A wrong password.
KEYFERRY_POSTGRES_URL="host=$KF_PG_DIR user=kf password=WrongPw7 dbname=keyferry" \
  refused "wrong password" "password" "$KF_STATE/n1"

# An unreachable host: nothing listens on a TCP port picked a moment ago.
KEYFERRY_POSTGRES_URL="host=127.0.0.1 port=$(kf_free_port) user=kf password=WrongPw7 dbname=keyferry connect_timeout=5" \
  refused "unreachable host" "connect" "$KF_STATE/n2"

# A database written by a newer keyferryd.
kf_psql keyferry 'UPDATE schema_version SET version = 999
  WHERE version = (SELECT max(version) FROM schema_version)'
refused "newer schema" "newer than this keyferryd" "$KF_STATE/n3"
kf_psql keyferry 'UPDATE schema_version SET version =
  (SELECT count(*) FROM schema_version) WHERE version = 999'

# A node with a different master key (the file's magic kept, one bit of
# the key flipped): the custody check refuses it before anything is
# written.
mkdir -m 700 "$KF_STATE/n4"
/usr/bin/python3 - "$KF_DATA_DIR/master.key" "$KF_STATE/n4/master.key" <<'EOF'
import os, sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-1] ^= 1
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, bytes(d))
os.close(fd)
EOF
refused "different master key" "master key does not match" "$KF_STATE/n4"
# The same with a node that has no master key at all.
refused "no master key" "master key" "$KF_STATE/n5"

# The deployment starts as before and still serves its key.
export KEYFERRY_POSTGRES_URL=$GOOD_URL
kf_launch
code=$(api GET /keys/StartKey)
[ "$code" = 200 ] && ok || bad "get after the refused starts: $code"

kf_stop
echo "postgres_start_test: $passes passed, $fails failed"
[ "$fails" = 0 ]
