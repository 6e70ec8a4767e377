# Sourced by the deploy tests that bring up a whole local stack
# (demo_test.sh, study_test.sh): a private state directory ($STATE, removed
# with the stack's PostgreSQL data on exit), private ports ($port, $pg_port,
# $metrics_port; tests/deploy/free_ports.py) passed to up.sh through
# LADDER_UP_ARGS, and LADDER_BIN / LADDER_PGDATA.
#   private_stack_setup NAME BIN_DIR     (needs $ROOT)
# shellcheck shell=bash
private_stack_cleanup() {
  LADDER_STATE_DIR=$STATE "$ROOT/deploy/local/down.sh" --grace 2 >/dev/null 2>&1 || true
  if [ -f "$STATE/run/pgdata" ]; then rm -rf "$(cat "$STATE/run/pgdata")"; fi
  rm -rf "$STATE"
}

private_stack_setup() {
  STATE=$(mktemp -d "/tmp/ladder-$1-test.XXXXXX")
  chmod 755 "$STATE"
  trap private_stack_cleanup EXIT
  read -r port pg_port metrics_port < <(python3 "$ROOT/tests/deploy/free_ports.py")
  export LADDER_BIN=$2 LADDER_PGDATA=$STATE/pg
  export LADDER_UP_ARGS="--port $port --pg-port $pg_port --metrics-port $metrics_port"
  if [ "$(id -u)" = 0 ]; then LADDER_PGDATA=/var/lib/ladder/$1-test-${STATE##*/}; fi
}
