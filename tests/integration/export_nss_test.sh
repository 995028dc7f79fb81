#!/usr/bin/env bash
# keyferry export on a second PKCS#11 implementation, NSS softokn (libnss3):
# every target type made in the token and exported from it (no --from-file),
# each blob opened by independent oracles (OpenSSL CLI, Python cryptography)
# with a strict length check, and the recovered key compared with what the
# token holds, read by clients other than keyferry (NSS's certutil for key
# pairs, a ctypes PKCS#11 client for AES keys). Also the URI form, token info,
# the token's limits and the initialization string's absence.
source "$(dirname "$0")/lib.sh"

nss_token nssdb
KID="https://myvault.localhost:8443/keys/KEKforBYOK/$(openssl rand -hex 16)"
for bits in 2048 3072 4096; do make_kek "$bits" "kek$bits"; done
ROUTE="two-step: RSA-OAEP-SHA1 + CKM_AES_KEY_WRAP_KWP (0x210B) in the token"

# token info: the RFC 5649 mechanism is chosen by known-answer test.
kf token info "${NSS[@]}"
expect_contains "$T/out" "token:         NSS Certificate DB"
expect_contains "$T/out" "RFC 5649 KWP (CKM_AES_KEY_WRAP_KWP): PASS"
expect_contains "$T/out" "not chosen: CKM_AES_KEY_WRAP_PAD (0x210A): fails"
expect_contains "$T/out" "export route:  two-step"

# export_checked LABEL KEKBITS: export from the token under kekBITS; the
# blob is opened by both oracles; leaves the recovered plaintext in
# $T/rec.bin (OpenSSL CLI) and the python oracle's extra arguments in ORACLE.
export_checked() {
  local label="$1" bits="$2"
  kf export "${NSS[@]}" --key "$label" --kek "$T/kek$bits.pem" --kid "$KID" --out "$T/$label-$bits.byok"
  expect_contains "$T/out" "$ROUTE"
  $PY "$HERE/oracle.py" open "$T/$label-$bits.byok" "$T/kek$bits.key" --strict "${ORACLE[@]}" >"$T/o" \
    || { cat "$T/o" >&2; fail "python oracle: $label under RSA-$bits"; }; pass
  openssl_open "$T/$label-$bits.byok" "$T/kek$bits.key" "$T/rec.bin"
}

# Key pairs: the public half read by certutil (a certificate request the
# token's private key signs), the recovered private key must match it.
i=0
for t in rsa:2048 rsa:3072 rsa:4096 ec:P-256 ec:P-384 ec:P-521; do
  IFS=: read -r type param <<<"$t"
  label="$type-$param"
  if [ "$type" = rsa ]; then size=(--size "$param"); else size=(--curve "$param"); fi
  kf key create "${NSS[@]}" --type "$type" "${size[@]}" --label "$label" --flags extractable,sign
  id="$(sed -n "s/^created .* key '$label' id \([0-9a-f]*\)$/\1/p" "$T/out")"
  [ -n "$id" ] || { cat "$T/out" >&2; fail "no key id in key create's output for $label"; }; pass
  nss_public_pem "$id" "$T/$label.pub"
  bits=(2048 3072 4096); bits="${bits[$((i % 3))]}"; i=$((i + 1))
  ORACLE=(--expect-public-pem "$T/$label.pub")
  export_checked "$label" "$bits"
  der_fills "$T/rec.bin"
  openssl pkey -inform DER -in "$T/rec.bin" -pubout | cmp -s - "$T/$label.pub" \
    || fail "OpenSSL oracle: $label's public half differs from the token's"; pass
  kf verify "$T/$label-$bits.byok" --kek-private "$T/kek$bits.key" --expect-public "$T/$label.pub"
  expect_contains "$T/out" "matches the expected key"
done

# The strict check can fail: a blob whose plaintext is a PKCS#8 key with
# 8 zero bytes after it (what a token that counts RFC 5649's zero padding
# into the plaintext would write) opens, but neither oracle accepts it.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -outform DER -out "$T/pad.der" 2>/dev/null
openssl pkey -inform DER -in "$T/pad.der" -pubout -out "$T/pad.pub"
$PY "$HERE/oracle.py" make "$T/pad.byok" "$T/kek2048.pem" "$KID" --secret-hex "$(xxd -p -c 1000 "$T/pad.der")0000000000000000"
if $PY "$HERE/oracle.py" open "$T/pad.byok" "$T/kek2048.key" --strict --expect-public-pem "$T/pad.pub" >/dev/null; then
  fail "python oracle --strict accepts a PKCS#8 key followed by zero bytes"
fi; pass
openssl_open "$T/pad.byok" "$T/kek2048.key" "$T/rec.bin"
( der_fills "$T/rec.bin" ) 2>/dev/null && fail "der_fills accepts a PKCS#8 key followed by zero bytes"; pass

# AES keys (NSS keeps token secret keys sensitive): the token's AES-ECB
# encryption of a zero block, asked by the ctypes client, must be the
# recovered key's.
for size in 128 192 256; do
  kf key create "${NSS[@]}" --type aes --size "$size" --label "aes$size" --flags extractable,encrypt
  ecb="$($PY "$HERE/p11_probe.py" aes-ecb-zero "$NSS_MODULE" "$NSS_INIT" "NSS Certificate DB" "aes$size")" \
    || fail "p11_probe: aes$size"
  [[ "$ecb" =~ ^[0-9a-f]{32}$ ]] || fail "p11_probe answered '$ecb'"; pass
  for bits in 2048 4096; do
    ORACLE=(--expect-aes-ecb-zero "$ecb")
    export_checked "aes$size" "$bits"
    [ "$(stat -c %s "$T/rec.bin")" -eq $((size / 8)) ] \
      || fail "OpenSSL oracle: aes$size plaintext is $(stat -c %s "$T/rec.bin") bytes"; pass
    got="$(head -c 16 /dev/zero | openssl enc -e -aes-"$size"-ecb -nopad \
             -K "$(xxd -p -c 64 "$T/rec.bin")" | xxd -p -c 64)"
    [ "$got" = "$ecb" ] || fail "OpenSSL oracle: aes$size under RSA-$bits is not the token's key"; pass
  done
done

# The PKCS#11 URI form, with the initialization string percent-encoded.
enc() { $PY -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
URI="pkcs11:token=NSS%20Certificate%20DB?module-path=$(enc "$NSS_MODULE")&x-init-reserved=$(enc "$NSS_INIT")"
kf export --hsm "$URI" --key ec-P-256 --kek "$T/kek2048.pem" --kid "$KID" --out "$T/uri.byok"
expect_contains "$T/out" "$ROUTE"
$PY "$HERE/oracle.py" open "$T/uri.byok" "$T/kek2048.key" --strict --expect-public-pem "$T/ec-P-256.pub" >/dev/null \
  || fail "python oracle: EC P-256 exported through the URI form"; pass

# The token's limits and a module without its initialization string: one
# line each, nothing written.
kf_fails "the token does not offer EC curve secp256k1" key create "${NSS[@]}" --type ec --curve secp256k1 --label k1 --flags extractable
# NSS keeps token keys sensitive whatever is asked: keyferry says so.
kf key create "${NSS[@]}" --type aes --size 128 --label nsaes --flags nonsensitive,extractable
expect_contains "$T/out" "note: the token made the key sensitive, otherwise than asked"
# NSS does not enforce CKA_EXTRACTABLE=FALSE on wrapping; keyferry refuses
# to export such a key anyway, writing nothing.
kf key create "${NSS[@]}" --type aes --size 256 --label locked-aes
kf key create "${NSS[@]}" --type ec --curve P-256 --label locked-ec
for l in locked-aes locked-ec; do
  kf_fails "key '$l' is not extractable" export "${NSS[@]}" --key "$l" --kek "$T/kek2048.pem" --kid "$KID" --out "$T/x.byok"
  expect_absent "$T/x.byok"
done
kf_fails "initialization parameters" key list --module "$NSS_MODULE" --token "NSS Certificate DB"
kf_fails "initialization parameters" export --module "$NSS_MODULE" --token "NSS Certificate DB" \
  --key aes256 --kek "$T/kek2048.pem" --kid "$KID" --out "$T/x.byok"
expect_absent "$T/x.byok"
WRONG_PIN=wrong kf_fails "PIN incorrect" key list "${NSS[@]}" --pin-env WRONG_PIN

# The ephemeral AES key and the KEK copy are session objects: the token
# holds exactly the keys this test made (7 pairs, 5 AES keys, nothing else).
kf key list "${NSS[@]}"
tail -n +2 "$T/out" | awk '{print $1, $(NF - 1)}' | sort >"$T/objs"
{ for l in rsa-2048 rsa-3072 rsa-4096 ec-P-256 ec-P-384 ec-P-521; do
    echo "private $l"; echo "public $l"; done
  for s in 128 192 256; do echo "secret aes$s"; done; echo "secret nsaes"
  echo "secret locked-aes"; echo "private locked-ec"; echo "public locked-ec"; } | sort >"$T/want"
diff "$T/want" "$T/objs" >&2 || fail "the NSS token holds other objects than the test's keys"; pass
ls "$T" | grep -q '\.tmp\.' && fail "temporary file left behind"; pass
done_checks
