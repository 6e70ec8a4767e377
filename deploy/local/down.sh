#!/usr/bin/env bash
# Stops the local stack started by up.sh without losing data: workers drain
# (running trainers are stopped and their runs released for later), then the
# coordinator stops, then PostgreSQL shuts down cleanly.
#   deploy/local/down.sh [--grace SECONDS]   (default 10: how long trainers may finish)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${LADDER_STATE_DIR:-$ROOT/.ladder-local}
GRACE=10
[ "${1:-}" = "--grace" ] && GRACE=$2
[ -d "$STATE/run" ] || { echo "down.sh: nothing to stop ($STATE/run missing)"; exit 0; }

stop() {  # pidfile seconds
  local pidf=$1 wait=$2
  [ -f "$pidf" ] || return 0
  local pid
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((wait * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "down.sh: $(basename "$pidf" .pid) did not stop in ${wait}s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidf"
}

for pidf in "$STATE"/run/worker-*.pid; do
  [ -e "$pidf" ] || continue
  stop "$pidf" $((GRACE + 20)) &
done
wait
stop "$STATE/run/coordinator.pid" 15
if [ -f "$STATE/run/pgdata" ]; then
  PGDATA=$(cat "$STATE/run/pgdata")
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if [ "$(id -u)" = 0 ]; then pg() { su postgres -s /bin/sh -c "$*"; }; else pg() { sh -c "$*"; }; fi
  pg "$PGBIN/pg_ctl -D $PGDATA/db -m fast -w stop >/dev/null 2>&1" || true
fi
echo "down.sh: stopped; data kept in $STATE (and its PostgreSQL data dir)"
