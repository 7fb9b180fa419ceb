#!/usr/bin/env bash
# Runs on the CUDA machine, from the repository root, with .device/bin carried there
# (see scripts/gpu_bundle.sh): every test suite (each runs on cpu, cuda and, if present, opencl),
# then `retnet bench --device cuda`, `retnet bench-model --device cuda` and, when a torchscale
# checkout is in .anchors/torchscale, tools/torchscale_agreement.py on cuda. Logs go to $OUT when it is set (the lent machine), else ./gpu-logs.
source "$(dirname "$0")/gpu_env.sh"
gpu_info "$out/gpu.txt"
status=0
export RETNET_TEST_DATA_DIR="$PWD/tests/data"
for suite in test_retention_forms test_decode_step test_retention_errors test_tensor test_layers test_model test_model_files \
             test_decode_session test_attention; do
  [ -x ./.device/bin/$suite ] || continue
  ./.device/bin/$suite --gtest_brief=1 "$@" > "$out/$suite.log" 2>&1
  rc=$?
  echo "$suite: exit $rc; $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/$suite.log" | tr '\n' ' ')"
  [ $rc -eq 0 ] || status=1
done
# The schedule sweep, when the bundle has it (RETNET_GPU_SWEEP=1 bash scripts/gpu_bundle.sh).
if [ -x ./.device/bin/retnet-gpu-sweep ]; then
  ./.device/bin/retnet-gpu-sweep --db "$out/cuda.json" \
    --device-name "$gpu_name" 2>&1 | tee "$out/gpu_sweep.txt"
fi
# RETNET_SKIP_BENCH=1: the suites only.
if [ "${RETNET_SKIP_BENCH:-0}" != 1 ]; then
  ./.device/bin/retnet bench --device cuda --csv "$out/bench_cuda.csv" 2>&1 | tee "$out/bench_cuda.txt"
  ./.device/bin/retnet bench-model --device cuda --csv "$out/bench_model_cuda.csv" 2>&1 | tee "$out/bench_model_cuda.txt"
fi
if [ -d .anchors/torchscale ] && [ "${RETNET_SKIP_AGREEMENT:-0}" != 1 ]; then
  python3 tools/torchscale_agreement.py --retnet .device/bin/retnet --device cuda \
    --out "$out/torchscale_agreement_cuda.md" 2>&1 | tail -3
fi
exit $status
