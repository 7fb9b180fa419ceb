#!/usr/bin/env bash
# Runs on the CUDA machine from the repository root, with .device/bin carried (scripts/gpu_bundle.sh):
# the paper's inference comparison for docs/INFERENCE.md. For each preset (RETNET_PRESETS, default
# paper-1.3b), `retnet bench-inference` (RetNet against the Transformer of the same size, float32
# weights unless RETNET_WEIGHTS says otherwise), then the outside anchor (tools/gpu/llama_anchor.py:
# transformers' LlamaForCausalLM with SDPA at the same dimensions), then the attention kernel
# against PyTorch's SDPA (tools/attention_side_by_side.py).
source "$(dirname "$0")/gpu_env.sh"
weights=${RETNET_WEIGHTS:-f32}
for preset in ${RETNET_PRESETS:-paper-1.3b}; do
  ./.device/bin/retnet bench-inference --device cuda --preset "$preset" --weights "$weights" \
    --csv "$out/bench_inference_cuda_${preset}_${weights}.csv" 2>&1 | tee -a "$out/bench_inference_cuda.txt"
  python3 tools/gpu/llama_anchor.py --preset "$preset" --dtype float32 > "$out/llama_anchor_${preset}.csv" \
    2>> "$out/llama_anchor.txt"
  cat "$out/llama_anchor_${preset}.csv"
done
python3 tools/attention_side_by_side.py --retnet .device/bin/retnet --device cuda -H 16 --head-dim 128 \
  --contexts 1024 4096 8192 32768 --prefill-lengths 2048 8192 2>&1 | tee "$out/attention_side_by_side_cuda.md"
