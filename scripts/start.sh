#!/usr/bin/env bash
# Installs what is missing, builds keyferry and keyferryd, and starts
# keyferryd on embedded defaults: software custody, SQLite store, a private CA
# made on first start, vault "myvault" at https://myvault.localhost:8443.
# Extra arguments go to keyferryd (see `keyferryd --help`).
#
# State (master key, database, certificates) lives in $KEYFERRY_HOME/server,
# by default .state/keyferry/server in this checkout. Stop with Ctrl-C (SIGTERM
# works too: in-flight requests finish first).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/deps.sh" build

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build keyferryd keyferry >/dev/null

export KEYFERRY_HOME="${KEYFERRY_HOME:-$root/.state/keyferry}"
mkdir -p "$KEYFERRY_HOME"
chmod 700 "$KEYFERRY_HOME"

# glibc on Debian 12 does not resolve *.localhost: name the vault host.
if ! getent hosts myvault.localhost >/dev/null 2>&1; then
  if [ -w /etc/hosts ]; then
    echo "127.0.0.1 myvault.localhost" >>/etc/hosts
  else
    echo "note: add '127.0.0.1 myvault.localhost' to /etc/hosts" >&2
  fi
fi

data="$KEYFERRY_HOME/server"
cat >&2 <<MSG
== keyferryd starting (data in $data)
Point clients at it (in another shell):
  export REQUESTS_CA_BUNDLE=\$PWD/.state/bundle.pem   # Python SDK and az: system CAs + our CA
  cat /etc/ssl/certs/ca-certificates.crt $data/tls/ca.pem > .state/bundle.pem
  export NODE_EXTRA_CA_CERTS=$data/tls/ca.pem        # JS SDK
  export IDENTITY_ENDPOINT=https://127.0.0.1:8081/msi/token IDENTITY_HEADER=\$(cat $data/identity-header)
  vault URL: https://myvault.localhost:8443   (token: build/src/server/keyferryd token --principal keyferry-admin)
MSG
exec "$root/build/src/server/keyferryd" serve "$@"
