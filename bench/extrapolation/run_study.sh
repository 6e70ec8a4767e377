#!/usr/bin/env bash
# The 10x held-out study (issue 11): how well does a CPU ladder predict a run
# it never saw, 10x beyond its largest compute?
#
#   bench/extrapolation/run_study.sh [--factor F] [--ladder FILE] [--state DIR]
#                                    [--analyze-only] [--no-build] [--out FILE]
#
# 1. Prepares the default corpus (deploy/data/prepare-english.sh) and starts a
#    local stack of its own (deploy/local/up.sh; state in --state, default
#    .ladder-study; ports 7600/7632/9600): one worker, one CPU slot of one
#    thread per core, ladder-train (real training).
# 2. Submits the ladder (--ladder, default bench/extrapolation/ladder.yaml:
#    both families) and, with the same data, model and train sections, a grid
#    sweep of one run per family at >= F x (default 10) the ladder's largest
#    planned compute (20 tokens per parameter, like the ladder), and waits
#    for both. About 40 min on an idle 2-core machine.
# 3. Predicts each held-out run from the ladder's fits, with each form that
#    answers a compute question (power_law_compute: each family its own E;
#    power_law_shared_e: one E for both), and prints a table: predicted loss
#    and 95% interval, measured loss, error, covered. Then the ladder's own
#    backtest per form and the compute-equivalent gain per form.
#
# --analyze-only skips steps 1-2's training (the stack and both sweeps must
# exist in --state) and reruns step 3, e.g. after a coordinator change.
# Environment: LADDER_BIN, LADDER_DATA_DIR (default STATE/data) and
# LADDER_UP_ARGS (other ports: "--port P --pg-port P --metrics-port P").
# The report goes to stdout and to --out (default STATE/study.md).
# The stack keeps running afterwards: LADDER_STATE_DIR=STATE deploy/local/down.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
FACTOR=10
LADDER_FILE=$ROOT/bench/extrapolation/ladder.yaml
STATE=${LADDER_STATE_DIR:-$ROOT/.ladder-study}
ANALYZE_ONLY=0
BUILD=1
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --factor) FACTOR=$2; shift 2 ;;
    --ladder) LADDER_FILE=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --state) STATE=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    --analyze-only) ANALYZE_ONLY=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run_study.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
PY=/usr/bin/python3
export LADDER_STATE_DIR=$STATE
export LADDER_BIN=${LADDER_BIN:-$ROOT/build/bin}
export LADDER_DATA_DIR=${LADDER_DATA_DIR:-$STATE/data}
OUT=${OUT:-$STATE/study.md}
IDS=$STATE/study-sweeps
say() { printf '\n== %s\n' "$*" >&2; }
json() { ladder --json "$@"; }

if [ "$BUILD" = 1 ]; then
  say "building"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" --target ladder ladder-coordinator ladder-worker ladder-train
fi
mkdir -p "$STATE"
dataset=$($PY -c 'import re,sys
for line in open(sys.argv[1]):
    m = re.match(r"\s+dataset:\s*([A-Za-z0-9_.-]+)", line)
    if m: print(m.group(1)); break' "$LADDER_FILE")
if [ "$ANALYZE_ONLY" = 0 ]; then
  say "preparing the corpus '$dataset'"
  case "$dataset" in
    kjv) ./deploy/data/prepare-kjv.sh "$LADDER_DATA_DIR" ;;
    *) ./deploy/data/prepare-english.sh "$LADDER_DATA_DIR" ;;
  esac
fi
say "starting the study's stack (state in $STATE)"
# shellcheck disable=SC2086
./deploy/local/up.sh --workers 1 --cpu-slots "$(nproc)" --threads-per-slot 1 \
  --port 7600 --pg-port 7632 --metrics-port 9600 ${LADDER_UP_ARGS:-} >&2
# shellcheck disable=SC1091
source "$STATE/env"

if [ "$ANALYZE_ONLY" = 0 ]; then
  # The held-out grid: the ladder's data/model/train sections, one size per
  # family at FACTOR x the ladder's largest planned compute (grown 4% at a
  # time until every family's run is at least that far out).
  json submit --dry-run "$LADDER_FILE" >"$STATE/ladder-plan.json"
  heldout_yaml=$STATE/heldout.yaml
  n=$($PY -c 'import json,sys,math
runs = json.load(open(sys.argv[1]))["runs"]
top = max(runs, key=lambda r: float(r["planned_flops"]))
print("%.4g" % (float(top["planned_non_embedding_params"]) * math.sqrt(float(sys.argv[2]))))' \
    "$STATE/ladder-plan.json" "$FACTOR")
  for _ in $(seq 1 40); do
    $PY - "$LADDER_FILE" "$n" "$FACTOR" >"$heldout_yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
n = float(sys.argv[2])
ratio = float(re.search(r"tokens_per_param:\s*([0-9.eE+-]+)", text).group(1))
body = text.split("\nladder:")[0]
body = re.sub(r"(?m)^name:.*$", "name: extrapolation-study-heldout", body)
body = re.sub(r"(?m)^kind:.*$", "kind: grid", body)
print(f"# {sys.argv[3]}x held-out runs of {sys.argv[1]} (written by run_study.sh)")
print(body.rstrip())
print(f"\ngrid:\n  params: [{n:.6g}]\n  tokens: [{n * ratio:.6g}]")
PY
    json submit --dry-run "$heldout_yaml" >"$STATE/heldout-plan.json"
    enough=$($PY -c 'import json,sys
ladder = json.load(open(sys.argv[1]))["runs"]
held = json.load(open(sys.argv[2]))["runs"]
for r in held:
    top = max(float(x["planned_flops"]) for x in ladder if x["family"] == r["family"])
    if float(r["planned_flops"]) < float(sys.argv[3]) * top: print(0); break
else: print(1)' "$STATE/ladder-plan.json" "$STATE/heldout-plan.json" "$FACTOR")
    [ "$enough" = 1 ] && break
    n=$($PY -c "print('%.4g' % ($n * 1.04))")
  done
  [ "$enough" = 1 ] || { echo "run_study.sh: no held-out size reaches ${FACTOR}x" >&2; exit 1; }
  say "submitting the ladder and the held-out runs (N = $n)"
  ladder_id=$(ladder submit "$LADDER_FILE")
  heldout_id=$(ladder submit "$heldout_yaml")
  echo "$ladder_id $heldout_id" >"$IDS"
  say "training: ladder sweep $ladder_id, held-out sweep $heldout_id"
  ladder watch "$heldout_id" >&2
  ladder watch "$ladder_id" >&2
fi
[ -f "$IDS" ] || { echo "run_study.sh: no study sweeps in $STATE (run without --analyze-only)" >&2; exit 1; }
read -r ladder_id heldout_id <"$IDS"
for id in "$ladder_id" "$heldout_id"; do
  state=$(json status "$id" | $PY -c 'import json,sys; print(json.load(sys.stdin)["state"])')
  [ "$state" = SWEEP_STATE_SUCCEEDED ] || { echo "run_study.sh: sweep $id is $state" >&2; exit 1; }
done

# Wait until the ladder's latest fits include all its runs.
runs=$(json runs "$ladder_id" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
for _ in $(seq 1 600); do
  used=$(json fit "$ladder_id" --form power_law_compute 2>/dev/null | $PY -c '
import json, sys
print(sum(int(f.get("runs_used", 0)) for f in json.load(sys.stdin).get("fits", [])))' 2>/dev/null || echo 0)
  [ "$used" -ge "$runs" ] && break
  sleep 1
done

say "analysis"
json runs "$ladder_id" >"$STATE/ladder-runs.json"
json runs "$heldout_id" >"$STATE/heldout-runs.json"
forms="power_law_compute power_law_shared_e"
: >"$STATE/predictions.jsonl"
for family in $($PY -c 'import json,sys; print(" ".join(sorted({r["family"] for r in json.load(open(sys.argv[1]))["runs"]})))' "$STATE/heldout-runs.json"); do
  c=$($PY -c 'import json,sys
print(next(r["flops"] for r in json.load(open(sys.argv[1]))["runs"] if r["family"] == sys.argv[2]))' \
    "$STATE/heldout-runs.json" "$family")
  for form in $forms; do
    if p=$(json predict "$ladder_id" --family "$family" --compute "$c" --form "$form" 2>"$STATE/predict.err"); then
      echo "{\"family\": \"$family\", \"form\": \"$form\", \"prediction\": $p}" >>"$STATE/predictions.jsonl"
    else
      echo "{\"family\": \"$family\", \"form\": \"$form\", \"error\": $($PY -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read().strip()))' "$STATE/predict.err")}" >>"$STATE/predictions.jsonl"
    fi
  done
done
{
  echo "## 10x held-out study: ladder sweep $ladder_id, held-out sweep $heldout_id"
  echo
  echo "Command: \`bench/extrapolation/run_study.sh --factor $FACTOR\`; commit $(git rev-parse --short HEAD), $(nproc) cores."
  echo
  $PY "$ROOT/bench/extrapolation/study_table.py" "$STATE/ladder-runs.json" "$STATE/heldout-runs.json" \
    "$STATE/predictions.jsonl"
  for form in $forms; do
    echo
    echo "### Backtest of the ladder, $form"
    echo
    echo '```'
    ladder backtest "$ladder_id" --form "$form" 2>&1 || true
    echo '```'
  done
  echo
  echo "### Compute-equivalent gain of the Transformer over the LSTM, per form"
  for form in $forms; do
    echo
    echo "$form:"
    echo '```'
    ladder compare "$ladder_id" --base lstm --family transformer --form "$form" 2>&1 || true
    echo '```'
  done
} | tee "$OUT"
echo "report: $OUT" >&2
