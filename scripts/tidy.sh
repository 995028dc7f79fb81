#!/usr/bin/env bash
# Runs clang-tidy with the repository's .clang-tidy (the bugprone-* checks, and
# no function over 150 lines) and fails on any finding.
#
#   scripts/tidy.sh [BUILD_DIR] [FILES...]
#
# BUILD_DIR (default build-tidy) supplies compile_commands.json. It must be a
# clang build configured with -DKF_FUZZ=ON so that fuzz/ is in it; when it has
# no compile_commands.json yet, it is configured here (nothing is compiled:
# no header is generated). Without FILES, every .cc under src/ (tests
# included), fuzz/ and bench/ is checked.
#
# Jobs: KF_TIDY_JOBS (default: the number of cores), run under nice.
# clang-tidy: CLANG_TIDY (default clang-tidy-14, else clang-tidy).
# Exit status: 0 when clean, 1 on any finding or failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

build="${1:-build-tidy}"
[ $# -gt 0 ] && shift
jobs="${KF_TIDY_JOBS:-$(nproc)}"
tidy="${CLANG_TIDY:-$(command -v clang-tidy-14 || command -v clang-tidy || true)}"
if [ -z "$tidy" ]; then
  echo "tidy.sh: clang-tidy not found (apt-get install clang-tidy)" >&2
  exit 1
fi

if [ ! -f "$build/compile_commands.json" ]; then
  echo "== configuring $build (clang, KF_FUZZ) =="
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Debug -DKF_FUZZ=ON -DKF_BUILD_TESTS=ON >/dev/null
fi

files=()
if [ $# -gt 0 ]; then
  for f in "$@"; do files+=("$(realpath "$f")"); done
else
  mapfile -t files < <(python3 - "$build/compile_commands.json" "$root" <<'EOF'
import json, os, sys
root = sys.argv[2]
dirs = tuple(os.path.join(root, d) + os.sep for d in ("src", "fuzz", "bench"))
names = {os.path.realpath(e["file"]) for e in json.load(open(sys.argv[1]))}
print("\n".join(sorted(f for f in names if f.startswith(dirs))))
EOF
  )
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "tidy.sh: no files to check" >&2
  exit 1
fi

# clang-tidy does not see gtest's TEST bodies (the function it would flag is
# spelled in gtest's macro, a system header): count those lines here, from
# the TEST line to its closing brace (clang-format puts it in column 0).
test_status=0
python3 - "${files[@]}" <<'EOF' || test_status=1
import re, sys
bad = 0
for path in sys.argv[1:]:
    lines = open(path, encoding="utf-8").read().split("\n")
    start = None
    for i, line in enumerate(lines):
        if start is None and re.match(r"(TYPED_)?TEST(_F|_P)?\(", line):
            start = i
        elif start is not None and line == "}":
            n = i - start + 1
            if n > 150:
                print(f"{path}:{start + 1}:1: error: test body spans {n} lines"
                      " (over 150) [readability-function-size]")
                bad += 1
            start = None
sys.exit(1 if bad else 0)
EOF

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "== clang-tidy: ${#files[@]} files, $jobs jobs =="
# One clang-tidy per file; its findings go to $out/<n>.log, and $out/<n>.fail
# marks a file that did not pass. The "N warnings generated" counts (of
# checks that are off, or of headers outside HeaderFilterRegex) are dropped.
export tidy build out
status=0
printf '%s\n' "${files[@]}" | nl -ba -w1 -s' ' >"$out/list"
# xargs runs in a process group of its own (setsid), so that a tidy.sh that
# is interrupted or killed takes its clang-tidy workers with it.
setsid xargs -a "$out/list" -P "$jobs" -L 1 bash -c '
    if ! nice "$tidy" -p "$build" --quiet "$1" >"$out/$0.log" 2>"$out/$0.err"; then
      touch "$out/$0.fail"
    fi
    grep -Ev "^[0-9]+ warnings? generated\.$" "$out/$0.err" >>"$out/$0.log" || true
    cat "$out/$0.log"' &
workers=$!
trap 'kill -TERM -- -"$workers" 2>/dev/null; rm -rf "$out"; exit 143' INT TERM
wait "$workers" || status=1
trap - INT TERM

failed=$(find "$out" -name '*.fail' | wc -l)
if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ] || [ "$test_status" -ne 0 ]; then
  # A header's finding repeats once per file that includes it: count each once.
  echo "== findings (each counted once) =="
  cat "$out"/*.log | grep -Eo '^[^ :]+:[0-9]+:[0-9]+: (error|warning): .*\[[^]]+\]$' |
    sort -u | grep -Eo '\[[^],]+' | tr -d '[' | sort | uniq -c || true
  echo "tidy.sh: $failed of ${#files[@]} files have findings" >&2
  exit 1
fi
echo "tidy.sh: clean (${#files[@]} files)"
