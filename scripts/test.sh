#!/usr/bin/env bash
# Installs what is missing, builds keyferry, and runs every test:
#   1. the full suite (unit, SoftHSM integration, oracle interop) on a normal build;
#   2. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#      built with clang -DKF_FUZZ=ON so the same build also holds the libFuzzer
#      targets (fuzz/), which then replay their regression files and fuzz for
#      a few seconds each (scripts/fuzz.sh);
#   3. the unit tests again under ThreadSanitizer, built with clang, whose
#      -Wthread-safety checks every lock annotation (base/mutex.h).
# ctest prints the summary line of each run. Exit status is non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="$(nproc)"

"$root/scripts/deps.sh" all

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKF_WERROR=ON -DKF_BUILD_TESTS=ON >/dev/null
ninja -C build -j "$jobs"

echo "== tests =="
(cd build && ctest --output-on-failure -j "$jobs" --timeout 600)

echo "== build (clang, ASan/UBSan, fuzz targets) =="
# build-asan used to be a GCC build: CMake cannot switch a build's compiler.
if [ -f build-asan/CMakeCache.txt ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' build-asan/CMakeCache.txt; then
  rm -rf build-asan
fi
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKF_SANITIZE=ON -DKF_FUZZ=ON -DKF_WERROR=ON -DKF_BUILD_TESTS=ON >/dev/null
ninja -C build-asan -j "$jobs"

echo "== unit tests under ASan/UBSan =="
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs" -L unit --timeout 600)

echo "== fuzz targets: regressions, seed corpora, a few seconds each =="
"$root/scripts/fuzz.sh" --jobs "$jobs" build-asan

echo "== build (clang, ThreadSanitizer, -Wthread-safety) =="
CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKF_TSAN=ON -DKF_WERROR=ON -DKF_BUILD_TESTS=ON >/dev/null
ninja -C build-tsan -j "$jobs"

echo "== unit tests under ThreadSanitizer =="
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp"
(cd build-tsan && ctest --output-on-failure -j "$jobs" -L unit --timeout 600)
