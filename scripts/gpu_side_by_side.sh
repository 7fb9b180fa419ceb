#!/usr/bin/env bash
# Runs on the CUDA machine from the repository root, with .device (scripts/gpu_bundle.sh),
# .device/upstream/fla (a checkout of fla-org/flash-linear-attention) and .anchors/torchscale (of
# microsoft/torchscale) carried: the side-by-side tables of docs/PERF.md, each in one run on the same
# machine. Which parts: RETNET_SIDE_BY_SIDE (default "linear fla torchscale"):
#   linear      our products against cuBLAS sgemm (tf32 off) at the fla-1.3b prefill shapes
#   fla         fla's RetNetForCausalLM at the fla-1.3b size in bf16 (forward steps and HF generate)
#   torchscale  torchscale's RetNetDecoder and ours on the same fla-1.3b-sized weights, f32 and bf16
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-logs}
mkdir -p "$out"
export LD_LIBRARY_PATH="$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for part in ${RETNET_SIDE_BY_SIDE:-linear fla torchscale}; do
  case $part in
    linear)
      python3 tools/gpu/linear_vs_cublas.py --retnet .device/bin/retnet --out "$out/linear_vs_cublas.md" 2>&1 |
        tee "$out/linear_vs_cublas.txt" ;;
    fla)
      python3 tools/gpu/fla_model_bench.py --fla-src .device/upstream/fla --dtype bf16 --csv "$out/fla_model_bench_bf16.csv" 2>&1 |
        tee "$out/fla_model_bench_bf16.txt" ;;
    torchscale)
      for dtype in ${RETNET_TORCHSCALE_DTYPES:-bf16 f32}; do
        python3 tools/model_side_by_side.py --device cuda --retnet .device/bin/retnet --preset fla-1.3b --dtype "$dtype" \
          --repeats 3 --decode-steps 10 --check --out "$out/model_side_by_side_cuda_$dtype.md" 2>&1 |
          tee "$out/model_side_by_side_cuda_$dtype.txt"
      done ;;
    *) echo "RETNET_SIDE_BY_SIDE: unknown part '$part' (expected linear, fla or torchscale)" >&2; exit 2 ;;
  esac
done
