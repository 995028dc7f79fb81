#!/usr/bin/env bash
# Installs what is missing, builds keyferry, and runs a complete local BYOK
# export on keyferry's own SoftHSMv2 token, ending with a .byok file that the
# OpenSSL command line (an independent implementation) opens.
#
# State lives under .state/demo/ (token, KEK, blob); rerunning starts afresh.
# The vault side is played by a local RSA-4096 KEK (offline demo); the README
# walkthrough does the same against keyferryd.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/deps.sh" build
dpkg-query -W -f='${Status}' xxd 2>/dev/null | grep -q "ok installed" || "$root/scripts/deps.sh" all

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKF_BUILD_TESTS=OFF >/dev/null
ninja -C build keyferry >/dev/null
kf="$root/build/src/cli/keyferry"

demo="$root/.state/demo"
rm -rf "$demo"
mkdir -p "$demo"
chmod 700 "$demo"
export KEYFERRY_HOME="$demo/keyferry"
# Random PINs for this demo token, kept only in this shell's environment.
KEYFERRY_PIN="$(openssl rand -hex 12)"
KEYFERRY_SO_PIN="$(openssl rand -hex 12)"
export KEYFERRY_PIN KEYFERRY_SO_PIN

step() { printf '\n== %s\n' "$*"; }

step "keyferry token init"
"$kf" token init
"$kf" token info

step "the vault's KEK (stand-in): RSA-4096, public key as 'az keyvault key download' writes it"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$demo/kek-private.pem" 2>/dev/null
openssl pkey -in "$demo/kek-private.pem" -pubout -out "$demo/KEKforBYOK.publickey.pem"
kid="https://myvault.localhost:8443/keys/KEKforBYOK/$(openssl rand -hex 16)"
"$kf" kek import --file "$demo/KEKforBYOK.publickey.pem" --label KEKforBYOK

step "target key in the HSM: AES-256, sensitive, extractable only for wrapping"
"$kf" key create --type aes --size 256 --label mytarget \
  --flags sensitive,extractable,nonmodifiable,encrypt,decrypt,wrap,unwrap
"$kf" key flags --key mytarget

step "keyferry export"
"$kf" export --key mytarget --kek KEKforBYOK --kid "$kid" --out "$demo/mytarget.byok"
"$kf" inspect "$demo/mytarget.byok" --kek "$demo/KEKforBYOK.publickey.pem"

step "independent check with the OpenSSL command line"
python3 - "$demo/mytarget.byok" "$demo" <<'PY'
import base64, json, sys
ct = json.load(open(sys.argv[1]))["ciphertext"]
raw = base64.urlsafe_b64decode(ct + "=" * (-len(ct) % 4))
open(sys.argv[2] + "/c1.bin", "wb").write(raw[:512])
open(sys.argv[2] + "/c2.bin", "wb").write(raw[512:])
PY
openssl pkeyutl -decrypt -inkey "$demo/kek-private.pem" -in "$demo/c1.bin" -out "$demo/k.bin" \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1
openssl enc -d -id-aes256-wrap-pad -iv A65959A6 -K "$(xxd -p -c 64 "$demo/k.bin")" \
  -in "$demo/c2.bin" -out "$demo/recovered.bin"
size=$(stat -c %s "$demo/recovered.bin")
rm -f "$demo/k.bin" "$demo/recovered.bin" "$demo/c1.bin" "$demo/c2.bin"
[ "$size" -eq 32 ] || { echo "OpenSSL recovered $size bytes, expected 32" >&2; exit 1; }
echo "OpenSSL opened $demo/mytarget.byok: RSA-OAEP-SHA1 + RFC 5649 gave a 32-byte AES key."
echo
echo "Done. The blob is $demo/mytarget.byok; keyferry is $kf."
