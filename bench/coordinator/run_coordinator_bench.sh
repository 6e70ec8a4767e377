#!/usr/bin/env bash
# Coordinator benchmark, side by side in one run (MISSION.md acceptance):
#   1. lease+complete cycles/s from 500 SIMULATED workers through a real
#      ladder-coordinator and PostgreSQL (target: >= 2,000/s);
#   2. the same two transactions issued straight to PostgreSQL by 16 client
#      threads (the ceiling the database allows on this machine), so the RPC
#      layer's cost is visible;
#   3. p99 of Fits.PredictLoss over gRPC (target: < 2 ms).
#   bench/coordinator/run_coordinator_bench.sh [build-dir] [seconds-per-measurement]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
SECONDS_EACH=${2:-20}
BIN=$BUILD/bin
state=$(mktemp -d /tmp/ladder-bench.XXXXXX)
coord=""
cleanup() {
  if [ -n "$coord" ]; then kill "$coord" 2>/dev/null || true; wait "$coord" 2>/dev/null || true; fi
  "$ROOT/tests/postgres.sh" stop "$state/pg" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
"$ROOT/tests/postgres.sh" start "$state/pg" >/dev/null
admin=$(cat "$state/pg/url")
base=${admin%/*}
psql "$admin" -qc "CREATE DATABASE bench_rpc" >/dev/null
psql "$admin" -qc "CREATE DATABASE bench_sql" >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1 /proc/loadavg)"

"$BIN/ladder-coordinator" --listen 127.0.0.1:0 --database-url "$base/bench_rpc" --insecure-plaintext --plaintext-workers \
  --metrics-listen "" --db-pool-size "${LADDER_BENCH_POOL:-16}" --rpc-threads 64 >"$state/coordinator.log" 2>&1 &
coord=$!
port=""
for _ in $(seq 1 200); do
  port=$(grep -o "serving ladder.v1 on port [0-9]*" "$state/coordinator.log" | grep -o "[0-9]*$" || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$state/coordinator.log"; echo "coordinator did not start" >&2; exit 1; }

"$BIN/ladder_coordinator_bench" cycles --coordinator "127.0.0.1:$port" --workers 500 \
  --seconds "$SECONDS_EACH" --runs 60000 | tee "$state/cycles.txt"
"$BIN/ladder_coordinator_bench" predict --coordinator "127.0.0.1:$port" --queries 5000 | tee "$state/predict.txt"
kill "$coord"; wait "$coord" 2>/dev/null || true; coord=""
"$BIN/ladder_coordinator_bench" ceiling --database-url "$base/bench_sql" --clients 16 \
  --seconds "$SECONDS_EACH" --runs 60000 | tee "$state/ceiling.txt"

rpc_rate=$(grep -o "cycles_per_second=[0-9.]*" "$state/cycles.txt" | cut -d= -f2)
sql_rate=$(grep -o "cycles_per_second=[0-9.]*" "$state/ceiling.txt" | cut -d= -f2)
p99=$(grep -o "p99_ms=[0-9.e-]*" "$state/predict.txt" | cut -d= -f2)
awk -v r="$rpc_rate" -v s="$sql_rate" -v p="$p99" 'BEGIN {
  printf "summary: %.0f lease+complete cycles/s via gRPC from 500 simulated workers = %.2fx the 2,000/s target and %.2fx the direct-SQL ceiling (%.0f/s); ", r, r/2000, r/s, s;
  printf "PredictLoss p99 %.3f ms = %.2fx the 2 ms budget\n", p, p/2 }'
