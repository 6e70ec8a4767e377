#!/usr/bin/env bash
# Smoke test of the coordinator benchmarks with tiny arguments, so the
# scripts stay runnable (figures are not judged; the keys, exit codes and a
# few invariants are):
#   bench/coordinator/smoke_test.sh load BIN_DIR    run_coordinator_bench.sh
#   bench/coordinator/smoke_test.sh fault BIN_DIR   run_fault_bench.sh
# Each script starts its own PostgreSQL.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mode=${1:?load|fault}
bin=${2:?BIN_DIR}
out=$(mktemp /tmp/ladder-bench-smoke.XXXXXX)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
set +e
case "$mode" in
load)
  LADDER_BENCH_QUERIES=50 LADDER_BENCH_TRAIN_SECONDS=1 LADDER_BENCH_POINTS=3 LADDER_BENCH_DEVICES=2 \
    timeout 100 "$ROOT/bench/coordinator/run_coordinator_bench.sh" "$bin" 2 6 2 1000 >"$out" 2>&1
  ;;
fault)
  LADDER_FAULT_TRAIN_SECONDS=1 LADDER_FAULT_LEASE_TTL=2s LADDER_FAULT_HEARTBEAT=500ms \
    timeout 100 "$ROOT/bench/coordinator/run_fault_bench.sh" "$bin" 9 200 6 2 >"$out" 2>&1
  ;;
*) fail "mode: load or fault, got '$mode'" ;;
esac
rc=$?
set -e
cat "$out"
[ "$rc" = 0 ] || fail "the $mode benchmark exited $rc"
need() { grep -Eq "$1" "$out" || fail "no line matches '$1'"; }
case "$mode" in
load)
  for label in cycles cycles_mtls progress; do
    for key in 'workers=6' 'cycles_per_second=[0-9]' 'calls_rejected_for_load=[0-9]+' \
      'lease_ms_p99=[0-9]' 'complete_ms_p99=[0-9]' 'coordinator_cpu_percent=[0-9]' \
      'coordinator_peak_rss_mb=[0-9]' 'workers_registered=6 '; do
      need "^$label: .*$key"
    done
  done
  need '^cycles: .* cycles=[1-9]'
  need '^cycles_mtls: .* cycles=[1-9]'
  need '^progress: .* progress_ms_p99=[0-9]'
  need '^progress: .* progress_points_per_second_stored=[1-9]'
  need '^ceiling: .*cycles_per_second=[1-9]'
  need '^predict: .*p99_ms=[0-9]'
  need '^summary: '
  ;;
fault)
  need '^fault: coordinator A .* killed'
  need '^fault: PostgreSQL restarted .* coordinator B alive'
  need '^audit: sweep_runs=200$'
  need '^audit: duplicated_results=0$'
  need '^audit: lost_results=0$'
  need '^audit: completions_acknowledged=[1-9]'
  need '^audit: ok$'
  ;;
esac
echo "PASS: $mode benchmark smoke test"
