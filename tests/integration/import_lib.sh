# Setup and helpers of the import tests (import_test.sh,
# import_formats_test.sh), sourced after lib.sh. Token B, the destination:
# keyferry's default token ($KEYFERRY_HOME). Token A, the source: a second
# SoftHSM token with its own SOFTHSM2_CONF ($A_HOME).
init_token
A_HOME="$T/homeA"
KEYFERRY_HOME="$A_HOME" kf token init
p11A() { KEYFERRY_HOME="$A_HOME" p11 "$@"; }
head -c 16 /dev/zero >"$T/zero16"
head -c 48 /dev/urandom >"$T/msg"

# ec_pub_pem LABEL CURVE OUT [A]: the public key of token A's (or B's) EC
# pair LABEL as PEM, from the EC_POINT pkcs11-tool reads (Python builds the
# SubjectPublicKeyInfo).
ec_pub_pem() {
  local point
  point="$(KEYFERRY_HOME="${4:-$KEYFERRY_HOME}" p11_object "$1" "Public Key" | sed -n 's/^ *EC_POINT: *//p')"
  [ -n "$point" ] || fail "no EC_POINT for $1"
  $PY - "$2" "$point" "$3" <<'PYEOF' || fail "EC point of $1 is not a $2 point"
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(),
         "secp256k1": ec.SECP256K1()}[sys.argv[1]]
p = bytes.fromhex(sys.argv[2])
if p[0] == 0x04 and p[1] == len(p) - 2:
    p = p[2:]  # the DER OCTET STRING around CKA_EC_POINT
key = ec.EllipticCurvePublicKey.from_encoded_point(curve, p)
open(sys.argv[3], "wb").write(key.public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
PYEOF
  pass
}

# created_id LABEL: the CKA_ID key create printed (pkcs11-tool selects keys
# by --id: its --label does not select the key to encrypt with).
created_id() {
  local id
  id="$(sed -n "s/^created .* key '$1' id \([0-9a-f]*\)$/\1/p" "$T/out")"
  [ -n "$id" ] || { cat "$T/out" >&2; fail "no id in key create's output for $1"; }
  echo "$id"
}

# imported_id LABEL: the CKA_ID import printed.
imported_id() {
  local id
  id="$(sed -n "s/^imported .* key '$1' id \([0-9a-f]*\)$/\1/p" "$T/out")"
  [ -n "$id" ] || { cat "$T/out" >&2; fail "no id in import's output for $1"; }
  echo "$id"
}

# ec_signed_in_b ID DIGEST PUB: token B signs the digest with key ID (raw
# ECDSA, pkcs11-tool), OpenSSL verifies it with PUB.
ec_signed_in_b() {
  openssl dgst "-$2" -binary "$T/msg" >"$T/dig"
  p11 -s -m ECDSA --id "$1" -i "$T/dig" -o "$T/sig" --signature-format openssl ||
    fail "pkcs11-tool could not sign with B's key $1"
  openssl pkeyutl -verify -pubin -inkey "$3" -in "$T/dig" -sigfile "$T/sig" >/dev/null ||
    fail "B's signature does not verify with the source's public key $3"
  pass
}

# rsa_signed_in_b ID PUB: RSA PKCS#1 v1.5 SHA-256, as above.
rsa_signed_in_b() {
  p11 -s -m SHA256-RSA-PKCS --id "$1" -i "$T/msg" -o "$T/sig" || fail "pkcs11-tool could not sign with B's key $1"
  openssl dgst -sha256 -verify "$2" -signature "$T/sig" "$T/msg" >/dev/null ||
    fail "B's RSA signature does not verify with the source's public key $2"
  pass
}
