#!/usr/bin/env bash
# Runs on the CUDA machine from the repository root, with .device/bin carried (scripts/gpu_bundle.sh):
# whole-model timings for docs/PERF.md. For each preset and weight storage, `retnet bench-model`
# (prefill at T 2048, decode steps at B 1, 8 and 64 against the weight-streaming bound measured in
# the same run), then the launch floor (tools/launch_floor.cu, built here with nvcc). Presets and
# storages: RETNET_PRESETS (default fla-1.3b) and RETNET_WEIGHTS (default "f32 bf16 int8").
source "$(dirname "$0")/gpu_env.sh"
gpu_info "$out/gpu_model_bench.txt"
for preset in ${RETNET_PRESETS:-fla-1.3b}; do
  for weights in ${RETNET_WEIGHTS:-f32 bf16 int8}; do
    ./.device/bin/retnet bench-model --device cuda --preset "$preset" --weights "$weights" --decode-batches 1 8 64 \
      --decode-steps 20 --repeats 3 --csv "$out/bench_model_cuda_${preset}_${weights}.csv" 2>&1 | tee -a "$out/gpu_model_bench.txt"
  done
done
if command -v nvcc >/dev/null; then
  nvcc -O2 -o /tmp/launch_floor tools/launch_floor.cu -lcuda && /tmp/launch_floor 2>&1 | tee -a "$out/gpu_model_bench.txt"
fi
