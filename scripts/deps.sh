#!/usr/bin/env bash
# Installs the Debian 12 packages keyferry needs, only those that are missing.
# Usage: scripts/deps.sh [build|test|all]   (default: all)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config ccache
  libabsl-dev libssl-dev openssl nlohmann-json3-dev
  libsqlite3-dev libboost1.74-dev
  libpq-dev   # the PostgreSQL store (store = postgres)
  softhsm2 libp11-kit-dev
)
test_pkgs=(
  libgtest-dev libgmock-dev googletest
  postgresql-15   # initdb/postgres for the PostgreSQL store's tests
  haproxy   # the load balancer in front of the cluster test's three nodes
  opensc python3 python3-cryptography xxd sqlite3 curl
  libnss3-tools   # certutil: the NSS softokn databases of the second token's tests
  chromium   # the web console's browser test (tests/e2e/console_test.sh), driven by playwright-core
  python3-azure azure-cli
  clang   # the ThreadSanitizer + -Wthread-safety build of scripts/test.sh
  libclang-rt-14-dev libfuzzer-14-dev   # ASan/UBSan + libFuzzer (fuzz/)
  clang-tidy-14   # scripts/tidy.sh
)

want=("${build_pkgs[@]}")
case "${1:-all}" in
  build) ;;
  test|all)
    want+=("${test_pkgs[@]}")
    # The JS SDK tests need Node.js with npm. A machine may carry its own
    # Node (e.g. NodeSource's nodejs, which bundles npm and conflicts with
    # Debian's npm package): install Debian's only when npm is missing.
    command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
    ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "keyferry: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
