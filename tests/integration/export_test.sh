#!/usr/bin/env bash
# keyferry export: blobs opened by independent oracles (OpenSSL CLI and
# Python's cryptography), the SoftHSM 2.6.1 refusal path, and bad input.
source "$(dirname "$0")/lib.sh"

init_token
KID="https://myvault.localhost:8443/keys/KEKforBYOK/$(openssl rand -hex 16)"
for bits in 2048 3072 4096; do make_kek "$bits" "kek$bits"; done
kf kek import --file "$T/kek4096.pem" --label KEKforBYOK

# AES targets through the HSM, under every KEK size; values read back with
# pkcs11-tool (the keys are made non-sensitive for that comparison only).
for size in 128 192 256; do
  kf key create --type aes --size "$size" --label "aes$size" --flags nonsensitive,extractable
  p11 --read-object --type secrkey --label "aes$size" -o "$T/aes$size.bin" || fail "pkcs11-tool read aes$size"
  want="$(xxd -p -c 64 "$T/aes$size.bin")"
  [ "${#want}" -eq $((size / 4)) ] || fail "pkcs11-tool returned ${#want} hex digits"
  for bits in 2048 3072 4096; do
    kf export --key "aes$size" --kek "$T/kek$bits.pem" --kid "$KID" --out "$T/a.byok"
    expect_contains "$T/out" "two-step: RSA-OAEP-SHA1 + CKM_AES_KEY_WRAP_PAD (0x210A) in the token"
    $PY "$HERE/oracle.py" open "$T/a.byok" "$T/kek$bits.key" --expect-secret-hex "$want" >/dev/null \
      || fail "python oracle: AES-$size under RSA-$bits"; pass
    openssl_open "$T/a.byok" "$T/kek$bits.key" "$T/rec.bin"
    [ "$(xxd -p -c 64 "$T/rec.bin")" = "$want" ] || fail "OpenSSL oracle: AES-$size under RSA-$bits"; pass
    kf verify "$T/a.byok" --kek-private "$T/kek$bits.key" --expect-secret-hex "$want"
    expect_contains "$T/out" "matches the expected key"
    rm -f "$T/a.byok"
  done
done
# Blob shape: field order, unpadded base64url, generator, exact length.
kf export --key aes256 --kek KEKforBYOK --kid "$KID" --out "$T/aes.byok"
grep -q "^{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"$KID\",\"alg\":\"dir\",\"enc\":\"CKM_RSA_AES_KEY_WRAP\"},\"ciphertext\":\"[A-Za-z0-9_-]*\",\"generator\":\"keyferry [0-9.]*; SoftHSM project SoftHSM v2 firmware 2.6\"}$" "$T/aes.byok" \
  || fail "blob layout: $(cat "$T/aes.byok")"; pass
kf inspect "$T/aes.byok" --kek "$T/kek4096.pem"
expect_contains "$T/out" "ciphertext:  552 bytes, base64url unpadded"
expect_contains "$T/out" "target fits: AES-256"

# EC targets the defective token wraps correctly (PKCS#8 length a multiple of 8).
for c in P-384 secp256k1; do
  kf key create --type ec --curve "$c" --label "ec-$c" --flags extractable
  point="$(p11_object "ec-$c" "Public Key" | sed -n 's/^ *EC_POINT: *//p')"
  [ -n "$point" ] || fail "no EC_POINT from pkcs11-tool for ec-$c"
  kf export --key "ec-$c" --kek KEKforBYOK --kid "$KID" --out "$T/ec.byok"
  $PY "$HERE/oracle.py" open "$T/ec.byok" "$T/kek4096.key" --expect-ec-point "$point" >"$T/o" \
    || { cat "$T/o"; fail "python oracle: EC $c from the HSM"; }; pass
  openssl_open "$T/ec.byok" "$T/kek4096.key" "$T/rec.der"
  openssl pkey -inform DER -in "$T/rec.der" -noout || fail "OpenSSL: recovered EC $c is not PKCS#8"; pass
  rm -f "$T/ec.byok"
done

# Refusals where SoftHSM 2.6.1 would write a wrong blob: no output file.
kf key create --type rsa --size 2048 --label rsa --flags extractable
kf_fails "would write a wrong blob for RSA keys" export --key rsa --kek KEKforBYOK --kid "$KID" --out "$T/r.byok"
expect_absent "$T/r.byok"
for c in P-256 P-521; do
  kf key create --type ec --curve "$c" --label "ec-$c" --flags extractable
  kf_fails "would write a wrong blob for EC $c keys" export --key "ec-$c" --kek KEKforBYOK --kid "$KID" --out "$T/e.byok"
  expect_absent "$T/e.byok"
done
# The ephemeral key and KEK copies are session objects: nothing left behind.
p11 -O >"$T/objs"
[ "$(grep -c "Secret Key Object" "$T/objs")" -eq 3 ] || fail "unexpected secret keys left: $(grep -c 'Secret Key Object' "$T/objs")"; pass

# RSA and EC keys from files (software wrap), every size and curve.
for bits in 2048 3072 4096; do
  openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" -out "$T/t.key" 2>/dev/null
  openssl pkey -in "$T/t.key" -pubout -out "$T/t.pub"
  kf export --from-file "$T/t.key" --kek "$T/kek4096.pem" --kid "$KID" --out "$T/t.byok"
  expect_contains "$T/err" "not HSM-protected"
  $PY "$HERE/oracle.py" open "$T/t.byok" "$T/kek4096.key" --expect-public-pem "$T/t.pub" >/dev/null \
    || fail "python oracle: RSA-$bits from file"; pass
  openssl_open "$T/t.byok" "$T/kek4096.key" "$T/rec.der"
  openssl pkey -inform DER -in "$T/rec.der" -pubout | cmp -s - "$T/t.pub" || fail "OpenSSL oracle: RSA-$bits"; pass
  kf verify "$T/t.byok" --kek-private "$T/kek4096.key" --expect-public "$T/t.pub"
  rm -f "$T/t.byok"
done
for c in P-256 P-384 P-521 secp256k1; do
  openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$c" -out "$T/t.key" 2>/dev/null
  openssl ec -in "$T/t.key" -out "$T/t.sec1" 2>/dev/null   # SEC1 input form
  openssl pkey -in "$T/t.key" -pubout -out "$T/t.pub"
  kf export --from-file "$T/t.sec1" --kek "$T/kek2048.pem" --kid "$KID" --out "$T/t.byok"
  $PY "$HERE/oracle.py" open "$T/t.byok" "$T/kek2048.key" --expect-public-pem "$T/t.pub" >/dev/null \
    || fail "python oracle: EC $c from file"; pass
  rm -f "$T/t.byok"
done
openssl rand 32 >"$T/raw.aes"
kf export --from-file "$T/raw.aes" --kek "$T/kek3072.pem" --kid "$KID" --out "$T/t.byok"
$PY "$HERE/oracle.py" open "$T/t.byok" "$T/kek3072.key" --expect-secret-hex "$(xxd -p -c 64 "$T/raw.aes")" >/dev/null \
  || fail "python oracle: raw AES from file"; pass

# Other destinations (tested in full in profiles_*_test.sh): AWS's direct
# RSAES_OAEP_SHA_1 of an AES-256 key is one OAEP block, raw.
kf export --key aes256 --kek KEKforBYOK --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --out "$T/aws.bin"
n=$(stat -c %s "$T/aws.bin"); [ "$n" -eq 512 ] || fail "aws blob is $n bytes"; pass
openssl pkeyutl -decrypt -inkey "$T/kek4096.key" -in "$T/aws.bin" -out "$T/rec.bin" \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1
[ "$(xxd -p -c 64 "$T/rec.bin")" = "$(xxd -p -c 64 "$T/aes256.bin")" ] || fail "aws format does not open"; pass
kf_fails "this one has 2048" export --key aes256 --kek "$T/kek2048.pem" --format gcp --import-method rsa-oaep-3072-sha1-aes-256 --out "$T/g.bin"

# Bad input: one line, non-zero exit, no file.
kf key create --type aes --size 256 --label locked
kf_fails "is not extractable" export --key locked --kek KEKforBYOK --kid "$KID" --out "$T/x.byok"
expect_absent "$T/x.byok"
kf_fails "no private or secret key labelled 'ghost'" export --key ghost --kek KEKforBYOK --kid "$KID" --out "$T/x.byok"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout -out "$T/ec.pem"
kf_fails "KEK must be an RSA key" export --key aes256 --kek "$T/ec.pem" --kid "$KID" --out "$T/x.byok"
make_kek 1024 kek1024
kf_fails "KEK must be RSA 2048, 3072 or 4096 bits; this one has 1024" export --key aes256 --kek "$T/kek1024.pem" --kid "$KID" --out "$T/x.byok"
printf -- '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqh!!!\n-----END PUBLIC KEY-----\n' >"$T/corrupt.pem"
kf_fails "not a KEK public key" export --key aes256 --kek "$T/corrupt.pem" --kid "$KID" --out "$T/x.byok"
kf_fails "neither a file nor a KEK imported" export --key aes256 --kek nosuchkek --kid "$KID" --out "$T/x.byok"
kf_fails "kid has no key version" export --key aes256 --kek KEKforBYOK --kid https://v.localhost/keys/KEKforBYOK --out "$T/x.byok"
kf_fails "missing --kid" export --key aes256 --kek KEKforBYOK --out "$T/x.byok"
KEYFERRY_PIN=wrong kf_fails "PIN incorrect" export --key aes256 --kek KEKforBYOK --kid "$KID" --out "$T/x.byok"
kf_fails "native CKM_RSA_AES_KEY_WRAP requested but the token does not offer it" export --key aes256 --kek KEKforBYOK --kid "$KID" --route native --out "$T/x.byok"
kf_fails "fails the RFC 5649 known-answer test" export --key aes256 --kek KEKforBYOK --kid "$KID" --kwp-mechanism 0x2109 --out "$T/x.byok"
expect_absent "$T/x.byok"
kf_fails "exists (use --force" export --key aes256 --kek KEKforBYOK --kid "$KID" --out "$T/aes.byok"
kf export --key aes256 --kek KEKforBYOK --kid "$KID" --out "$T/aes.byok" --force
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/small.key" 2>/dev/null
kf_fails "RSA target must be 2048, 3072 or 4096 bits" export --from-file "$T/small.key" --kek "$T/kek2048.pem" --kid "$KID" --out "$T/x.byok"
head -c 20 /dev/urandom >"$T/junk"
kf_fails "not a private key" export --from-file "$T/junk" --kek "$T/kek2048.pem" --kid "$KID" --out "$T/x.byok"
expect_absent "$T/x.byok"
ls "$T" | grep -q '\.tmp\.' && fail "temporary file left behind"; pass
done_checks
