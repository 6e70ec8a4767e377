#!/usr/bin/env bash
# A sweep of 100,000 runs (issue 12), figures side by side in one run, as
# key=value lines:
#   create_sweep_ms          CreateSweep over gRPC (one transaction)
#   get_sweep_ms             GetSweep RPC (median of 5)
#   status_cli_ms            `ladder status SWEEP`, the CLI process end to end
#   list_runs_*_page_ms      ListRuns pages of PAGE_SIZE runs (median of 5)
#   runs_cli_page_ms         `ladder runs SWEEP --limit PAGE_SIZE --page N`
#                            (N = the middle page), end to end
#   watch_first_event_ms     time to WatchSweep's first event, its size
#   watch_cancel_to_end_ms   CancelSweep of every run, until a watcher has
#                            heard of each and its stream ended
#   coordinator_rss_*_kib    the coordinator's VmRSS before the sweep, after
#                            every call above, and its peak (VmHWM)
# Starts its own PostgreSQL (tests/postgres.sh) and coordinator. Exits 1
# when a call failed (a figure reads error:...), so a run with tiny
# arguments is the test suite's smoke test (deploy.sweeps_bench_smoke).
#   bench/sweeps/run_sweeps_bench.sh [build-dir] [runs] [page-size]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
RUNS=${2:-100000}
PAGE_SIZE=${3:-100}
BIN=$BUILD/bin
state=$(mktemp -d /tmp/ladder-sweeps-bench.XXXXXX)
coord=""
cleanup() {
  if [ -n "$coord" ]; then kill "$coord" 2>/dev/null || true; wait "$coord" 2>/dev/null || true; fi
  if [ -n "${admin:-}" ]; then psql "$admin" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; fi
  "$ROOT/tests/postgres.sh" stop "$state/pg" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
exec > >(tee "$state/all.txt")
"$ROOT/tests/postgres.sh" start "$state/pg" >/dev/null
admin=$(cat "$state/pg/url")
db="sweeps_bench_$$"
psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
url="${admin%/*}/$db"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1 /proc/loadavg)"

"$BIN/ladder-coordinator" --listen 127.0.0.1:0 --database-url "$url" --insecure-plaintext --plaintext-workers \
  --metrics-listen "" >"$state/coordinator.log" 2>&1 &
coord=$!
port=""
for _ in $(seq 1 200); do
  port=$(grep -o "serving ladder.v1 on port [0-9]*" "$state/coordinator.log" | grep -o "[0-9]*$" || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$state/coordinator.log"; echo "coordinator did not start" >&2; exit 1; }
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$coord/status"; }
ms_now() { date +%s%N; }

echo "runs_requested=$RUNS"
echo "page_size=$PAGE_SIZE"
echo "coordinator_rss_before_kib=$(rss VmRSS)"
"$BIN/ladder_sweeps_bench" --coordinator "127.0.0.1:$port" --runs "$RUNS" --page-size "$PAGE_SIZE" |
  tee "$state/bench.txt"
sweep=$(grep -o "^sweep_id=[0-9]*" "$state/bench.txt" | cut -d= -f2)
[ -n "$sweep" ] || { echo "no sweep was created" >&2; exit 1; }
echo "coordinator_rss_after_rpcs_kib=$(rss VmRSS)"

export LADDER_COORDINATOR="127.0.0.1:$port" LADDER_INSECURE=1
# The CLI end to end (process start, connect, call, print); best of 3.
best() {
  local best_ns="" out rc t0 t1
  for _ in 1 2 3; do
    t0=$(ms_now)
    rc=0
    "$@" >"$state/cli.out" 2>"$state/cli.err" || rc=$?
    t1=$(ms_now)
    if [ "$rc" != 0 ]; then echo "error:exit$rc ($(head -c 120 "$state/cli.err"))"; return; fi
    out=$((t1 - t0))
    if [ -z "$best_ns" ] || [ "$out" -lt "$best_ns" ]; then best_ns=$out; fi
  done
  awk -v n="$best_ns" 'BEGIN { printf "%.1f\n", n / 1e6 }'
}
echo "status_cli_ms=$(best "$BIN/ladder" status "$sweep")"
grep -m1 "done" "$state/cli.out" | sed 's/^ */status_cli_line=/' || true
middle=$(( (RUNS / PAGE_SIZE) / 2 + 1 ))
echo "runs_cli_page=$middle"
echo "runs_cli_page_ms=$(best "$BIN/ladder" runs "$sweep" --limit "$PAGE_SIZE" --page "$middle")"
echo "runs_cli_page_lines=$(wc -l <"$state/cli.out")"
tail -1 "$state/cli.out" | sed 's/^/runs_cli_footer=/'
"$BIN/ladder_sweeps_bench" --coordinator "127.0.0.1:$port" --cancel "$sweep"
echo "coordinator_rss_after_kib=$(rss VmRSS)"
# The coordinator's own account of CreateSweep (planning, rows, storing).
grep -o "runs planned in.*" "$state/coordinator.log" | sed 's/^/create_sweep_phases=/' || true
echo "coordinator_rss_peak_kib=$(rss VmHWM)"
kill "$coord"; wait "$coord" 2>/dev/null || true; coord=""
if grep -q "=error:" "$state/all.txt"; then
  echo "run_sweeps_bench.sh: a call failed (see error: above)" >&2
  exit 1
fi
