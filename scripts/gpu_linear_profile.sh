#!/usr/bin/env bash
# Runs on the CUDA machine from the repository root, with .device/bin carried (scripts/gpu_bundle.sh
# with RETNET_GPU_SWEEP=1 for the sweep): the linear kernels' GPU work for docs/PERF.md. The steps,
# all by default or those named in RETNET_PROFILE_STEPS:
#   sweep   the products' schedule sweep (retnet-gpu-sweep --kernels $RETNET_SWEEP_KERNELS, default linear);
#   gemm    Nsight Compute's full report of the prefill product at 2048^3 in float32 and bf16: where a
#           tiled product's time goes (issue slots, L1 wavefronts, warp stall reasons, registers);
#   decode  where one fla-1.3b decode step's time goes, kernel by kernel (Nsight Compute's durations,
#           tools/gpu/kernel_times.py), with weights in RETNET_WEIGHTS (default bf16);
#   cublas  our products beside cuBLAS (tools/gpu/linear_vs_cublas.py).
source "$(dirname "$0")/gpu_env.sh"
steps=" ${RETNET_PROFILE_STEPS:-sweep gemm decode cublas} "
wants() { [[ "$steps" == *" $1 "* ]]; }
gpu_info "$out/gpu_linear.txt"
if wants sweep && [ -x ./.device/bin/retnet-gpu-sweep ]; then
  ./.device/bin/retnet-gpu-sweep --kernels ${RETNET_SWEEP_KERNELS:-linear} --db "$out/cuda_linear.json" \
    --device-name "$gpu_name" 2>&1 | tee -a "$out/gpu_linear.txt"
fi
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if wants gemm && [ -n "$ncu" ]; then
  for weights in f32 bf16; do
    "$ncu" --clock-control none --set full -k regex:_kernel_y_s0 --launch-skip 2 --launch-count 1 \
      ./.device/bin/retnet bench-linear --device cuda --weights "$weights" --shapes 2048x2048x2048 --warmup 1 \
      --repeats 3 > "$out/ncu_gemm_$weights.txt" 2>&1
    grep -E "Duration|Throughput|Registers|Achieved Occupancy|Issue Slots Busy|Stall|L1/TEX Hit" \
      "$out/ncu_gemm_$weights.txt" | head -40
  done
fi
if wants decode && [ -n "$ncu" ]; then
  weights=${RETNET_WEIGHTS:-bf16}
  RETNET_CUDA_GRAPHS=0 "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv \
    --log-file "$out/ncu_decode_${weights}.csv" ./.device/bin/retnet bench-model --device cuda --preset fla-1.3b \
    --weights "$weights" -T 16 --repeats 1 --decode-batches 1 --decode-steps 2 > "$out/ncu_decode_${weights}.txt" 2>&1
  python3 tools/gpu/kernel_times.py "$out/ncu_decode_${weights}.csv" --last "${RETNET_STEP_KERNELS:-317}" \
    | tee "$out/kernel_times_${weights}.md" | head -30
fi
if wants cublas; then
  python3 tools/gpu/linear_vs_cublas.py --retnet .device/bin/retnet --out "$out/linear_vs_cublas.md" 2>>"$out/gpu_linear.txt"
fi
