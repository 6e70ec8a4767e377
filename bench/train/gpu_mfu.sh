#!/bin/bash
# GPU throughput and model FLOP utilisation of ladder-train in bf16 on cuda:0.
#
#   bench/train/gpu_mfu.sh            # results on stdout, and in $OUT if set
#
# Builds ladder-train alone (LADDER_TRAINER_ONLY) against the machine's
# PyTorch (find_package(Torch) through torch.utils.cmake_prefix_path), then
# trains, each for STEPS optimizer steps of 512 x 1024 tokens (GPT-2's batch):
#   1. transformer, GPT-2 small shape: L12 d768 h12 ff3072 T1024, vocab 256
#      (byte-level, what a ladder trains): 86.0M parameters;
#   2. the same at vocab 50304 (GPT-2's padded vocabulary): 124.5M
#      parameters, GPT-2 small exactly; its 50304-wide readout adds a large,
#      efficient matmul, so it shows the MFU a GPT-2 setup would see;
#   3. an LSTM with (nearly) the same exact FLOPs per token as (1): L2 d2560
#      (2 * (16 d^2 + 12 d) + 4 d V = 212.4M forward FLOPs per token, vs
#      208.8M for (1), the closest width that is a multiple of 64; see
#      common/model/model_counts.h), 105.6M parameters.
#   4. a wider transformer, L8 d1024 h16 T1024 at vocab 50304 (153M parameters);
#   5. GPT-2 small again with 128-sequence micro-batches (the chunked readout,
#      worker/train/readout_loss.h, keeps no [N, V] logits, so they fit);
# and reports the median tokens/s and MFU of the progress lines after the
# first WARMUP steps. MFU = exact training FLOPs/token x tokens/s / peak
# (989.4 TFLOP/s dense bf16 for H100 SXM and H200; worker/train/device_info.h).
#
# Then, unless REFERENCE=0, side by side on the same GPU: the same GPT-2 small
# in PyTorch eager Python (bench/train/gpu_pytorch_eager.py, plain
# cross_entropy readout), and the readout alone, chunked vs full logits
# (bench/train/readout_loss.py). PROFILE=1 adds Chrome traces of two steps of
# each (LADDER_TRAIN_PROFILE, torch.profiler) condensed by
# bench/train/profile_summary.py. Not yet timed as a whole; from earlier runs
# of its parts, an estimated 8 minutes on an H100 with STEPS=20.
#
# Needs: python3 with torch (CUDA), cmake, ninja or make, a C++17 compiler,
# nvcc (PyTorch's CMake config looks for the CUDA toolkit), and the
# nlohmann/json headers: /usr/include/nlohmann, or $LADDER_EXTRA_INCLUDE, or
# .carry/include/nlohmann in this checkout (copy /usr/include/nlohmann there
# on a Debian machine and carry .carry). Data: $LADDER_DATA_DIR/kjv or
# .carry/data/kjv if prepared (deploy/data/prepare-kjv.sh), else random bytes
# (throughput does not depend on the text).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-gpu}
PYTHON=${PYTHON:-python3}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-5}
DEVICE=${DEVICE:-cuda:0}
OUT_DIR=${OUT:-}
WORK=$(mktemp -d /tmp/ladder-gpu-mfu.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

log() { echo "gpu_mfu: $*" >&2; }

# ---- Build -----------------------------------------------------------------
TORCH_PREFIX=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')
TORCH_VERSION=$("$PYTHON" -c 'import torch; print(torch.__version__)')
EXTRA=${LADDER_EXTRA_INCLUDE:-}
if [ -z "$EXTRA" ] && [ ! -f /usr/include/nlohmann/json.hpp ] && [ -f "$ROOT/.carry/include/nlohmann/json.hpp" ]; then
  EXTRA=$ROOT/.carry/include
fi
if [ -z "$EXTRA" ] && [ ! -f /usr/include/nlohmann/json.hpp ]; then
  log "nlohmann/json.hpp not found: set LADDER_EXTRA_INCLUDE or copy /usr/include/nlohmann to .carry/include/"
  exit 1
fi
GENERATOR=()
command -v ninja >/dev/null 2>&1 && GENERATOR=(-G Ninja)
log "building with PyTorch $TORCH_VERSION from $TORCH_PREFIX"
cmake -S "$ROOT" -B "$BUILD" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DLADDER_TRAINER_ONLY=ON \
  -DLADDER_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" ${EXTRA:+-DLADDER_EXTRA_INCLUDE="$EXTRA"} >&2
cmake --build "$BUILD" --target ladder-train ladder_readout_bench -j "$(nproc)" >&2
TRAINER=$BUILD/bin/ladder-train

# ---- Data ------------------------------------------------------------------
DATA_DIR=${LADDER_DATA_DIR:-$HOME/.cache/ladder/data}
if [ -f "$DATA_DIR/kjv/train.u8" ]; then
  DATASET=kjv
elif [ -f "$ROOT/.carry/data/kjv/train.u8" ]; then
  DATA_DIR=$ROOT/.carry/data
  DATASET=kjv
else
  DATASET=$WORK/random-bytes.u8
  head -c 50000000 /dev/urandom > "$DATASET"
  log "no prepared kjv corpus: training on random bytes (throughput only)"
fi
export LADDER_DATA_DIR=$DATA_DIR

# ---- Runs ------------------------------------------------------------------
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader -i 0 2>/dev/null || echo unknown)
BATCH=$((512 * 1024))
SUMMARY=$WORK/summary.txt
printf '%-44s %12s %14s %9s %12s\n' "model" "params" "tokens/s" "MFU" "step s" > "$SUMMARY"

PROFILE=${PROFILE:-0}
REFERENCE=${REFERENCE:-1}

run() {  # id name family n_layer d_model n_head d_ff vocab micro_batch_tokens [profile]
  local id=$1 name=$2 family=$3 L=$4 d=$5 h=$6 f=$7 V=$8 micro=$9 trace=${10:-}
  cat > "$WORK/$id.json" <<JSON
{"run_id": 0, "family": "$family",
 "model": {"n_layer": $L, "d_model": $d, "n_head": $h, "d_ff": $f, "context": 1024, "vocab": $V,
           "mlp": "gelu", "positions": "learned", "tie_embeddings": true},
 "train": {"tokens": $((STEPS * BATCH)), "batch_tokens": $BATCH, "lr": 6e-4, "warmup_fraction": 0.1,
           "eval_tokens": 65536, "eval_interval_tokens": 0, "log_interval_steps": 1,
           "micro_batch_tokens": $micro, "checkpoint_interval_seconds": 0},
 "data": {"dataset": "$DATASET"}}
JSON
  log "$name: training $STEPS steps"
  LADDER_TRAIN_PROFILE=$trace "$TRAINER" --config "$WORK/$id.json" --work-dir "$WORK/$id" --device "$DEVICE" --threads 8 \
    > "$WORK/$id.jsonl" 2> "$WORK/$id.log" || { tail -5 "$WORK/$id.log" >&2; log "$name failed"; }
  if [ -n "$OUT_DIR" ]; then cp "$WORK/$id.jsonl" "$WORK/$id.log" "$OUT_DIR/" || true; fi
  "$PYTHON" - "$WORK/$id.jsonl" "$name" "$WARMUP" >> "$SUMMARY" <<'PY'
import json, statistics, sys
path, name, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = [json.loads(l) for l in open(path) if l.strip()]
started = next((e for e in events if e["event"] == "started"), None)
prog = [e for e in events if e["event"] == "progress" and e["step"] > warmup]
err = next((e for e in events if e["event"] == "error"), None)
if not started or not prog:
    print(f"{name:<44} failed: {err['message'] if err else 'no progress'}")
    sys.exit()
tps = statistics.median(e["tokens_per_second"] for e in prog)
mfus = [e["mfu"] for e in prog if e["mfu"] is not None]
mfu = f"{100 * statistics.median(mfus):.1f}%" if mfus else "unknown"
batch = prog[0]["tokens"] / prog[0]["step"]
print(f"{name:<44} {started['params_total']:>12,} {tps:>14,.0f} {mfu:>9} {batch / tps:>12.3f}")
PY
}

# Micro-batches of 64 sequences: the largest that fits GPT-2 small's 50304-wide
# fp32 logits in 80 GB; larger micro-batches measured faster (32.4% -> 34.6%
# MFU from 16 to 64 sequences on an H100).
run t256 "transformer L12 d768 T1024 V256 (GPT-2 shape)" transformer 12 768 12 3072 256 65536
TRACE_CPP=
[ "$PROFILE" = 1 ] && TRACE_CPP=$WORK/trace-ladder-train.json
run t50304 "transformer L12 d768 T1024 V50304 (GPT-2 small)" transformer 12 768 12 3072 50304 65536 "$TRACE_CPP"
run t1024 "transformer L8 d1024 T1024 V50304 (153M)" transformer 8 1024 16 4096 50304 65536
run lstm "lstm L2 d2560 T1024 V256 (same FLOPs as 1)" lstm 2 2560 0 0 256 0
run t50304m128 "GPT-2 small, 128-sequence micro-batches" transformer 12 768 12 3072 50304 131072

# ---- References on the same GPU --------------------------------------------
REFS=$WORK/references.txt
: > "$REFS"
if [ "$REFERENCE" = 1 ]; then
  log "PyTorch eager Python, GPT-2 small"
  PY_PROFILE=()
  [ "$PROFILE" = 1 ] && PY_PROFILE=(--profile "$WORK/trace-pytorch.json")
  "$PYTHON" "$ROOT/bench/train/gpu_pytorch_eager.py" --vocab 50304 --micro-tokens 65536 \
    --steps $((STEPS - WARMUP)) --warmup "$WARMUP" "${PY_PROFILE[@]}" >> "$REFS" 2>&1 || log "PyTorch eager failed"
  log "readout loss: chunked vs full logits"
  "$PYTHON" "$ROOT/bench/train/readout_loss.py" --bench "$BUILD/bin/ladder_readout_bench" --device "$DEVICE" \
    --shapes 65536x768x50304,65536x768x256 --rounds 2 --repeats 3 >> "$REFS" 2>&1 || log "readout bench failed"
fi
if [ "$PROFILE" = 1 ]; then
  "$PYTHON" "$ROOT/bench/train/profile_summary.py" "ladder-train=$TRACE_CPP" \
    ${PY_PROFILE:+"pytorch-eager=$WORK/trace-pytorch.json"} >> "$REFS" 2>&1 || log "profile summary failed"
fi

{
  echo "GPU: $GPU; PyTorch $TORCH_VERSION; bf16 autocast; batch $BATCH tokens; median of steps $((WARMUP + 1))..$STEPS"
  cat "$SUMMARY"
  if [ -s "$REFS" ]; then echo; cat "$REFS"; fi
} > "$WORK/gpu_mfu.txt"
cat "$WORK/gpu_mfu.txt"
if [ -n "$OUT_DIR" ]; then cp "$WORK/gpu_mfu.txt" "$OUT_DIR/"; fi
