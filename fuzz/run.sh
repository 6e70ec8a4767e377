#!/usr/bin/env bash
# Builds the fuzz targets with clang (configuring BUILD_DIR if needed) and
# runs each for SECONDS, from its seed corpus in fuzz/corpus/<target>/ (new
# inputs go to a scratch corpus, not into the repository). Prints the
# executions and crashes per target; exits non-zero on any crash.
#   fuzz/run.sh BUILD_DIR SECONDS
#   LADDER_FUZZ_RUNS=1000000 fuzz/run.sh BUILD_DIR 0   a fixed number of executions instead
#   LADDER_FUZZ_TARGETS="trainer_event" ...            a subset
# Crashing inputs are kept in BUILD_DIR/artifacts/<target>/.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")" && pwd)
build=$1
seconds=$2
targets=${LADDER_FUZZ_TARGETS:-"sweep_spec import_parser trainer_event run_config"}
cxx=${LADDER_FUZZ_CXX:-clang++-14}
command -v "$cxx" >/dev/null || {
  echo "fuzz/run.sh: $cxx not found (deploy/install-deps.sh installs clang-14 and libclang-rt-14-dev)" >&2
  exit 1
}

if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$src" -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 || {
  tail -50 "$build/build.log" >&2
  exit 1
}

limit=(-max_total_time="$seconds")
[ -n "${LADDER_FUZZ_RUNS:-}" ] && limit=(-runs="$LADDER_FUZZ_RUNS")
failed=0
for t in $targets; do
  scratch="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  mkdir -p "$scratch" "$artifacts"
  log="$build/$t.log"
  rc=0
  # -rss_limit_mb: a parser that allocates its way past 2 GB is a finding.
  "$build/${t}_fuzz" "${limit[@]}" -rss_limit_mb=2048 -max_len=65536 -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$scratch" "$src/corpus/$t" \
    >"$log" 2>&1 || rc=$?
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
  echo "$t: ${execs:-0} executions, $crashes crashes (log $log)"
  if [ "$crashes" -ne 0 ]; then
    failed=1
    grep -m5 -E 'ERROR|runtime error|fuzz check failed|SUMMARY' "$log" >&2 || true
  fi
done
exit "$failed"
