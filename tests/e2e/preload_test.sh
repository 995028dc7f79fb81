#!/usr/bin/env bash
# Preloading (issue 16, docs/preload.md): keyferryd --preload FILE imports
# an RSA JWK and an EC JWK made with OpenSSL, an oct key and a .byok made
# with Python `cryptography` for a KEK that an earlier start created (and
# whose public PEM it wrote). Oracles: the REST API (curl), the OpenSSL CLI
# verifying a signature the vault made against the JWK's own public key, the
# audit log. A restart with the same file gives the same kids and no new
# version or audit record; a bad file (not JSON, mode 0644, an unknown kty)
# makes keyferryd exit non-zero with one line naming the fault. Each
# keyferryd listens on 127.0.0.1:0. Needs KEYFERRYD and KF_SOURCE_DIR.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/ready.sh"
: "${KEYFERRYD:?set KEYFERRYD}"
PY=/usr/bin/python3
T="$(mktemp -d /tmp/kf_preload.XXXXXX)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
checks=0; pass() { checks=$((checks + 1)); }

D="$T/data"
FLAGS=(--data-dir "$D" --identity-listen 127.0.0.1:0)
PORT=""; TOK=""

# start FILE LOG: keyferryd with `--preload FILE`, ready; sets PORT and TOK.
start() {
  "$KEYFERRYD" --listen 127.0.0.1:0 "${FLAGS[@]}" --preload "$1" 2>"$2" &
  PID=$!
  kf_wait_ready "$2" "$PID" || fail "keyferryd with --preload $1"
  PORT="$(kf_ready_port "$2")"
  [ -n "$PORT" ] || { cat "$2" >&2; fail "no ready line in $2"; }
  TOK="$("$KEYFERRYD" token --principal keyferry-admin "${FLAGS[@]}" --listen "127.0.0.1:$PORT")" \
    || fail "keyferryd token"
}
stop() { kill "$PID"; wait "$PID" || true; PID=""; }
# api METHOD PATH [BODY]: the response body on stdout; non-200 fails.
api() {
  local code
  code="$(curl -s -o "$T/resp" -w '%{http_code}' --cacert "$D/tls/ca.pem" \
    --resolve "myvault.localhost:$PORT:127.0.0.1" -X "$1" -H "Authorization: Bearer $TOK" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} \
    "https://myvault.localhost:$PORT$2?api-version=7.4")"
  [ "$code" = 200 ] || { cat "$T/resp" >&2; fail "$1 $2 answered $code"; }
  cat "$T/resp"
}
jq_py() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# The fixture keys: RSA and EC by OpenSSL, oct from OpenSSL's random bytes.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.pem" 2>/dev/null
openssl pkey -in "$T/rsa.pem" -pubout -out "$T/rsa_pub.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
openssl pkey -in "$T/ec.pem" -pubout -out "$T/ec_pub.pem"
openssl rand 32 >"$T/aes.bin"
# preload1.json: a KEK to create (its PEM written beside the file), rsa, ec, aes.
$PY - "$T" <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives import serialization
t = sys.argv[1]
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def num(i, n=None): return b64u(i.to_bytes(n or (i.bit_length() + 7) // 8, "big"))
def load(p): return serialization.load_pem_private_key(open(p, "rb").read(), None)
r = load(f"{t}/rsa.pem").private_numbers()
rsa = {"kty": "RSA", "n": num(r.public_numbers.n), "e": num(r.public_numbers.e),
       "d": num(r.d), "p": num(r.p), "q": num(r.q), "dp": num(r.dmp1),
       "dq": num(r.dmq1), "qi": num(r.iqmp)}
e = load(f"{t}/ec.pem").private_numbers()
ec = {"kty": "EC", "crv": "P-256", "x": num(e.public_numbers.x, 32),
      "y": num(e.public_numbers.y, 32), "d": num(e.private_value, 32)}
oct_ = {"kty": "oct", "k": b64u(open(f"{t}/aes.bin", "rb").read())}
entries = [
    {"vault": "myvault", "name": "kek",
     "create_kek": {"key_size": 2048, "public_pem": "kek.pem"}},
    {"vault": "myvault", "name": "rsa",
     "import": {"key": rsa, "tags": {"fixture": "rsa"}}},
    {"vault": "myvault", "name": "ec",
     "import": {"key": dict(ec, key_ops=["sign", "verify"])}},
    {"vault": "myvault", "name": "aes",
     "import": {"key": oct_, "attributes": {"enabled": True}}},
]
json.dump(entries, open(f"{t}/preload1.json", "w"), indent=1)
json.dump({"rsa_n": rsa["n"], "ec_x": ec["x"]}, open(f"{t}/expect.json", "w"))
PY
chmod 600 "$T/preload1.json"

# Start 1: the KEK is created and its public key written.
start "$T/preload1.json" "$T/log1"
[ -s "$T/kek.pem" ] || fail "kek.pem was not written"; pass
kek_kid="$(api GET /keys/kek | jq_py 'd["key"]["kid"]')"
api GET /keys/kek | jq_py 'd["key"]["key_ops"]' | grep -qx "\['import'\]" || fail "kek key_ops"; pass
openssl pkey -pubin -in "$T/kek.pem" -noout 2>/dev/null || fail "kek.pem is not a public key"; pass
n_rest="$(api GET /keys/kek | jq_py 'd["key"]["n"]')"
n_pem="$($PY -c "
import base64,sys
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_public_key(open('$T/kek.pem','rb').read())
n = k.public_numbers().n
print(base64.urlsafe_b64encode(n.to_bytes((n.bit_length()+7)//8,'big')).rstrip(b'=').decode())")"
[ "$n_rest" = "$n_pem" ] || fail "kek.pem is not the KEK's public key"; pass
stop

# The .byok for the KEK: an RSA-2048 target wrapped by Python cryptography
# (RSA-OAEP-SHA1 of an AES-256 key || AES-KWP of the PKCS#8, docs/byok-format.md).
$PY - "$T" "$kek_kid" <<'PY'
import base64, json, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
t, kid = sys.argv[1], sys.argv[2]
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
kek = serialization.load_pem_public_key(open(f"{t}/kek.pem", "rb").read())
target = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pkcs8 = target.private_bytes(serialization.Encoding.DER,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
k = os.urandom(32)
c1 = kek.encrypt(k, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                 algorithm=hashes.SHA1(), label=None))
blob = {"schema_version": "1.0.0",
        "header": {"kid": kid, "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"},
        "ciphertext": b64u(c1 + aes_key_wrap_with_padding(k, pkcs8)),
        "generator": "preload_test.sh (python cryptography)"}
open(f"{t}/target.byok", "w").write(json.dumps(blob))
open(f"{t}/target_pub.pem", "wb").write(target.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
entries = json.load(open(f"{t}/preload1.json"))
entries.append({"vault": "myvault", "name": "byok", "byok_file": "target.byok",
                "import": {"key": {"kty": "RSA-HSM"}}})
json.dump(entries, open(f"{t}/preload2.json", "w"))
PY
chmod 600 "$T/preload2.json"

# kids KEYS...: "name version count" lines: the version of each key's kid
# (the port in the kid changes from start to start) and its number of
# versions.
kids() {
  for k in "$@"; do
    echo "$k $(api GET "/keys/$k" | jq_py 'd["key"]["kid"].rsplit("/", 1)[1]') $(api GET "/keys/$k/versions" | jq_py 'len(d["value"])')"
  done
}
KEYS=(kek rsa ec aes byok)

# Start 2: the .byok is imported under the KEK made by start 1.
start "$T/preload2.json" "$T/log2"
kids "${KEYS[@]}" >"$T/kids2"
[ "$(awk '{print $3}' "$T/kids2" | sort -u)" = 1 ] || { cat "$T/kids2"; fail "a key has more than one version"; }; pass
grep -q "^kek ${kek_kid##*/} 1$" "$T/kids2" || fail "the KEK changed"; pass
[ "$(api GET /keys/byok | jq_py 'd["key"]["kty"]')" = RSA-HSM ] || fail "byok kty"; pass
[ "$(api GET /keys/aes | jq_py 'd["key"]["kty"]')" = oct ] || fail "aes kty"; pass
[ "$(api GET /keys/rsa | jq_py 'd["key"]["n"]')" = "$(jq_py 'd["rsa_n"]' <"$T/expect.json")" ] || fail "rsa n"; pass
[ "$(api GET /keys/ec | jq_py 'd["key"]["x"]')" = "$(jq_py 'd["ec_x"]' <"$T/expect.json")" ] || fail "ec x"; pass
[ "$(api GET /keys/rsa | jq_py 'd["tags"]["fixture"]')" = rsa ] || fail "rsa tags"; pass

# Sign with the preloaded RSA key and the BYOK key; OpenSSL verifies each
# against the public key the test holds (not the vault's).
printf 'preloaded fixture' >"$T/msg"
digest="$(openssl dgst -sha256 -binary "$T/msg" | $PY -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())')"
for pair in rsa:rsa_pub.pem byok:target_pub.pem; do
  name="${pair%%:*}"; pub="${pair#*:}"
  ver="$(awk -v k="$name" '$1 == k {print $2}' "$T/kids2")"
  api POST "/keys/$name/$ver/sign" "{\"alg\":\"RS256\",\"value\":\"$digest\"}" \
    | jq_py 'd["value"]' | $PY -c 'import base64,sys; s=sys.stdin.read().strip(); sys.stdout.buffer.write(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))' >"$T/$name.sig"
  openssl dgst -sha256 -verify "$T/$pub" -signature "$T/$name.sig" "$T/msg" >/dev/null \
    || fail "OpenSSL did not verify $name's signature"; pass
done
# The EC key: ES256 gives r||s; DER-encoded, OpenSSL verifies it against ec_pub.pem.
ver="$(awk '$1 == "ec" {print $2}' "$T/kids2")"
api POST "/keys/ec/$ver/sign" "{\"alg\":\"ES256\",\"value\":\"$digest\"}" | jq_py 'd["value"]' \
  | $PY -c '
import base64, sys
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
s = sys.stdin.read().strip(); rs = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
sys.stdout.buffer.write(encode_dss_signature(int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big")))' >"$T/ec.sig"
openssl dgst -sha256 -verify "$T/ec_pub.pem" -signature "$T/ec.sig" "$T/msg" >/dev/null \
  || fail "OpenSSL did not verify ec's signature"; pass
grep -c '"principal":"preload"' "$D/audit.log" >"$T/audit2" || true
[ "$(cat "$T/audit2")" = 5 ] || fail "audit records of preload: $(cat "$T/audit2") (want 5)"; pass
grep -q '"operation":"import (preload)".*"key":"byok"' "$D/audit.log" || fail "no audit record of the byok import"; pass
grep -q 'BEGIN\|"d":' "$T/log1" "$T/log2" && fail "key material in the log"; pass
stop

# Start 3, same file: the same kids, still one version each, no new record.
start "$T/preload2.json" "$T/log3"
kids "${KEYS[@]}" >"$T/kids3"
diff "$T/kids2" "$T/kids3" >&2 || fail "a restart with the same file changed the keys"; pass
[ "$(grep -c '"principal":"preload"' "$D/audit.log")" = 5 ] || fail "a restart added audit records"; pass
grep -q '"outcome":"present"' "$T/log3" || fail "log3 does not say present"; pass
stop

# Refusals: non-zero exit, the last line names the fault; nothing imported.
refused() {  # FILE PATTERN
  if timeout 120 "$KEYFERRYD" --listen 127.0.0.1:0 "${FLAGS[@]}" --preload "$1" 2>"$T/err"; then
    fail "keyferryd started with $1"
  fi
  tail -n 1 "$T/err" | grep -q -- "$2" || { cat "$T/err" >&2; fail "refusal of $1: want '$2'"; }
  pass
}
printf '[{"vault":"myvault",' >"$T/bad.json"; chmod 600 "$T/bad.json"
refused "$T/bad.json" "^keyferryd: preload $T/bad.json: the text is not valid JSON$"
cp "$T/preload2.json" "$T/open.json"; chmod 644 "$T/open.json"
refused "$T/open.json" "^keyferryd: preload $T/open.json: .*644"
$PY - "$T" <<'PY'
import json, sys
t = sys.argv[1]
e = json.load(open(f"{t}/preload2.json"))
aes = next(x for x in e if x["name"] == "aes")
e.insert(1, {"vault": "myvault", "name": "new", "import": aes["import"]})
e.insert(2, {"vault": "myvault", "name": "dsa",
             "import": {"key": dict(aes["import"]["key"], kty="DSA")}})
json.dump(e, open(f"{t}/kty.json", "w"))
PY
chmod 600 "$T/kty.json"
refused "$T/kty.json" "^keyferryd: preload $T/kty.json: entry 3 (myvault/dsa): .*kty"
if timeout 120 "$KEYFERRYD" --listen 127.0.0.1:0 --identity-listen 127.0.0.1:0 \
    --data-dir "$T/fresh" --preload "$T/kty.json" 2>/dev/null; then fail "started with kty.json"; fi
[ ! -e "$T/fresh" ] || fail "a refused preload file let keyferryd write $T/fresh"; pass
start "$T/preload2.json" "$T/log4"
code="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/tls/ca.pem" \
  --resolve "myvault.localhost:$PORT:127.0.0.1" -H "Authorization: Bearer $TOK" \
  "https://myvault.localhost:$PORT/keys/new?api-version=7.4")"
[ "$code" = 404 ] || fail "a refused file imported entry 2 ($code)"; pass
stop

# A custody sealed with key shares cannot import at start: preload is
# refused (one line, non-zero exit), not deferred to the first unseal.
S="$T/sealed"; mkdir -p "$S"; printf 'correct horse battery\n' >"$T/pass"
"$KEYFERRYD" init --data-dir "$S" --shares 3 --threshold 2 --share-dir "$T/shares" \
  --passphrase-file "$T/pass" >"$T/init.out" || fail "keyferryd init"
if timeout 120 "$KEYFERRYD" --listen 127.0.0.1:0 --identity-listen 127.0.0.1:0 \
    --data-dir "$S" --preload "$T/preload2.json" 2>"$T/err"; then fail "a sealed custody took --preload"; fi
tail -n 1 "$T/err" | grep -q "preload needs a custody that is unsealed at start" \
  || { cat "$T/err" >&2; fail "sealed preload refusal"; }; pass
echo "preload_test: $checks checks passed"
