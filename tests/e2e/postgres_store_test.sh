#!/usr/bin/env bash
# keyferryd on PostgreSQL end to end (store = postgres, docs/storage.md §6):
# a private PostgreSQL 15 cluster in the test's state directory (initdb,
# unix socket only, no TCP port; as nobody when run as root), keyferryd
# started on it with the password only in $KEYFERRY_POSTGRES_URL, then
# create / get / list / delete / list-deleted of a key over HTTPS with curl.
# The key must be in PostgreSQL (read with psql), no keys.db may appear, it
# must survive a restart of keyferryd, and the password must be neither in
# keyferryd's log nor on its command line. --postgres-url with a password
# is refused with one line that does not repeat it.
# Needs KEYFERRYD, KF_SOURCE_DIR.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
# The private cluster: harness.sh's kf_pg_start (KF_STORE=postgres).
export KF_STORE=postgres
kf_start
PG_DIR=$KF_PG_DIR
PG_PASSWORD=$KF_PG_PASSWORD
export KF_TOKEN
KF_TOKEN=$(kf_token officer 3600)

api() {  # api METHOD PATH [BODY]: prints the status code, body in $KF_STATE/out
  local args=(-s --cacert "$KF_CA" -o "$KF_STATE/out" -w '%{http_code}' -X "$1"
    -H "Authorization: Bearer $KF_TOKEN" -H 'Content-Type: application/json')
  [ $# -ge 3 ] && args+=(--data "$3")
  curl "${args[@]}" "$KF_VAULT_URL$2?api-version=7.4" || true
}
field() {  # field PYTHON-EXPR over the JSON body j
  /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" "$KF_STATE/out"
}
sql() {
  PGPASSWORD=$PG_PASSWORD psql -h "$PG_DIR" -U kf -d keyferry -qAt -c "$1"
}

code=$(api POST /keys/PgKey/create '{"kty":"EC","crv":"P-256"}')
[ "$code" = 200 ] && ok || bad "create: $code $(cat "$KF_STATE/out")"
version=$(field 'j["key"]["kid"].rsplit("/",1)[1]')
[ "$(sql "SELECT name || ' ' || version FROM key_names JOIN key_versions USING (vault, name_lc)")" = "PgKey $version" ] &&
  ok || bad "the key is not in PostgreSQL: $(sql 'SELECT * FROM key_names')"
[ ! -e "$KF_DATA_DIR/keys.db" ] && ok || bad "keys.db was made beside store = postgres"

code=$(api GET /keys/pgkey)
[ "$code" = 200 ] && [ "$(field 'j["key"]["crv"]')" = P-256 ] && ok ||
  bad "get (case-insensitive): $code $(cat "$KF_STATE/out")"
code=$(api GET /keys)
[ "$code" = 200 ] && [ "$(field 'len(j["value"])')" = 1 ] && ok ||
  bad "list: $code $(cat "$KF_STATE/out")"

# A restart of keyferryd finds the key in the database.
kf_stop
kf_launch
code=$(api GET "/keys/PgKey/$version")
[ "$code" = 200 ] && ok || bad "get after restart: $code $(cat "$KF_STATE/out")"

code=$(api DELETE /keys/PgKey)
[ "$code" = 200 ] && ok || bad "delete: $code $(cat "$KF_STATE/out")"
code=$(api GET /keys/PgKey)
[ "$code" = 404 ] && ok || bad "get after delete: $code"
code=$(api GET /deletedkeys)
[ "$code" = 200 ] && [ "$(field 'j["value"][0]["kid"].split("/")[4]')" = PgKey ] &&
  ok || bad "list deleted: $code $(cat "$KF_STATE/out")"
[ "$(sql 'SELECT deleted FROM key_names')" = t ] && ok ||
  bad "not marked deleted in PostgreSQL"

# The password: not in the log, not on keyferryd's command line.
grep -q "$PG_PASSWORD" "$KF_STATE/keyferryd.log" &&
  bad "the PostgreSQL password is in keyferryd's log" || ok
tr '\0' ' ' <"/proc/$KF_PID/cmdline" | grep -q "$PG_PASSWORD" &&
  bad "the password is on keyferryd's command line" || ok

# A password on the command line is refused, with one line not quoting it.
rc=0
err=$("$KEYFERRYD" serve --data-dir "$KF_STATE/other" --store postgres \
  --postgres-url "host=$PG_DIR password=CmdLinePw1 dbname=keyferry" 2>&1) || rc=$?
[ "$rc" != 0 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
  [[ "$err" == *"command line"* ]] && [[ "$err" != *CmdLinePw1* ]] && ok ||
  bad "--postgres-url with a password: rc $rc: $err"

kf_stop
echo "postgres_store_test: $passes passed, $fails failed"
[ "$fails" = 0 ]
