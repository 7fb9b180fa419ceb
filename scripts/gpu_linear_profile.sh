#!/usr/bin/env bash
# Runs on the CUDA machine from the repository root, with .device/bin carried (scripts/gpu_bundle.sh
# with RETNET_GPU_SWEEP=1): the linear kernels' GPU work for docs/PERF.md. The schedule sweep of
# the products (retnet-gpu-sweep --kernels linear), where one fla-1.3b decode step's time goes,
# kernel by kernel (Nsight Compute's durations, tools/gpu/kernel_times.py), then our products beside
# cuBLAS (tools/gpu/linear_vs_cublas.py). RETNET_WEIGHTS (default bf16)
# picks the decode step's weight storage.
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu_linear.txt"
if [ -x ./.device/bin/retnet-gpu-sweep ]; then
  ./.device/bin/retnet-gpu-sweep --kernels ${RETNET_SWEEP_KERNELS:-linear} --db "$out/cuda_linear.json" \
    --device-name "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)" 2>&1 | tee -a "$out/gpu_linear.txt"
fi
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -n "$ncu" ]; then
  weights=${RETNET_WEIGHTS:-bf16}
  RETNET_CUDA_GRAPHS=0 "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv \
    --log-file "$out/ncu_decode_${weights}.csv" ./.device/bin/retnet bench-model --device cuda --preset fla-1.3b \
    --weights "$weights" -T 16 --repeats 1 --decode-batches 1 --decode-steps 2 > "$out/ncu_decode_${weights}.txt" 2>&1
  python3 tools/gpu/kernel_times.py "$out/ncu_decode_${weights}.csv" --last "${RETNET_STEP_KERNELS:-317}" \
    | tee "$out/kernel_times_${weights}.md" | head -30
fi
python3 tools/gpu/linear_vs_cublas.py --retnet .device/bin/retnet --out "$out/linear_vs_cublas.md" 2>>"$out/gpu_linear.txt"
