#!/usr/bin/env bash
# Runs per second through the whole local stack, and the time from submit to
# the first run started: deploy/local/up.sh (private PostgreSQL, coordinator
# on TLS, worker daemons) with ladder-sim, the SIMULATED trainer, told to
# take no time, so what is measured is Ladder itself: leasing, one trainer
# process per run, progress, completion, and the refits they trigger.
#
#   bench/coordinator/local_stack_throughput.sh [RUNS] [WORKERS] [SLOTS_PER_WORKER]
#   (defaults 2000 runs, 2 workers, 8 slots each; programs from $LADDER_BIN or build/bin)
#
# Figures come from the database's own timestamps (sweeps.created_at,
# attempts.leased_at / started_at / finished_at), not from polling.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-2000}
WORKERS=${2:-2}
SLOTS=${3:-8}
export LADDER_BIN=${LADDER_BIN:-$ROOT/build/bin}
STATE=$(mktemp -d /tmp/ladder-stack-bench.XXXXXX)
chmod 755 "$STATE"
export LADDER_STATE_DIR=$STATE
if [ "$(id -u)" = 0 ]; then export LADDER_PGDATA=/var/lib/ladder/stack-bench-${STATE##*/}; else export LADDER_PGDATA=$STATE/pg; fi
cleanup() {
  "$ROOT/deploy/local/down.sh" --grace 2 >/dev/null 2>&1 || true
  rm -rf "$LADDER_PGDATA" "$STATE"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_port=$(free_port)
echo "machine: $(nproc) cores; load before: $(cut -d' ' -f1 /proc/loadavg)"
"$ROOT/deploy/local/up.sh" --workers "$WORKERS" --cpu-slots "$SLOTS" --threads-per-slot 1 \
  --trainer "$LADDER_BIN/ladder-sim" --port "$(free_port)" --pg-port "$pg_port" \
  --metrics-port "$(free_port)" >/dev/null
# shellcheck disable=SC1091
source "$STATE/env"
for _ in $(seq 1 100); do
  n=$(ladder --json workers | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("workers", [])))')
  [ "$n" -ge "$WORKERS" ] && break
  sleep 0.1
done

tokens=$(python3 -c "print(','.join(str(4096 * (i + 1)) for i in range($RUNS)))")
cat >"$STATE/sweep.yaml" <<YAML
name: stack-throughput (SIMULATED)
kind: grid
families: [transformer]
grid: {params: [3.0e4], tokens: [$tokens]}
simulation: {seconds: 0, checkpoints: 0}
YAML
id=$(ladder submit "$STATE/sweep.yaml" 2>/dev/null)
ladder watch "$id" >/dev/null

psql "postgresql://ladder@127.0.0.1:$pg_port/ladder" -Atq -F ' ' <<SQL
SELECT 'runs=' || count(DISTINCT a.run_id)
    || ' workers=' || $WORKERS || ' slots=' || $((WORKERS * SLOTS))
    || ' submit_to_first_lease_ms=' || round(extract(epoch FROM min(a.leased_at) - s.created_at) * 1000)
    || ' submit_to_first_start_ms=' || round(extract(epoch FROM min(a.started_at) - s.created_at) * 1000)
    || ' runs_per_second=' || round((count(*) FILTER (WHERE a.outcome = 'succeeded')
         / extract(epoch FROM max(a.finished_at) - min(a.leased_at)))::numeric, 1)
    || ' mean_attempt_ms=' || round(avg(extract(epoch FROM a.finished_at - a.leased_at)) * 1000)
FROM attempts a JOIN runs r ON r.id = a.run_id JOIN sweeps s ON s.id = r.sweep_id
WHERE s.id = $id GROUP BY s.created_at;
SQL
echo "load after: $(cut -d' ' -f1 /proc/loadavg)"
