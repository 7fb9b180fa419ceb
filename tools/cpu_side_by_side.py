#!/usr/bin/python3
"""CPU side by side, in one run: `retnet bench` against PyTorch (Debian's python3-torch, SEMANTICS.md's
formulas written plainly) and the machine's ceilings (OpenBLAS sgemm 2048^3 through NumPy, a 256 MB
copy), on the shapes of ../shared/docs/ANCHORS.md. Prints a Markdown table with ratios; a benchmark,
not a test.

Run with Debian's interpreter (apt-get install python3-torch python3-numpy libopenblas0-pthread: without
OpenBLAS, NumPy and PyTorch fall back to the reference BLAS, ~4 GFLOP/s), from the repository root,
after building (scripts/build.sh), unsetting OpenBLAS's core-type override for this command only:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/cpu_side_by_side.py
"""
import argparse
import csv
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import torch

THREADS = 2


def time_ms(fn, warmup=1, repeats=5, min_seconds=0.5):
    for _ in range(warmup):
        fn()
    samples, start = [], time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def gammas(H):
    return 1 - torch.pow(2.0, -5.0 - torch.arange(H, dtype=torch.float64))


def torch_chunkwise(q, k, v, C=64):
    """Paper eq. 7 with per-chunk matmuls: q, k [B, H, T, K], v [B, H, T, V]."""
    B, H, T, K = q.shape
    V = v.shape[-1]
    g = gammas(H).float()
    i = torch.arange(C, dtype=torch.float32)
    dist = i[:, None] - i[None, :]
    D = torch.where(dist >= 0, g[:, None, None] ** dist.clamp(min=0), torch.zeros(()))  # [H, C, C]
    xi = g[:, None] ** (i + 1)[None]          # [H, C]
    zeta = g[:, None] ** (C - 1 - i)[None]    # [H, C]
    S = torch.zeros(B, H, K, V)
    out = torch.empty(B, H, T, V)
    for c0 in range(0, T, C):
        qc, kc, vc = q[:, :, c0:c0 + C], k[:, :, c0:c0 + C], v[:, :, c0:c0 + C]
        n = qc.shape[2]
        inner = ((qc @ kc.transpose(-1, -2)) * D[:, :n, :n]) @ vc
        cross = (qc @ S) * xi[:, :n, None]
        out[:, :, c0:c0 + C] = (inner + cross) * K ** -0.5
        S = S * (g ** n)[:, None, None] + kc.transpose(-1, -2) @ (vc * (g[:, None] ** (n - 1 - i[:n]))[..., None])
    return out


def torch_parallel(q, k, v):
    B, H, T, K = q.shape
    g = gammas(H).float()
    n = torch.arange(T, dtype=torch.float32)
    dist = n[:, None] - n[None, :]
    mask = torch.where(dist >= 0, g[:, None, None] ** dist.clamp(min=0), torch.zeros(()))
    return ((q @ k.transpose(-1, -2)) * K ** -0.5 * mask) @ v


def torch_step(q, k, v, S, g):
    S = g[None, :, None, None] * S + k[..., :, None] * v[..., None, :]
    return (q[..., None, :] @ S)[..., 0, :] * q.shape[-1] ** -0.5, S


def ceilings():
    n = 2048
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    ms = time_ms(lambda: a @ b)
    src = np.random.rand(64 * 2 ** 20).astype(np.float32)  # 256 MB
    dst = np.empty_like(src)
    ms_copy = time_ms(lambda: np.copyto(dst, src))
    return 2 * n ** 3 / ms / 1e6, 2 * src.nbytes / ms_copy / 1e6  # GFLOP/s, GB/s


def run_retnet(binary, args):
    with tempfile.NamedTemporaryFile(suffix='.csv', delete=False) as f:
        path = f.name
    subprocess.run([binary, 'bench', '--csv', path, '--threads', str(THREADS)] + args, check=True,
                   stdout=subprocess.DEVNULL)
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    os.unlink(path)
    return rows


def main(retnet=None):
    if retnet is None:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument('--retnet', default='build/apps/retnet')
        retnet = parser.parse_args().retnet
    torch.set_num_threads(THREADS)
    sgemm, copy = ceilings()
    print(f'Ceilings (this run): OpenBLAS sgemm 2048^3 {sgemm:.0f} GFLOP/s, copy {copy:.1f} GB/s, {THREADS} threads\n')
    ours = run_retnet(retnet, ['--forms', 'chunkwise', 'parallel', '-T', '256', '2048', '8192',
                                    '--decode-batches', '1', '--decode-heads', '16'])
    ours += run_retnet(retnet, ['--forms', 'chunkwise', '-T', '256', '--decode-batches', '8',
                                     '--decode-heads', '16', '--decode-value-dim', '256'])
    # A state far beyond the caches (B256 H16: 268 MB against a 32 MB L3): the copy-bandwidth row.
    ours += run_retnet(retnet, ['--forms', 'chunkwise', '-T', '256', '--decode-batches', '256',
                                     '--decode-heads', '16'])

    print('| kernel | B T H K V | ours ms | ours GFLOP/s (credited) | % of sgemm | PyTorch ms | PyTorch / ours |')
    print('|---|---|---|---|---|---|---|')
    seen = set()
    for r in ours:
        B, T, H, K, V = (int(r[c]) for c in 'BTHKV')
        key = (r['kernel'], B, T, H, K, V)
        if key in seen or (r['kernel'] == 'chunkwise' and T == 256) or (r['kernel'] == 'parallel' and T not in (256, 2048)):
            continue
        seen.add(key)
        ms = float(r['median_ms'])
        if r['kernel'] == 'decode_step':
            q, k = torch.rand(B, H, K) - 0.5, torch.rand(B, H, K) - 0.5
            v, S = torch.rand(B, H, V) - 0.5, torch.rand(B, H, K, V) - 0.5
            g = gammas(H).float()
            ref = time_ms(lambda: torch_step(q, k, v, S, g), repeats=50)
            rate = f"{float(r['gbps']):.1f} GB/s = {100 * float(r['gbps']) / copy:.0f}% of copy"
        else:
            q, k = torch.rand(B, H, T, K) - 0.5, torch.rand(B, H, T, K) - 0.5
            v = torch.rand(B, H, T, V) - 0.5
            fn = torch_chunkwise if r['kernel'] == 'chunkwise' else torch_parallel
            ref = time_ms(lambda: fn(q, k, v))
            rate = f"{float(r['gflops']):.1f} | {100 * float(r['gflops']) / sgemm:.0f}%"
        if r['kernel'] == 'decode_step':
            print(f"| {r['kernel']} | {B} 1 {H} {K} {V} | {ms:.4f} | {rate} | – | {ref:.4f} | {ref / ms:.1f} |")
        else:
            print(f"| {r['kernel']} | {B} {T} {H} {K} {V} | {ms:.3f} | {rate} | {ref:.3f} | {ref / ms:.1f} |")


if __name__ == '__main__':
    main()
