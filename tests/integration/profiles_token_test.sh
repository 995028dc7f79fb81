#!/usr/bin/env bash
# keyferry export --format PROFILE from keys held in a token, the wrap made
# inside the token: on SoftHSM 2.6.1 (whose CKM_RSA_PKCS_OAEP does SHA-1 only)
# the SHA-1 profiles work and every SHA-2 profile is refused naming the
# mechanism and parameters it lacks, writing nothing; on NSS softokn the SHA-2
# profiles run in the token. Each file is opened by the OpenSSL CLI and the
# independent Python oracle, and the recovered key compared with what the
# token holds, as read by clients other than keyferry (pkcs11-tool, NSS's
# certutil, a ctypes PKCS#11 client).
source "$(dirname "$0")/lib.sh"
source "$HERE/profiles_lib.sh"

RELEASE_KID="fake-release-key"
for bits in 3072 4096; do make_kek "$bits" "kek$bits"; done
: >"$T/manifest"
opened=0

# checked_export TOKEN_ARGS... -- FORMAT METHOD TARGET_LABEL KEKBITS EXPECT [EXTRA]:
# export in the token, check the route, open with OpenSSL into $T/rec and
# queue the Python oracle's check.
checked_export() {
  local targs=() ; while [ "$1" != -- ]; do targs+=("$1"); shift; done; shift
  local fmt="$1" method="$2" label="$3" bits="$4" expect="$5" x="${6:-}" m opt md kind sizes
  for m in "${METHODS[@]}"; do
    local f meth; read -r f meth opt md kind sizes <<<"$m"
    [ "$f $meth" = "$fmt $method" ] && break
  done
  method_args "$opt" "$method"
  local extra=(); [ "$fmt" = azure-release ] && extra=(--kid "$RELEASE_KID")
  local out="$T/$fmt-$method-$label.out"
  kf export "${targs[@]}" --key "$label" --kek "$T/kek$bits.pem" --format "$fmt" "${M_ARGS[@]}" "${extra[@]}" --out "$out"
  if [ "$kind" = direct ]; then
    expect_contains "$T/out" "route direct: RSA-OAEP-${md^^} in the token"
  else
    expect_contains "$T/out" "route two-step: RSA-OAEP-${md^^} + "
  fi
  ossl_open "$fmt" "$md" "$kind" "$out" "$T/kek$bits.key" "$T/rec"
  ossl_compare "$expect" || fail "OpenSSL: $fmt $method $label is not the token's key"; pass
  [ "$fmt" = azure-release ] && x="$RELEASE_KID"
  echo "$fmt $method $out $T/kek$bits.key $expect $x" >>"$T/manifest"
  opened=$((opened + 1))
}

# ossl_compare EXPECT: $T/rec (from ossl_open) against what the token holds,
# with the OpenSSL CLI.
ossl_compare() {
  local kind="${1%%:*}" value="${1#*:}"
  case "$kind" in
    hex) [ "$(xxd -p -c 64 "$T/rec")" = "$value" ] ;;
    pub) openssl pkey -inform DER -in "$T/rec" -pubout | cmp -s - "$value" ;;
    ecpoint)  # CKA_EC_POINT is the DER OCTET STRING (2 bytes) around the point
      [[ "$(openssl pkey -inform DER -in "$T/rec" -pubout -outform DER | xxd -p | tr -d '\n')" == *"${value:4}" ]] ;;
    aesecb)
      [ "$(head -c 16 /dev/zero | openssl enc -e -aes-$(( $(stat -c %s "$T/rec") * 8 ))-ecb -nopad \
           -K "$(xxd -p -c 64 "$T/rec")" | xxd -p -c 64)" = "$value" ] ;;
  esac
}

# --- SoftHSM 2.6.1 -------------------------------------------------------
init_token
for size in 128 192 256; do
  kf key create --type aes --size "$size" --label "aes$size" --flags nonsensitive,extractable
  p11 --read-object --type secrkey --label "aes$size" -o "$T/aes$size.bin" || fail "pkcs11-tool read aes$size"
done
# EC curves whose PKCS#8 length SoftHSM 2.6.1's KWP wraps correctly.
for c in P-384 secp256k1; do
  kf key create --type ec --curve "$c" --label "ec-$c" --flags extractable
  point="$(p11_object "ec-$c" "Public Key" | sed -n 's/^ *EC_POINT: *//p')"
  [ -n "$point" ] || fail "no EC_POINT from pkcs11-tool for ec-$c"
  declare "POINT_${c//-/_}=$point"
done
aes() { echo "hex:$(xxd -p -c 64 "$T/$1.bin")"; }

S=(--)
checked_export "${S[@]}" azure-release CKM_RSA_AES_KEY_WRAP aes256 3072 "$(aes aes256)"
checked_export "${S[@]}" azure-release CKM_RSA_AES_KEY_WRAP ec-P-384 4096 "ecpoint:$POINT_P_384"
checked_export "${S[@]}" aws RSA_AES_KEY_WRAP_SHA_1 ec-secp256k1 3072 "ecpoint:$POINT_secp256k1"
checked_export "${S[@]}" aws RSAES_OAEP_SHA_1 aes256 4096 "$(aes aes256)"
for t in aes128 aes256; do
  checked_export "${S[@]}" gcp rsa-oaep-3072-sha1-aes-256 "$t" 3072 "$(aes "$t")"
  checked_export "${S[@]}" vault SHA1 "$t" 4096 "$(aes "$t")" "${t}-gcm96"
done
checked_export "${S[@]}" gcp rsa-oaep-4096-sha1-aes-256 ec-secp256k1 4096 "ecpoint:$POINT_secp256k1"
checked_export "${S[@]}" vault SHA1 ec-P-384 4096 "ecpoint:$POINT_P_384" ecdsa-p384

# SHA-2 profiles: SoftHSM's OAEP is SHA-1 only; refused by name, no file.
refuse_sha2() {  # WANT FORMAT METHOD_ARGS... -- LABEL BITS
  local want="$1" fmt="$2"; shift 2
  local margs=(); while [ "$1" != -- ]; do margs+=("$1"); shift; done; shift
  kf_fails "token lacks CKM_RSA_PKCS_OAEP with $want" export --key "$1" --kek "$T/kek$2.pem" \
    --format "$fmt" "${margs[@]}" --out "$T/x"
  expect_absent "$T/x"
}
refuse_sha2 "SHA-256 (CKG_MGF1_SHA256)" aws --wrapping-algorithm RSAES_OAEP_SHA_256 -- aes256 3072
refuse_sha2 "SHA-256 (CKG_MGF1_SHA256)" aws --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256 -- ec-P-384 3072
refuse_sha2 "SHA-256 (CKG_MGF1_SHA256)" gcp --import-method rsa-oaep-3072-sha256 -- aes128 3072
refuse_sha2 "SHA-256 (CKG_MGF1_SHA256)" gcp --import-method rsa-oaep-4096-sha256-aes-256 -- ec-secp256k1 4096
refuse_sha2 "SHA-256 (CKG_MGF1_SHA256)" vault -- aes256 4096
refuse_sha2 "SHA-512 (CKG_MGF1_SHA512)" vault --hash-function SHA512 -- aes128 4096
refuse_sha2 "SHA-256 (CKG_MGF1_SHA256)" oci -- aes128 4096
refuse_sha2 "SHA-256 (CKG_MGF1_SHA256)" oci --wrapping-algorithm RSA_OAEP_SHA256 -- aes128 4096
refuse_sha2 "SHA-384 (CKG_MGF1_SHA384)" azure-release --enc RSA_AES_KEY_WRAP_384 --kid k -- aes256 3072
expect_contains "$T/err" "--from-file wraps a key file in software"
# The destinations' own rules come first, from a token as from a file.
kf_fails "does not take EC P-384 keys" export --key ec-P-384 --kek "$T/kek4096.pem" --format oci --out "$T/x"
kf_fails "does not take EC secp256k1 keys" export --key ec-secp256k1 --kek "$T/kek4096.pem" --format oci --out "$T/x"
kf_fails "does not take EC secp256k1 keys" export --key ec-secp256k1 --kek "$T/kek4096.pem" --format vault --hash-function SHA1 --out "$T/x"
kf_fails "does not take AES-128 keys" export --key aes128 --kek "$T/kek4096.pem" --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --out "$T/x"
kf_fails "this one has 4096" export --key aes256 --kek "$T/kek4096.pem" --format gcp --import-method rsa-oaep-3072-sha1-aes-256 --out "$T/x"
# A token wraps private keys with RSA-OAEP only inside a hybrid method.
kf_fails "wraps only secret (AES) keys directly" export --key ec-P-384 --kek "$T/kek4096.pem" --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --out "$T/x"
expect_absent "$T/x"
# Ephemeral keys, KEK copies and probe objects were session objects.
p11 -O >"$T/objs"
[ "$(grep -c "Secret Key Object" "$T/objs")" -eq 3 ] || fail "unexpected secret keys left in the token"; pass

# --- NSS softokn: SHA-2 OAEP in the token ----------------------------------
nss_token nssdb
for t in ec:P-256 rsa:2048; do
  IFS=: read -r type param <<<"$t"
  label="$type-$param"
  if [ "$type" = rsa ]; then size=(--size "$param"); else size=(--curve "$param"); fi
  kf key create "${NSS[@]}" --type "$type" "${size[@]}" --label "$label" --flags extractable,sign
  id="$(sed -n "s/^created .* key '$label' id \([0-9a-f]*\)$/\1/p" "$T/out")"
  [ -n "$id" ] || fail "no key id for $label"
  nss_public_pem "$id" "$T/$label.pub"
done
for size in 128 256; do
  kf key create "${NSS[@]}" --type aes --size "$size" --label "aes$size" --flags extractable,encrypt
  declare "ecb$size=$($PY "$HERE/p11_probe.py" aes-ecb-zero "$NSS_MODULE" "$NSS_INIT" "NSS Certificate DB" "aes$size")" \
    || fail "p11_probe: aes$size"
done
[[ "$ecb128$ecb256" =~ ^[0-9a-f]{64}$ ]] || fail "p11_probe answered '$ecb128' '$ecb256'"; pass
NT=("${NSS[@]}" --)
checked_export "${NT[@]}" aws RSA_AES_KEY_WRAP_SHA_256 ec-P-256 3072 "pub:$T/ec-P-256.pub"
checked_export "${NT[@]}" aws RSAES_OAEP_SHA_256 aes256 4096 "aesecb:$ecb256"
checked_export "${NT[@]}" gcp rsa-oaep-4096-sha256-aes-256 rsa-2048 4096 "pub:$T/rsa-2048.pub"
checked_export "${NT[@]}" gcp rsa-oaep-3072-sha256 aes128 3072 "aesecb:$ecb128"
checked_export "${NT[@]}" vault SHA256 ec-P-256 4096 "pub:$T/ec-P-256.pub" ecdsa-p256
checked_export "${NT[@]}" vault SHA512 rsa-2048 4096 "pub:$T/rsa-2048.pub" rsa-2048
checked_export "${NT[@]}" oci RSA_OAEP_AES_SHA256 rsa-2048 4096 "pub:$T/rsa-2048.pub"
checked_export "${NT[@]}" oci RSA_OAEP_SHA256 aes128 4096 "aesecb:$ecb128"
checked_export "${NT[@]}" azure-release RSA_AES_KEY_WRAP_256 ec-P-256 3072 "pub:$T/ec-P-256.pub"
checked_export "${NT[@]}" azure-release RSA_AES_KEY_WRAP_384 rsa-2048 4096 "pub:$T/rsa-2048.pub"

$PY "$HERE/profile_oracle.py" "$T/manifest" >"$T/o" || { cat "$T/o" >&2; fail "python oracle"; }
expect_contains "$T/o" "OK $opened files opened"
echo "profiles from tokens: $opened files opened by both oracles"
done_checks
