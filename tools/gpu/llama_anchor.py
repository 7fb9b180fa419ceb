#!/usr/bin/env python3
"""The outside anchor of `retnet bench-inference` on the GPU machine: Hugging Face transformers'
LlamaForCausalLM (SDPA attention) with the dimensions of our Transformer baseline for a preset
(model_presets.cpp: d, layers and vocabulary of the RetNet, heads of 128, the feed-forward width that
matches the RetNet's parameter count), random weights, decode latency per token against context
length at batch 1: the prompt is prefilled through the model's cache, then single-token steps are
timed with the cache (median). Prints CSV rows in bench-inference's columns (model "hf_llama").

  python3 tools/gpu/llama_anchor.py --preset paper-1.3b --dtype float32 --contexts 1024 4096 8192
"""
import argparse
import sys
import time

import torch

# d, layers, vocab, and the RetNet's K and V widths and FFN (apps/model_presets.cpp).
PRESETS = {
    "paper-1.3b": (2048, 24, 32000, 2048, 4096, 4096),
    "paper-2.7b": (2560, 32, 32000, 2560, 5120, 5120),
    "paper-6.7b": (4096, 32, 32000, 4096, 8192, 8192),
    "fla-1.3b": (2048, 24, 32000, 2048, 4096, 2816),
    "small": (768, 12, 32000, 768, 1536, 1536),
}


def transformer_like(preset):
    d, layers, vocab, k, v, ffn = PRESETS[preset]
    heads = max(1, d // 128)
    while d % heads or (d // heads) % 2:
        heads -= 1
    ffn_t = max(64, (ffn + (2 * k + 3 * v - 4 * d) // 3 + 32) // 64 * 64)
    return d, layers, vocab, heads, ffn_t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="paper-1.3b", choices=sorted(PRESETS))
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--contexts", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384, 32768])
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    from transformers import LlamaConfig, LlamaForCausalLM

    d, layers, vocab, heads, ffn = transformer_like(a.preset)
    dtype = getattr(torch, a.dtype)
    config = LlamaConfig(hidden_size=d, intermediate_size=ffn, num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=heads, vocab_size=vocab, max_position_embeddings=max(a.contexts) + a.steps + 8,
                         attn_implementation="sdpa", torch_dtype=dtype)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(dtype).eval()
    params = sum(p.numel() for p in model.parameters())
    print(f"# hf_llama {a.preset}: d {d}, {layers} layers, {heads} heads, FFN {ffn}, {params / 1e6:.1f} M parameters, "
          f"{a.dtype}, transformers SDPA on {torch.cuda.get_device_name()}", file=sys.stderr)
    print("model,measure,B,context,ms,tokens_per_s,status")
    for context in a.contexts:
        try:
            with torch.no_grad():
                prompt = torch.randint(0, vocab, (1, context), device="cuda")
                out = model(prompt, use_cache=True)
                cache = out.past_key_values
                token = out.logits[:, -1:].argmax(-1)
                samples = []
                for _ in range(a.steps + 2):
                    torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    out = model(token, past_key_values=cache, use_cache=True)
                    torch.cuda.synchronize()
                    samples.append((time.perf_counter() - t0) * 1e3)
                    cache = out.past_key_values
                    token = out.logits[:, -1:].argmax(-1)
            ms = sorted(samples[2:])[len(samples[2:]) // 2]
            print(f"hf_llama,decode_latency,1,{context},{ms:.4f},{1e3 / ms:.2f},ok", flush=True)
        except torch.cuda.OutOfMemoryError:
            print(f"hf_llama,decode_latency,1,{context},0,0,does not fit: CUDA out of memory", flush=True)
        finally:
            cache = out = None
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
