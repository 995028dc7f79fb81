#!/usr/bin/env bash
# The README walkthrough's az flow with target keys made in, and exported
# from, a second kind of PKCS#11 token: NSS softokn (libnss3), whose RFC 5649
# wrap is correct, so RSA and EC P-256 keys leave the token through keyferry
# (no --from-file stand-in, unlike az_byok_test.sh on SoftHSM 2.6.1):
#   az cloud register / set, az login --identity,
#   az keyvault key create KEKforBYOK (RSA-HSM 4096, --ops import) + download,
#   keyferry key create (RSA-4096, EC P-256) in a fresh NSS database,
#   keyferry export under the downloaded KEK,
#   az keyvault key import --byok-file,
#   the vault's public keys equal the token's (read by NSS's certutil),
#   signatures through keyferryd verified OUTSIDE keyferryd with the OpenSSL
#   CLI against the token's public keys.
# Only these two targets: the az CLI is slow; az_byok_test.sh covers the rest
# of the walkthrough (show/list/delete/recover, --id).
#
# Needs KEYFERRYD, KEYFERRY and KF_SOURCE_DIR (ctest sets them).
set -euo pipefail
: "${KEYFERRY:?KEYFERRY must name the keyferry binary}"
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
kf_start

NSS_MODULE=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
W="$KF_STATE/work"
mkdir -p "$W"
cd "$W"
source "$KF_SOURCE_DIR/tests/e2e/az_common.sh"

json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)" <"$W/out"; }

# verify PUBPEM SIG DATA [OPTS...]: OpenSSL verifies SIG over DATA (SHA-256)
# and refuses it over a different message.
verify() {
  local pub="$1" sig="$2" data="$3"; shift 3
  openssl dgst -sha256 -verify "$pub" -signature "$sig" "$@" "$data" >"$W/v" 2>&1 \
    || { cat "$W/v" >&2; fail "OpenSSL does not verify $sig with $pub"; }
  pass
  { printf 'tampered'; cat "$data"; } >"$W/tampered.txt"
  if openssl dgst -sha256 -verify "$pub" -signature "$sig" "$@" "$W/tampered.txt" >/dev/null 2>&1; then
    fail "OpenSSL verifies $sig over a different message"
  fi
  pass
}

# ---------------------------------------------------------------------------
# 1. az against keyferryd (az_common.sh).
az_use_keyferryd

# 2. The KEK, as the BYOK documentation creates it.
az keyvault key create --vault-name myvault --name KEKforBYOK --kty RSA-HSM --size 4096 --ops import
KEK_KID=$(json 'd["key"]["kid"]')
[[ "$KEK_KID" =~ ^https://myvault\.localhost:$KF_PORT/keys/KEKforBYOK/[0-9a-f]{32}$ ]] \
  || fail "KEK kid '$KEK_KID'"; pass
az keyvault key download --vault-name myvault --name KEKforBYOK --file KEKforBYOK.publickey.pem

# 3. The targets, made in a fresh NSS softokn database and exported from it.
export KEYFERRY_HOME="$KF_STATE/keyferry-home" KEYFERRY_PIN="user-$RANDOM$RANDOM"
mkdir -p "$KF_STATE/nssdb"
(umask 077 && printf '%s\n' "$KEYFERRY_PIN" >"$KF_STATE/nss.pw")
run certutil -N -d "sql:$KF_STATE/nssdb" -f "$KF_STATE/nss.pw"
NSS=(--module "$NSS_MODULE" --token "NSS Certificate DB"
     --module-init "configdir='sql:$KF_STATE/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db'")
for t in rsa4096:--type:rsa:--size:4096 ec256:--type:ec:--curve:P-256; do
  IFS=: read -r name a1 v1 a2 v2 <<<"$t"
  keyferry key create "${NSS[@]}" "$a1" "$v1" "$a2" "$v2" --label "$name" --flags extractable,sign
  id=$(sed -n "s/^created .* key '$name' id \([0-9a-f]*\)$/\1/p" "$W/out")
  [ -n "$id" ] || { show_out; fail "no id for $name"; }; pass
  # The token's public key, read by NSS's certutil (not keyferry): a
  # certificate request signed by the token's private key.
  head -c 64 /dev/urandom >"$W/noise"
  run certutil -R -d "sql:$KF_STATE/nssdb" -f "$KF_STATE/nss.pw" -k "$id" -s "CN=$name" \
    -z "$W/noise" -o "$name.req.der"
  run openssl req -inform DER -in "$name.req.der" -verify -noout
  openssl req -inform DER -in "$name.req.der" -pubkey -noout >"$name.token.pub.pem"
  keyferry export "${NSS[@]}" --key "$name" --kek KEKforBYOK.publickey.pem --kid "$KEK_KID" --out "$name.byok"
  expect_out "two-step: RSA-OAEP-SHA1 + CKM_AES_KEY_WRAP_KWP (0x210B) in the token"
  keyferry inspect "$name.byok" --kek KEKforBYOK.publickey.pem
  expect_out "result:      structure OK"
done

# 4. Import, as the documentation types it; the vault's public key is the token's.
az keyvault key import --vault-name myvault --name rsa4096 --byok-file rsa4096.byok --ops sign verify
az keyvault key import --vault-name myvault --name ec256 --byok-file ec256.byok --kty EC --curve P-256 --ops sign verify
declare -A KID
for t in rsa4096:RSA-HSM: ec256:EC-HSM:P-256; do
  IFS=: read -r name kty crv <<<"$t"
  az keyvault key show --vault-name myvault --name "$name" --query "[key.kid, key.kty, key.crv || '']" -o tsv
  mapfile -t f < <(out)
  [[ "${f[0]}" =~ ^https://myvault\.localhost:$KF_PORT/keys/$name/[0-9a-f]{32}$ ]] || fail "kid of $name: '${f[0]}'"; pass
  KID[$name]=${f[0]}
  expect_eq "kty of $name" "${f[1]}" "$kty"
  expect_eq "crv of $name" "${f[2]}" "$crv"
  az keyvault key download --vault-name myvault --name "$name" --file "$name.vault.pub.pem"
  cmp -s <(pubder "$name.vault.pub.pem") <(pubder "$name.token.pub.pem") \
    || fail "public key of imported $name differs from the NSS token's"; pass
done

# 5. Sign through keyferryd, verify with the token's public keys.
printf 'BYOK from an NSS token through keyferryd, %s\n' "$(date -u +%FT%TZ)" >msg.txt
openssl dgst -sha256 -binary msg.txt >msg.sha256
sign_via_keyferryd "${KID[rsa4096]}" RS256 msg.sha256 rsa.sig
expect_eq "RS256 signature length" "$(stat -c %s rsa.sig)" 512
verify rsa4096.token.pub.pem rsa.sig msg.txt
sign_via_keyferryd "${KID[ec256]}" ES256 msg.sha256 ec.raw.sig
expect_eq "ES256 signature length" "$(stat -c %s ec.raw.sig)" 64
hex=$(xxd -p -c 1000 ec.raw.sig)
printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${hex:0:64}" "${hex:64}" >sig.cnf
openssl asn1parse -genconf sig.cnf -out ec.der.sig -noout
verify ec256.token.pub.pem ec.der.sig msg.txt

echo "az_byok_nss_test: $checks checks passed"
