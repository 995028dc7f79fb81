#!/usr/bin/env bash
# keyferry export --format PROFILE from key files (the software route), for
# every profile × target type: each file the destination accepts is opened by
# two independent implementations written from the destinations' documents
# (the OpenSSL CLI, and Python `cryptography` in profile_oracle.py), and the
# recovered encoding must be exactly the key's (PKCS#8 DER made by `openssl
# pkcs8`, or the raw AES bytes). Every combination a destination refuses
# (type, wrapping key size, RSA_2048 + P-521 direct) fails with one line and
# writes no file.
source "$(dirname "$0")/lib.sh"
source "$HERE/profiles_lib.sh"

KID="https://myvault.localhost:8443/keys/KEKforBYOK/$(openssl rand -hex 16)"
RELEASE_KID="TpmEphemeralEncryptionKey"
for bits in 2048 3072 4096; do make_kek "$bits" "kek$bits"; done

# Targets: a key file and its exact expected encoding.
for t in $TARGETS; do
  case "$t" in
    rsa*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${t#rsa}" -out "$T/$t.key" 2>/dev/null ;;
    p256|p384|p521) openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:P-${t#p}" -out "$T/$t.key" 2>/dev/null ;;
    k256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$T/$t.key" 2>/dev/null ;;
    aes*) openssl rand $(( ${t#aes} / 8 )) >"$T/$t.key" ;;
  esac
  case "$t" in
    aes*) cp "$T/$t.key" "$T/$t.want" ;;
    *) openssl pkcs8 -topk8 -nocrypt -in "$T/$t.key" -outform DER -out "$T/$t.want" ;;
  esac
done
# One EC input in SEC1 form: the encoding sent is still PKCS#8.
openssl ec -in "$T/p384.key" -out "$T/p384.sec1" 2>/dev/null && mv "$T/p384.sec1" "$T/p384.key"

: >"$T/manifest"
opened=0 refused=0 i=0
for m in "${METHODS[@]}"; do
  read -r fmt method opt md kind sizes <<<"$m"
  method_args "$opt" "$method"
  IFS=, read -r -a kek_sizes <<<"$sizes"
  for t in $TARGETS; do
    out="$T/$fmt-$method-$t.out"
    extra=()
    case "$fmt" in azure) extra=(--kid "$KID") ;; azure-release) extra=(--kid "$RELEASE_KID") ;; esac
    if ! allowed "$fmt" "$kind" "$t"; then
      kf_fails "does not take" export --from-file "$T/$t.key" --kek "$T/kek${kek_sizes[0]}.pem" \
        --format "$fmt" "${M_ARGS[@]}" "${extra[@]}" --out "$out"
      expect_absent "$out"
      refused=$((refused + 1))
      continue
    fi
    # Cycle through the wrapping key sizes the destination issues; AWS
    # refuses P-521 under RSA_2048 with RSAES_OAEP_* (tested below).
    bits="${kek_sizes[$((i % ${#kek_sizes[@]}))]}"; i=$((i + 1))
    if [ "$fmt:$kind:$t:$bits" = "aws:direct:p521:2048" ]; then bits=3072; fi
    kf export --from-file "$T/$t.key" --kek "$T/kek$bits.pem" --format "$fmt" "${M_ARGS[@]}" \
      "${extra[@]}" --out "$out"
    expect_contains "$T/out" "route software (OpenSSL)"
    ossl_open "$fmt" "$md" "$kind" "$out" "$T/kek$bits.key" "$T/rec"
    cmp -s "$T/rec" "$T/$t.want" || fail "OpenSSL: $fmt $method $t under RSA-$bits is not the key"; pass
    case "$fmt" in vault) x="$(vault_type "$t")" ;; azure-release) x="$RELEASE_KID" ;; *) x="" ;; esac
    echo "$fmt $method $out $T/kek$bits.key bytes:$T/$t.want $x" >>"$T/manifest"
    opened=$((opened + 1))
  done
done
$PY "$HERE/profile_oracle.py" "$T/manifest" >"$T/o" || { cat "$T/o" >&2; fail "python oracle"; }
expect_contains "$T/o" "OK $opened files opened"

# A destination's wrapping key sizes: no other size is taken.
kf_fails "this one has 4096" export --from-file "$T/aes256.key" --kek "$T/kek4096.pem" --format gcp --import-method rsa-oaep-3072-sha256 --out "$T/x"
kf_fails "this one has 2048" export --from-file "$T/aes256.key" --kek "$T/kek2048.pem" --format gcp --import-method rsa-oaep-4096-sha1-aes-256 --out "$T/x"
kf_fails "this one has 3072" export --from-file "$T/aes256.key" --kek "$T/kek3072.pem" --format vault --out "$T/x"
kf_fails "this one has 2048" export --from-file "$T/aes256.key" --kek "$T/kek2048.pem" --format oci --out "$T/x"
# AWS: no direct wrap of ECC_NIST_P521 under RSA_2048 (a larger key works, above).
kf_fails "cannot wrap EC P-521 keys under an RSA 2048 wrapping key" export --from-file "$T/p521.key" --kek "$T/kek2048.pem" --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --out "$T/x"
# Methods are named, never guessed.
kf_fails "needs --wrapping-algorithm" export --from-file "$T/aes256.key" --kek "$T/kek2048.pem" --format aws --out "$T/x"
kf_fails "needs --import-method" export --from-file "$T/aes256.key" --kek "$T/kek3072.pem" --format gcp --out "$T/x"
kf_fails "unknown --wrapping-algorithm 'RSAES_PKCS1_V1_5'" export --from-file "$T/aes256.key" --kek "$T/kek2048.pem" --format aws --wrapping-algorithm RSAES_PKCS1_V1_5 --out "$T/x"
kf_fails "unknown --hash-function 'SHA224'" export --from-file "$T/aes256.key" --kek "$T/kek4096.pem" --format vault --hash-function SHA224 --out "$T/x"
kf_fails "--enc does not apply to --format aws" export --from-file "$T/aes256.key" --kek "$T/kek2048.pem" --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --enc RSA_AES_KEY_WRAP_256 --out "$T/x"
kf_fails "missing --kid" export --from-file "$T/aes256.key" --kek "$T/kek2048.pem" --format azure-release --out "$T/x"
kf_fails "unknown --format 'azure-hsm'" export --from-file "$T/aes256.key" --kek "$T/kek2048.pem" --format azure-hsm --out "$T/x"
expect_absent "$T/x"
ls "$T" | grep -q '\.tmp\.' && fail "temporary file left behind"; pass
[ "$opened" -ge 100 ] && [ "$refused" -ge 50 ] || fail "matrix too small: $opened opened, $refused refused"; pass
echo "profiles: $opened files opened by both oracles, $refused refusals"
done_checks
