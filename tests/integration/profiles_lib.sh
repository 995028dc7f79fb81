# Helpers for the export profile tests (docs/byok-format.md §5). Source after
# lib.sh. Everything here is written from the destinations' documentation,
# not from keyferry's code: the method table, which key types each
# destination takes, and an OpenSSL CLI opener per container.

# Every method: "FORMAT METHOD OPTION HASH KIND WRAPPING_BITS".
# OPTION is the flag keyferry takes the method with ("-" for azure).
METHODS=(
  "azure CKM_RSA_AES_KEY_WRAP - sha1 hybrid 2048,3072,4096"
  "azure-release CKM_RSA_AES_KEY_WRAP --enc sha1 hybrid 2048,3072,4096"
  "azure-release RSA_AES_KEY_WRAP_256 --enc sha256 hybrid 2048,3072,4096"
  "azure-release RSA_AES_KEY_WRAP_384 --enc sha384 hybrid 2048,3072,4096"
  "aws RSA_AES_KEY_WRAP_SHA_1 --wrapping-algorithm sha1 hybrid 2048,3072,4096"
  "aws RSA_AES_KEY_WRAP_SHA_256 --wrapping-algorithm sha256 hybrid 2048,3072,4096"
  "aws RSAES_OAEP_SHA_1 --wrapping-algorithm sha1 direct 2048,3072,4096"
  "aws RSAES_OAEP_SHA_256 --wrapping-algorithm sha256 direct 2048,3072,4096"
  "gcp rsa-oaep-3072-sha1-aes-256 --import-method sha1 hybrid 3072"
  "gcp rsa-oaep-4096-sha1-aes-256 --import-method sha1 hybrid 4096"
  "gcp rsa-oaep-3072-sha256-aes-256 --import-method sha256 hybrid 3072"
  "gcp rsa-oaep-4096-sha256-aes-256 --import-method sha256 hybrid 4096"
  "gcp rsa-oaep-3072-sha256 --import-method sha256 direct 3072"
  "gcp rsa-oaep-4096-sha256 --import-method sha256 direct 4096"
  "vault SHA1 --hash-function sha1 hybrid 4096"
  "vault SHA256 --hash-function sha256 hybrid 4096"
  "vault SHA384 --hash-function sha384 hybrid 4096"
  "vault SHA512 --hash-function sha512 hybrid 4096"
  "oci RSA_OAEP_AES_SHA256 --wrapping-algorithm sha256 hybrid 4096"
  "oci RSA_OAEP_SHA256 --wrapping-algorithm sha256 direct 4096"
)
TARGETS="rsa2048 rsa3072 rsa4096 p256 p384 p521 k256 aes128 aes192 aes256"

# allowed FORMAT KIND TARGET: does the destination import TARGET with a
# method of KIND (hybrid/direct)? From each destination's documentation.
allowed() {
  local list
  case "$1:$2" in
    azure:*|azure-release:*) list="$TARGETS" ;;
    # AWS: RSA_AES_* "for wrapping RSA and ECC key material"; RSAES_OAEP_*
    # "all types … except RSA"; symmetric keys are 256-bit.
    aws:hybrid) list="rsa2048 rsa3072 rsa4096 p256 p384 p521 k256" ;;
    aws:direct) list="p256 p384 p521 k256 aes256" ;;
    # GCP: RSA 2048-4096, EC P-256/P-384/secp256k1, AES 16 or 32 bytes;
    # direct methods "cannot be used to wrap RSA keys".
    gcp:hybrid) list="rsa2048 rsa3072 rsa4096 p256 p384 k256 aes128 aes256" ;;
    gcp:direct) list="p256 p384 k256 aes128 aes256" ;;
    # Vault transit types: rsa-*, ecdsa-p256/p384/p521, aes128/256-gcm96.
    vault:*) list="rsa2048 rsa3072 rsa4096 p256 p384 p521 aes128 aes256" ;;
    # OCI: RSA and AES 128/192/256; no ECDSA; RSA_OAEP_SHA256 for AES.
    oci:hybrid) list="rsa2048 rsa3072 rsa4096 aes128 aes192 aes256" ;;
    oci:direct) list="aes128 aes192 aes256" ;;
  esac
  [[ " $list " == *" $3 "* ]]
}

# vault_type TARGET: transit's key type name.
vault_type() {
  case "$1" in
    rsa*) echo "rsa-${1#rsa}" ;;
    p256|p384|p521) echo "ecdsa-$1" ;;
    aes128|aes256) echo "${1}-gcm96" ;;
  esac
}

b64url_decode() {  # stdin -> stdout
  local s
  s="$(tr -d '\n' | tr '_-' '/+')"
  while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
  printf '%s' "$s" | base64 -d
}

# modulus_bytes KEY: sets N to the RSA modulus length of a private key file,
# in bytes (asked of OpenSSL once per file).
declare -A MODULUS_BYTES=()
modulus_bytes() {
  if [ -z "${MODULUS_BYTES[$1]:-}" ]; then
    MODULUS_BYTES[$1]=$(( $(openssl pkey -in "$1" -noout -text 2>/dev/null | sed -n 's/.*Private-Key: (\([0-9]*\) bit.*/\1/p') / 8 ))
  fi
  N="${MODULUS_BYTES[$1]}"
}

# ossl_open FORMAT HASH KIND FILE KEK_KEY OUT: the OpenSSL CLI opener. The
# container is taken apart with jq and coreutils, the wrap undone with
# `openssl pkeyutl` (RSA-OAEP, MGF1 with the same hash) and `openssl enc
# -id-aes256-wrap-pad` (RFC 5649).
ossl_open() {
  local fmt="$1" md="$2" kind="$3" file="$4" key="$5" out="$6" n
  case "$fmt" in
    aws|gcp) cp "$file" "$T/o_ct" ;;
    azure) jq -r .ciphertext "$file" | b64url_decode >"$T/o_ct" ;;
    azure-release) b64url_decode <"$file" | jq -r .ciphertext | b64url_decode >"$T/o_ct" ;;
    vault) jq -r .ciphertext "$file" | base64 -d >"$T/o_ct" ;;
    oci) jq -r .keyMaterial "$file" | base64 -d >"$T/o_ct" ;;
  esac
  modulus_bytes "$key"; n="$N"
  local oaep=(-pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$md" -pkeyopt "rsa_mgf1_md:$md")
  if [ "$kind" = direct ]; then
    [ "$(stat -c %s "$T/o_ct")" -eq "$n" ] || fail "$file: direct ciphertext is not $n bytes"
    openssl pkeyutl -decrypt -inkey "$key" -in "$T/o_ct" -out "$out" "${oaep[@]}" \
      || fail "OpenSSL: $file does not decrypt with RSA-OAEP-$md"
  else
    head -c "$n" "$T/o_ct" >"$T/o_c1"
    tail -c +"$((n + 1))" "$T/o_ct" >"$T/o_c2"
    openssl pkeyutl -decrypt -inkey "$key" -in "$T/o_c1" -out "$T/o_k" "${oaep[@]}" \
      || fail "OpenSSL: $file's first $n bytes do not decrypt with RSA-OAEP-$md"
    [ "$(stat -c %s "$T/o_k")" -eq 32 ] || fail "$file: OAEP part is not an AES-256 key"
    openssl enc -d -id-aes256-wrap-pad -iv A65959A6 -K "$(xxd -p -c 64 "$T/o_k")" \
      -in "$T/o_c2" -out "$out" || fail "OpenSSL: $file's KWP part does not unwrap"
    rm -f "$T/o_k"
  fi
  pass
}

# method_args OPTION METHOD: keyferry's arguments naming the method.
method_args() {
  if [ "$1" = - ]; then M_ARGS=(); else M_ARGS=("$1" "$2"); fi
}
