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
# shellcheck source=tests/deploy/private_stack.sh
. "$ROOT/tests/deploy/private_stack.sh"
private_stack_setup study "$1"
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
