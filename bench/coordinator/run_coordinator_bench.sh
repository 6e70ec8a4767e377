#!/usr/bin/env bash
# Coordinator benchmark, side by side in one run (issue 12's acceptance):
#   cycles       lease+complete cycles/s from WORKERS SIMULATED workers (in
#                PROCESSES processes) through a real ladder-coordinator and
#                PostgreSQL, plaintext on loopback (target >= 2,000/s, goal
#                10,000; 0 refusals; lease p99 < 50 ms);
#   cycles_paced the same with each run held HOLD s: a sustained rate, for the
#                latencies short of saturation;
#   cycles_mtls  the same over mutual TLS (deploy/certs/make-certs.sh);
#   progress     runs held TRAIN_SECONDS each with progress at 1 Hz (POINTS
#                curve points per report) and heartbeats while leases go on:
#                curve points/s stored, counted in the database (target
#                >= 5,000/s);
#   ceiling      the lease and completion transactions straight to
#                PostgreSQL from 16 client threads (what the database allows
#                on this machine), so the RPC layer's cost is visible;
#   predict      p99 of Fits.PredictLoss over gRPC (target < 2 ms).
# Each load line also has p50/p99 of every Agent RPC used, the refusals
# (RESOURCE_EXHAUSTED/UNAVAILABLE answers), the coordinator's CPU seconds and
# CPU% over the window (/proc/PID/stat) and peak RSS (VmHWM; each load gets a
# fresh coordinator and database), and the load average.
#   bench/coordinator/run_coordinator_bench.sh [BUILD] [SECONDS] [WORKERS] [PROCESSES] [RUNS]
# defaults: build 20 1000 4 max(60000, 10000 x SECONDS). More knobs in the environment:
# LADDER_BENCH_DEVICES (devices per worker, 1), LADDER_BENCH_HOLD_SECONDS (0.4, the
# paced load's hold per run), LADDER_BENCH_TRAIN_SECONDS
# (10), LADDER_BENCH_POINTS (10), LADDER_BENCH_QUERIES (5000),
# LADDER_BENCH_POOL (--db-pool-size, 16), LADDER_BENCH_COORDINATOR_ARGS
# (more coordinator flags; default --rpc-threads 64).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/coordinator/bench_lib.sh
. "$ROOT/bench/coordinator/bench_lib.sh"
BIN=$(bench_bin "${1:-$ROOT/build}")
SECONDS_EACH=${2:-20}
WORKERS=${3:-1000}
PROCESSES=${4:-4}
# Enough queued runs for the 10,000/s goal over the window (a load that runs
# out says so: runs_left_queued=0 and a note in the summary).
RUNS=${5:-$((SECONDS_EACH * 10000 > 60000 ? SECONDS_EACH * 10000 : 60000))}
DEVICES=${LADDER_BENCH_DEVICES:-1}
TRAIN_SECONDS=${LADDER_BENCH_TRAIN_SECONDS:-10}
POINTS=${LADDER_BENCH_POINTS:-10}
QUERIES=${LADDER_BENCH_QUERIES:-5000}
HOLD=${LADDER_BENCH_HOLD_SECONDS:-0.4}
read -r -a EXTRA <<<"${LADDER_BENCH_COORDINATOR_ARGS:---rpc-threads 64}"
unset LADDER_TEST_DATABASE_URL  # a private server, always
state=$(mktemp -d /tmp/ladder-bench.XXXXXX)
cleanup() {
  stop_all_coordinators
  "$ROOT/tests/postgres.sh" stop "$state/pg" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
"$ROOT/tests/postgres.sh" start "$state/pg" >/dev/null
admin=$(cat "$state/pg/url")
base=${admin%/*}
for db in bench_rpc bench_paced bench_tls bench_progress bench_sql; do psql "$admin" -qc "CREATE DATABASE $db" >/dev/null; done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(load_avg); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "load: $WORKERS SIMULATED workers in $PROCESSES processes, $DEVICES device(s) each, $SECONDS_EACH s per measurement"
plain=(--insecure-plaintext --plaintext-workers --db-pool-size "${LADDER_BENCH_POOL:-16}" "${EXTRA[@]}")
devices=(--devices-per-worker "$DEVICES")

# (a) cycles, plaintext on loopback; then (e) PredictLoss on the same coordinator.
start_coordinator plain --listen 127.0.0.1:0 --database-url "$base/bench_rpc" "${plain[@]}"
"$BIN/ladder_coordinator_bench" fill --coordinator "127.0.0.1:$coord_port" --runs "$RUNS" | tee "$state/fill.txt"
run_load cycles "$coord_pid" "127.0.0.1:$coord_port" "$SECONDS_EACH" "$base/bench_rpc" "${devices[@]}" |
  tee "$state/cycles.txt"
"$BIN/ladder_coordinator_bench" predict --coordinator "127.0.0.1:$coord_port" --queries "$QUERIES" |
  tee "$state/predict.txt"
stop_all_coordinators

# (a2) paced: each worker holds its run HOLD s (1 Hz progress, one point a
# report) before completing it, so the load asks a sustained rate (about
# WORKERS / HOLD cycles/s) instead of all the coordinator can give: the
# latencies at a steady rate, not at saturation (where, with every worker
# always waiting on a call, p50 is WORKERS / (2 x rate) by Little's law).
start_coordinator paced --listen 127.0.0.1:0 --database-url "$base/bench_paced" "${plain[@]}"
paced_runs=$(awk -v w="$WORKERS" -v d="$DEVICES" -v s="$SECONDS_EACH" -v h="$HOLD" \
  'BEGIN { printf "%d", w * d * (s / h + 3) + 100 }')
"$BIN/ladder_coordinator_bench" fill --coordinator "127.0.0.1:$coord_port" --runs "$paced_runs" >/dev/null
run_load cycles_paced "$coord_pid" "127.0.0.1:$coord_port" "$SECONDS_EACH" "$base/bench_paced" \
  "${devices[@]}" --train-seconds "$HOLD" --points-per-report 1 | tee "$state/paced.txt"
stop_all_coordinators

# (b) the same over mutual TLS: worker pool certificate CN=sim-* (every
# simulated worker's name starts with sim-), a submit token for the sweeps.
"$ROOT/deploy/certs/make-certs.sh" "$state/certs" --worker-pool sim- >/dev/null
"$BIN/ladder-coordinator" create-token --database-url "$base/bench_tls" --name bench --scopes submit \
  >"$state/token" 2>"$state/token.err" || { cat "$state/token.err" >&2; exit 1; }
start_coordinator tls --listen 127.0.0.1:0 --database-url "$base/bench_tls" \
  --tls-cert "$state/certs/server.pem" --tls-key "$state/certs/server-key.pem" \
  --tls-client-ca "$state/certs/ca.pem" --db-pool-size "${LADDER_BENCH_POOL:-16}" "${EXTRA[@]}"
tls=(--tls-ca "$state/certs/ca.pem" --tls-cert "$state/certs/worker-pool-sim.pem"
  --tls-key "$state/certs/worker-pool-sim-key.pem")
"$BIN/ladder_coordinator_bench" fill --coordinator "127.0.0.1:$coord_port" "${tls[@]}" \
  --token-file "$state/token" --runs "$RUNS" >/dev/null
run_load cycles_mtls "$coord_pid" "127.0.0.1:$coord_port" "$SECONDS_EACH" "$base/bench_tls" \
  "${devices[@]}" "${tls[@]}" | tee "$state/tls.txt"
stop_all_coordinators

# (c) progress at 1 Hz while leases go on.
start_coordinator progress --listen 127.0.0.1:0 --database-url "$base/bench_progress" "${plain[@]}"
progress_runs=$((WORKERS * DEVICES * (SECONDS_EACH / TRAIN_SECONDS + 3) + 100))
"$BIN/ladder_coordinator_bench" fill --coordinator "127.0.0.1:$coord_port" --runs "$progress_runs" >/dev/null
run_load progress "$coord_pid" "127.0.0.1:$coord_port" "$SECONDS_EACH" "$base/bench_progress" \
  "${devices[@]}" --train-seconds "$TRAIN_SECONDS" --points-per-report "$POINTS" | tee "$state/progress.txt"
stop_all_coordinators

# (d) the direct-SQL ceiling.
"$BIN/ladder_coordinator_bench" ceiling --database-url "$base/bench_sql" --clients 16 \
  --seconds "$SECONDS_EACH" --runs "$RUNS" | tee "$state/ceiling.txt"

val() { grep -o " $2=[0-9.e+-]*" "$state/$1.txt" | head -1 | cut -d= -f2; }
awk -v w="$WORKERS" -v d="$DEVICES" -v r="$(val cycles cycles_per_second)" -v t="$(val tls cycles_per_second)" \
  -v s="$(grep -o "cycles_per_second=[0-9.]*" "$state/ceiling.txt" | cut -d= -f2)" \
  -v rr="$(val cycles calls_rejected_for_load)" -v tr="$(val tls calls_rejected_for_load)" \
  -v lp="$(val cycles lease_ms_p99)" -v tp="$(val tls lease_ms_p99)" \
  -v pts="$(val progress progress_points_per_second_stored)" \
  -v p="$(grep -o "p99_ms=[0-9.e-]*" "$state/predict.txt" | cut -d= -f2)" \
  -v rq="$(val cycles runs_left_queued)" -v tq="$(val tls runs_left_queued)" \
  -v pr="$(val paced cycles_per_second)" -v pl="$(val paced lease_ms_p99)" \
  -v pc="$(val paced complete_ms_p99)" -v prr="$(val paced calls_rejected_for_load)" -v h="$HOLD" 'BEGIN {
  if (rq == 0 || tq == 0) printf "note: the queued runs ran out during a cycles load (runs_left_queued=0): its rate is a lower bound; pass more RUNS\n";
  printf "summary: %.0f lease+complete cycles/s via gRPC from %d simulated workers%s = %.2fx the 2,000/s target (%.2fx the 10,000/s goal) and %.2fx the direct-SQL ceiling (%.0f/s); ", r, w, (d > 1 ? " x " d " devices" : ""), r/2000, r/10000, r/s, s;
  printf "paced (runs held %s s): %.0f cycles/s = %.2fx the target with lease p99 %.1f ms = %.2fx the 50 ms budget, complete p99 %.1f ms, %d refusals; ", h, pr, pr/2000, pl, pl/50, pc, prr;
  printf "mTLS %.0f/s = %.2fx the target; refusals %d plaintext, %d mTLS (target 0); ", t, t/2000, rr, tr;
  printf "lease p99 %.1f ms plaintext, %.1f ms mTLS = %.2fx, %.2fx the 50 ms budget; ", lp, tp, lp/50, tp/50;
  printf "%.0f progress points/s stored = %.2fx the 5,000/s target; ", pts, pts/5000;
  printf "PredictLoss p99 %.3f ms = %.2fx the 2 ms budget\n", p, p/2 }'
