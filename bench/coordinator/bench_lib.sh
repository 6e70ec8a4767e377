# Shell functions shared by run_coordinator_bench.sh and run_fault_bench.sh
# (sourced, not run). The caller sets ROOT, BIN, state (a private directory),
# WORKERS, PROCESSES and keeps the coordinators it starts in $coords.
# shellcheck shell=bash disable=SC2154  # state is set by the caller

coords=()

# Where the binaries are: BUILD/bin, or BUILD itself when it holds them.
bench_bin() {
  if [ -x "$1/bin/ladder-coordinator" ]; then echo "$1/bin"; else echo "$1"; fi
}

now_ms() { date +%s%3N; }

sleep_until_ms() {
  local left=$(($1 - $(now_ms)))
  if [ "$left" -gt 0 ]; then sleep "$(awk -v l="$left" 'BEGIN { printf "%.3f", l / 1000 }')"; fi
}

# Starts a ladder-coordinator: start_coordinator NAME ARGS...; sets
# coord_pid and coord_port, logs to $state/NAME.log.
start_coordinator() {
  local name=$1
  shift
  "$BIN/ladder-coordinator" --metrics-listen "" "$@" >"$state/$name.log" 2>&1 &
  coord_pid=$!
  coords+=("$coord_pid")
  coord_port=""
  for _ in $(seq 1 300); do
    coord_port=$(grep -o "serving ladder.v1 on port [0-9]*" "$state/$name.log" | grep -o "[0-9]*$" || true)
    [ -n "$coord_port" ] && return 0
    kill -0 "$coord_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$state/$name.log" >&2
  echo "coordinator $name did not start" >&2
  return 1
}

stop_coordinator() {  # PID
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

stop_all_coordinators() {
  local p
  for p in "${coords[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${coords[@]}"; do wait "$p" 2>/dev/null || true; done
  coords=()
}

# utime+stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15;
# the name field cannot hold spaces here).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# PostgreSQL's CPU in clock ticks: the postmaster (with its reaped children)
# and every live child process. $state/pg/datadir is tests/postgres.sh's.
pg_cpu_ticks() {
  local pm
  pm=$(head -1 "$(cat "$state/pg/datadir")/db/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  {
    awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat" 2>/dev/null
    for c in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
      awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null
    done
  } | awk '{ t += $1 } END { print t + 0 }'
}
peak_rss_mb() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo nan; }
load_avg() { cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/'; }

# run_load LABEL COORD_PID TARGET SECONDS DB_URL [ARGS for `cycles`...]:
# WORKERS SIMULATED workers split over PROCESSES processes, all measuring
# the same window; prints one line "LABEL: key=value ..." with the merged
# client figures plus the coordinator's CPU and peak RSS over the window,
# the curve points stored per second (counted in the database), the runs
# left queued, and the load average.
run_load() {
  local label=$1 pid=$2 target=$3 secs=$4 db=$5
  shift 5
  local lead_ms=$((3000 + WORKERS * 6))
  local start_ms=$(($(now_ms) + lead_ms))
  local end_ms=$((start_ms + ${secs%.*} * 1000))
  local pids=() p n
  rm -f "$state/$label".*.samples
  for p in $(seq 0 $((PROCESSES - 1))); do
    n=$((WORKERS / PROCESSES + (p < WORKERS % PROCESSES ? 1 : 0)))
    [ "$n" -gt 0 ] || continue
    "$BIN/ladder_coordinator_bench" cycles --coordinator "$target" --workers "$n" \
      --name-prefix "sim-$label-p$p-" --seconds "$secs" --start-at-unix-ms "$start_ms" \
      --samples-out "$state/$label.$p.samples" "$@" >"$state/$label.$p.out" 2>&1 &
    pids+=($!)
  done
  sleep_until_ms "$start_ms"
  local cpu0 pts0 cpu1 pts1 pg0 pg1 rss load
  cpu0=$(cpu_ticks "$pid")
  pg0=$(pg_cpu_ticks)
  pts0=$(psql "$db" -Atc "SELECT count(*) FROM curve_points")
  sleep_until_ms "$end_ms"
  cpu1=$(cpu_ticks "$pid")
  pg1=$(pg_cpu_ticks)
  pts1=$(psql "$db" -Atc "SELECT count(*) FROM curve_points")
  rss=$(peak_rss_mb "$pid")
  load=$(load_avg)
  local failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  if [ "$failed" = 1 ]; then
    cat "$state/$label".*.out >&2
    echo "$label: a load process failed" >&2
    return 1
  fi
  grep -h "first error\|first UNAVAILABLE" "$state/$label".*.out | sort -u | head -3 | sed "s/^/$label: /" >&2 || true
  local merged queued
  merged=$("$BIN/ladder_coordinator_bench" merge "$state/$label".*.samples)
  queued=$(psql "$db" -Atc "SELECT count(*) FROM runs WHERE state = 'queued'")
  awk -v label="$label" -v m="${merged#cycles: }" -v c0="$cpu0" -v c1="$cpu1" \
    -v hz="$(getconf CLK_TCK)" -v s="$secs" -v p0="$pts0" -v p1="$pts1" -v rss="$rss" \
    -v q="$queued" -v load="$load" -v procs="$PROCESSES" -v g0="$pg0" -v g1="$pg1" 'BEGIN {
      cpu = (c1 - c0) / hz;
      pg = (g1 - g0) / hz;
      printf "%s: %s processes=%d progress_points_per_second_stored=%.1f coordinator_cpu_seconds=%.2f coordinator_cpu_percent=%.1f coordinator_peak_rss_mb=%s postgres_cpu_percent=%.1f runs_left_queued=%d load_average=%s\n",
        label, m, procs, (p1 - p0) / s, cpu, 100 * cpu / s, rss, 100 * pg / s, q, load }'
}
