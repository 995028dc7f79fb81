#!/usr/bin/env bash
# keyferry inspect / verify on blobs written by an independent implementation
# (Python's cryptography), valid and damaged. No HSM involved.
source "$(dirname "$0")/lib.sh"

KID="https://myvault.localhost:8443/keys/KEKforBYOK/$(openssl rand -hex 16)"
make_kek 3072 kek
make_kek 2048 other
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/ec.key" 2>/dev/null
openssl pkey -in "$T/ec.key" -pubout -out "$T/ec.pub"
secret="$(openssl rand -hex 32)"

$PY "$HERE/oracle.py" make "$T/aes.byok" "$T/kek.pem" "$KID" --secret-hex "$secret"
$PY "$HERE/oracle.py" make "$T/ec.byok" "$T/kek.pem" "$KID" --private-pem "$T/ec.key" --padded

kf inspect "$T/aes.byok" --kek "$T/kek.pem"
expect_contains "$T/out" "ciphertext:  424 bytes, base64url unpadded"
expect_contains "$T/out" "RSA-OAEP:  384 bytes (KEK RSA-3072)"
expect_contains "$T/out" "target fits: AES-256"
expect_contains "$T/out" "generator:   keyferry test oracle"
kf inspect "$T/aes.byok"
expect_contains "$T/out" "inferred: give --kek to check"
kf inspect "$T/ec.byok" --kek "$T/kek.pem"
expect_contains "$T/out" "base64url padded"
expect_contains "$T/out" "EC P-384"

kf verify "$T/aes.byok" --kek-private "$T/kek.key" --expect-secret-hex "$secret"
expect_contains "$T/out" "verified: AES-256 key recovered"
kf verify "$T/ec.byok" --kek-private "$T/kek.key" --expect-public "$T/ec.pub"
expect_contains "$T/out" "verified: EC P-384 key recovered"
kf_fails "differs from --expect-secret-hex" verify "$T/aes.byok" --kek-private "$T/kek.key" --expect-secret-hex "$(openssl rand -hex 32)"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 2>/dev/null | openssl pkey -pubout -out "$T/ec2.pub"
kf_fails "does not match the public key" verify "$T/ec.byok" --kek-private "$T/kek.key" --expect-public "$T/ec2.pub"
kf_fails "RSA-OAEP part does not decrypt" verify "$T/aes.byok" --kek-private "$T/other.key"

# A SoftHSM 2.6.1-style blob: PKCS#8 followed by zero padding, MLI padded.
$PY - "$T/kek.pem" "$T/ec.key" "$KID" >"$T/padded.byok" <<'PY'
import base64, json, os, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
kek = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
p8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                       serialization.NoEncryption())
p8 += b"\0" * (-len(p8) % 8 or 8)
k = os.urandom(32)
oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
ct = kek.encrypt(k, oaep) + aes_key_wrap_with_padding(k, p8)
print(json.dumps({"schema_version": "1.0.0", "header": {"kid": sys.argv[3], "alg": "dir",
      "enc": "CKM_RSA_AES_KEY_WRAP"}, "ciphertext": base64.urlsafe_b64encode(ct).decode().rstrip("=")}))
PY
kf verify "$T/padded.byok" --kek-private "$T/kek.key" --expect-public "$T/ec.pub"
expect_contains "$T/out" "trailing zero bytes (SoftHSM 2.6.1 padding defect)"

# Damaged blobs: each one line on stderr, non-zero exit.
mutate() {  # IN OUT PYTHON-EXPRESSION-ON-bytes-ct
  $PY - "$1" "$2" "$3" <<'PY'
import base64, json, sys
b = json.load(open(sys.argv[1]))
s = b["ciphertext"]; ct = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
ct = eval(sys.argv[3])
b["ciphertext"] = base64.urlsafe_b64encode(bytes(ct)).decode().rstrip("=")
json.dump(b, open(sys.argv[2], "w"))
PY
}
mutate "$T/aes.byok" "$T/oaep.byok" 'ct[:5] + bytes([ct[5] ^ 1]) + ct[6:]'
kf_fails "RSA-OAEP part does not decrypt" verify "$T/oaep.byok" --kek-private "$T/kek.key"
mutate "$T/aes.byok" "$T/kwp.byok" 'ct[:-3] + bytes([ct[-3] ^ 0x80]) + ct[-2:]'
kf_fails "AES-KWP part fails its integrity check" verify "$T/kwp.byok" --kek-private "$T/kek.key"
mutate "$T/aes.byok" "$T/trunc.byok" 'ct[:-8]'
kf_fails "AES-KWP part fails its integrity check" verify "$T/trunc.byok" --kek-private "$T/kek.key"
mutate "$T/aes.byok" "$T/odd.byok" 'ct[:-1]'
kf_fails "is not a multiple of 8" inspect "$T/odd.byok" --kek "$T/kek.pem"
kf_fails "is not a multiple of 8" verify "$T/odd.byok" --kek-private "$T/kek.key"
mutate "$T/aes.byok" "$T/short.byok" 'ct[:390]'
kf_fails "ciphertext too short" inspect "$T/short.byok" --kek "$T/kek.pem"
sed 's/"CKM_RSA_AES_KEY_WRAP"/"RSA_AES_KEY_WRAP_256"/' "$T/aes.byok" >"$T/enc.byok"
kf_fails "header.enc must be" inspect "$T/enc.byok"
sed 's/"dir"/"RSA-OAEP"/' "$T/aes.byok" >"$T/alg.byok"
kf_fails "header.alg must be" inspect "$T/alg.byok"
sed 's/"1.0.0"/"2.0.0"/' "$T/aes.byok" >"$T/schema.byok"
kf_fails "unsupported schema_version" inspect "$T/schema.byok"
sed 's|/keys/KEKforBYOK/[0-9a-f]*"|/keys/KEKforBYOK"|' "$T/aes.byok" >"$T/kid.byok"
kf_fails "header.kid has no key version" inspect "$T/kid.byok"
$PY -c 'import json,sys; b=json.load(open(sys.argv[1])); b["ciphertext"]=b["ciphertext"].replace("-","+").replace("_","/")+"+/"; json.dump(b,open(sys.argv[2],"w"))' "$T/aes.byok" "$T/b64.byok"
kf_fails "ciphertext is not valid base64url" inspect "$T/b64.byok"
head -c 100 "$T/aes.byok" >"$T/cut.byok"
kf_fails "not valid JSON" inspect "$T/cut.byok"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.byok"
kf_fails "larger than 65536 bytes" inspect "$T/big.byok"
kf_fails "KEK must be" inspect "$T/aes.byok" --kek "$T/ec.pub"
kf_fails "cannot open" inspect "$T/missing.byok"
kf_fails "expects exactly one FILE.byok" inspect
done_checks
