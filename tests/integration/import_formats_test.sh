#!/usr/bin/env bash
# keyferry import --format azure-release|aws|gcp|vault|oci: the containers of
# `keyferry export --format` (docs/byok-format.md §5, §7) unwrapped into a
# token. SoftHSM token A exports with the SHA-1 profiles (SoftHSM 2.6.1's
# RSA-OAEP has SHA-1 only), SoftHSM token B imports, and each key is shown
# to be the same by clients other than keyferry (pkcs11-tool signs in B,
# OpenSSL verifies with A's public key; AES blocks compared). SHA-256
# profiles are refused by SoftHSM with one line naming the mechanism and no
# object made (pkcs11-tool's list before and after); NSS softokn imports
# SHA-256 blobs made by Python `cryptography` (independent code).
source "$(dirname "$0")/lib.sh"
source "$HERE/import_lib.sh"

kf kek create --label KEKB --out "$T/KEKB.pem"
KID="$(sed -n 's/^kid: //p' "$T/out")"
# GCP's SHA-1 methods and Vault wrap under RSA-4096 only: one such KEK.
kf kek create --label KEKB4096 --size 4096 --out "$T/KEKB4096.pem"

# Token A's keys: AES-256 and EC P-384 (SoftHSM 2.6.1 exports no RSA key:
# its wrap defect, docs/tokens.md).
KEYFERRY_HOME="$A_HOME" kf key create --type aes --size 256 --label aes --flags extractable,encrypt,decrypt
aid="$(created_id aes)"
KEYFERRY_HOME="$A_HOME" kf key create --type ec --curve P-384 --label ec --flags extractable,sign
ec_pub_pem ec P-384 "$T/ec.pub" "$A_HOME"
p11A --encrypt -m AES-ECB --id "$aid" -i "$T/zero16" -o "$T/kcvA" || fail "A: AES-ECB"

# same_aes LABEL: B's imported AES key encrypts a zero block as A's does.
same_aes() {
  p11 --encrypt -m AES-ECB --id "$(imported_id "$1")" -i "$T/zero16" -o "$T/kcvB" || fail "B: AES-ECB with $1"
  cmp -s "$T/kcvA" "$T/kcvB" || fail "$1 in B is not A's AES key"; pass
}

# --- SHA-1 profiles: SoftHSM A -> SoftHSM B ---------------------------------
# NAME KEY KEK FORMAT-ARGS...
n=0
while read -r name key kek args; do
  n=$((n + 1))
  read -ra fmt <<<"$args"
  extra=(); [ "${fmt[1]}" = azure-release ] && extra=(--kid "$KID")
  KEYFERRY_HOME="$A_HOME" kf export --key "$key" --kek "$T/$kek.pem" "${fmt[@]}" "${extra[@]}" --out "$T/$name.bin"
  if [ "$key" = aes ]; then decl=(--type aes --size 256); else decl=(--type ec --curve P-384); fi
  kf import --byok "$T/$name.bin" --kek "$kek" --label "$name" "${decl[@]}" "${fmt[@]}" --flags modifiable
  cp "$T/out" "$T/$name.out"
  if [ "$key" = aes ]; then
    expect_contains "$T/out" "imported AES-256 key '$name'"
    same_aes "$name"
  else
    expect_contains "$T/out" "imported EC P-384 key '$name'"
    ec_signed_in_b "$(imported_id "$name")" sha384 "$T/ec.pub"
  fi
done <<'LIST'
aws-hyb ec KEKB --format aws --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_1
aws-dir aes KEKB --format aws --wrapping-algorithm RSAES_OAEP_SHA_1
gcp aes KEKB4096 --format gcp --import-method rsa-oaep-4096-sha1-aes-256
vault ec KEKB4096 --format vault --hash-function SHA1
release aes KEKB --format azure-release --enc CKM_RSA_AES_KEY_WRAP
LIST
[ "$n" = 5 ] || fail "ran $n of 5 SHA-1 profiles"; pass
expect_contains "$T/aws-dir.out" "route: direct: RSA-OAEP-SHA1 in the token"
expect_contains "$T/aws-hyb.out" "route: composed: RSA-OAEP-SHA1 + CKM_AES_KEY_WRAP_PAD in the token"

# --- Refusals: one line, the token as it was ------------------------------------
# SHA-256 files for SoftHSM B, written in software (export --from-file): the
# token, not the file, is what is refused.
openssl rand 32 >"$T/aes.raw"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/ec.raw" 2>/dev/null
p11 -O | sort >"$T/before"
while read -r key kek args; do
  read -ra fmt <<<"$args"
  extra=(); [ "${fmt[1]}" = azure-release ] && extra=(--kid "$KID")
  if [ "$key" = aes ]; then decl=(--type aes --size 256); else decl=(--type ec --curve P-384); fi
  kf export --from-file "$T/$key.raw" --kek "$T/$kek.pem" "${fmt[@]}" "${extra[@]}" --out "$T/s256.bin" --force
  kf_fails "token lacks CKM_RSA_PKCS_OAEP with SHA-256 (CKG_MGF1_SHA256)" \
    import --byok "$T/s256.bin" --kek "$kek" --label s256 "${decl[@]}" "${fmt[@]}" --flags modifiable
done <<'LIST'
ec KEKB --format aws --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256
aes KEKB --format aws --wrapping-algorithm RSAES_OAEP_SHA_256
aes KEKB4096 --format gcp --import-method rsa-oaep-4096-sha256
ec KEKB4096 --format vault
aes KEKB4096 --format oci
aes KEKB --format azure-release --enc RSA_AES_KEY_WRAP_256
LIST
# The file says one method, the command another.
kf_fails "hash_function is 'SHA1', not --format vault's SHA256" \
  import --byok "$T/vault.bin" --kek KEKB4096 --label x --type ec --curve P-384 --format vault --flags modifiable
kf_fails "header.enc is 'CKM_RSA_AES_KEY_WRAP'" \
  import --byok "$T/release.bin" --kek KEKB --label x --type aes --format azure-release --enc RSA_AES_KEY_WRAP_256 --flags modifiable
# The destination's own rules, as export applies them.
kf_fails "--format aws needs --wrapping-algorithm" import --byok "$T/aws-dir.bin" --kek KEKB --label x --type aes --format aws --flags modifiable
kf_fails "--hash-function does not apply to --format aws" import --byok "$T/aws-dir.bin" --kek KEKB --label x --type aes --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --hash-function SHA1 --flags modifiable
kf_fails "wraps under RSA 4096-bit wrapping keys; this one has 2048" import --byok "$T/aws-dir.bin" --kek KEKB --label x --type aes --format gcp --import-method rsa-oaep-4096-sha1-aes-256 --flags modifiable
kf_fails "aws RSAES_OAEP_SHA_1 does not take AES-128 keys" import --byok "$T/aws-dir.bin" --kek KEKB --label x --type aes --size 128 --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --flags modifiable
# A direct blob under the wrong declaration or damaged.
$PY -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[9]^=1; open(sys.argv[2],"wb").write(b)' "$T/aws-dir.bin" "$T/flip.bin"
kf_fails "a token unwraps only secret (AES) keys directly with RSA-OAEP" import --byok "$T/aws-dir.bin" --kek KEKB --label x --type ec --curve P-384 --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --flags modifiable
kf_fails "the key does not decrypt with the KEK" import --byok "$T/flip.bin" --kek KEKB --label x --type aes --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --flags modifiable
head -c 200 "$T/aws-dir.bin" >"$T/short.bin"
kf_fails "a direct RSA-OAEP blob is one 256-byte block under this KEK; this one has 200 bytes" import --byok "$T/short.bin" --kek KEKB --label x --type aes --format aws --wrapping-algorithm RSAES_OAEP_SHA_1 --flags modifiable
kf_fails "the transfer key does not decrypt with the KEK" import --byok "$T/gcp.bin" --kek KEKB --label x --type ec --curve P-384 --format aws --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_1 --flags modifiable
p11 -O | sort >"$T/after"
diff "$T/before" "$T/after" >&2 || fail "a refused import changed the token's objects"; pass

# --- SHA-256 profiles into NSS softokn, files made by Python cryptography ----
nss_token nssB
kf kek create "${NSS[@]}" --label KEKN --out "$T/KEKN.pem"
KIDN="$(sed -n 's/^kid: //p' "$T/out")"
openssl rand 32 >"$T/n.raw"
want="$(openssl enc -e -aes-256-ecb -nopad -K "$(xxd -p -c 64 "$T/n.raw")" -in "$T/zero16" | xxd -p -c 64)"
# py_make KIND OUT: KIND direct (aws RSAES_OAEP_SHA_256: one RSA-OAEP-SHA256
# block of the key) or release (azure-release RSA_AES_KEY_WRAP_256: OAEP-SHA256
# of a fresh AES-256 key, RFC 5649 of the key, in the key_hsm JSON).
py_make() {
  $PY - "$1" "$T/KEKN.pem" "$T/n.raw" "$2" "$KIDN" <<'PYEOF' || fail "Python could not make the $1 file"
import base64, json, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
kind, kek_path, key_path, out, kid = sys.argv[1:]
kek = serialization.load_pem_public_key(open(kek_path, "rb").read())
key = open(key_path, "rb").read()
oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
if kind == "direct":
    open(out, "wb").write(kek.encrypt(key, oaep))
else:
    k = os.urandom(32)
    ct = kek.encrypt(k, oaep) + aes_key_wrap_with_padding(k, key)
    u = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
    inner = {"schema_version": "1.0", "header": {"kid": kid, "alg": "dir", "enc": "RSA_AES_KEY_WRAP_256"}, "ciphertext": u(ct)}
    open(out, "w").write(u(json.dumps(inner).encode()))
PYEOF
}
py_make direct "$T/n-direct.bin"
kf import "${NSS[@]}" --byok "$T/n-direct.bin" --kek KEKN --label n-direct --type aes --size 256 --format aws --wrapping-algorithm RSAES_OAEP_SHA_256
expect_contains "$T/out" "imported AES-256 key 'n-direct'"
expect_contains "$T/out" "route: direct: RSA-OAEP-SHA256 in the token"
py_make release "$T/n-release.bin"
kf import "${NSS[@]}" --byok "$T/n-release.bin" --kek KEKN --label n-release --type aes --size 256 --format azure-release --enc RSA_AES_KEY_WRAP_256
expect_contains "$T/out" "route: composed: RSA-OAEP-SHA256 + CKM_AES_KEY_WRAP_KWP in the token"
for l in n-direct n-release; do
  ecb="$($PY "$HERE/p11_probe.py" aes-ecb-zero "$NSS_MODULE" "$NSS_INIT" "NSS Certificate DB" "$l")" || fail "p11_probe: NSS $l"
  [ "$ecb" = "$want" ] || fail "NSS's $l is not the Python file's AES key"; pass
done
kf_fails "the blob holds an AES-256 key, not the declared AES-128" import "${NSS[@]}" --byok "$T/n-release.bin" --kek KEKN --label x --type aes --size 128 --format azure-release --enc RSA_AES_KEY_WRAP_256
kf key list "${NSS[@]}"
tail -n +2 "$T/out" | awk '{print $1, $(NF - 1)}' | sort >"$T/objs"
printf '%s\n' "private KEKN" "public KEKN" "secret n-direct" "secret n-release" | sort >"$T/want"
diff "$T/want" "$T/objs" >&2 || fail "the NSS token holds other objects than the test's keys"; pass

done_checks
