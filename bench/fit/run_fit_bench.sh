#!/usr/bin/env bash
# Builds and runs the scaling-law engine's benchmarks (server/fit) and prints
# their figures. Usage: bench/fit/run_fit_bench.sh [build-dir] [reps]
#   build-dir  default ./build (configured if missing)
#   reps       coverage repetitions, default 100 (about 5 minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
reps="${2:-100}"
if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLADDER_BUILD_TRAINER=OFF
fi
cmake --build "$build" --target ladder_fit_bench -j2
bench="$build/bench/fit/ladder_fit_bench"
echo "== $(date -u +%FT%TZ) on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
"$bench" grid --repeats 3
"$bench" bootstrap --threads 2 --resamples 200
"$bench" predict --calls 100000
"$bench" warmstart --datasets 3 --resamples 20
"$bench" coverage --reps "$reps" --resamples 200 --threads 2
