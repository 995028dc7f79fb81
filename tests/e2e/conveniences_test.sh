#!/usr/bin/env bash
# Conveniences for test harnesses (issue 16): keyferryd on --listen
# 127.0.0.1:0 picks a free port and prints it in the ready line with the
# vault URLs; --tls-names adds names (DNS and IP) to the generated
# certificate and the ready line lists them; `keyferryd ca` prints the CA,
# `--ca-bundle FILE` writes the system CAs plus it. Oracles: the OpenSSL CLI
# (certificate names, chain) and Python's ssl module (a TLS handshake that
# verifies the name against the bundle). Needs KEYFERRYD and
# KF_SOURCE_DIR.
set -euo pipefail
: "${KEYFERRYD:?set KEYFERRYD}"
source "$KF_SOURCE_DIR/tests/e2e/ready.sh"
T="$(mktemp -d /tmp/kf_conv.XXXXXX)"
PID=""
cleanup() { [ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
checks=0; pass() { checks=$((checks + 1)); }

D="$T/data"
FLAGS=(--data-dir "$D" --vaults alpha,beta --tls-names "kv.test.internal, 10.1.2.3"
       --vault-alias "Keys.Fixture.Test=alpha, other.localhost=beta")
# Two instances started at once, both on port 0 (as parallel test jobs do).
"$KEYFERRYD" --listen 127.0.0.1:0 --identity-listen 127.0.0.1:0 "${FLAGS[@]}" 2>"$T/log" &
PID1=$!
"$KEYFERRYD" --listen 127.0.0.1:0 --identity-listen 127.0.0.1:0 --data-dir "$T/data2" 2>"$T/log2" &
PID2=$!
PID="$PID1 $PID2"
kf_wait_ready "$T/log" "$PID1" || fail "first instance"
kf_wait_ready "$T/log2" "$PID2" || fail "second instance"
ready="$(grep "^keyferryd ready:" "$T/log")"
port2="$(kf_ready_port "$T/log2")"
port="$(kf_ready_port "$T/log" alpha)"
[ -n "$port" ] && [ "$port" -gt 0 ] || fail "ready line names no port: $ready"; pass
grep -qF "https://beta.localhost:$port" <<<"$ready" || fail "ready line lacks beta's URL: $ready"; pass
[ -n "$port2" ] && [ "$port2" != "$port" ] || fail "second instance's port: '$port2' (first: $port)"; pass
for pair in "$port:$D" "$port2:$T/data2"; do
  p="${pair%%:*}"; ca="${pair#*:}/tls/ca.pem"
  code="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" "https://localhost:$p/healthz")"
  [ "$code" = 200 ] || fail "instance on $p answers /healthz with $code"; pass
done
grep -q "\"event\":\"ready\".*\"port\":\"$port\"" "$T/log" || fail "the JSON ready event lacks the port"; pass
names="$(sed -n 's/^  certificate names: //p' "$T/log")"
[ "$names" = "localhost 127.0.0.1 ::1 alpha.localhost beta.localhost kv.test.internal 10.1.2.3 keys.fixture.test other.localhost" ] \
  || fail "certificate names line: '$names'"; pass
san="$(openssl x509 -in "$D/tls/server.pem" -noout -ext subjectAltName)"
for n in "DNS:kv.test.internal" "IP Address:10.1.2.3" "DNS:alpha.localhost" "DNS:keys.fixture.test"; do
  grep -qF "$n" <<<"$san" || fail "certificate lacks $n: $san"; pass
done

# Tokens name the port keyferryd bound: one from the identity endpoint and
# one minted by `keyferryd token` (given that port) both open the vault.
id_url="$(sed -n 's|^  identity endpoint: \(https://[^ ]*\) .*|\1|p' "$T/log")"
resource="https://localhost:$port"
tok="$(curl -s --cacert "$D/tls/ca.pem" -H "X-IDENTITY-HEADER: $(cat "$D/identity-header")" \
  "$id_url?resource=$resource&api-version=2019-08-01" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')" \
  || fail "no token from the identity endpoint $id_url"
tok2="$("$KEYFERRYD" token --principal keyferry-admin "${FLAGS[@]}" --listen "127.0.0.1:$port")" || fail "keyferryd token"
for t in "$tok" "$tok2"; do
  code="$(curl -s -o "$T/keys.json" -w '%{http_code}' --cacert "$D/tls/ca.pem" \
    --resolve "alpha.localhost:$port:127.0.0.1" -H "Authorization: Bearer $t" \
    "https://alpha.localhost:$port/keys?api-version=7.4")"
  [ "$code" = 200 ] || { cat "$T/keys.json" >&2; fail "a token for $resource got $code"; }; pass
done

# Vault aliases: the ready output names them; a key made through an alias
# host is the vault's (seen through its own host), its kid names the alias
# host as called, and the challenge of an alias outside the domain names
# the alias's parent (the SDKs demand a strict parent of the host).
aliases="$(sed -n 's/^  vault aliases: //p' "$T/log")"
[ "$aliases" = "https://keys.fixture.test:$port=alpha https://other.localhost:$port=beta" ] \
  || fail "vault aliases line: '$aliases'"; pass
alias_call() {  # METHOD PATH TOKEN [BODY] -> body in $T/alias.json, prints the status
  curl -s -o "$T/alias.json" -w '%{http_code}' --cacert "$D/tls/ca.pem" -X "$1" \
    --resolve "keys.fixture.test:$port:127.0.0.1" -H "Authorization: Bearer $3" \
    -H 'Content-Type: application/json' ${4:+--data "$4"} "https://keys.fixture.test:$port$2"
}
[ "$(alias_call GET "/keys?api-version=7.4" "")" = 401 ] || fail "alias host without a token"; pass
grep -q 'resource="https://fixture.test:'"$port"'"' <(curl -s -D - -o /dev/null --cacert "$D/tls/ca.pem" \
  --resolve "keys.fixture.test:$port:127.0.0.1" "https://keys.fixture.test:$port/keys?api-version=7.4") \
  || fail "the alias's challenge does not name https://fixture.test:$port"; pass
alias_tok="$(curl -s --cacert "$D/tls/ca.pem" -H "X-IDENTITY-HEADER: $(cat "$D/identity-header")" \
  "$id_url?resource=https://fixture.test:$port&api-version=2019-08-01" \
  | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')" || fail "alias token"
code="$(alias_call POST "/keys/viaalias/create?api-version=7.4" "$alias_tok" '{"kty":"EC","crv":"P-256"}')"
[ "$code" = 200 ] || { cat "$T/alias.json" >&2; fail "create through the alias: $code"; }; pass
grep -q "\"kid\":\"https://keys.fixture.test:$port/keys/viaalias/" "$T/alias.json" \
  || fail "kid through the alias: $(cat "$T/alias.json")"; pass
code="$(curl -s -o "$T/k.json" -w '%{http_code}' --cacert "$D/tls/ca.pem" \
  --resolve "alpha.localhost:$port:127.0.0.1" -H "Authorization: Bearer $tok" \
  "https://alpha.localhost:$port/keys/viaalias?api-version=7.4")"
[ "$code" = 200 ] || fail "the alias's key is not alpha's: $code"; pass
code="$(curl -s -o "$T/k.json" -w '%{http_code}' --cacert "$D/tls/ca.pem" \
  --resolve "beta.localhost:$port:127.0.0.1" -H "Authorization: Bearer $tok" \
  "https://beta.localhost:$port/keys/viaalias?api-version=7.4")"
[ "$code" = 404 ] || fail "the alias's key leaked into beta: $code"; pass
[ "$(alias_call GET "/keys?api-version=7.4" "$tok")" = 401 ] \
  || fail "a token for https://localhost:$port opened the alias outside the domain"; pass
if "$KEYFERRYD" ca --data-dir "$T/d5" --vault-alias "kv.test.internal=nosuch" >"$T/out" 2>"$T/err"; then
  fail "an alias of no vault was accepted"; fi
grep -q "vault-alias" "$T/err" || { cat "$T/err"; fail "bad alias error"; }; pass

# keyferryd ca: the same CA as the running server's, byte for byte.
"$KEYFERRYD" ca "${FLAGS[@]}" >"$T/ca.pem" 2>"$T/err" || { cat "$T/err" >&2; fail "keyferryd ca"; }
cmp -s "$T/ca.pem" "$D/tls/ca.pem" || fail "keyferryd ca printed another certificate"; pass
"$KEYFERRYD" ca "${FLAGS[@]}" --ca-bundle "$T/bundle.pem" >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "--ca-bundle"; }
system=$(grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt)
[ "$(grep -c "BEGIN CERTIFICATE" "$T/bundle.pem")" -eq $((system + 1)) ] || fail "bundle is not system + 1 certificates"; pass
grep -qF "$system system CA certificates" "$T/out" || fail "--ca-bundle output: $(cat "$T/out")"; pass
[ "$(stat -c %a "$T/bundle.pem")" = 644 ] || fail "bundle mode"; pass
openssl verify -CAfile "$T/bundle.pem" -untrusted "$D/tls/server.pem" "$D/tls/server.pem" >/dev/null \
  || fail "openssl verify against the bundle"; pass

# A TLS client trusting only the bundle reaches the server by an extra name
# (SNI kv.test.internal over 127.0.0.1) and by vault name; a name the
# certificate lacks fails verification.
handshake() {  # HOSTNAME -> prints OK or the error
  /usr/bin/python3 - "$T/bundle.pem" "$port" "$1" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=30) as s:
        with ctx.wrap_socket(s, server_hostname=sys.argv[3]):
            print("OK")
except ssl.SSLCertVerificationError as e:
    print("VERIFY-FAILED", e.verify_message)
PY
}
[ "$(handshake kv.test.internal)" = OK ] || fail "handshake as kv.test.internal"; pass
[ "$(handshake alpha.localhost)" = OK ] || fail "handshake as alpha.localhost"; pass
grep -q "^VERIFY-FAILED" <<<"$(handshake other.test.internal)" || fail "a name not in the certificate verified"; pass

# Refusals: one line, non-zero exit, nothing written.
if "$KEYFERRYD" ca --data-dir "$T/d2" --tls-names "bad name!" >"$T/out" 2>"$T/err"; then fail "a bad tls-name was accepted"; fi
[ "$(wc -l <"$T/err" | tr -d ' ')" -ge 1 ] && grep -q "not a DNS name or IP address: bad name!" "$T/err" || { cat "$T/err"; fail "bad tls-name error"; }; pass
if "$KEYFERRYD" ca --data-dir "$T/d3" --tls-cert "$D/tls/server.pem" --tls-key "$D/tls/server-key.pem" >"$T/out" 2>"$T/err"; then
  fail "ca with an operator certificate succeeded"; fi
grep -q "operator's certificate" "$T/err" || { cat "$T/err"; fail "ca with tls-cert error"; }; pass
if "$KEYFERRYD" ca --data-dir "$T/d4" --tls-cert "$D/tls/server.pem" --tls-key "$D/tls/server-key.pem" --tls-names x.test >"$T/out" 2>"$T/err"; then
  fail "tls-names with tls-cert accepted"; fi
grep -q "tls-names" "$T/err" || { cat "$T/err"; fail "tls-names with tls-cert error"; }; pass
[ ! -e "$T/d4" ] || fail "a refused configuration wrote $T/d4"; pass
echo "conveniences_test: $checks checks passed"
