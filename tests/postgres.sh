#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite (a ctest fixture).
#   tests/postgres.sh start STATE_DIR   start one; write its admin URL to STATE_DIR/url
#   tests/postgres.sh stop STATE_DIR    stop it and delete its data
# If LADDER_TEST_DATABASE_URL is set, that server is used and nothing is
# started. Works as root (runs the server as the postgres user) and as a
# normal user. fsync is off: test data only.
set -euo pipefail
cmd=${1:?start|stop}
state=${2:?state dir}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

as_server_user() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}

case "$cmd" in
start)
  mkdir -p "$state"
  if [ -n "${LADDER_TEST_DATABASE_URL:-}" ]; then
    echo "$LADDER_TEST_DATABASE_URL" >"$state/url"
    exit 0
  fi
  [ -x "$pgbin/initdb" ] || { echo "postgres.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
  # A stale server from an interrupted run is stopped first.
  if [ -f "$state/datadir" ]; then "$0" stop "$state" || true; fi
  data=$(mktemp -d /tmp/ladder-test-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$data"
  echo "$data" >"$state/datadir"
  as_server_user "$pgbin/initdb -D $data/db -A trust -U ladder --no-sync >$data/initdb.log 2>&1" ||
    { cat "$data/initdb.log" >&2; exit 1; }
  for attempt in 1 2 3 4 5; do
    port=$(shuf -i 20000-60000 -n 1)
    if as_server_user "$pgbin/pg_ctl -D $data/db -w -t 30 -l $data/server.log -o \"-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400\" start >/dev/null"; then
      echo "postgresql://ladder@127.0.0.1:$port/postgres" >"$state/url"
      echo "test PostgreSQL on 127.0.0.1:$port (data in $data)"
      exit 0
    fi
  done
  cat "$data/server.log" >&2
  exit 1
  ;;
stop)
  if [ -f "$state/datadir" ]; then
    data=$(cat "$state/datadir")
    as_server_user "$pgbin/pg_ctl -D $data/db -m immediate stop >/dev/null 2>&1" || true
    rm -rf "$data" "$state/datadir"
  fi
  rm -f "$state/url"
  ;;
*)
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
  ;;
esac
