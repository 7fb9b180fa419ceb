#!/usr/bin/env python3
"""The GPU anchors of docs/ANCHORS.md, measured in the same run as `retnet bench --device cuda`.

Times fla's retention kernels (chunk, parallel, fused_recurrent) and plain PyTorch on the docs/ANCHORS.md
shapes, the decode step from Python, fla's error against float64, and the machine's two ceilings
(device copy bandwidth, fp32 matrix product without tf32). Runs on the GPU machine, where PyTorch and
Triton are installed; fla is imported from a copy of its repository's fla/ folder that is never
committed (--fla-dir). Writes anchors.csv (one row per measurement) to --out.

This is a benchmark script, not part of the product: the product has no Python at run time.
"""
import argparse
import csv
import math
import os
import statistics
import sys

import torch

FP32_SHAPES = [(8, 1024, 8, 64, 64), (4, 2048, 16, 128, 128), (2, 16384, 16, 128, 128),
               (4, 4096, 8, 128, 256), (1, 8192, 96, 128, 128)]
BF16_SHAPES = [(4, 2048, 16, 128, 128), (2, 16384, 16, 128, 128)]
DECODE = [(b, h) for h in (16, 32) for b in (1, 8, 64, 256)]


def time_ms(fn, warmup=3, repeats=20):
    """Median of CUDA-event-timed calls after warm-up (first calls include Triton's compile)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end))
    return statistics.median(samples)


def decay(heads, device, dtype=torch.float64):
    # 1 - 2^(-5-h), cycling after 48 heads as `retnet bench` does (the work does not depend on it).
    h = torch.arange(heads, device=device, dtype=dtype) % 48
    return 1 - torch.pow(2.0, -5.0 - h)


def torch_parallel(q, k, v, gamma):
    """Plain PyTorch parallel form: (s Q K^T * D) V with the T x T decay mask materialised."""
    T = q.shape[1]
    n = torch.arange(T, device=q.device, dtype=torch.float32)
    dist = n[:, None] - n[None, :]
    mask = torch.where(dist >= 0, torch.exp(dist[None] * torch.log(gamma.float())[:, None, None]), 0.0)
    qh, kh, vh = (x.transpose(1, 2) for x in (q, k, v))  # [B, H, T, D]
    scores = (qh @ kh.transpose(-1, -2)) * (q.shape[-1] ** -0.5) * mask.to(q.dtype)
    return (scores @ vh).transpose(1, 2)


def reference_fp64(q, k, v, gamma):
    return torch_parallel(q.double(), k.double(), v.double(), gamma.double()) if q.shape[1] <= 4096 else None


def ceilings(rows):
    a = torch.empty(2 ** 29, device='cuda', dtype=torch.float32)  # 2 GiB
    b = torch.empty_like(a)
    ms = time_ms(lambda: b.copy_(a))
    rows.append(dict(kind='ceiling', name='device copy', ms=ms, value=2 * a.numel() * 4 / ms / 1e6, unit='GB/s'))
    torch.backends.cuda.matmul.allow_tf32 = False
    n = 8192
    x, y = torch.randn(n, n, device='cuda'), torch.randn(n, n, device='cuda')
    ms = time_ms(lambda: x @ y, repeats=10)
    rows.append(dict(kind='ceiling', name='fp32 matmul (no tf32)', ms=ms, value=2 * n ** 3 / ms / 1e9, unit='TFLOP/s'))


def sequence_anchors(rows, fla_ops, shapes, dtype):
    chunk_retention, parallel_retention, fused_recurrent_retention = fla_ops
    for (B, T, H, K, V) in shapes:
        g = torch.Generator(device='cuda').manual_seed(0)
        q = torch.randn(B, T, H, K, device='cuda', generator=g).to(dtype)
        k = torch.randn(B, T, H, K, device='cuda', generator=g).to(dtype)
        v = torch.randn(B, T, H, V, device='cuda', generator=g).to(dtype)
        gamma = decay(H, 'cuda')
        shape = dict(B=B, T=T, H=H, K=K, V=V, dtype=str(dtype).replace('torch.', ''))
        ref = reference_fp64(q, k, v, gamma) if dtype == torch.float32 else None
        for name, fn in (('fla chunk', lambda: chunk_retention(q, k, v, output_final_state=True)[0]),
                         ('fla parallel', lambda: parallel_retention(q, k, v)[0]),
                         ('fla fused_recurrent', lambda: fused_recurrent_retention(q, k, v, output_final_state=True)[0]),
                         ('torch parallel', lambda: torch_parallel(q, k, v, gamma))):
            if name == 'torch parallel' and T > 4096:
                continue  # the T x T mask does not fit
            try:
                ms = time_ms(fn)
                err = ''
                if ref is not None:
                    out = fn().double()
                    err = ((out - ref).norm() / ref.norm()).item()
                rows.append(dict(kind='sequence', name=name, ms=ms, rel_err=err, **shape))
                print(f'{name:22s} {shape} {ms:9.3f} ms  err {err}', flush=True)
            except Exception as e:  # an anchor that fails is reported, not fatal
                rows.append(dict(kind='sequence', name=name, ms='', note=f'failed: {e}'[:200], **shape))
                print(f'{name} {shape} failed: {e}', flush=True)
        del q, k, v, ref
        torch.cuda.empty_cache()


def decode_anchors(rows, fla_ops):
    fused_recurrent_retention = fla_ops[2]
    K = V = 128
    for (B, H) in DECODE:
        q = torch.randn(B, 1, H, K, device='cuda')
        k = torch.randn(B, 1, H, K, device='cuda')
        v = torch.randn(B, 1, H, V, device='cuda')
        state = torch.randn(B, H, K, V, device='cuda')
        gamma = decay(H, 'cuda', torch.float32)
        ms = time_ms(lambda: fused_recurrent_retention(q, k, v, initial_state=state, output_final_state=True), repeats=50)
        rows.append(dict(kind='decode', name='fla fused_recurrent step', ms=ms, B=B, H=H, K=K, V=V))

        def torch_step():
            s = gamma[None, :, None, None] * state + k[:, 0, :, :, None] * v[:, 0, :, None, :]
            return (q[:, 0, :, None, :] @ s)[:, :, 0] * K ** -0.5, s
        ms_t = time_ms(torch_step, repeats=50)
        rows.append(dict(kind='decode', name='torch step', ms=ms_t, B=B, H=H, K=K, V=V))
        print(f'decode B{B} H{H}: fla {ms * 1e3:.1f} us, torch {ms_t * 1e3:.1f} us', flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--fla-dir', required=True, help='folder holding a copy of fla/')
    parser.add_argument('--out', default=os.environ.get('OUT', '.'), help='where anchors.csv goes')
    args = parser.parse_args()
    sys.path.insert(0, args.fla_dir)
    from fla.ops.retention import chunk_retention, fused_recurrent_retention, parallel_retention
    fla_ops = (chunk_retention, parallel_retention, fused_recurrent_retention)
    print(torch.cuda.get_device_name(), torch.__version__, flush=True)
    rows = []
    ceilings(rows)
    print(rows, flush=True)
    sequence_anchors(rows, fla_ops, FP32_SHAPES, torch.float32)
    sequence_anchors(rows, fla_ops, BF16_SHAPES, torch.bfloat16)
    decode_anchors(rows, fla_ops)
    fields = ['kind', 'name', 'dtype', 'B', 'T', 'H', 'K', 'V', 'ms', 'rel_err', 'value', 'unit', 'note']
    with open(os.path.join(args.out, 'anchors.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({key: r.get(key, '') for key in fields})


if __name__ == '__main__':
    main()
