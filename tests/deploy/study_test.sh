#!/usr/bin/env bash
# Smoke test of the 10x held-out study's script with tiny arguments:
# bench/extrapolation/run_study.sh --no-build --ladder tests/deploy/study_tiny.yaml
# --factor 2 on private ports and a private state directory (real training on
# the small kjv corpus, seconds per run), then deploy/local/down.sh. Asserts
# that the held-out runs are at least 2x the ladder's largest compute and the
# report has a prediction row per family and form, the backtests and the CEG.
#   tests/deploy/study_test.sh BIN_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$1
STATE=$(mktemp -d /tmp/ladder-study-test.XXXXXX)
chmod 755 "$STATE"
cleanup() {
  LADDER_STATE_DIR=$STATE "$ROOT/deploy/local/down.sh" --grace 2 >/dev/null 2>&1 || true
  if [ -f "$STATE/run/pgdata" ]; then rm -rf "$(cat "$STATE/run/pgdata")"; fi
  rm -rf "$STATE"
}
trap cleanup EXIT
read -r port pg_port metrics_port < <(python3 "$ROOT/tests/deploy/free_ports.py")
export LADDER_BIN=$BIN LADDER_PGDATA=$STATE/pg
export LADDER_UP_ARGS="--port $port --pg-port $pg_port --metrics-port $metrics_port"
if [ "$(id -u)" = 0 ]; then LADDER_PGDATA=/var/lib/ladder/study-test-${STATE##*/}; fi
fail() { echo "FAIL: $*" >&2; exit 1; }
set +e
timeout 400 "$ROOT/bench/extrapolation/run_study.sh" --no-build --state "$STATE" \
  --ladder "$ROOT/tests/deploy/study_tiny.yaml" --factor 2 >"$STATE/study.out" 2>"$STATE/study.err"
rc=$?
set -e
cat "$STATE/study.out"
if [ "$rc" != 0 ]; then
  tail -n 40 "$STATE/study.err"
  for log in "$STATE"/logs/*; do
    [ -f "$log" ] || continue
    echo "---- last lines of $log"
    tail -n 25 "$log"
  done
  fail "run_study.sh exited $rc"
fi
for family in transformer lstm; do
  for form in power_law_compute power_law_shared_e; do
    grep -q "^| $family | .* | $form |" "$STATE/study.out" || fail "no row for $family / $form"
  done
done
# x largest ladder C is the table's fifth column.
python3 - "$STATE/study.out" <<'PY' || fail "a held-out run is under 2x the ladder's largest compute"
import sys
rows = [l.split("|") for l in open(sys.argv[1]) if l.startswith("| transformer |") or l.startswith("| lstm |")]
assert rows, "no rows"
assert all(float(r[5]) >= 2.0 for r in rows), [r[5] for r in rows]
PY
grep -q "^### Backtest of the ladder, power_law_compute" "$STATE/study.out" || fail "no backtest"
grep -q "compute-equivalent gain of transformer over lstm" "$STATE/study.out" || fail "no CEG"
[ -f "$STATE/study.md" ] || fail "no report file"
echo "PASS"
