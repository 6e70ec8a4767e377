#!/usr/bin/env bash
# Fault benchmark (issue 12): two ladder-coordinators on one PostgreSQL, a
# sweep of RUNS runs, WORKERS SIMULATED workers (in PROCESSES processes)
# pointed at both coordinators (gRPC target ipv4:127.0.0.1:P1,127.0.0.1:P2,
# pick_first), each run held TRAIN_SECONDS with progress at 1 Hz. A third of
# the way in, the first coordinator (the one pick_first connects everyone to)
# is killed with SIGKILL; two thirds in, PostgreSQL is restarted (pg_ctl
# restart -m fast, same data directory). After SECONDS the workers stop
# leasing, train out and complete what they hold, and exit; after one lease
# TTL more (expired leases are reclaimed), an audit in SQL:
#   duplicated_results   runs with more than one succeeded attempt       (0)
#   lost_results         completions the coordinator acknowledged whose
#                        run has no result                               (0)
#   acked_other_attempt  acknowledged completions whose run recorded
#                        another attempt's result                        (0)
#   runs_stuck           runs leased/running with no live attempt, or
#                        with a lease expired and not reclaimed, or still
#                        leased/running after every worker stopped       (0)
#   curve_gap_runs       succeeded runs whose curve misses a step        (0)
#   sweep_*              the sweep still exists, with every run, and its
#                        per-state counts and result columns agree       (ok)
# Prints key=value lines and "audit: ok" (exit 0) or "audit: FAILED" (exit 1).
#   bench/coordinator/run_fault_bench.sh [BUILD] [SECONDS] [RUNS] [WORKERS] [PROCESSES]
# defaults: build 120 100000 1000 4. Environment: LADDER_FAULT_TRAIN_SECONDS
# (5), LADDER_FAULT_POINTS (5 per report), LADDER_FAULT_LEASE_TTL (15s),
# LADDER_FAULT_HEARTBEAT (3s), LADDER_BENCH_COORDINATOR_ARGS (more
# coordinator flags; default --rpc-threads 64).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/coordinator/bench_lib.sh
. "$ROOT/bench/coordinator/bench_lib.sh"
BIN=$(bench_bin "${1:-$ROOT/build}")
SECONDS_TOTAL=${2:-120}
RUNS=${3:-100000}
WORKERS=${4:-1000}
PROCESSES=${5:-4}
TRAIN_SECONDS=${LADDER_FAULT_TRAIN_SECONDS:-5}
POINTS=${LADDER_FAULT_POINTS:-5}
TTL=${LADDER_FAULT_LEASE_TTL:-15s}
HEARTBEAT=${LADDER_FAULT_HEARTBEAT:-3s}
read -r -a EXTRA <<<"${LADDER_BENCH_COORDINATOR_ARGS:---rpc-threads 64}"
unset LADDER_TEST_DATABASE_URL  # a private server, always: it is restarted
state=$(mktemp -d /tmp/ladder-fault.XXXXXX)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
cleanup() {
  stop_all_coordinators
  "$ROOT/tests/postgres.sh" stop "$state/pg" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
"$ROOT/tests/postgres.sh" start "$state/pg" >/dev/null
admin=$(cat "$state/pg/url")
db=${admin%/*}/fault
psql "$admin" -qc "CREATE DATABASE fault" >/dev/null
pgdata=$(cat "$state/pg/datadir")/db
echo "machine: $(nproc) cores; load before: $(load_avg); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "fault run: $WORKERS SIMULATED workers in $PROCESSES processes, $RUNS-run sweep, ${TRAIN_SECONDS}s runs with progress at 1 Hz ($POINTS points), $SECONDS_TOTAL s"
flags=(--database-url "$db" --insecure-plaintext --plaintext-workers --lease-ttl "$TTL"
  --heartbeat-interval "$HEARTBEAT" --maintenance-interval 1s "${EXTRA[@]}")
start_coordinator coordinator-a --listen 127.0.0.1:0 "${flags[@]}"
# shellcheck disable=SC2154  # set by start_coordinator
pid_a=$coord_pid port_a=$coord_port
start_coordinator coordinator-b --listen 127.0.0.1:0 "${flags[@]}"
pid_b=$coord_pid port_b=$coord_port
target="ipv4:127.0.0.1:$port_a,127.0.0.1:$port_b"

t_fill=$(now_ms)
"$BIN/ladder_coordinator_bench" fill --coordinator "127.0.0.1:$port_a" --runs "$RUNS" \
  --sweep-size "$RUNS" --max-attempts 3 >"$state/fill.txt"
sweep=$(grep -o "first_sweep_id=[0-9]*" "$state/fill.txt" | cut -d= -f2)
echo "sweep_created: sweep_id=$sweep runs=$RUNS seconds=$(awk -v a="$t_fill" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')"

succeeded() { psql "$db" -Atc "SELECT count(*) FROM runs WHERE sweep_id = $sweep AND state = 'succeeded'" 2>/dev/null || echo nan; }
lead_ms=$((3000 + WORKERS * 6))
start_ms=$(($(now_ms) + lead_ms))
pids=()
for p in $(seq 0 $((PROCESSES - 1))); do
  n=$((WORKERS / PROCESSES + (p < WORKERS % PROCESSES ? 1 : 0)))
  [ "$n" -gt 0 ] || continue
  "$BIN/ladder_coordinator_bench" cycles --coordinator "$target" --workers "$n" \
    --name-prefix "sim-fault-p$p-" --seconds "$SECONDS_TOTAL" --start-at-unix-ms "$start_ms" \
    --train-seconds "$TRAIN_SECONDS" --points-per-report "$POINTS" --finish-leased \
    --samples-out "$state/fault.$p.samples" --acked-out "$state/acked.$p.tsv" \
    >"$state/fault.$p.out" 2>&1 &
  pids+=($!)
done
sleep_until_ms "$start_ms"
s0=$(succeeded)
cpu_b0=$(cpu_ticks "$pid_b")

# Fault 1: SIGKILL the first coordinator.
kill_ms=$((start_ms + SECONDS_TOTAL * 1000 / 3))
sleep_until_ms "$kill_ms"
s1=$(succeeded)
# Where the load went until now (pick_first: everyone on A).
cpu_a=$(cpu_ticks "$pid_a") cpu_b=$(cpu_ticks "$pid_b")
kill -9 "$pid_a"
wait "$pid_a" 2>/dev/null || true
echo "fault: coordinator A (port $port_a) killed with SIGKILL at t=$(((kill_ms - start_ms) / 1000))s; CPU seconds until then: A $(awk -v t="$cpu_a" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'), B $(awk -v t="$cpu_b" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'); load $(load_avg)"

# Fault 2: restart PostgreSQL (same data directory, same port).
restart_ms=$((start_ms + SECONDS_TOTAL * 2000 / 3))
sleep_until_ms "$restart_ms"
s2=$(succeeded)
t0=$(now_ms)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }
as_pg "$pgbin/pg_ctl -D $pgdata -m fast -w -t 60 restart >/dev/null"
echo "fault: PostgreSQL restarted at t=$(((restart_ms - start_ms) / 1000))s in $(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }') s; coordinator B $(kill -0 "$pid_b" 2>/dev/null && echo alive || echo DEAD)"

end_ms=$((start_ms + SECONDS_TOTAL * 1000))
sleep_until_ms "$end_ms"
s3=$(succeeded)
cpu_b1=$(cpu_ticks "$pid_b")
rss_b=$(peak_rss_mb "$pid_b")
load=$(load_avg)
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ "$failed" = 0 ] || { cat "$state"/fault.*.out >&2; echo "a load process failed" >&2; exit 1; }
grep -h "first error\|first UNAVAILABLE" "$state"/fault.*.out | sort -u | head -4 || true
drained_ms=$(now_ms)
b_alive=$(kill -0 "$pid_b" 2>/dev/null && echo 1 || echo 0)
merged=$("$BIN/ladder_coordinator_bench" merge "$state"/fault.*.samples)
echo "fault_load: ${merged#cycles: } processes=$PROCESSES coordinator_b_cpu_seconds=$(awk -v a="$cpu_b0" -v b="$cpu_b1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }') coordinator_b_peak_rss_mb=$rss_b load_average=$load"
third=$((SECONDS_TOTAL / 3))
awk -v a="$s0" -v b="$s1" -v c="$s2" -v d="$s3" -v t="$third" -v r="$SECONDS_TOTAL" 'BEGIN {
  printf "phases: completed_per_second_before_kill=%.1f after_kill=%.1f after_pg_restart=%.1f (by runs succeeded in the database; phases of %d, %d, %d s)\n",
    (b - a) / t, (c - b) / t, (d - c) / (r - 2 * t), t, t, r - 2 * t }'
echo "coordinator_b_log_warnings_and_errors=$(grep -c ' [WE] [a-z_-]*\]' "$state/coordinator-b.log" || true)"
{ grep ' [WE] [a-z_-]*\]' "$state/coordinator-b.log" || true; } | sed 's/^[^]]*] *//; s/[0-9][0-9]*/N/g' |
  cut -c1-160 | sort | uniq -c | sort -rn | head -5 |
  sed 's/^/  coordinator B: /'

# Expired leases (answers lost with coordinator A, leases dropped) are
# reclaimed after one TTL by the surviving coordinator's maintenance.
ttl_ms=$(awk -v t="$TTL" 'BEGIN { v = t + 0; if (t ~ /ms$/) print v; else if (t ~ /m$/) print v * 60000; else print v * 1000 }')
sleep_until_ms $((drained_ms + ttl_ms + 3000))

cat "$state"/acked.*.tsv >"$state/acked.tsv"
psql "$db" -q -v ON_ERROR_STOP=1 -At -F= >"$state/audit.txt" <<SQL
CREATE TEMP TABLE acked (attempt_id bigint, run_id bigint);
\copy acked FROM '$state/acked.tsv'
SELECT 'completions_acknowledged', count(*) FROM acked;
SELECT 'duplicated_results', count(*) FROM (SELECT run_id FROM attempts WHERE outcome = 'succeeded'
  GROUP BY run_id HAVING count(*) > 1) d;
SELECT 'lost_results', count(*) FROM acked a JOIN runs r ON r.id = a.run_id
  WHERE r.state <> 'succeeded' OR r.succeeded_attempt_id IS NULL OR r.result IS NULL;
SELECT 'acked_other_attempt', count(*) FROM acked a JOIN runs r ON r.id = a.run_id
  WHERE r.succeeded_attempt_id IS NOT NULL AND r.succeeded_attempt_id <> a.attempt_id;
SELECT 'runs_stuck', count(*) FROM runs WHERE state IN ('leased', 'running');
SELECT 'runs_stuck_lease_expired_not_reclaimed', count(*) FROM attempts
  WHERE outcome IS NULL AND lease_expires_at < now() - interval '5 seconds';
SELECT 'runs_stuck_without_live_attempt', count(*) FROM runs r WHERE r.state IN ('leased', 'running')
  AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = r.id AND a.outcome IS NULL);
SELECT 'live_attempts_left', count(*) FROM attempts WHERE outcome IS NULL;
SELECT 'curve_gap_runs', count(*) FROM (SELECT c.run_id FROM curve_points c JOIN runs r ON r.id = c.run_id
  WHERE r.state = 'succeeded' GROUP BY c.run_id HAVING count(*) <> max(c.step) + 1) g;
SELECT 'curve_points_missing', coalesce(sum(m), 0) FROM (SELECT max(c.step) + 1 - count(*) AS m
  FROM curve_points c JOIN runs r ON r.id = c.run_id WHERE r.state = 'succeeded' GROUP BY c.run_id) g;
SELECT 'succeeded_runs_without_curve', count(*) FROM runs r WHERE r.sweep_id = $sweep
  AND r.state = 'succeeded' AND NOT EXISTS (SELECT 1 FROM curve_points c WHERE c.run_id = r.id);
SELECT 'curve_count_column_mismatch', count(*) FROM runs r
  WHERE r.curve_points <> (SELECT count(*) FROM curve_points c WHERE c.run_id = r.id);
SELECT 'curve_points_stored', count(*) FROM curve_points;
SELECT 'sweep_exists', count(*) FROM sweeps WHERE id = $sweep;
SELECT 'sweep_state', coalesce((SELECT state FROM sweeps WHERE id = $sweep), 'missing');
SELECT 'sweep_runs', count(*) FROM runs WHERE sweep_id = $sweep;
SELECT 'sweep_runs_' || state, count(*) FROM runs WHERE sweep_id = $sweep GROUP BY state ORDER BY state;
SELECT 'sweep_result_columns_inconsistent', count(*) FROM runs r WHERE r.sweep_id = $sweep AND (
  (r.state = 'succeeded') <> (r.succeeded_attempt_id IS NOT NULL)
  OR (r.state = 'succeeded' AND (r.result IS NULL OR r.final_eval_loss IS NULL))
  OR (r.succeeded_attempt_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM attempts a
      WHERE a.id = r.succeeded_attempt_id AND a.run_id = r.id AND a.outcome = 'succeeded')));
SELECT 'attempts_expired', count(*) FROM attempts WHERE outcome = 'expired';
SQL
sed 's/^/audit: /' "$state/audit.txt"
get() { grep "^$1=" "$state/audit.txt" | cut -d= -f2; }
bad=()
for k in duplicated_results lost_results acked_other_attempt runs_stuck curve_gap_runs \
  sweep_result_columns_inconsistent; do
  [ "$(get "$k")" = 0 ] || bad+=("$k=$(get "$k")")
done
[ "$(get sweep_exists)" = 1 ] || bad+=("sweep_exists=$(get sweep_exists)")
[ "$(get sweep_runs)" = "$RUNS" ] || bad+=("sweep_runs=$(get sweep_runs) (expected $RUNS)")
[ "$b_alive" = 1 ] || bad+=("coordinator B died")
[ "$(get completions_acknowledged)" -gt 0 ] || bad+=("no completion acknowledged")
if [ "$s3" = nan ] || [ "$s3" -le "$s2" ]; then bad+=("no run completed after the PostgreSQL restart"); fi
if [ ${#bad[@]} -eq 0 ]; then
  echo "audit: ok"
else
  echo "audit: FAILED: ${bad[*]}"
  exit 1
fi
