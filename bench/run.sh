#!/usr/bin/env bash
# The keyferryd benchmark (issue 5), one command:
#   bench/run.sh [--rounds 3] [--seconds 3] [--connections 32]
#                [--list-keys 100000] [--scale-keys 1000000] [--only op,op]
#                [--store sqlite|postgres] [--nodes N] [--postgres-pool N]
# Installs what is missing, builds a Release keyferryd and the bench tools in
# build-bench/, starts keyferryd on embedded defaults in a temporary directory
# (--store postgres: on a private PostgreSQL 15 cluster made for the run;
# --nodes N: N keyferryd nodes on it behind HAProxy), and prints one table
# (keyferryd ops/s against the raw OpenSSL rate of the same arithmetic on
# this machine, p50/p99, the load generator's CPU), written as JSON under
# bench/results/. KF_BENCH_BUILD=<dir> reuses an existing build
# (CI's smoke run uses the test build).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${KF_BENCH_BUILD:-}"
if [ -z "$build" ]; then
  "$root/scripts/deps.sh" build
  build="$root/build-bench"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DKF_BUILD_TESTS=OFF >/dev/null
  ninja -C "$build" keyferryd kf_loadgen kf_raw kf_seed
fi
exec /usr/bin/python3 "$root/bench/bench.py" --build "$build" "$@"
