#!/usr/bin/env bash
# Runs on the CUDA machine from the repository root: the model-level GPU work of docs/PERF.md in one
# call of a lent machine, most important first, each step started only if its usual time still fits
# in RETNET_ROUND_SECONDS (default 540: a call may run 600 s) and stopped when that time is up. Lent
# machines often cannot be started, so one call should bring back what a session most needs:
#   1. the suites that cover the products, the model and attention (float64 checks on CUDA);
#   2. the products' schedule sweep, when the bundle has it (RETNET_GPU_SWEEP=1);
#   3. `retnet bench-model` at fla-1.3b: bf16 prefill and decode B 1, 8, 64, bf16 decode with the
#      norms and rotation not folded (RETNET_FOLD_NORMS=0 RETNET_FOLD_ROTATION=0), then f32 and
#      int8 at B 1;
#   4. our products beside cuBLAS sgemm at the prefill shapes;
#   5. fla's RetNetForCausalLM (if .device/upstream/fla is carried) and torchscale's RetNetDecoder
#      (if .anchors/torchscale is) at the same size, in bf16.
# Carry .device/bundle.txz (scripts/gpu_bundle.sh, then `tar cf - .device/bin .device/lib | xz >
# .device/bundle.txz`) or .device/bin and .device/lib. On the lent machine the logs are packed into
# $OUT/round.tgz at the end (it returns at most 8 files).
source "$(dirname "$0")/gpu_env.sh"
budget=${RETNET_ROUND_SECONDS:-540}
start=$SECONDS
export RETNET_TEST_DATA_DIR="$PWD/tests/data"

# step NAME SECONDS COMMAND...: runs COMMAND into $out/NAME.txt if SECONDS still fit, under a
# timeout of the time left, and prints its exit status and last lines.
step() {
  local name=$1 need=$2
  shift 2
  local left=$((budget - (SECONDS - start)))
  if ((left < need)); then
    echo "$name: skipped, $left s left of $budget (it usually takes up to $need s)"
    return
  fi
  timeout "$left" "$@" > "$out/$name.txt" 2>&1
  echo "$name: exit $? at $((SECONDS - start)) s"
  tail -n "${RETNET_ROUND_TAIL:-8}" "$out/$name.txt"
}

gpu_info "$out/gpu.txt"
for suite in test_layers test_model test_attention test_decode_step; do
  step "$suite" 60 ./.device/bin/$suite --gtest_brief=1
done
if [ -x ./.device/bin/retnet-gpu-sweep ]; then
  cp schedules/tuned/cuda.json "$out/cuda.json"
  step sweep_linear 90 ./.device/bin/retnet-gpu-sweep --kernels linear linear_bf16 linear_int8 --db "$out/cuda.json" \
    --device-name "$gpu_name"
fi
bench=(./.device/bin/retnet bench-model --device cuda --preset fla-1.3b)
step bench_model_bf16 90 "${bench[@]}" --weights bf16 --decode-batches 1 8 64 --decode-steps 20 --repeats 2 \
  --csv "$out/bench_model_bf16.csv"
# Decoding with the step's small kernels apart (the pre-norms and the rotation not folded into
# the products and the retention step), for the folds' worth in the same call.
step bench_model_bf16_unfolded 40 env RETNET_FOLD_NORMS=0 RETNET_FOLD_ROTATION=0 "${bench[@]}" --weights bf16 -T 16 \
  --decode-batches 1 8 64 --decode-steps 20 --csv "$out/bench_model_bf16_unfolded.csv"
for weights in f32 int8; do
  step "bench_model_$weights" 40 "${bench[@]}" --weights "$weights" -T 16 --decode-batches 1 --decode-steps 30 \
    --csv "$out/bench_model_$weights.csv"
done
step linear_vs_cublas 60 python3 tools/gpu/linear_vs_cublas.py --retnet .device/bin/retnet --weights f32 bf16 \
  --out "$out/linear_vs_cublas.md"
if [ -d .device/upstream/fla ]; then
  step fla_model_bench_bf16 150 python3 tools/gpu/fla_model_bench.py --fla-src .device/upstream/fla --dtype bf16 \
    --csv "$out/fla_model_bench_bf16.csv"
fi
if [ -d .anchors/torchscale ]; then
  step model_side_by_side_bf16 150 python3 tools/model_side_by_side.py --device cuda --retnet .device/bin/retnet \
    --preset fla-1.3b --dtype bf16 --parallel-max-tokens 0 --repeats 1 --decode-steps 10 --check \
    --out "$out/model_side_by_side_cuda_bf16.md"
fi
if [ -n "${OUT:-}" ]; then
  (cd "$out" && tar czf round.tgz --exclude=round.tgz -- * && find . -maxdepth 1 -type f ! -name round.tgz -delete)
fi
