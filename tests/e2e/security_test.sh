#!/usr/bin/env bash
# Security issue 12, end to end: one negative test per guarantee, each
# checking the answer AND that nothing changed (the store's rows, the audit
# log's records, the files of the data directory).
#  1. deep JSON: a 100,000-level body to every route that takes JSON is a
#     400 BadParameter, audited; keyferryd keeps running, the key is as it
#     was (also PATCH of a key that does not exist, and /sys/unseal on a
#     sealed deployment, which keeps its unseal attempt);
#  2. master.key missing or another deployment's: start refused, one line,
#     no new master.key; the right one back: keys sign;
#  3. keys.db lost while the audit log has records: start refused, one line,
#     no keys.db left behind; put back: starts;
#  4. rows altered with sqlite3 (key_ops, public_jwk, enabled): those keys
#     answer 500 and the log names them; the others work; rows unchanged;
#  5. a sealed data directory holds no usable secret, the token key is a
#     sealed store record; an old plain token-signing-key.pem is taken over
#     (same key id) and removed;
#  6. the audit log on a full filesystem: 503 to every keys-API request (a
#     create makes no key), /healthz answers 503 saying the audit log cannot
#     be written; space back: served again, the chain verifies, every 200 has
#     its record, so has the request that found the disk full, and the
#     "audit-log-unavailable" records count every other 503;
#  7. `keyferryd token --lifetime` above 86400 is refused; keyferryd refuses
#     such a token minted anyway;
#  8. KEK rule: "import" only on RSA-HSM; RSA imports of 1024 and 5120 bits.
# Software custody only. Needs KEYFERRYD, KEYFERRY, KF_SOURCE_DIR, sqlite3,
# openssl and Python's cryptography; check 6 needs root (it mounts a tmpfs)
# and is skipped, saying so, without it.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
: "${KEYFERRY:?KEYFERRY must name the keyferry binary}"
PY=/usr/bin/python3
T0=$(date +%s.%N)

note() { echo "NOTE: $*" >&2; }
expect() {  # expect NAME COMMAND...: the command must succeed
  local name=$1; shift
  if "$@" >"$KF_STATE/out" 2>&1; then ok; else bad "$name: $(cat "$KF_STATE/out")"; fi
}
refuse() {  # refuse NAME PATTERN COMMAND...: must fail with one line matching
  local name=$1 pattern=$2; shift 2
  local rc=0
  "$@" >"$KF_STATE/out" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    bad "$name: succeeded: $(cat "$KF_STATE/out")"
  elif [ "$(wc -l <"$KF_STATE/out")" -ne 1 ] ||
       ! grep -qiE "$pattern" "$KF_STATE/out"; then
    bad "$name: expected one line matching '$pattern', got (exit $rc): $(cat "$KF_STATE/out")"
  else
    ok
  fi
  REFUSE_RC=$rc
}
same() {  # same NAME FILE1 FILE2: the two snapshots must be identical
  if cmp -s "$2" "$3"; then ok; else bad "$1: $(diff "$2" "$3" | head -c 2000)"; fi
}
# pycheck ARGS... <<'EOF' (Python): each line "ok ..." passes, each line
# "FAIL ..." fails; a Python error is one failure.
pycheck() {
  local rc=0 line
  PYTHONPATH="$KF_STATE" "$PY" - "$@" >"$KF_STATE/py.out" 2>&1 || rc=$?
  while IFS= read -r line; do
    case $line in
      ok*) ok ;;
      FAIL*) bad "${line#FAIL }" ;;
      NOTE*) echo "$line" >&2 ;;
    esac
  done <"$KF_STATE/py.out"
  if [ "$rc" -ne 0 ]; then bad "python check exited $rc: $(tail -5 "$KF_STATE/py.out")"; fi
}

# Time-boxed polling: poll SECONDS COMMAND... until the command succeeds.
poll() {
  local deadline=$(($(date +%s%N) + $1 * 1000000000)); shift
  until "$@"; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

kf_start
OTHER_PID=
GEN_PID=
AFS=$KF_STATE/auditfs
security_cleanup() {
  [ -n "$GEN_PID" ] && kill "$GEN_PID" 2>/dev/null
  [ -n "$OTHER_PID" ] && kill -KILL "$OTHER_PID" 2>/dev/null
  kf_stop
  mountpoint -q "$AFS" 2>/dev/null && umount "$AFS"
  kf_cleanup
}
trap security_cleanup EXIT

# An RSA key of a size keyferryd refuses (check 8), made while the rest runs.
openssl genrsa -out "$KF_STATE/rsa5120.pem" 5120 2>/dev/null &
GEN_PID=$!

# The Python side: one HTTPS connection to the vault, the checks' output.
cat >"$KF_STATE/kfpy.py" <<'EOF'
import base64, hashlib, http.client, json, os, ssl, sys, urllib.parse

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def ok(name):
    print("ok", name)

def fail(name, why=""):
    print(f"FAIL {name}: {why}"[:3000])

def check(name, cond, why=""):
    ok(name) if cond else fail(name, why)

def note(text):
    print("NOTE", text)

class Vault:
    def __init__(self, url=None, token=None):
        self.u = urllib.parse.urlparse(url or os.environ["KF_VAULT_URL"])
        self.ctx = ssl.create_default_context(cafile=os.environ["KF_CA"])
        self.token = os.environ["TOKEN"] if token is None else token
        self.c = None

    def req(self, method, path, body=None, api="7.4", headers=None):
        """(status, parsed body, x-ms-request-id); status 0 when the
        connection failed."""
        if self.c is None:
            self.c = http.client.HTTPSConnection(
                self.u.hostname, self.u.port, context=self.ctx, timeout=30)
        sep = "&" if "?" in path else "?"
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        h = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        try:
            self.c.request(method, f"{path}{sep}api-version={api}"
                           if api else path, body=body, headers=h)
            r = self.c.getresponse()
            text = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.c.close()
            self.c = None
            return 0, f"connection failed: {e!r}", ""
        if (r.getheader("connection") or "").lower() == "close":
            self.c.close()
            self.c = None
        try:
            js = json.loads(text) if text else {}
        except ValueError:
            js = text.decode(errors="replace")
        return r.status, js, r.getheader("x-ms-request-id") or ""

def code(js):
    return js.get("error", {}).get("code") if isinstance(js, dict) else None

def audit(path):
    recs = []
    for line in open(path):
        try:
            recs.append(json.loads(line))
        except ValueError:
            pass
    return recs

def digest(text="keyferry security test"):
    return b64u(hashlib.sha256(text.encode()).digest())

def jwt_header(token):
    return json.loads(unb64u(token.split(".")[0]))

def spki_kid(pub):
    from cryptography.hazmat.primitives import serialization
    der = pub.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]
EOF

export TOKEN
TOKEN=$(kf_token officer 3600)

# The store's rows, the way sqlite3 sees them (key material as hex).
db_rows() {
  sqlite3 "$KF_DATA_DIR/keys.db" \
    "SELECT k, v FROM meta ORDER BY k;
     SELECT * FROM key_names ORDER BY vault, name_lc;
     SELECT seq, vault, name_lc, version, kty, bits, curve, key_ops,
            public_jwk, hex(sealed), enabled, nbf, exp, created, updated,
            exportable, tags, managed, hex(attest)
       FROM key_versions ORDER BY seq;"
}
# The data directory's files, and the content of those that are not the
# store or the audit log.
dir_files() {
  (cd "$KF_DATA_DIR" && find . -type f | LC_ALL=C sort |
     while read -r f; do
       case $f in
         ./keys.db*|./audit.log*) echo "$f" ;;
         *) sha256sum "$f" ;;
       esac
     done)
}
# try_serve ARGS...: a start expected to fail (one line on stderr; only
# errors are logged, so the start-up's info and warning lines stay out). On
# ports it chooses: should it start after all, it takes no one's port (and
# is stopped after 60 s: a bound for a loaded machine, not a wait).
try_serve() {
  timeout 60 "$KEYFERRYD" serve --data-dir "$KF_DATA_DIR" \
    --listen 127.0.0.1:0 --identity-listen 127.0.0.1:0 \
    --vaults myvault,othervault --log-level error "$@"
}

# --- the keys the checks use ----------------------------------------------
pycheck <<'EOF'
from kfpy import *
v = Vault()
for name in ("dj-key", "u1", "t-ops", "t-jwk", "t-src", "t-dis"):
    st, js, _ = v.req("POST", f"/keys/{name}/create", {"kty": "EC", "crv": "P-256"})
    check(f"create {name}", st == 200, (st, js))
st, js, _ = v.req("PATCH", "/keys/t-dis", {"attributes": {"enabled": False}})
check("disable t-dis", st == 200 and js["attributes"]["enabled"] is False, (st, js))
EOF
DJ_VERSION=$(sqlite3 "$KF_DATA_DIR/keys.db" \
  "SELECT version FROM key_versions WHERE name_lc = 'dj-key'")
export DJ_VERSION

# --- 1. deep JSON ------------------------------------------------------------
db_rows >"$KF_STATE/rows.before"
dir_files >"$KF_STATE/files.before"
pycheck "$KF_DATA_DIR/audit.log" <<'EOF'
from kfpy import *
log = sys.argv[1]
V = os.environ["DJ_VERSION"]
N = 100_000
D = "[" * N + "]" * N  # 200,000 bytes, nested 100,000 levels
def tags(pre=""):
    return "{" + pre + '"tags":{"t":' + D + "}}"
from cryptography.hazmat.primitives.asymmetric import ec
pn = ec.generate_private_key(ec.SECP256R1()).private_numbers()
jwk = json.dumps({"kty": "EC", "crv": "P-256",
                  "x": b64u(pn.public_numbers.x.to_bytes(32, "big")),
                  "y": b64u(pn.public_numbers.y.to_bytes(32, "big")),
                  "d": b64u(pn.private_value.to_bytes(32, "big"))})
dg = digest()
K = "/keys/dj-key"
# (operation as audited, method, path, body, key named in the record)
cases = [
    ("create", "POST", f"{K}/create", tags('"kty":"EC","crv":"P-256",'), "dj-key"),
    ("create", "POST", f"{K}/create", '{"kty":"EC","key_ops":' + D + "}", "dj-key"),
    ("create", "POST", "/keys/dj-new/create", tags('"kty":"EC",'), "dj-new"),
    ("import", "PUT", K, '{"key":' + jwk + ',"tags":{"t":' + D + "}}", "dj-key"),
    ("import", "PUT", K, '{"key":{"kty":"EC","crv":"P-256","x":' + D + "}}", "dj-key"),
    ("import", "PUT", "/keys/dj-new", '{"key":' + jwk + ',"tags":{"t":' + D + "}}", "dj-new"),
    ("update", "PATCH", K, tags(), "dj-key"),
    ("update", "PATCH", K, '{"attributes":{"enabled":false,"x":' + D + "}}", "dj-key"),
    ("update", "PATCH", f"{K}/{V}", tags('"attributes":{"enabled":false},'), "dj-key"),
    ("update", "PATCH", f"{K}/{V}", '{"key_ops":' + D + "}", "dj-key"),
    ("update", "PATCH", "/keys/nokey/", tags(), "nokey"),  # the reported crash
    ("update", "PATCH", "/keys/nokey", '{"attributes":' + "{\"a\":" * N + "1" + "}" * N + "}", "nokey"),
    ("setrotationpolicy", "PUT", f"{K}/rotationpolicy", tags('"attributes":{"expiryTime":"P90D"},'), "dj-key"),
    ("setrotationpolicy", "PUT", f"{K}/rotationpolicy", '{"lifetimeActions":' + D + "}", "dj-key"),
    ("sign", "POST", f"{K}/{V}/sign", tags(f'"alg":"ES256","value":"{dg}",'), "dj-key"),
    ("sign", "POST", f"{K}/{V}/sign", '{"alg":"ES256","value":' + D + "}", "dj-key"),
    ("sign", "POST", f"{K}//sign", '{"alg":' + D + "}", "dj-key"),
    ("verify", "POST", f"{K}/{V}/verify", tags(f'"alg":"ES256","digest":"{dg}","value":"{dg}",'), "dj-key"),
    ("verify", "POST", f"{K}/{V}/verify", '{"alg":"ES256","digest":"' + dg + '","value":' + D + "}", "dj-key"),
]
for op in ("encrypt", "decrypt", "wrapkey", "unwrapkey"):
    cases += [
        (op, "POST", f"{K}/{V}/{op}", tags(f'"alg":"RSA-OAEP","value":"{dg}",'), "dj-key"),
        (op, "POST", f"{K}/{V}/{op}", '{"alg":"RSA-OAEP","value":' + D + "}", "dj-key"),
    ]
cases += [
    ("restore", "POST", "/keys/restore", tags('"value":"AAAA",'), ""),
    ("restore", "POST", "/keys/restore", '{"value":' + D + "}", ""),
    ("rng", "POST", "/rng", tags('"count":8,'), ""),
    ("rng", "POST", "/rng", '{"count":' + D + "}", ""),
]
v = Vault()
st, before, _ = v.req("GET", K)
check("dj-key readable", st == 200, (st, before))
rids = []
for i, (op, method, path, body, key) in enumerate(cases):
    name = f"deep {method} {path} #{i}"
    api = "7.6" if key == "nokey" else "7.4"
    st, js, rid = v.req(method, path, body, api=api)
    msg = js.get("error", {}).get("message", "") if isinstance(js, dict) else ""
    check(name, st == 400 and code(js) == "BadParameter" and "nested more than 16" in msg,
          (st, str(js)[:300]))
    rids.append((name, op, key, rid))
    # keyferryd is still there, and the key is as it was
    st, after, _ = v.req("GET", K)
    check(f"{name}: then GET", st == 200 and after == before, (st, str(after)[:300]))
for name in ("dj-new", "nokey"):
    st, js, _ = v.req("GET", f"/keys/{name}")
    check(f"deep: no key {name}", st == 404, (st, js))
st, js, _ = v.req("GET", f"{K}/versions")
check("deep: dj-key has one version", st == 200 and len(js.get("value", [])) == 1, (st, js))
st, js, _ = v.req("GET", f"{K}/rotationpolicy")
check("deep: no rotation policy set", st in (200, 404) and "P90D" not in json.dumps(js), (st, js))
recs = {r["request_id"]: r for r in audit(log)}
for name, op, key, rid in rids:
    r = recs.get(rid)
    check(f"{name}: audited", r is not None and r["operation"] == op and
          r["key"] == key and r["status"] == 400 and r["error"] == "BadParameter"
          and r["principal"] == "officer", (rid, r))
EOF
kill -0 "$KF_PID" 2>/dev/null && ok || bad "keyferryd died under deep JSON"
db_rows >"$KF_STATE/rows.after"
dir_files >"$KF_STATE/files.after"
same "deep JSON changed the store" "$KF_STATE/rows.before" "$KF_STATE/rows.after"
same "deep JSON changed the data directory" "$KF_STATE/files.before" "$KF_STATE/files.after"

# --- 7. token lifetime ---------------------------------------------------------
refuse "token --lifetime 90000" "above token-max-lifetime \(86400" kf_token officer 90000
[ "$REFUSE_RC" = 2 ] && ok || bad "token --lifetime 90000 exited $REFUSE_RC, not 2"
refuse "token --lifetime 86401" "above token-max-lifetime \(86400" kf_token officer 86401
expect "token --lifetime 86400" kf_token officer 86400
T86400=$(cat "$KF_STATE/out")
# The same 90000 s token minted by a tool told to allow it: keyferryd (at its
# default maximum, 86400) refuses it.
expect "token --lifetime 90000 --token-max-lifetime 100000" \
  kf_token officer 90000 --token-max-lifetime 100000
T90000=$(cat "$KF_STATE/out")
pycheck "$T86400" "$T90000" <<'EOF'
from kfpy import *
st, js, _ = Vault(token=sys.argv[1]).req("GET", "/keys/dj-key")
check("86400 s token accepted", st == 200, (st, js))
st, js, _ = Vault(token=sys.argv[2]).req("GET", "/keys/dj-key")
check("90000 s token refused", st == 401 and "lifetime" in json.dumps(js).lower(), (st, js))
EOF

# --- 8. the KEK rule and RSA sizes --------------------------------------------
openssl genrsa -out "$KF_STATE/rsa1024.pem" 1024 2>/dev/null
openssl genrsa -out "$KF_STATE/rsa2048.pem" 2048 2>/dev/null
wait "$GEN_PID"
GEN_PID=
db_rows >"$KF_STATE/rows.before"
pycheck "$KF_STATE" <<'EOF'
from kfpy import *
from cryptography.hazmat.primitives import serialization
state = sys.argv[1]
v = Vault()
def n2b(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))
def rsa_jwk(path):
    k = serialization.load_pem_private_key(open(path, "rb").read(), None)
    p = k.private_numbers()
    return {"kty": "RSA", "n": n2b(p.public_numbers.n), "e": n2b(p.public_numbers.e),
            "d": n2b(p.d), "p": n2b(p.p), "q": n2b(p.q), "dp": n2b(p.dmp1),
            "dq": n2b(p.dmq1), "qi": n2b(p.iqmp)}
for kty in ("RSA", "EC-HSM", "EC"):
    body = {"kty": kty, "key_ops": ["import"]}
    if kty == "RSA":
        body["key_size"] = 2048
    st, js, _ = v.req("POST", f"/keys/kek-{kty.lower()}/create", body)
    check(f"create {kty} with key_ops [import] refused", st == 400 and
          code(js) == "BadParameter" and "RSA-HSM" in json.dumps(js), (st, js))
    st, js, _ = v.req("GET", f"/keys/kek-{kty.lower()}")
    check(f"no key kek-{kty.lower()}", st == 404, (st, js))
st, js, _ = v.req("POST", "/keys/kek-ok/create",
                  {"kty": "RSA-HSM", "key_size": 2048, "key_ops": ["import"]})
check("create RSA-HSM KEK", st == 200 and js["key"]["key_ops"] == ["import"], (st, js))
for bits in (1024, 5120):
    st, js, _ = v.req("PUT", f"/keys/rsa{bits}", {"key": rsa_jwk(f"{state}/rsa{bits}.pem")})
    check(f"import RSA {bits} refused", st == 400 and code(js) == "BadParameter" and
          "2048, 3072 or 4096" in json.dumps(js), (st, js))
    st, js, _ = v.req("GET", f"/keys/rsa{bits}")
    check(f"no key rsa{bits}", st == 404, (st, js))
st, js, _ = v.req("PUT", "/keys/rsa2048", {"key": rsa_jwk(f"{state}/rsa2048.pem")})
check("import RSA 2048", st == 200, (st, js))
EOF
db_rows >"$KF_STATE/rows.after"
# Only the two accepted keys are new.
grep -v -e '|kek-ok|' -e '|rsa2048|' -e '^kek-ok|' -e '^rsa2048|' \
  "$KF_STATE/rows.after" >"$KF_STATE/rows.after.f"
same "refused KEK/RSA requests changed the store" "$KF_STATE/rows.before" "$KF_STATE/rows.after.f"

# --- 2. master key missing or foreign ------------------------------------------
kf_stop
db_rows >"$KF_STATE/rows.before"
dir_files >"$KF_STATE/files.before"
sha256sum <"$KF_DATA_DIR/audit.log" >"$KF_STATE/audit.before"
mv "$KF_DATA_DIR/master.key" "$KF_STATE/master.key.mine"
refuse "start without master.key" "master key file .*/master\.key is missing" try_serve
[ ! -e "$KF_DATA_DIR/master.key" ] && ok || bad "a start without master.key made a new one"
# Another deployment's master key.
OTHER=$KF_STATE/other
"$KEYFERRYD" serve --data-dir "$OTHER" --listen 127.0.0.1:0 \
  --identity-listen 127.0.0.1:0 --vaults myvault \
  2>"$KF_STATE/other.log" &
OTHER_PID=$!
other_ready() { grep -qs '^keyferryd ready' "$KF_STATE/other.log" || ! kill -0 "$OTHER_PID"; }
poll 60 other_ready || bad "second deployment not ready in 60 s: $(cat "$KF_STATE/other.log")"
kill -TERM "$OTHER_PID" 2>/dev/null || true
wait "$OTHER_PID" 2>/dev/null || true
OTHER_PID=
if [ -f "$OTHER/master.key" ]; then
  ok
  cp -p "$OTHER/master.key" "$KF_DATA_DIR/master.key"
  refuse "start with another deployment's master.key" \
    "^keyferryd: the master key does not match the store" try_serve
  cmp -s "$OTHER/master.key" "$KF_DATA_DIR/master.key" && ok ||
    bad "the foreign master.key was changed"
  rm -f "$KF_DATA_DIR/master.key"
else
  bad "second deployment made no master.key: $(cat "$KF_STATE/other.log")"
fi
mv "$KF_STATE/master.key.mine" "$KF_DATA_DIR/master.key"
db_rows >"$KF_STATE/rows.after"
dir_files >"$KF_STATE/files.after"
same "refused starts changed the store" "$KF_STATE/rows.before" "$KF_STATE/rows.after"
same "refused starts changed the data directory" "$KF_STATE/files.before" "$KF_STATE/files.after"
sha256sum <"$KF_DATA_DIR/audit.log" | cmp -s - "$KF_STATE/audit.before" && ok ||
  bad "refused starts changed the audit log"
kf_launch
sign_and_verify() {  # sign_and_verify LABEL KEY...: each signs, the signature verifies
  pycheck "$@" <<'EOF'
from kfpy import *
v = Vault()
for key in sys.argv[2:]:
    st, js, _ = v.req("POST", f"/keys/{key}//sign", {"alg": "ES256", "value": digest()})
    if st != 200:
        fail(f"{sys.argv[1]}: {key} signs", (st, js))
        continue
    st, js, _ = v.req("POST", f"/keys/{key}//verify",
                      {"alg": "ES256", "digest": digest(), "value": js["value"]})
    check(f"{sys.argv[1]}: {key} signs", st == 200 and js.get("value") is True, (st, js))
EOF
}
sign_and_verify "right master.key back" dj-key u1 t-src

# --- 3. the store lost ---------------------------------------------------------
kf_stop
records=$(wc -l <"$KF_DATA_DIR/audit.log")
mkdir "$KF_STATE/lost"
mv "$KF_DATA_DIR"/keys.db* "$KF_STATE/lost/"
dir_files >"$KF_STATE/files.before"
refuse "start without keys.db" \
  "keys\.db is missing or empty, but the audit log .* holds $records records: this deployment's store is lost" \
  try_serve
ls "$KF_DATA_DIR"/keys.db* >/dev/null 2>&1 && bad "a refused start left $(ls "$KF_DATA_DIR"/keys.db*)" || ok
dir_files >"$KF_STATE/files.after"
same "a start without keys.db changed the data directory" "$KF_STATE/files.before" "$KF_STATE/files.after"
[ "$(wc -l <"$KF_DATA_DIR/audit.log")" = "$records" ] && ok || bad "a start without keys.db wrote audit records"
mv "$KF_STATE/lost"/keys.db* "$KF_DATA_DIR/"
kf_launch
sign_and_verify "keys.db back" dj-key u1

# --- 4. rows altered on disk ---------------------------------------------------
kf_stop
sqlite3 "$KF_DATA_DIR/keys.db" "
  UPDATE key_versions SET key_ops = key_ops || ',decrypt' WHERE name_lc = 't-ops';
  UPDATE key_versions SET public_jwk =
    (SELECT public_jwk FROM key_versions WHERE name_lc = 't-src')
    WHERE name_lc = 't-jwk';
  UPDATE key_versions SET enabled = 1 WHERE name_lc = 't-dis';"
db_rows >"$KF_STATE/rows.before"
log_lines=$(wc -l <"$KF_STATE/keyferryd.log")
kf_launch
pycheck "$KF_STATE/keyferryd.log" "$log_lines" <<'EOF'
from kfpy import *
v = Vault()
for key in ("t-ops", "t-jwk", "t-dis"):
    for what, method, path, body in (
            ("GET", "GET", f"/keys/{key}", None),
            ("sign", "POST", f"/keys/{key}//sign", {"alg": "ES256", "value": digest()}),
            ("list versions", "GET", f"/keys/{key}/versions", None)):
        st, js, _ = v.req(method, path, body)
        check(f"altered {key}: {what} refused", st == 500 and
              code(js) == "InternalServerError" and "integrity" in json.dumps(js), (st, js))
    lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
    logged = [json.loads(l) for l in lines if '"stored_record_altered"' in l]
    check(f"altered {key}: logged", any(r.get("key") == key for r in logged),
          [r.get("key") for r in logged])
for key in ("t-src", "u1", "dj-key"):
    st, js, _ = v.req("GET", f"/keys/{key}")
    check(f"untouched {key}: GET", st == 200, (st, js))
    st, js, _ = v.req("GET", f"/keys/{key}/versions")
    check(f"untouched {key}: list versions", st == 200, (st, js))
# The vault's listing must not show an altered record as it now reads.
st, js, _ = v.req("GET", "/keys?maxresults=25")
if st == 200:
    names = {i["kid"].split("/")[4]: i for i in js["value"]}
    check("listing: t-dis not shown enabled",
          names.get("t-dis", {}).get("attributes", {}).get("enabled") is not True, js)
else:
    check("listing refused as a whole", st == 500 and code(js) == "InternalServerError", (st, js))
    note(f"GET /keys answers {st} while any key's row is altered: the untouched keys cannot be listed either")
EOF
sign_and_verify "untouched beside altered rows" t-src u1
db_rows >"$KF_STATE/rows.after"
same "refusing altered rows changed the store" "$KF_STATE/rows.before" "$KF_STATE/rows.after"

# --- 6. audit log on a full filesystem ------------------------------------------
# audit_log_full: check 6, with a 256 KB tmpfs mounted on $AFS.
audit_log_full() {
  kf_launch --audit-log "$AFS/audit.log"
  # Fill the filesystem, leaving a few KB for the log.
  avail=$(df -k --output=avail "$AFS" | tail -1)
  dd if=/dev/zero of="$AFS/filler" bs=1k count=$((avail - 8)) 2>/dev/null
  pycheck "$AFS" "$KF_PORT" <<'EOF'
from kfpy import *
import re, time
afs, port = sys.argv[1], sys.argv[2]
v = Vault()
acked = []         # request ids answered 200
answered_503 = []  # request ids answered 503
def req(method, path, body=None):
    st, js, rid = v.req(method, path, body)
    if st == 200:
        acked.append(rid)
    elif st == 503:
        answered_503.append(rid)
    return st, js, rid
sign = {"alg": "ES256", "value": digest()}
first_503 = None
for i in range(200):
    st, js, rid = req("POST", "/keys/u1//sign", sign)
    if st != 200:
        first_503 = rid
        break
check("signs until the log's disk is full", st == 503 and code(js) == "ServiceUnavailable",
      (i, st, js))
for what, method, path, body in (
        ("sign", "POST", "/keys/u1//sign", sign),
        ("get", "GET", "/keys/u1", None),
        ("list", "GET", "/keys", None),
        ("create", "POST", "/keys/full-new/create", {"kty": "EC"}),
        ("update", "PATCH", "/keys/u1", {"tags": {"a": "b"}}),
        ("rng", "POST", "/rng", {"count": 8})):
    st, js, _ = req(method, path, body)
    check(f"full: {what} answers 503", st == 503 and code(js) == "ServiceUnavailable", (st, js))
# The console's answers keep its headers when refused here too
# (docs/console.md §3): its files and its JSON API.
for path in ("/console/", "/console/api/whoami"):
    c = http.client.HTTPSConnection(v.u.hostname, v.u.port, context=v.ctx, timeout=30)
    c.request("GET", path, headers={"Authorization": f"Bearer {v.token}"})
    r = c.getresponse()
    r.read()
    c.close()
    answered_503.append(r.getheader("x-ms-request-id") or f"console {path}")
    check(f"full: GET {path} answers 503 with the console's headers",
          r.status == 503 and
          (r.getheader("content-security-policy") or "").startswith("default-src 'self'") and
          r.getheader("x-frame-options") == "DENY" and r.getheader("cache-control") == "no-store",
          (r.status, r.getheaders()))
# /healthz is not refused like the rest: it answers with its own report,
# which says that the node is unavailable, and why. (Nothing is written to
# the log meanwhile: it cannot recover before the filler goes.)
st, js, _ = Vault(url=f"https://localhost:{port}", token="").req("GET", "/healthz", api=None)
check("full: /healthz answers 503, unavailable: the audit log cannot be written",
      st == 503 and isinstance(js, dict) and js.get("status") == "unavailable" and
      js.get("audit_log") == "cannot be written" and
      js.get("error", {}).get("code") == "ServiceUnavailable", (st, js))
os.remove(f"{afs}/filler")
deadline = time.monotonic() + 60  # the log retries every 1 s
while True:
    st, js, _ = req("GET", "/keys/u1")
    if st != 503 or time.monotonic() > deadline:
        break
    time.sleep(0.05)
check("space back: served again", st == 200, (st, js))
for i in range(3):
    st, js, _ = req("POST", "/keys/u1//sign", sign)
    check(f"space back: sign {i}", st == 200, (st, js))
st, js, _ = Vault(url=f"https://localhost:{port}", token="").req("GET", "/healthz", api=None)
check("space back: /healthz ok", st == 200 and js.get("status") == "ok" and
      js.get("audit_log") == "ok", (st, js))
st, js, _ = req("GET", "/keys/full-new")
check("the create refused while full made no key", st == 404, (st, js))
recs = audit(f"{afs}/audit.log")
by_rid = {r["request_id"]: r for r in recs}
missing = [rid for rid in acked if by_rid.get(rid, {}).get("status") != 200]
check(f"each of {len(acked)} answers 200 has its record", not missing, missing)
# A 503 is one of two things. A request that ran, but whose record could
# not be written: the record is kept and written once the log recovers,
# with the operation's own status and the request id the 503 carried. Or a
# request refused before it ran (the log already failing): it has no record
# and is counted in an "audit-log-unavailable" record (one per recovery).
kept = [rid for rid in answered_503 if rid in by_rid]
refused = len(answered_503) - len(kept)
r = by_rid.get(first_503)
check("the sign that found the disk full ran: its record was kept",
      r is not None and r["operation"] == "sign" and r["status"] == 200, (first_503, r))
check(f"requests refused before they ran: {refused}, at least the 6 above",
      refused >= 6, (len(answered_503), kept))
una = [r for r in recs if r["operation"] == "audit-log-unavailable"]
counts = [re.fullmatch(r"(\d+) requests refused, (\d+) records lost", r["key"]) for r in una]
check("audit-log-unavailable records", una and all(counts) and
      all(r["status"] == 503 and r["principal"] == "keyferryd" for r in una), una)
if una and all(counts):
    check(f"they count the {refused} requests refused",
          sum(int(m[1]) for m in counts) == refused, ([r["key"] for r in una], refused))
    check("they count no record lost", sum(int(m[2]) for m in counts) == 0,
          [r["key"] for r in una])
EOF
  expect "audit verify" "$KEYFERRY" audit verify --log "$AFS/audit.log"
  grep -q "chain intact" "$KF_STATE/out" && ok || bad "audit verify: $(cat "$KF_STATE/out")"
  kf_stop
  umount "$AFS"
}
kf_stop
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: check 6 needs root (mount)"
elif ! { mkdir -p "$AFS" &&
         mount -t tmpfs -o size=256k,mode=0700 tmpfs "$AFS" 2>"$KF_STATE/out"; }; then
  bad "check 6: root cannot mount a tmpfs: $(cat "$KF_STATE/out")"
else
  audit_log_full
fi

# --- 5. no usable secret in a sealed data directory ------------------------------
new_instance() {  # new_instance NAME: a new data directory and ports
  KF_DATA_DIR=$KF_STATE/$1
  # kf_launch has keyferryd choose both ports (Ports in harness.sh).
  KF_PORT=
  KF_ID_PORT=
  mkdir -p "$KF_DATA_DIR"
}
launched() {  # what kf_start exports, for the instance just launched
  export KF_DATA_DIR KF_PORT KF_ID_PORT
  export KF_CA=$KF_DATA_DIR/tls/ca.pem
  export KF_VAULT_URL="https://myvault.localhost:$KF_PORT"
  export KF_RESOURCE="https://localhost:$KF_PORT"
  IDENTITY_HEADER=$(cat "$KF_DATA_DIR/identity-header")
  export IDENTITY_HEADER
}
no_secret_files() {  # no_secret_files LABEL: no PEM private key but the TLS keys
  local found
  found=$(cd "$KF_DATA_DIR" && grep -rlaF 'PRIVATE KEY' . |
    grep -vE '^\./tls/[a-z]+-key\.pem$' || true)
  [ -z "$found" ] && ok || bad "$1: a private key in $found"
  [ ! -e "$KF_DATA_DIR/master.key" ] && ok || bad "$1: master.key exists"
  [ ! -e "$KF_DATA_DIR/token-signing-key.pem" ] && ok || bad "$1: token-signing-key.pem exists"
}
new_instance sealed
"$KEYFERRYD" init --data-dir "$KF_DATA_DIR" --shares 3 --threshold 2 \
  --share-dir "$KF_STATE/shares" >"$KF_STATE/init.out"
no_secret_files "after init"
kf_launch
launched
no_secret_files "sealed, running"
SYS="https://localhost:$KF_PORT"
expect "unseal share 1" "$KEYFERRY" vault unseal --url "$SYS" --ca "$KF_CA" \
  --share "$KF_STATE/shares/share-1.json"
pycheck "$SYS" "$KF_DATA_DIR/audit.log" <<'EOF'
from kfpy import *
sysv = Vault(url=sys.argv[1], token="")
N = 100_000
D = "[" * N + "]" * N
st, before, _ = sysv.req("GET", "/sys/seal-status", api=None)
check("seal status", st == 200 and before.get("progress") == 1 and before.get("sealed"), before)
share = open(os.environ["KF_STATE"] + "/shares/share-2.json").read()
rids = []
for i, body in enumerate(('{"share":' + D + "}",
                          '{"share":' + share + ',"nonce":"' + before["nonce"] +
                          '","tags":{"t":' + D + "}}")):
    st, js, rid = sysv.req("POST", "/sys/unseal", body, api=None)
    check(f"deep unseal #{i}", st == 400 and code(js) == "BadParameter", (st, js))
    rids.append(rid)
    st, after, _ = sysv.req("GET", "/sys/seal-status", api=None)
    check(f"deep unseal #{i}: attempt unchanged", st == 200 and after == before, (before, after))
recs = [r for r in audit(sys.argv[2]) if r["operation"] == "unseal"]
bad400 = [r for r in recs if r["status"] == 400 and r["error"] == "BadParameter"]
check("deep unseals audited", len(bad400) == 2, recs)
if all(rids):
    check("deep unseals audited by request id",
          {r["request_id"] for r in bad400} == set(rids), (rids, bad400))
EOF
expect "unseal share 2" "$KEYFERRY" vault unseal --url "$SYS" --ca "$KF_CA" \
  --share "$KF_STATE/shares/share-2.json"
grep -q '^unsealed' "$KF_STATE/out" && ok || bad "not unsealed: $(cat "$KF_STATE/out")"
expect "token from shares" kf_token officer 3600 \
  --share "$KF_STATE/shares/share-1.json" --share "$KF_STATE/shares/share-3.json"
SEALED_TOKEN=$(cat "$KF_STATE/out")
no_secret_files "unsealed"
sqlite3 "$KF_DATA_DIR/keys.db" "SELECT v FROM meta WHERE k = 'token_signing_key'" \
  >"$KF_STATE/token_key.json"
pycheck "$KF_STATE/token_key.json" "$SEALED_TOKEN" <<'EOF'
from kfpy import *
from cryptography.hazmat.primitives.asymmetric import ec
rec = json.load(open(sys.argv[1]))
check("token key record members", sorted(rec) == ["kid", "public_jwk", "sealed", "tag"], rec)
jwk = json.loads(rec["public_jwk"])
check("token key record: public only", "d" not in jwk and jwk.get("crv") == "P-256", jwk)
check("token key record: sealed by the custody", unb64u(rec["sealed"])[:4] == b"KFS1",
      rec["sealed"][:16])
pub = ec.EllipticCurvePublicNumbers(int.from_bytes(unb64u(jwk["x"]), "big"),
                                    int.from_bytes(unb64u(jwk["y"]), "big"),
                                    ec.SECP256R1()).public_key()
check("token key record: kid of its key", spki_kid(pub) == rec["kid"], rec["kid"])
check("minted token names the stored key", jwt_header(sys.argv[2]).get("kid") == rec["kid"],
      jwt_header(sys.argv[2]))
st, js, _ = Vault(token=sys.argv[2]).req("GET", "/keys")
check("sealed deployment's token accepted", st == 200, (st, js))
EOF
kf_stop
no_secret_files "sealed, stopped"

# --- 5b. an older layout's plain token-signing-key.pem --------------------------
new_instance legacy
(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
   -out "$KF_DATA_DIR/token-signing-key.pem" 2>/dev/null)
LEGACY_KID=$(openssl pkey -in "$KF_DATA_DIR/token-signing-key.pem" -pubout \
  -outform DER 2>/dev/null | sha256sum | cut -c1-16)
kf_launch
launched
[ ! -e "$KF_DATA_DIR/token-signing-key.pem" ] && ok ||
  bad "token-signing-key.pem still there after the start"
grep -q '"event":"token_key_migrated"' "$KF_STATE/keyferryd.log" && ok ||
  bad "no token_key_migrated line"
expect "token after migration" kf_token officer 3600
pycheck "$LEGACY_KID" "$(cat "$KF_STATE/out")" "$KF_ID_PORT" <<'EOF'
from kfpy import *
kid, tool_token, id_port = sys.argv[1], sys.argv[2], sys.argv[3]
check("keyferryd token: legacy kid", jwt_header(tool_token).get("kid") == kid,
      (kid, jwt_header(tool_token)))
idv = Vault(url=f"https://127.0.0.1:{id_port}", token="")
res = urllib.parse.quote(os.environ["KF_RESOURCE"], safe="")
st, js, _ = idv.req("GET", f"/msi/token?api-version=2019-08-01&resource={res}", api=None,
                    headers={"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]})
if st == 200:
    t = js["access_token"]
    check("identity endpoint token: legacy kid", jwt_header(t).get("kid") == kid,
          (kid, jwt_header(t)))
    st, js, _ = Vault(token=t).req("GET", "/keys")
    check("identity token accepted", st == 200, (st, js))
else:
    fail("identity endpoint token", (st, js))
EOF
kf_stop

elapsed=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "security_test: $passes passed, $fails failed (${elapsed} s)"
[ "$fails" -eq 0 ]
