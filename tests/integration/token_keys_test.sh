#!/usr/bin/env bash
# keyferry token/key/kek commands against a real SoftHSMv2 token, with OpenSC's
# pkcs11-tool as an independent PKCS#11 client confirming what keyferry set.
source "$(dirname "$0")/lib.sh"

kf_fails "token does not exist yet" key list
init_token
expect_contains "$T/out" "SoftHSM"
expect_contains "$T/out" "RSA-OAEP SHA-1:       PASS"
expect_contains "$T/out" "DEFECT (wrap zero-pads; unwrap correct)"
expect_contains "$T/out" "CKM_RSA_AES_KEY_WRAP: not offered"
kf_fails "already exists" token init

# PINs: wrong, missing.
KEYFERRY_PIN=wrong kf_fails "PIN incorrect" key list
(unset KEYFERRY_PIN; kf_fails "no user PIN: set the environment variable KEYFERRY_PIN" key list </dev/null)
ALT_PIN="$KEYFERRY_PIN" KEYFERRY_PIN=wrong kf key list --pin-env ALT_PIN

# Every type and size, default flags and explicit combinations.
kf key create --type rsa --size 2048 --label rsa2048
kf key create --type rsa --size 3072 --label rsa3072 --flags extractable
kf key create --type rsa --size 4096 --label rsa4096 --flags extractable,nonsensitive
for c in P-256 P-384 P-521 secp256k1; do
  kf key create --type ec --curve "$c" --label "ec-$c" --flags extractable
done
kf key create --type aes --size 128 --label aes128
kf key create --type aes --size 192 --label aes192 --flags extractable,modifiable,copyable
kf key create --type aes --size 256 --label aes256 --flags "nonsensitive extractable nonwrap nonunwrap encrypt"
kf key create --type aes --size 256 --label aes256-wwt --flags extractable,wrapwithtrusted,nondestroyable

kf key list
for l in rsa2048 rsa3072 rsa4096 ec-P-256 ec-P-384 ec-P-521 ec-secp256k1 aes128 aes192 aes256; do
  expect_contains "$T/out" " $l "
done
grep -q "private  RSA-4096   rsa4096" "$T/out" || fail "key list lacks RSA-4096 row"; pass
grep -q "private  EC P-521   ec-P-521" "$T/out" || fail "key list lacks EC P-521 row"; pass
grep -q "secret   AES-192    aes192" "$T/out" || fail "key list lacks AES-192 row"; pass

# key flags, in ListKeyFlags form.
kf key flags --key rsa2048
expect_contains "$T/out" "sensitive nonextractable nonmodifiable noncopyable destroyable token private"
kf key flags --key aes192
expect_contains "$T/out" "sensitive extractable modifiable copyable"
kf key flags --key aes256
expect_contains "$T/out" "nonsensitive extractable"
expect_contains "$T/out" "encrypt decrypt nonsign nonverify nonwrap nonunwrap"
kf key flags --key aes256-wwt
expect_contains "$T/out" "wrapwithtrusted"
expect_contains "$T/out" "nondestroyable"
kf key flags --key "pkcs11:object=ec-P-384"
expect_contains "$T/out" "EC P-384"

# pkcs11-tool, independently: usage and access of what keyferry created.
p11_object rsa2048 "Private Key" >"$T/o"
expect_contains "$T/o" "Usage:      decrypt, sign"
grep -q "Access:.*sensitive" "$T/o" && grep -q "never extractable" "$T/o" || fail "rsa2048 access wrong: $(cat "$T/o")"; pass
p11_object ec-P-256 "Private Key" >"$T/o"
expect_contains "$T/o" "Usage:      sign"
expect_contains "$T/o" "Access:     sensitive, always sensitive, extractable, local"
p11_object aes128 "Secret Key" >"$T/o"
expect_contains "$T/o" "AES length 16"
expect_contains "$T/o" "Usage:      encrypt, decrypt, wrap, unwrap"
! grep -qE "Access:( +|.*, )extractable" "$T/o" || fail "aes128 must be non-extractable"; pass
p11_object aes256 "Secret Key" >"$T/o"
expect_contains "$T/o" "Usage:      encrypt, decrypt"
! grep -qE "Access:( +|.*, )sensitive" "$T/o" || fail "aes256 must be non-sensitive"; pass
# A sensitive key's value cannot be read by any client.
if p11 --read-object --type secrkey --label aes128 -o "$T/v.bin"; then fail "read a sensitive key"; fi; pass

# Bad input: one line, non-zero exit.
kf_fails "unknown flag 'exportable'" key create --type aes --size 256 --label x --flags exportable
kf_fails "AES size must be 128, 192 or 256" key create --type aes --size 512 --label x
kf_fails "RSA size must be 2048, 3072 or 4096" key create --type rsa --size 1024 --label x
kf_fails "unsupported curve 'P-192'" key create --type ec --curve P-192 --label x
kf_fails "already exists" key create --type aes --size 128 --label aes128
kf_fails "no private or secret key labelled 'nope'" key flags --key nope
kf_fails "unknown option --pin" key list --pin 1234
kf_fails "pin-value is refused" key list --hsm "pkcs11:token=keyferry?pin-value=1234"

# KEK import: PEM, DER, JWK; wrong type and size refused.
make_kek 2048 kek2048
kf kek import --file "$T/kek2048.pem" --label kek-pem
openssl pkey -pubin -in "$T/kek2048.pem" -outform DER -out "$T/kek2048.der"
kf kek import --file "$T/kek2048.der" --label kek-der
$PY - "$T/kek2048.pem" >"$T/kek.jwk" <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_public_key(open(sys.argv[1], "rb").read()).public_numbers()
b = lambda i: base64.urlsafe_b64encode(i.to_bytes((i.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
print(json.dumps({"kty": "RSA-HSM", "n": b(k.n), "e": b(k.e), "key_ops": ["import"]}))
PY
kf kek import --file "$T/kek.jwk" --label kek-jwk
kf key list
expect_contains "$T/out" "public   RSA-2048   kek-jwk"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout -out "$T/ec.pem"
kf_fails "KEK must be an RSA key" kek import --file "$T/ec.pem" --label bad
make_kek 1024 kek1024
kf_fails "KEK must be RSA 2048, 3072 or 4096" kek import --file "$T/kek1024.pem" --label bad
printf -- '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqh!!!\n-----END PUBLIC KEY-----\n' >"$T/corrupt.pem"
kf_fails "not a KEK public key" kek import --file "$T/corrupt.pem" --label bad
kf_fails "already exists" kek import --file "$T/kek2048.pem" --label kek-pem

# The same token through an explicit PKCS#11 URI.
SOFTHSM2_CONF="$KEYFERRY_HOME/softhsm/softhsm2.conf" kf key list --hsm "pkcs11:token=keyferry?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:KEYFERRY_PIN"
expect_contains "$T/out" "aes192"
printf '%s\n' "$KEYFERRY_PIN" >"$T/pin"; chmod 600 "$T/pin"
KEYFERRY_PIN=wrong SOFTHSM2_CONF="$KEYFERRY_HOME/softhsm/softhsm2.conf" kf key list --hsm "pkcs11:token=keyferry?pin-source=file:$T/pin"
expect_contains "$T/out" "aes256"
done_checks
