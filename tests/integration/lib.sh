# Shared helpers for keyferry's shell integration tests. Source it; it sets -eu.
# Needs KEYFERRY (path to the binary) in the environment (ctest sets it).
set -euo pipefail

: "${KEYFERRY:?set KEYFERRY to the keyferry binary}"
PY=/usr/bin/python3   # Debian's python3 with Debian's python3-cryptography
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

T="$(mktemp -d /tmp/kf_it.XXXXXX)"
trap 'rm -rf "$T"' EXIT
export KEYFERRY_HOME="$T/home"
export KEYFERRY_PIN="user-$RANDOM$RANDOM"
export KEYFERRY_SO_PIN="so-$RANDOM$RANDOM"
checks=0

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { checks=$((checks + 1)); }

# kf ARGS...: run keyferry, fail the test if it fails.
kf() {
  if ! "$KEYFERRY" "$@" >"$T/out" 2>"$T/err"; then
    cat "$T/out" "$T/err" >&2
    fail "keyferry $* exited non-zero"
  fi
  pass
}

# kf_fails "expected stderr substring" ARGS...: keyferry must fail with one
# line on stderr containing the substring.
kf_fails() {
  local want="$1"; shift
  if "$KEYFERRY" "$@" >"$T/out" 2>"$T/err"; then
    fail "keyferry $* succeeded; expected failure containing '$want'"
  fi
  grep -qF -- "$want" "$T/err" || { cat "$T/err" >&2; fail "stderr of keyferry $* lacks '$want'"; }
  [ "$(wc -l <"$T/err")" -eq 1 ] || { cat "$T/err" >&2; fail "stderr of keyferry $* is not one line"; }
  pass
}

expect_contains() {  # FILE SUBSTRING
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 lacks '$2'"; }
  pass
}

expect_absent() {  # PATH
  [ ! -e "$1" ] || fail "$1 exists but should not"
  pass
}

# make_kek BITS NAME: a test KEK pair as vault stand-in: $T/NAME.key, $T/NAME.pem
make_kek() {
  openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$1" -out "$T/$2.key" 2>/dev/null
  openssl pkey -in "$T/$2.key" -pubout -out "$T/$2.pem"
}

# openssl_open BLOB KEK_KEY OUT: the OpenSSL CLI oracle of byok-formats.md §4.
openssl_open() {
  local blob="$1" key="$2" out="$3" n ct
  n=$(( $(openssl pkey -in "$key" -noout -text 2>/dev/null | sed -n 's/.*Private-Key: (\([0-9]*\) bit.*/\1/p') / 8 ))
  ct="$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["ciphertext"])' "$blob")"
  $PY -c 'import base64,sys; s=sys.argv[1]; sys.stdout.buffer.write(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))' "$ct" >"$T/ct.bin"
  head -c "$n" "$T/ct.bin" >"$T/c1.bin"
  tail -c +"$((n + 1))" "$T/ct.bin" >"$T/c2.bin"
  openssl pkeyutl -decrypt -inkey "$key" -in "$T/c1.bin" -out "$T/k.bin" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1
  [ "$(stat -c %s "$T/k.bin")" -eq 32 ] || fail "OAEP part does not hold a 32-byte key"
  openssl enc -d -id-aes256-wrap-pad -iv A65959A6 -K "$(xxd -p -c 64 "$T/k.bin")" \
    -in "$T/c2.bin" -out "$out"
  rm -f "$T/k.bin"
}

done_checks() { echo "$(basename "$0"): $checks checks passed"; }

P11="pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label keyferry --login"
# p11 ARGS...: OpenSC's pkcs11-tool on keyferry's default token (independent client).
p11() { SOFTHSM2_CONF="$KEYFERRY_HOME/softhsm/softhsm2.conf" $P11 --pin "$KEYFERRY_PIN" "$@" 2>/dev/null; }

# p11_object LABEL CLASS: the -O block of one object ("Private Key", "Secret Key", "Public Key").
# Every unindented line starts an object's block (SoftHSM lists objects in no
# fixed order); a block is printed when it ends if its header names CLASS and
# one of its lines is the label.
p11_object() {
  p11 -O | awk -v want="$2" -v label="$1" '
    /^[^ \t]/ { if (block != "" && hit) print block; block = $0; hit = 0; match_class = index($0, want) == 1; next }
    { block = block "\n" $0; if ($1 == "label:" && $2 == label && match_class) hit = 1 }
    END { if (hit) print block }'
}

init_token() {
  kf token init
  kf token info
}

# NSS softokn (libnss3's PKCS#11 module), the second token of the export
# tests. nss_token NAME makes a fresh NSS database $T/NAME (its user PIN is
# $KEYFERRY_PIN, written to $T/NAME.pw for NSS's own tools) and sets NSS to
# keyferry's token flags, NSS_DB to the database directory (for certutil
# -d "sql:$NSS_DB" -f "$NSS_PW") and NSS_INIT to the module's
# initialization string.
NSS_MODULE=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
nss_token() {
  NSS_DB="$T/$1"
  NSS_PW="$T/$1.pw"
  mkdir -p "$NSS_DB"
  (umask 077 && printf '%s\n' "$KEYFERRY_PIN" >"$NSS_PW")
  certutil -N -d "sql:$NSS_DB" -f "$NSS_PW" || fail "certutil -N -d sql:$NSS_DB"
  NSS_INIT="configdir='sql:$NSS_DB' certPrefix='' keyPrefix='' secmod='secmod.db'"
  NSS=(--module "$NSS_MODULE" --module-init "$NSS_INIT" --token "NSS Certificate DB")
  pass
}

# nss_public_pem ID OUT: the public half of the NSS token's key pair with
# CKA_ID ID (hex), read by NSS's certutil (not keyferry): a certificate
# request signed by the token's private key, checked by OpenSSL, whose
# SubjectPublicKeyInfo is written to OUT (PEM).
nss_public_pem() {
  head -c 64 /dev/urandom >"$T/noise"
  certutil -R -d "sql:$NSS_DB" -f "$NSS_PW" -k "$1" -s "CN=keyferry test" \
    -z "$T/noise" -o "$T/req.der" >/dev/null 2>&1 || fail "certutil -R -k $1"
  openssl req -inform DER -in "$T/req.der" -verify -noout 2>/dev/null \
    || fail "certutil's request for key $1 does not verify"
  openssl req -inform DER -in "$T/req.der" -pubkey -noout >"$2"
  rm -f "$T/req.der" "$T/noise"
  pass
}

# der_fills FILE: FILE is one DER TLV exactly (OpenSSL's asn1parse reads its
# header; header + content length must equal the file's size).
der_fills() {
  local hl l
  read -r hl l < <(openssl asn1parse -inform DER -in "$1" 2>/dev/null | head -n1 |
    sed -n 's/.* hl=\([0-9]*\) l= *\([0-9]*\) .*/\1 \2/p')
  [ -n "$hl" ] || fail "$1 is not DER"
  [ $((hl + l)) -eq "$(stat -c %s "$1")" ] ||
    fail "DER length $((hl + l)) != plaintext length $(stat -c %s "$1") in $1"
  pass
}
