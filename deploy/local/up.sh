#!/usr/bin/env bash
# Starts a local Ladder stack: a private PostgreSQL (its own data directory
# and port), a coordinator on TLS with its own cluster CA, and worker daemons
# with client certificates. Works as root and as a normal user. Idempotent:
# what is already running is left alone.
#
#   deploy/local/up.sh [--workers N] [--cpu-slots K] [--threads-per-slot T]
#                      [--trainer PATH] [--port P] [--pg-port P] [--metrics-port P]
#
# The coordinator serves /metrics on the metrics port (default 9400), worker i
# on that port + i.
#
# State (data, certificates, logs, the admin token, the database password)
# lives in
# $LADDER_STATE_DIR (default: .ladder-local in the repository). Programs come
# from $LADDER_BIN (default: build/bin). Afterwards:
#   source .ladder-local/env && ladder status
# deploy/local/down.sh stops everything and keeps the data.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${LADDER_BIN:-$ROOT/build/bin}
STATE=${LADDER_STATE_DIR:-$ROOT/.ladder-local}
WORKERS=1
SLOTS=1
THREADS=$(nproc)
TRAINER=""
PORT=7400
PG_PORT=7432
METRICS_PORT=9400
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) WORKERS=$2; shift 2 ;;
    --cpu-slots) SLOTS=$2; shift 2 ;;
    --threads-per-slot) THREADS=$2; shift 2 ;;
    --trainer) TRAINER=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --pg-port) PG_PORT=$2; shift 2 ;;
    --metrics-port) METRICS_PORT=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "up.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for p in ladder ladder-coordinator ladder-worker; do
  [ -x "$BIN/$p" ] || { echo "up.sh: $BIN/$p is missing: build first (cmake --build build)" >&2; exit 1; }
done
if [ -z "$TRAINER" ]; then
  if [ -x "$BIN/ladder-train" ]; then TRAINER=$BIN/ladder-train; else
    TRAINER=$BIN/ladder-sim
    echo "up.sh: ladder-train is not built; workers use ladder-sim, a SIMULATED trainer" >&2
  fi
fi
mkdir -p "$STATE/logs" "$STATE/run"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

# --- PostgreSQL -------------------------------------------------------------
# As root the server runs as the postgres user, so its data lives where that
# user can reach it; as a normal user it lives in the state directory.
if [ "$(id -u)" = 0 ]; then
  PGDATA=${LADDER_PGDATA:-/var/lib/ladder/local-$(echo "$STATE" | md5sum | cut -c1-8)}
  PGSOCK=$PGDATA/sock
  pg() { su postgres -s /bin/sh -c "$*"; }
  install -d -o postgres -m 700 "$PGDATA"
else
  PGDATA=${LADDER_PGDATA:-$STATE/pg}
  PGSOCK=$PGDATA/sock
  pg() { sh -c "$*"; }
  mkdir -p "$PGDATA"
fi
echo "$PGDATA" >"$STATE/run/pgdata"
# The database role `ladder` (a superuser of this private cluster) logs in
# with a generated password, over TCP and the Unix socket alike
# (scram-sha-256): other local users cannot connect. The password lives in
# $STATE/pg.password and, for libpq (the coordinator, psql), in the password
# file $STATE/pgpass (both 0600), which $STATE/env exports as PGPASSFILE.
if [ ! -s "$STATE/pg.password" ]; then
  (umask 077; head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$STATE/pg.password")
fi
PG_PASSWORD=$(cat "$STATE/pg.password")
(umask 077; echo "127.0.0.1:$PG_PORT:*:ladder:$PG_PASSWORD" >"$STATE/pgpass")
chmod 600 "$STATE/pg.password" "$STATE/pgpass"
export PGPASSFILE=$STATE/pgpass
if [ ! -f "$PGDATA/db/PG_VERSION" ]; then
  echo "up.sh: creating a PostgreSQL cluster in $PGDATA"
  # initdb reads the password from a file the server's user can read.
  if [ "$(id -u)" = 0 ]; then
    install -o postgres -m 600 "$STATE/pg.password" "$PGDATA/initdb.pw"
  else
    install -m 600 "$STATE/pg.password" "$PGDATA/initdb.pw"
  fi
  pg "$PGBIN/initdb -D $PGDATA/db --auth-local=scram-sha-256 --auth-host=scram-sha-256 -U ladder --pwfile=$PGDATA/initdb.pw >$PGDATA/initdb.log 2>&1" ||
    { rm -f "$PGDATA/initdb.pw"; cat "$PGDATA/initdb.log" >&2; exit 1; }
  rm -f "$PGDATA/initdb.pw"
fi
pg "mkdir -p $PGSOCK"
if ! pg "$PGBIN/pg_ctl -D $PGDATA/db status >/dev/null 2>&1"; then
  pg "$PGBIN/pg_ctl -D $PGDATA/db -w -t 60 -l $PGDATA/server.log -o \"-p $PG_PORT -k $PGSOCK -c listen_addresses=127.0.0.1\" start >/dev/null" ||
    { tail -20 "$PGDATA/server.log" >&2; exit 1; }
fi
# A cluster made by an older up.sh trusted every local user: give the role
# its password, then require it.
if pg "grep -Eq '^[^#].*[[:space:]]trust[[:space:]]*\$' $PGDATA/db/pg_hba.conf"; then
  echo "up.sh: this cluster trusted every local user; it now requires the password in $STATE/pg.password"
  psql "postgresql://ladder@127.0.0.1:$PG_PORT/postgres" -qc "ALTER ROLE ladder PASSWORD '$PG_PASSWORD'" >/dev/null
  pg "sed -Ei 's/^([^#].*[[:space:]])trust[[:space:]]*\$/\1scram-sha-256/' $PGDATA/db/pg_hba.conf"
  pg "$PGBIN/pg_ctl -D $PGDATA/db reload >/dev/null"
fi
DB_ADMIN="postgresql://ladder@127.0.0.1:$PG_PORT/postgres"
DB_URL="postgresql://ladder@127.0.0.1:$PG_PORT/ladder"
if ! psql "$DB_ADMIN" -Atc "SELECT 1 FROM pg_database WHERE datname = 'ladder'" | grep -q 1; then
  psql "$DB_ADMIN" -qc "CREATE DATABASE ladder" >/dev/null
fi
echo "up.sh: PostgreSQL on 127.0.0.1:$PG_PORT (data in $PGDATA)"

# --- certificates and the admin token --------------------------------------
# One client certificate per worker, CN local-i: the coordinator lets a
# certificate act only as the worker its CN names.
cert_args=()
for i in $(seq 1 "$WORKERS"); do cert_args+=(--worker "local-$i"); done
need_certs=0
[ -f "$STATE/certs/server.pem" ] || need_certs=1
for i in $(seq 1 "$WORKERS"); do [ -f "$STATE/certs/worker-local-$i.pem" ] || need_certs=1; done
if [ "$need_certs" = 1 ]; then
  "$ROOT/deploy/certs/make-certs.sh" "$STATE/certs" "${cert_args[@]}" >/dev/null
fi
if [ ! -s "$STATE/admin.token" ]; then
  (umask 077; "$BIN/ladder-coordinator" create-token --database-url "$DB_URL" --name local-admin --scopes admin \
    >"$STATE/admin.token" 2>>"$STATE/logs/coordinator.log")
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- coordinator ------------------------------------------------------------
if ! running "$STATE/run/coordinator.pid"; then
  setsid "$BIN/ladder-coordinator" --listen "127.0.0.1:$PORT" --database-url "$DB_URL" \
    --tls-cert "$STATE/certs/server.pem" --tls-key "$STATE/certs/server-key.pem" \
    --tls-client-ca "$STATE/certs/ca.pem" --metrics-listen "127.0.0.1:$METRICS_PORT" \
    >>"$STATE/logs/coordinator.log" 2>&1 </dev/null &
  echo $! >"$STATE/run/coordinator.pid"
fi
cat >"$STATE/env" <<ENV
export LADDER_COORDINATOR=127.0.0.1:$PORT
export LADDER_CA=$STATE/certs/ca.pem
export LADDER_TOKEN=\$(cat $STATE/admin.token)
export PATH=$BIN:\$PATH
export PGPASSFILE=$STATE/pgpass
ENV
chmod 600 "$STATE/env"
for _ in $(seq 1 100); do
  if LADDER_COORDINATOR=127.0.0.1:$PORT LADDER_CA=$STATE/certs/ca.pem LADDER_TOKEN=$(cat "$STATE/admin.token") \
     "$BIN/ladder" --timeout 2s workers >/dev/null 2>&1; then break; fi
  running "$STATE/run/coordinator.pid" || { tail -20 "$STATE/logs/coordinator.log" >&2; echo "up.sh: coordinator exited" >&2; exit 1; }
  sleep 0.2
done
echo "up.sh: coordinator on 127.0.0.1:$PORT (TLS), metrics on 127.0.0.1:$METRICS_PORT/metrics"

# --- workers ----------------------------------------------------------------
DATA_DIR=${LADDER_DATA_DIR:-$STATE/data}
mkdir -p "$DATA_DIR"
for i in $(seq 1 "$WORKERS"); do
  pidf="$STATE/run/worker-$i.pid"
  running "$pidf" && continue
  setsid "$BIN/ladder-worker" --coordinator "127.0.0.1:$PORT" --name "local-$i" \
    --tls-ca "$STATE/certs/ca.pem" --tls-cert "$STATE/certs/worker-local-$i.pem" --tls-key "$STATE/certs/worker-local-$i-key.pem" \
    --trainer "$TRAINER" --work-dir "$STATE/worker-$i" --data-dir "$DATA_DIR" \
    --devices cpu --cpu-slots "$SLOTS" --threads-per-slot "$THREADS" \
    --metrics-listen "127.0.0.1:$((METRICS_PORT + i))" \
    ${LADDER_WORKER_ARGS:-} >>"$STATE/logs/worker-$i.log" 2>&1 </dev/null &
  echo $! >"$pidf"
done
# Each worker registers within a second or so; one that exits instead (a
# metrics port already taken, a bad flag) fails up.sh with its log, rather
# than leaving sweeps queued with nobody to run them.
cli() {
  LADDER_COORDINATOR=127.0.0.1:$PORT LADDER_CA=$STATE/certs/ca.pem LADDER_TOKEN=$(cat "$STATE/admin.token") \
    "$BIN/ladder" --timeout 2s "$@"
}
for _ in $(seq 1 150); do
  for i in $(seq 1 "$WORKERS"); do
    if ! running "$STATE/run/worker-$i.pid"; then
      tail -20 "$STATE/logs/worker-$i.log" >&2
      echo "up.sh: worker $i exited at start-up (log: $STATE/logs/worker-$i.log)" >&2
      exit 1
    fi
  done
  registered=$(cli --json workers 2>/dev/null | python3 -c '
import json, sys
names = {w.get("name") for w in json.load(sys.stdin).get("workers", []) if w.get("state") == "active"}
print(sum(1 for i in range(1, int(sys.argv[1]) + 1) if f"local-{i}" in names))' "$WORKERS" 2>/dev/null || echo 0)
  [ "$registered" = "$WORKERS" ] && break
  sleep 0.2
done
echo "up.sh: $WORKERS worker(s) with $SLOTS CPU slot(s) of $THREADS thread(s), trainer $(basename "$TRAINER"), metrics on 127.0.0.1:$((METRICS_PORT + 1))..$((METRICS_PORT + WORKERS))"
echo "up.sh: logs in $STATE/logs; run: source $STATE/env && ladder status"
