#!/usr/bin/env python3
"""fla's own RetNetForCausalLM at a preset's size, timed as `retnet bench-model` times ours.

A measurement tool for the GPU machine (python3 with torch, transformers, triton, einops; a copy
of fla-org/flash-linear-attention checked out somewhere):
    python3 tools/gpu/fla_model_bench.py --fla-src DIR [--dtype bf16] [--csv OUT.csv]
It builds fla-hub/retnet-1.3B-100B's config (tools/make_dialect_fixtures.py's fla_legacy_config)
with random weights in the given dtype, then times, after a warm-up, with the GPU synchronised:
  prefill   one forward of B 1 x T 2048 tokens (median of 3);
  decode    steps of one token for each of B sequences through fla's cache (model(input_ids=next,
            past_key_values=cache, use_cache=True)), after a 16-token prefill; the median step
            over 20, for B 1, 8 and 64;
  generate  Hugging Face `generate` (greedy, 64 new tokens forced, after the same 16-token prompt):
            (its time - the prompt's forward) / 64 per token, the way a user of fla decodes.
fla computes in the model's dtype with tensor cores where it can; ours is float32 arithmetic.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
sys.path.insert(0, os.path.dirname(HERE))
import make_dialect_fixtures as fixtures  # noqa: E402

import torch  # noqa: E402

HF_ONLY = ("architectures", "torch_dtype", "dtype", "transformers_version", "model_type")


def synced(fn):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1e3, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fla-src", required=True)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--decode-batches", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--csv")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.fla_src))
    from fla.models.retnet import RetNetConfig, RetNetForCausalLM

    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    config = {k: v for k, v in fixtures.fla_legacy_config().items() if k not in HF_ONLY}
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = RetNetForCausalLM(RetNetConfig(**config)).to(dtype).eval()
    params = sum(p.numel() for p in model.parameters())
    print(f"fla RetNetForCausalLM, fla-1.3b config, {params / 1e6:.1f} M parameters, {args.dtype}, "
          f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    rows = []
    vocab = config["vocab_size"]
    with torch.no_grad():
        ids = torch.randint(0, vocab, (1, args.tokens), device="cuda")
        synced(lambda: model(input_ids=ids))
        times = [synced(lambda: model(input_ids=ids))[0] for _ in range(3)]
        ms = statistics.median(times)
        rows.append(("prefill", 1, args.tokens, ms, args.tokens / (ms / 1e3)))
        for B in args.decode_batches:
            prompt = torch.randint(0, vocab, (B, 16), device="cuda")
            out = model(input_ids=prompt, use_cache=True)
            cache = out.past_key_values
            step = torch.randint(0, vocab, (B, 1), device="cuda")
            steps = []
            for i in range(21):
                ms, out = synced(lambda: model(input_ids=step, past_key_values=cache, use_cache=True))
                cache = out.past_key_values
                if i > 0:
                    steps.append(ms)
            ms = statistics.median(steps)
            rows.append(("decode", B, 1, ms, B / (ms / 1e3)))
            try:
                new = 64
                prompt_ms = statistics.median(synced(lambda: model(input_ids=prompt, use_cache=True))[0] for _ in range(3))
                generate = lambda: model.generate(input_ids=prompt, max_new_tokens=new, min_new_tokens=new,
                                                  do_sample=False, use_cache=True)
                synced(generate)
                total = statistics.median(synced(generate)[0] for _ in range(3))
                ms = (total - prompt_ms) / new
                rows.append(("generate", B, 1, ms, B / (ms / 1e3)))
            except Exception as e:  # an fla/transformers version pair whose generate fails: say so
                print(f"generate at B {B} failed: {type(e).__name__}: {e}")
    print(f"{'phase':<10} {'B':>4} {'T':>6} {'ms':>10} {'tokens/s':>10}")
    for phase, B, T, ms, tps in rows:
        print(f"{phase:<10} {B:>4} {T:>6} {ms:>10.3f} {tps:>10.1f}")
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("model,weights,phase,B,T,median_ms,tokens_per_s\n")
            for phase, B, T, ms, tps in rows:
                f.write(f"fla RetNetForCausalLM fla-1.3b,{args.dtype},{phase},{B},{T},{ms:.4f},{tps:.2f}\n")


if __name__ == "__main__":
    main()
