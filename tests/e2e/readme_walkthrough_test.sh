#!/usr/bin/env bash
# README.md runs as written (issue 16): the ```sh blocks of the sections
# "The BYOK walkthrough" and "Use it in your tests" are taken out of
# README.md and run verbatim with `bash -euo pipefail`, as a new user in a
# fresh shell would type them. Only the README's literal ports are replaced:
# 8443 by this test's keyferryd vault port and 8081 by its identity port
# (both picked by keyferryd, --listen 127.0.0.1:0), so parallel tests never
# meet.
#
# The walkthrough runs in a temporary directory laid out as the checkout the
# README assumes, with `./scripts/start.sh` serving in another shell:
#   build -> the real build tree, tests -> the real source tree's tests/,
#   .state/keyferry/server = this test's keyferryd data directory,
#   HOME (so ~/.local, ~/.azure, keyferry's own SoftHSMv2 token) inside it.
# Asserted: every command of each block succeeds; the walkthrough's last
# command prints "Verified OK" and its signature does not verify over another
# message; `cmake --install` put the built programs on the PATH the README
# exports; the tests section prints the created key's id and the key list,
# and leaves no directory and no keyferryd behind.
#
# Needs KEYFERRYD, KEYFERRY, KF_SOURCE_DIR and KF_BUILD_DIR (ctest sets them).
set -euo pipefail
: "${KEYFERRYD:?set KEYFERRYD}" "${KEYFERRY:?set KEYFERRY}"
: "${KF_SOURCE_DIR:?set KF_SOURCE_DIR}" "${KF_BUILD_DIR:?set KF_BUILD_DIR}"
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"   # kf_hosts
source "$KF_SOURCE_DIR/tests/e2e/ready.sh"
kf_hosts

T="$(mktemp -d /tmp/kf_readme.XXXXXX)"
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" || true; fi
  [ -n "${KF_KEEP_STATE:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "readme_walkthrough_test: FAIL: $*" >&2; exit 1; }
checks=0; pass() { checks=$((checks + 1)); }

# The checkout the README speaks from.
W="$T/checkout"
mkdir -p "$W/.state/keyferry" "$T/home" "$T/tmp"
ln -s "$KF_BUILD_DIR" "$W/build"
ln -s "$KF_SOURCE_DIR/tests" "$W/tests"
DATA="$W/.state/keyferry/server"

# keyferryd as start.sh runs it (embedded defaults, vault myvault), on ports
# it picks.
"$KEYFERRYD" serve --data-dir "$DATA" --listen 127.0.0.1:0 --identity-listen 127.0.0.1:0 \
  2>"$T/keyferryd.log" &
PID=$!
kf_wait_ready "$T/keyferryd.log" "$PID" || fail "keyferryd did not start"
PORT="$(kf_ready_port "$T/keyferryd.log")"
ID_PORT="$(sed -n 's|^  identity endpoint: https://127.0.0.1:\([0-9]*\)/msi/token .*|\1|p' "$T/keyferryd.log")"
[ -n "$PORT" ] && [ -n "$ID_PORT" ] || { cat "$T/keyferryd.log" >&2; fail "no ports in keyferryd's ready lines"; }

# section HEADING: the ```sh blocks of README.md's "## HEADING" section, in
# order (a section ends at the next "## " heading).
section() {
  /usr/bin/python3 - "$KF_SOURCE_DIR/README.md" "$1" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
want = "## " + sys.argv[2]
if want not in lines:
    sys.exit(f"README.md has no heading '{want}'")
out, in_block = [], False
for line in lines[lines.index(want) + 1:]:
    if not in_block and line.startswith("## "):
        break
    if not in_block and line.strip() == "```sh":
        in_block = True
    elif in_block and line.strip() == "```":
        in_block = False
        out.append("")
    elif in_block:
        out.append(line)
if not out:
    sys.exit(f"README.md's section '{want}' has no sh block")
print("\n".join(out))
PY
}

# run_block NAME FILE SEARCH_PATH: FILE's text with the README's ports
# replaced, run in W with only the environment of a new shell of a user
# whose HOME is in T (and PATH SEARCH_PATH); Python writes no bytecode into
# the source tree (tests/e2e/azcompat). Its stdout goes to T/NAME.out, its
# trace to T/NAME.err.
run_block() {
  local name=$1 file=$2
  sed -e "s/\b8443\b/$PORT/g" -e "s/\b8081\b/$ID_PORT/g" "$file" >"$T/$name.run.sh"
  if (cd "$W" && env -i HOME="$T/home" PATH="$3" TMPDIR="$T/tmp" LANG=C.UTF-8 \
        USER="${USER:-root}" LOGNAME="${LOGNAME:-root}" TERM=dumb \
        KEYFERRY_HOME="$T/home/.local/share/keyferry" AZURE_CORE_COLLECT_TELEMETRY=false \
        PYTHONDONTWRITEBYTECODE=1 \
        bash -x -euo pipefail "$T/$name.run.sh" >"$T/$name.out" 2>"$T/$name.err"); then
    pass
  else
    sed 's/^/    | /' "$T/$name.out" >&2
    tail -n 40 "$T/$name.err" | sed 's/^/    ! /' >&2
    fail "README's '$name' block failed (above: its output, then the end of its trace)"
  fi
}

# ---------------------------------------------------------------------------
# The BYOK walkthrough.
section "The BYOK walkthrough" >"$T/walkthrough.sh"
grep -q '8443' "$T/walkthrough.sh" && grep -q '8081' "$T/walkthrough.sh" \
  || fail "the walkthrough no longer names ports 8443 and 8081: the port substitution needs a look"; pass
if grep -n '…' "$T/walkthrough.sh" >&2; then fail "the walkthrough holds a '…' placeholder"; fi; pass
[ ! -e "$T/home/.local/bin/keyferry" ] || fail "keyferry installed before the walkthrough"; pass
run_block walkthrough "$T/walkthrough.sh" "$PATH"

[ "$(tail -n 1 "$T/walkthrough.out")" = "Verified OK" ] \
  || { sed 's/^/    | /' "$T/walkthrough.out" >&2; fail "the walkthrough's last line is not 'Verified OK'"; }; pass
# The verification is real: the same signature does not verify another message.
printf 'not the message\n' >"$T/other.txt"
if openssl dgst -sha384 -verify "$W/mytarget.publickey.pem" -signature "$W/message.sig" "$T/other.txt" \
     >/dev/null 2>&1; then
  fail "the walkthrough's signature verifies over another message"
fi; pass
openssl pkey -pubin -in "$W/mytarget.publickey.pem" -noout -text | grep -q 'ASN1 OID: secp384r1' \
  || fail "mytarget.publickey.pem is not a P-384 key"; pass
# The README's install step put these very programs where its PATH looks.
cmp -s "$T/home/.local/bin/keyferry" "$KEYFERRY" || fail "~/.local/bin/keyferry is not the built keyferry"; pass
cmp -s "$T/home/.local/bin/keyferryd" "$KEYFERRYD" || fail "~/.local/bin/keyferryd is not the built keyferryd"; pass
grep -q "^+ keyferry token init$" "$T/walkthrough.err" || fail "the walkthrough did not run keyferry token init"; pass

# ---------------------------------------------------------------------------
# Use it in your tests (keyferryd on PATH from the walkthrough's step 0).
section "Use it in your tests" >"$T/tests_section.sh"
run_block tests_section "$T/tests_section.sh" "$T/home/.local/bin:$PATH"
kid="$(grep -m1 '^https://' "$T/tests_section.out" || true)"
[[ "$kid" =~ ^https://myvault\.localhost:([0-9]+)/keys/fixture/[0-9a-f]{32}$ ]] \
  || { sed 's/^/    | /' "$T/tests_section.out" >&2; fail "no key id from the Python SDK"; }; pass
port2="${BASH_REMATCH[1]}"
[ "$port2" != "$PORT" ] || fail "the tests section's keyferryd has the walkthrough's port"; pass
grep -qF "\"kid\":\"https://myvault.localhost:$port2/keys/fixture\"" "$T/tests_section.out" \
  || { sed 's/^/    | /' "$T/tests_section.out" >&2; fail "the key list (curl) lacks fixture"; }; pass
[ -z "$(ls -A "$T/tmp")" ] || fail "the tests section left $(ls -A "$T/tmp") behind"; pass
if pgrep -f -- "--data-dir $T/tmp/" >&2; then fail "the tests section's keyferryd still runs"; fi; pass

echo "readme_walkthrough_test: $checks checks passed (vault port $PORT, identity port $ID_PORT)"
