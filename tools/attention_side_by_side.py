#!/usr/bin/env python3
"""The Transformer baseline's attention against PyTorch's at the same shapes, in one run.

Runs `retnet bench-attention` (our attention over a float32 KV cache: decoding, one query per
sequence over L cached positions; prefill, a causal prompt) and times PyTorch on the same shapes:
on the CPU plain matmul and softmax (PyTorch 1.13 has no scaled_dot_product_attention), on CUDA
torch.nn.functional.scaled_dot_product_attention in float32 (and bfloat16, for reference).
Prints a markdown table with the ratio ours / PyTorch.

  /usr/bin/python3 tools/attention_side_by_side.py --retnet build/apps/retnet --device cpu
  python3 tools/attention_side_by_side.py --retnet .device/bin/retnet --device cuda   (GPU machine)
"""
import argparse
import csv
import math
import os
import subprocess
import tempfile
import time

import torch


def median_ms(fn, repeats, sync):
    for _ in range(2):
        fn()
    sync()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    return samples[len(samples) // 2]


def torch_attention(q, k, v, causal):
    """softmax(q k^T / sqrt(D)) v, [B, H, T, D]; the SDPA kernels where PyTorch has them."""
    if hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return scores.softmax(-1) @ v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--retnet", required=True, help="the retnet binary")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("-H", "--heads", type=int, default=16)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--contexts", type=int, nargs="+", default=[1024, 4096, 8192])
    ap.add_argument("--prefill-lengths", type=int, nargs="+", default=[1024])
    ap.add_argument("--repeats", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ours.csv")
        subprocess.run([a.retnet, "bench-attention", "--device", a.device, "-B", str(a.batch), "-H", str(a.heads),
                        "-D", str(a.head_dim), "--contexts", *map(str, a.contexts), "--prefill-lengths",
                        *map(str, a.prefill_lengths), "--repeats", str(a.repeats), "--csv", out], check=True)
        ours = {(r["phase"], int(r["context"])): float(r["median_ms"]) for r in csv.DictReader(open(out))}
    dev = torch.device(a.device)
    if a.device == "cpu":
        torch.set_num_threads(len(os.sched_getaffinity(0)))  # as many threads as ours
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    B, H, D = a.batch, a.heads, a.head_dim
    dtypes = [torch.float32] + ([torch.bfloat16] if a.device == "cuda" else [])
    print(f"attention, B {B} H {H} D {D}; PyTorch {torch.__version__} on {a.device}"
          f" ({torch.cuda.get_device_name() if a.device == 'cuda' else f'{torch.get_num_threads()} threads'})\n")
    print("| phase | context | ours fp32 ms | PyTorch fp32 ms | ours / PyTorch |"
          + (" PyTorch bf16 ms |" if len(dtypes) > 1 else ""))
    print("|---|---|---|---|---|" + ("---|" if len(dtypes) > 1 else ""))
    cases = [("decode", L) for L in a.contexts] + [("prefill", T) for T in a.prefill_lengths]
    for phase, n in cases:
        times = []
        for dtype in dtypes:
            q = torch.randn(B, H, 1 if phase == "decode" else n, D, device=dev, dtype=dtype)
            k = torch.randn(B, H, n, D, device=dev, dtype=dtype)
            v = torch.randn(B, H, n, D, device=dev, dtype=dtype)
            with torch.no_grad():
                times.append(median_ms(lambda: torch_attention(q, k, v, phase == "prefill"), a.repeats, sync))
        mine = ours[(phase, n)]
        extra = f" {times[1]:.4f} |" if len(times) > 1 else ""
        print(f"| {phase} | {n} | {mine:.4f} | {times[0]:.4f} | {mine / times[0]:.2f} |{extra}")


if __name__ == "__main__":
    main()
