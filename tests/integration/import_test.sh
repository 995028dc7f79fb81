#!/usr/bin/env bash
# keyferry kek create / import: the HSM as the destination of a transfer
# blob. Keys move between two SoftHSM tokens (each with its own SoftHSM
# configuration), from NSS softokn into SoftHSM and from SoftHSM into NSS
# softokn, always through `keyferry export` and `keyferry import`, and each
# moved key is shown to be the same key by clients other than keyferry:
# a signature made in the destination (OpenSC's pkcs11-tool) verified with
# the source's public key (OpenSSL), or AES blocks encrypted in one token and
# decrypted or reproduced in the other. Blobs made by independent code
# (Python cryptography) import too; damaged blobs, wrong declarations and
# bad flags are refused with one line and leave the token as it was
# (pkcs11-tool's object list before and after).
source "$(dirname "$0")/lib.sh"
source "$HERE/import_lib.sh"

# --- kek create ---------------------------------------------------------------
kf kek create --label KEKB --out "$T/kekB.pem"
expect_contains "$T/out" "created RSA-2048 key 'KEKB'"
expect_contains "$T/out" "flags: sensitive nonextractable nonmodifiable noncopyable destroyable token private nonencrypt nondecrypt nonsign nonverify nonwrap unwrap nonderive"
KID="$(sed -n 's/^kid: //p' "$T/out")"
fp="$(openssl pkey -pubin -in "$T/kekB.pem" -outform DER | openssl dgst -sha256 -r | cut -c1-32)"
[ "$KID" = "https://hsm.keyferry.invalid/keys/KEKB/$fp" ] || fail "kid '$KID' is not the KEK's SPKI fingerprint $fp"; pass
openssl pkey -pubin -in "$T/kekB.pem" -noout -text | grep -q "Public-Key: (2048 bit)" || fail "kekB.pem is not an RSA-2048 SPKI"; pass
p11_object KEKB "Private Key" >"$T/kekobj"
grep -Eq "Usage: +unwrap$" "$T/kekobj" || { cat "$T/kekobj" >&2; fail "KEK private key may do more than unwrap"; }; pass
grep -Eq "Access: +sensitive, always sensitive, never extractable, local$" "$T/kekobj" || { cat "$T/kekobj" >&2; fail "KEK access flags"; }; pass
kf kek create --label KEKB3072 --size 3072 --out "$T/kekB3072.pem"
KID3072="$(sed -n 's/^kid: //p' "$T/out")"
kf_fails "exists (use --force" kek create --label KEKX --out "$T/kekB.pem"
kf_fails "a KEK label must be a key name" kek create --label "bad label" --out "$T/x.pem"
kf_fails "RSA size must be 2048, 3072 or 4096" kek create --label KEKX --size 1024 --out "$T/x.pem"
kf_fails "already exists" kek create --label KEKB --out "$T/x.pem"
expect_absent "$T/x.pem"

ROUTE_SOFTHSM="route: composed: RSA-OAEP-SHA1 + CKM_AES_KEY_WRAP_PAD in the token"

# --- SoftHSM A -> SoftHSM B: AES-256 and AES-128 ----------------------------------
for size in 256 128; do
  KEYFERRY_HOME="$A_HOME" kf key create --type aes --size "$size" --label "aes$size" --flags extractable,encrypt,decrypt
  aid="$(created_id "aes$size")"
  [ "$size" = 256 ] && aid256="$aid"
  KEYFERRY_HOME="$A_HOME" kf export --key "aes$size" --kek "$T/kekB.pem" --kid "$KID" --out "$T/aes$size.byok"
  kf import --byok "$T/aes$size.byok" --kek KEKB --label "aes$size" --type aes --size "$size" --flags modifiable
  expect_contains "$T/out" "imported AES-$size key 'aes$size'"
  expect_contains "$T/out" "flags: sensitive nonextractable modifiable"
  expect_contains "$T/out" "$ROUTE_SOFTHSM"
  bid="$(imported_id "aes$size")"
  # The same key: A's AES-ECB of a zero block and of random data equals B's;
  # B decrypts what A encrypted.
  p11A --encrypt -m AES-ECB --id "$aid" -i "$T/zero16" -o "$T/kcvA" || fail "A: AES-ECB"
  p11 --encrypt -m AES-ECB --id "$bid" -i "$T/zero16" -o "$T/kcvB" || fail "B: AES-ECB"
  cmp -s "$T/kcvA" "$T/kcvB" || fail "AES-$size: A and B encrypt a zero block differently"; pass
  p11A --encrypt -m AES-ECB --id "$aid" -i "$T/msg" -o "$T/ctA" || fail "A: AES-ECB of the message"
  p11 --decrypt -m AES-ECB --id "$bid" -i "$T/ctA" -o "$T/ptB" || fail "B: AES-ECB decrypt"
  cmp -s "$T/msg" "$T/ptB" || fail "AES-$size: B does not decrypt what A encrypted"; pass
  # pkcs11-tool's view of the new key: a sensitive token key, not extractable.
  # It does not leave B again: export refuses it (not extractable; on SoftHSM
  # export first refuses its unset CKA_VALUE_LEN, docs/tokens.md).
  kf_fails "keyferry export: " export --key "aes$size" --kek "$T/kekB.pem" --kid "$KID" --out "$T/again.byok"
  expect_absent "$T/again.byok"
  obj="$(p11_object "aes$size" "Secret Key")"
  grep -Eq "Access: +sensitive$" <<<"$obj" || { echo "$obj" >&2; fail "aes$size access flags in B"; }; pass
done

# --- SoftHSM A -> SoftHSM B: EC P-384 and secp256k1 (SoftHSM 2.6.1 exports
# no RSA, P-256 or P-521 key: its wrap defect, docs/tokens.md) -------------
for c in P-384 secp256k1; do
  dgst=sha384 name=$c; [ "$c" = secp256k1 ] && dgst=sha256 name=P-256K
  KEYFERRY_HOME="$A_HOME" kf key create --type ec --curve "$c" --label "ec-$c" --flags extractable,sign
  ec_pub_pem "ec-$c" "$c" "$T/ec-$c.pub" "$A_HOME"
  KEYFERRY_HOME="$A_HOME" kf export --key "ec-$c" --kek "$T/kekB3072.pem" --kid "$KID3072" --out "$T/ec-$c.byok"
  kf import --byok "$T/ec-$c.byok" --kek KEKB3072 --label "ec-$c" --type ec --curve "$c" --flags modifiable
  expect_contains "$T/out" "imported EC $name key 'ec-$c'"
  expect_contains "$T/out" "$ROUTE_SOFTHSM"
  ec_signed_in_b "$(imported_id "ec-$c")" "$dgst" "$T/ec-$c.pub"
done

# --- NSS softokn -> SoftHSM B: RSA and EC P-256 ---------------------------------
nss_token nssA
for t in rsa:2048 rsa:3072 rsa:4096 ec:P-256; do
  IFS=: read -r type param <<<"$t"
  label="$type-$param"
  if [ "$type" = rsa ]; then size=(--size "$param"); else size=(--curve "$param"); fi
  kf key create "${NSS[@]}" --type "$type" "${size[@]}" --label "$label" --flags extractable,sign
  id="$(created_id "$label")"
  nss_public_pem "$id" "$T/$label.pub"
  kf export "${NSS[@]}" --key "$label" --kek "$T/kekB.pem" --kid "$KID" --out "$T/$label.byok"
  kf import --byok "$T/$label.byok" --kek KEKB --label "$label" --type "$type" "${size[@]}" --flags modifiable,nondecrypt
  expect_contains "$T/out" "flags: sensitive nonextractable modifiable noncopyable destroyable token private nonencrypt nondecrypt sign"
  bid="$(imported_id "$label")"
  if [ "$type" = rsa ]; then rsa_signed_in_b "$bid" "$T/$label.pub"; else ec_signed_in_b "$bid" sha256 "$T/$label.pub"; fi
done

# --- Blobs made by independent code (Python cryptography, tests/integration/oracle.py)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/py.key" 2>/dev/null
openssl pkey -in "$T/py.key" -pubout -out "$T/py.pub"
$PY "$HERE/oracle.py" make "$T/py-rsa.byok" "$T/kekB.pem" "$KID" --private-pem "$T/py.key"
kf import --byok "$T/py-rsa.byok" --kek KEKB --label py-rsa --type rsa --size 2048 --flags modifiable
rsa_signed_in_b "$(imported_id py-rsa)" "$T/py.pub"
openssl rand 24 >"$T/py.aes"
$PY "$HERE/oracle.py" make "$T/py-aes.byok" "$T/kekB.pem" "$KID" --secret-hex "$(xxd -p -c 64 "$T/py.aes")"
kf import --byok "$T/py-aes.byok" --kek KEKB --label py-aes --type aes --size 192 --flags modifiable
p11 --encrypt -m AES-ECB --id "$(imported_id py-aes)" -i "$T/zero16" -o "$T/kcvB" || fail "B: AES-ECB of py-aes"
want="$(openssl enc -e -aes-192-ecb -nopad -K "$(xxd -p -c 64 "$T/py.aes")" -in "$T/zero16" | xxd -p -c 64)"
[ "$(xxd -p -c 64 "$T/kcvB")" = "$want" ] || fail "py-aes in B is not the Python blob's key"; pass

# --- Refusals: one line, non-zero exit, the token as it was -----------------------
kf key create --type aes --size 256 --label not-a-kek
p11 -O | sort >"$T/before"
aes="$T/aes256.byok"
blob_edit() {  # IN OUT PYTHON-EXPR over `ct` (bytes) and `j` (the JSON)
  $PY - "$1" "$2" "$3" <<'PYEOF'
import base64, json, sys
j = json.load(open(sys.argv[1]))
s = j["ciphertext"]
ct = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
exec(sys.argv[3])
j["ciphertext"] = base64.urlsafe_b64encode(bytes(ct)).decode().rstrip("=")
json.dump(j, open(sys.argv[2], "w"))
PYEOF
}
printf '{"schema_version": "1.0.0", "header": {' >"$T/badjson.byok"
kf_fails "badjson.byok: byok blob:" import --byok "$T/badjson.byok" --kek KEKB --label x --type aes --flags modifiable
blob_edit "$aes" "$T/wrongkid.byok" 'j["header"]["kid"] = "https://hsm.keyferry.invalid/keys/KEKB/" + "0" * 32'
kf_fails "the blob's kid names KEK KEKB/00000000000000000000000000000000, not KEKB/$fp" import --byok "$T/wrongkid.byok" --kek KEKB --label x --type aes --flags modifiable
kf_fails "the blob's kid names KEK KEKB/" import --byok "$aes" --kek KEKB3072 --label x --type aes --flags modifiable
blob_edit "$aes" "$T/enc.byok" 'j["header"]["enc"] = "RSA-OAEP"'
kf_fails "header.enc must be" import --byok "$T/enc.byok" --kek KEKB --label x --type aes --flags modifiable
blob_edit "$aes" "$T/short.byok" 'ct = ct[:-5]'
kf_fails "is not a multiple of 8 (truncated or damaged)" import --byok "$T/short.byok" --kek KEKB --label x --type aes --flags modifiable
blob_edit "$aes" "$T/short8.byok" 'ct = ct[:-8]'
kf_fails "the target key does not unwrap as an AES key" import --byok "$T/short8.byok" --kek KEKB --label x --type aes --flags modifiable
blob_edit "$aes" "$T/c1flip.byok" 'ct[100] ^= 1'
kf_fails "the transfer key does not decrypt with the KEK" import --byok "$T/c1flip.byok" --kek KEKB --label x --type aes --flags modifiable
blob_edit "$aes" "$T/c2flip.byok" 'ct[-3] ^= 0x80'
kf_fails "the target key does not unwrap as an AES key" import --byok "$T/c2flip.byok" --kek KEKB --label x --type aes --flags modifiable
# The right kid, but wrapped to another RSA key (not the token's KEK).
make_kek 2048 other
$PY "$HERE/oracle.py" make "$T/otherkek.byok" "$T/other.pem" "$KID" --secret-hex "$(xxd -p -c 64 "$T/py.aes")"
kf_fails "the transfer key does not decrypt with the KEK" import --byok "$T/otherkek.byok" --kek KEKB --label x --type aes --size 192 --flags modifiable
# Declarations that do not match the key inside.
kf_fails "the blob holds an AES-256 key, not the declared AES-128" import --byok "$aes" --kek KEKB --label x --type aes --size 128 --flags modifiable
kf_fails "the target key does not unwrap as an RSA private key" import --byok "$aes" --kek KEKB --label x --type rsa --flags modifiable
kf_fails "the blob holds an EC P-384 key, not the declared EC P-256" import --byok "$T/ec-P-384.byok" --kek KEKB3072 --label x --type ec --curve P-256 --flags modifiable
kf_fails "the blob holds an RSA-2048 key, not the declared RSA-3072" import --byok "$T/rsa-2048.byok" --kek KEKB --label x --type rsa --size 3072 --flags modifiable
kf_fails "an EC private key" import --byok "$T/rsa-2048.byok" --kek KEKB --label x --type ec --curve P-256 --flags modifiable
kf_fails "the AES key in the blob is not 16, 24 or 32 bytes long" import --byok "$T/rsa-2048.byok" --kek KEKB --label x --type aes --flags modifiable
# Flags, labels and KEKs.
kf_fails "an imported key is a sensitive, non-extractable token key" import --byok "$aes" --kek KEKB --label x --type aes --flags modifiable,extractable
kf_fails "an imported key is a sensitive, non-extractable token key" import --byok "$aes" --kek KEKB --label x --type aes --flags modifiable,nonsensitive
kf_fails "does not let an unwrapped key be made non-modifiable" import --byok "$aes" --kek KEKB --label x --type aes
kf_fails "a key labelled 'aes256' already exists" import --byok "$aes" --kek KEKB --label aes256 --type aes --flags modifiable
kf_fails "--kek: no private or secret key labelled 'ghost'" import --byok "$aes" --kek ghost --label x --type aes --flags modifiable
kf_fails "--kek 'not-a-kek' is not an RSA private key that may unwrap" import --byok "$aes" --kek not-a-kek --label x --type aes --flags modifiable
kf_fails "unknown --format 'ibm'" import --format ibm --byok "$aes" --kek KEKB --label x --type aes --flags modifiable
kf_fails "native CKM_RSA_AES_KEY_WRAP requested but the token does not offer it" import --route native --byok "$aes" --kek KEKB --label x --type aes --flags modifiable
KEYFERRY_PIN=wrong kf_fails "PIN incorrect" import --byok "$aes" --kek KEKB --label x --type aes --flags modifiable
p11 -O | sort >"$T/after"
diff "$T/before" "$T/after" >&2 || fail "a refused import changed the token's objects"; pass

# --- SoftHSM A -> NSS softokn as the destination ----------------------------------
nss_token nssB
kf kek create "${NSS[@]}" --label KEKN --out "$T/kekN.pem"
KIDN="$(sed -n 's/^kid: //p' "$T/out")"
expect_contains "$T/out" "nonsign"
KEYFERRY_HOME="$A_HOME" kf export --key aes256 --kek "$T/kekN.pem" --kid "$KIDN" --out "$T/n-aes.byok"
kf import "${NSS[@]}" --byok "$T/n-aes.byok" --kek KEKN --label aes256 --type aes --size 256
expect_contains "$T/out" "imported AES-256 key 'aes256'"
expect_contains "$T/out" "flags: sensitive nonextractable nonmodifiable"
expect_contains "$T/out" "route: composed: RSA-OAEP-SHA1 + CKM_AES_KEY_WRAP_KWP in the token"
ecb="$($PY "$HERE/p11_probe.py" aes-ecb-zero "$NSS_MODULE" "$NSS_INIT" "NSS Certificate DB" aes256)" || fail "p11_probe: NSS aes256"
p11A --encrypt -m AES-ECB --id "$aid256" -i "$T/zero16" -o "$T/kcvA" || fail "A: AES-ECB"
[ "$ecb" = "$(xxd -p -c 64 "$T/kcvA")" ] || fail "NSS's imported AES-256 key is not A's"; pass
KEYFERRY_HOME="$A_HOME" kf export --key ec-P-384 --kek "$T/kekN.pem" --kid "$KIDN" --out "$T/n-ec.byok"
kf import "${NSS[@]}" --byok "$T/n-ec.byok" --kek KEKN --label ec384 --type ec --curve P-384
expect_contains "$T/out" "imported EC P-384 key 'ec384'"
# NSS signs (the test's ctypes client: pkcs11-tool cannot pass NSS its
# initialization string); Python verifies with A's public key.
openssl dgst -sha384 -binary "$T/msg" >"$T/dig"
rs="$($PY "$HERE/p11_probe.py" ecdsa-sign "$NSS_MODULE" "$NSS_INIT" "NSS Certificate DB" ec384 "$(xxd -p -c 64 "$T/dig")")" \
  || fail "p11_probe: NSS ecdsa-sign"
$PY - "$T/ec-P-384.pub" "$rs" "$T/dig" <<'PYEOF' || fail "NSS's signature with the imported P-384 key does not verify with A's public key"
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
pub = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
rs = bytes.fromhex(sys.argv[2])
n = len(rs) // 2
sig = utils.encode_dss_signature(int.from_bytes(rs[:n], "big"), int.from_bytes(rs[n:], "big"))
pub.verify(sig, open(sys.argv[3], "rb").read(), ec.ECDSA(utils.Prehashed(hashes.SHA384())))
PYEOF
pass
kf_fails "the blob holds an AES-256 key, not the declared AES-192" import "${NSS[@]}" --byok "$T/n-aes.byok" --kek KEKN --label x --type aes --size 192
blob_edit "$T/n-aes.byok" "$T/n-c1flip.byok" 'ct[7] ^= 4'
kf_fails "the transfer key does not decrypt with the KEK" import "${NSS[@]}" --byok "$T/n-c1flip.byok" --kek KEKN --label x --type aes
blob_edit "$T/n-aes.byok" "$T/n-c2flip.byok" 'ct[-1] ^= 1'
kf_fails "the target key does not unwrap as an AES key" import "${NSS[@]}" --byok "$T/n-c2flip.byok" --kek KEKN --label x --type aes
kf_fails "the blob holds an EC P-384 key, not the declared EC P-521" import "${NSS[@]}" --byok "$T/n-ec.byok" --kek KEKN --label x --type ec --curve P-521
kf key list "${NSS[@]}"
tail -n +2 "$T/out" | awk '{print $1, $(NF - 1)}' | sort >"$T/objs"
printf '%s\n' "private KEKN" "public KEKN" "private ec384" "secret aes256" | sort >"$T/want"
diff "$T/want" "$T/objs" >&2 || fail "the NSS token holds other objects than the test's keys"; pass
ls "$T" | grep -q '\.tmp\.' && fail "temporary file left behind"; pass
done_checks
