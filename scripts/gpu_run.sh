#!/usr/bin/env bash
# Runs on the CUDA machine, from the repository root, with .device/bin carried there
# (see scripts/gpu_bundle.sh): every test suite (each runs on cpu, cuda and, if present, opencl),
# then `retnet bench --device cuda`. Logs go to $OUT when it is set (the lent machine), else ./gpu-logs.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-logs}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/gpu.txt"
status=0
for suite in test_retention_forms test_decode_step test_retention_errors test_tensor; do
  ./.device/bin/$suite --gtest_brief=1 "$@" > "$out/$suite.log" 2>&1
  rc=$?
  echo "$suite: exit $rc; $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/$suite.log" | tr '\n' ' ')"
  [ $rc -eq 0 ] || status=1
done
# RETNET_SKIP_BENCH=1: the suites only.
if [ "${RETNET_SKIP_BENCH:-0}" != 1 ]; then
  ./.device/bin/retnet bench --device cuda --csv "$out/bench_cuda.csv" 2>&1 | tee "$out/bench_cuda.txt"
fi
exit $status
