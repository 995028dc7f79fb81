#!/usr/bin/env bash
# Runs keyferry's libFuzzer targets (fuzz/README.md) from a build made with
# -DKF_FUZZ=ON; builds nothing itself.
#   scripts/fuzz.sh [--long SECONDS] [--time SECONDS] [--jobs N] [BUILD_DIR] [TARGET...]
# For every target (default: every *_fuzz in BUILD_DIR/fuzz, BUILD_DIR
# default build-asan): 1. replays each file of fuzz/regressions/<target>/
# and the seed corpus fuzz/corpus/<target>/; 2. fuzzes it for --time
# seconds (default 12), two targets at a time (--jobs). --long SECONDS
# fuzzes each target that long, one at a time (one core). New inputs go to
# BUILD_DIR/fuzz-work/<target>/ (kept between runs), crashes to
# BUILD_DIR/fuzz-crashes/. Prints one line per target (executions,
# coverage) and a total; exit status non-zero on any crash, leak, timeout
# or broken invariant.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=12
jobs=2
build=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --long) seconds="$2"; jobs=1; shift 2 ;;
    --time) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) if [ -z "$build" ] && [ -d "$1" ]; then build="$1"; else targets+=("$1"); fi
       shift ;;
  esac
done
build="$(cd "${build:-$root/build-asan}" && pwd)"
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz/*_fuzz; do
    [ -x "$f" ] && targets+=("$(basename "$f" _fuzz)")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets in $build/fuzz (configure with -DKF_FUZZ=ON)" >&2
  exit 2
fi
logs="$build/fuzz-logs"
mkdir -p "$logs" "$build/fuzz-crashes"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# dict_for prints the -dict flag of target $1, if it has one.
dict_for() {
  case "$1" in
    json|jwk|byok_blob|byok_import|jwt|shares|backup|keys_api)
      echo "-dict=$root/fuzz/dict/json.dict" ;;
    der_keys|pkcs8_diff) echo "-dict=$root/fuzz/dict/der.dict" ;;
    http_request) echo "-dict=$root/fuzz/dict/http.dict" ;;
  esac
}

# run_one replays and fuzzes target $1; its output goes to $logs/$1.log and
# its status to $logs/$1.rc.
run_one() {
  local t="$1" bin="$build/fuzz/$1_fuzz" log="$logs/$1.log" rc=0
  local work="$build/fuzz-work/$t" corpus="$root/fuzz/corpus/$t"
  local regress="$root/fuzz/regressions/$t"
  mkdir -p "$work" "$corpus"
  : >"$log"
  local files=()
  if [ -d "$regress" ]; then
    mapfile -t files < <(find "$regress" -type f ! -name '*.md' | sort)
  fi
  if [ ${#files[@]} -gt 0 ]; then
    echo "== replay ${#files[@]} regression files" >>"$log"
    "$bin" "${files[@]}" >>"$log" 2>&1 || rc=1
  fi
  if [ $rc -eq 0 ]; then
    echo "== fuzz $seconds s" >>"$log"
    # shellcheck disable=SC2046
    "$bin" $(dict_for "$t") -max_total_time="$seconds" -timeout=25 \
      -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz-crashes/$t-" "$work" "$corpus" \
      >>"$log" 2>&1 || rc=1
  fi
  echo "$rc" >"$logs/$t.rc"
}

start=$(date +%s)
running=0
for t in "${targets[@]}"; do
  if [ ! -x "$build/fuzz/${t}_fuzz" ]; then
    echo "fuzz.sh: no target $build/fuzz/${t}_fuzz" >&2
    exit 2
  fi
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

failed=0
total_execs=0
for t in "${targets[@]}"; do
  log="$logs/$t.log"
  rc="$(cat "$logs/$t.rc" 2>/dev/null || echo 1)"
  execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')"
  last="$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")"
  total_execs=$((total_execs + ${execs:-0}))
  status=ok
  if [ "$rc" != 0 ]; then
    status="FAILED (log: $log)"
    failed=$((failed + 1))
  fi
  printf 'fuzz %-12s execs %9s  cov %5s  ft %6s  corpus %5s  %s\n' \
    "$t" "${execs:-0}" "${cov:--}" "${ft:--}" "${corp:--}" "$status"
done
printf 'fuzz total: %d targets, %d executions, %d failed, %d s\n' \
  "${#targets[@]}" "$total_execs" "$failed" "$(($(date +%s) - start))"
if [ "$failed" -gt 0 ]; then
  for t in "${targets[@]}"; do
    if [ "$(cat "$logs/$t.rc" 2>/dev/null)" != 0 ]; then
      echo "---- $t ----"
      grep -E -A25 'ERROR: |fuzz invariant|runtime error|SUMMARY' "$logs/$t.log" | head -60
    fi
  done
  exit 1
fi
