#!/usr/bin/python3
"""CPU side by side, in one run: `retnet bench` against PyTorch (Debian's python3-torch, docs/SEMANTICS.md's
formulas written plainly) and the machine's ceilings (OpenBLAS sgemm 2048^3 through NumPy, a 256 MB
copy), on the shapes of docs/ANCHORS.md, each row timed in rounds that alternate between
the two. Prints a Markdown table with ratios; a benchmark, not a test.

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


def time_samples_ms(fn, warmup=1, repeats=5, min_seconds=0.5):
    for _ in range(warmup):
        fn()
    samples, start = [], time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def time_ms(fn, **kwargs):
    return statistics.median(time_samples_ms(fn, **kwargs))


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


# The rows: (kernel, B, T, H, K, V); the decode step's T is 1.
CASES = [('chunkwise', 1, 2048, 8, 64, 128), ('chunkwise', 1, 8192, 8, 64, 128),
         ('parallel', 1, 256, 8, 64, 128), ('parallel', 1, 2048, 8, 64, 128),
         ('decode_step', 1, 1, 16, 128, 128), ('decode_step', 8, 1, 16, 128, 256),
         # A state far beyond the caches (B256 H16: 268 MB against a 32 MB L3): the copy-bandwidth row.
         ('decode_step', 256, 1, 16, 128, 128)]
# Each row is timed in alternating rounds (ours, then PyTorch's, ROUNDS times): this VM has slow
# phases of tens of seconds (±25%), and timing all of ours before all of PyTorch's let a phase
# land on one side only.
ROUNDS = 5


def retnet_args(kernel, B, T, H, K, V):
    if kernel == 'decode_step':
        return ['--decode-only', '--decode-batches', str(B), '--decode-heads', str(H), '--decode-key-dim', str(K),
                '--decode-value-dim', str(V)]
    return ['--no-decode', '--forms', kernel, '-T', str(T), '-B', str(B), '-H', str(H), '-K', str(K), '-V', str(V),
            '--parallel-max-t', str(T)]


def torch_call(kernel, B, T, H, K, V):
    if kernel == 'decode_step':
        q, k = torch.rand(B, H, K) - 0.5, torch.rand(B, H, K) - 0.5
        v, S = torch.rand(B, H, V) - 0.5, torch.rand(B, H, K, V) - 0.5
        g = gammas(H).float()
        return lambda: torch_step(q, k, v, S, g)
    q, k = torch.rand(B, H, T, K) - 0.5, torch.rand(B, H, T, K) - 0.5
    v = torch.rand(B, H, T, V) - 0.5
    fn = torch_chunkwise if kernel == 'chunkwise' else torch_parallel
    return lambda: fn(q, k, v)


def main(retnet=None):
    if retnet is None:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument('--retnet', default='build/apps/retnet')
        retnet = parser.parse_args().retnet
    torch.set_num_threads(THREADS)
    sgemm, copy = ceilings()
    print(f'Ceilings (this run): OpenBLAS sgemm 2048^3 {sgemm:.0f} GFLOP/s, copy {copy:.1f} GB/s, {THREADS} threads')
    print(f'Each row: {ROUNDS} alternating rounds of ours and PyTorch; medians of the rounds\' medians, the '
          'range of the rounds\' ratios, and the ratio of the fastest calls of all rounds\n')
    print('| kernel | B T H K V | ours ms | ours rate | % of ceiling | PyTorch ms | PyTorch / ours | per round | '
          'of the minimums |')
    print('|---|---|---|---|---|---|---|---|---|')
    for case in CASES:
        kernel, B, T, H, K, V = case
        ours, theirs, rate, ours_min, theirs_min = [], [], [], [], []
        call = torch_call(*case)
        for _ in range(ROUNDS):
            # PyTorch's OpenBLAS and OpenMP workers may spin for a while after its last call: a
            # pause lets them park before our process runs beside them. (A precaution: on this
            # noisy VM runs with and without it did not differ measurably.)
            time.sleep(0.5)
            row = run_retnet(retnet, retnet_args(*case))[0]
            ours.append(float(row['median_ms']))
            ours_min.append(float(row['min_ms']))
            rate.append(float(row['gbps'] if kernel == 'decode_step' else row['gflops']))
            samples = time_samples_ms(call, repeats=50 if kernel == 'decode_step' else 5)
            theirs.append(statistics.median(samples))
            theirs_min.append(min(samples))
        ms, ref = statistics.median(ours), statistics.median(theirs)
        ratios = sorted(t / o for t, o in zip(theirs, ours))
        r = statistics.median(rate)
        if kernel == 'decode_step':
            shape, rate_text, digits = f'{B} 1 {H} {K} {V}', f'{r:.1f} GB/s | {100 * r / copy:.0f}% of copy', 4
        else:
            shape, rate_text, digits = f'{B} {T} {H} {K} {V}', f'{r:.1f} GFLOP/s | {100 * r / sgemm:.0f}% of sgemm', 3
        print(f'| {kernel} | {shape} | {ms:.{digits}f} | {rate_text} | {ref:.{digits}f} | {ref / ms:.1f} | '
              f'{ratios[0]:.1f}–{ratios[-1]:.1f} | {min(theirs_min) / min(ours_min):.1f} |')


if __name__ == '__main__':
    main()
