#!/usr/bin/env bash
# Builds and runs the scaling-law engine's benchmarks (server/fit) and prints
# their figures. Usage: bench/fit/run_fit_bench.sh [build-dir] [reps]
#   build-dir  default ./build (configured if missing)
#   reps       coverage repetitions, default 100 (5-10 minutes on 2 cores)
# With /usr/bin/python3 and python3-scipy installed, the same 4,500-start
# grid also runs in scipy on the same runs, and the ratio is printed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
reps="${2:-100}"
if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLADDER_BUILD_TRAINER=OFF
fi
cmake --build "$build" --target ladder_fit_bench -j2
bench="$build/bench/fit/ladder_fit_bench"
echo "== $(date -u +%FT%TZ), $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load $(cut -d' ' -f1-3 /proc/loadavg)"

grid_out="$("$bench" grid --repeats 3)"
echo "$grid_out"
if /usr/bin/python3 -c 'import scipy' 2>/dev/null; then
  scipy_out="$("$bench" export-runs | /usr/bin/python3 "$root/bench/fit/scipy_approach3.py")"
  echo "$scipy_out"
  scipy_s="$(sed -n 's/.*runs: \([0-9.]*\) s.*/\1/p' <<<"$scipy_out")"
  for t in 1 2; do
    ours="$(sed -n "s/.*threads $t: min \([0-9.]*\) s.*/\1/p" <<<"$grid_out")"
    awk -v s="$scipy_s" -v o="$ours" -v t="$t" \
      'BEGIN { printf "  ratio scipy / ladder (%d thread%s): %.1fx\n", t, t > 1 ? "s" : "", s / o }'
  done
else
  echo "(scipy comparison skipped: apt-get install python3-scipy)"
fi
"$bench" bootstrap --threads 2 --resamples 200
"$bench" predict --calls 100000
"$bench" warmstart --datasets 3 --resamples 20
"$bench" coverage --reps "$reps" --resamples 200 --threads 2
