#!/usr/bin/env bash
# The README's main command, end to end, with the SIMULATED trainer (the real
# CPU ladder takes ~20 minutes; the trainer itself is tested elsewhere):
# deploy/local/demo.sh --simulated --no-install --no-build on private ports
# and a private state directory, then deploy/local/down.sh. Asserts that the
# sweep succeeded, that fits, predictions (with the epochs behind them), the
# backtest, the family comparison and the plot came out, that the stack's
# PostgreSQL refuses a connection without its generated password, and that
# down.sh stops every process it started.
#   tests/deploy/demo_test.sh BIN_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/deploy/private_stack.sh
. "$ROOT/tests/deploy/private_stack.sh"
private_stack_setup demo "$1"
export LADDER_STATE_DIR=$STATE

fail() { echo "FAIL: $*" >&2; exit 1; }
# Bounded well inside ctest's 300 s (alone it takes ~25 s), so that a stall
# ends with the stack's own logs in the test output rather than a bare timeout.
set +e
timeout 200 "$ROOT/deploy/local/demo.sh" --simulated --no-install --no-build >"$STATE/demo.out" 2>&1
rc=$?
set -e
cat "$STATE/demo.out"
if [ "$rc" != 0 ]; then
  for log in "$STATE"/logs/*; do
    [ -f "$log" ] || continue
    echo "---- last lines of $log"
    tail -n 25 "$log"
  done
  [ "$rc" = 124 ] && fail "demo.sh did not finish in 200 s"
  fail "demo.sh exited $rc"
fi
grep -q "SIMULATED trainer" "$STATE/demo.out" || fail "the demo did not say its trainer is simulated"
grep -q "power_law_compute v[0-9]*: ok" "$STATE/demo.out" || fail "no ok power_law_compute fit printed"
for family in transformer lstm; do
  grep -q "^$family at C = .* FLOPs: loss [0-9.]*  \[95%: " "$STATE/demo.out" || fail "no prediction for $family"
done
grep -q "compute-equivalent gain of transformer over lstm" "$STATE/demo.out" || fail "no CEG curve"
grep -q "^backtest of sweep [0-9]*, form power_law_shared_e" "$STATE/demo.out" ||
  fail "no backtest (with the shared-E form an LSTM-vs-Transformer sweep uses by default)"
grep -q "^by extrapolation factor:" "$STATE/demo.out" || fail "no backtest summary by factor"
grep -q "^  target: .* epochs of the corpus" "$STATE/demo.out" || fail "no epochs line under a prediction"
svg=$(ls "$STATE"/plots/sweep-*.svg)
grep -q "<svg" "$svg" || fail "$svg is not an SVG"
# The sweep's runs all succeeded, under the simulated trainer.
# shellcheck disable=SC1091
source "$STATE/env"
id=$(basename "$svg" .svg); id=${id#sweep-}
ladder --json runs "$id" | python3 -c '
import json, sys
runs = json.load(sys.stdin)["runs"]
assert len(runs) == 14, len(runs)
assert all(r["state"] == "RUN_STATE_SUCCEEDED" for r in runs), [r["state"] for r in runs]
assert all(r["simulated"] for r in runs), "a run not marked simulated"
' || fail "runs are not all succeeded and simulated"
# The stack's PostgreSQL wants the generated password (kept 0600): without
# it no connection is made, over TCP or the Unix socket, even as the user
# who started the stack; with the stack's password file (env's PGPASSFILE)
# it is.
for f in pg.password pgpass; do
  [ "$(stat -c %a "$STATE/$f")" = 600 ] || fail "$STATE/$f is not mode 600"
done
# shellcheck disable=SC2154  # pg_port: set by private_stack_setup
[ "$(psql -w "postgresql://ladder@127.0.0.1:$pg_port/ladder" -Atc 'SELECT 1')" = 1 ] ||
  fail "the stack's password file does not let psql in"
pgsock=$(cat "$STATE/run/pgdata")/sock
for target in "postgresql://ladder@127.0.0.1:$pg_port/ladder" "host=$pgsock port=$pg_port user=ladder dbname=ladder"; do
  if env -u PGPASSWORD PGPASSFILE=/dev/null psql -w "$target" -Atc 'SELECT 1' >"$STATE/nopw.out" 2>&1; then
    fail "PostgreSQL let a connection without the password in ($target)"
  fi
  grep -q "password" "$STATE/nopw.out" || fail "refused for another reason: $(cat "$STATE/nopw.out")"
done
pids=$(cat "$STATE"/run/*.pid)
LADDER_STATE_DIR=$STATE "$ROOT/deploy/local/down.sh" --grace 2
for pid in $pids; do
  if kill -0 "$pid" 2>/dev/null; then fail "process $pid still running after down.sh"; fi
done
echo "PASS"
