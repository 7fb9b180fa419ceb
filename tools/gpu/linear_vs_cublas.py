#!/usr/bin/env python3
"""Our linear kernels beside cuBLAS's fp32 sgemm (TF32 off), or beside PyTorch's CPU fp32 matmul.

For the GPU target "linear kernels on CUDA at >= 60% of cuBLAS fp32 sgemm at prefill shapes
(M >= 2048)". Run on the GPU machine from the repository root, with the binaries unpacked in
.device (scripts/gpu_bundle.sh; .device/lib goes on LD_LIBRARY_PATH as scripts/gpu_run.sh does):
    python3 tools/gpu/linear_vs_cublas.py [--out linear_vs_cublas.md]
and, to try it on a CPU machine (Debian's /usr/bin/python3 with python3-torch and libopenblas0-pthread;
small shapes), unsetting OpenBLAS's core-type override as tools/cpu_side_by_side.py does (with it,
torch's sgemm ran at a third of its speed here):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/gpu/linear_vs_cublas.py \\
        --device cpu --retnet build/apps/retnet --shapes 256x512x512 --threads 2
For each MxKxN shape (default: the fla-1.3b prefill products at M 2048, as `retnet bench-linear`)
it times torch.matmul(x, w.t()), x [M, K] and w [N, K] float32 (how torch's Linear computes
x W^T: cuBLAS sgemm with TF32 off on CUDA), the way `retnet bench-linear` times ours: warm-up
calls, then calls each followed by a synchronisation, timed with perf_counter, until both
--repeats calls and 0.3 s; the median. Then it runs
    RETNET bench-linear --device DEVICE --weights ... --shapes ... --csv TMP
and prints a Markdown table: per shape the reference's ms and rate, ours per weight storage (ms,
rate, and our throughput over the reference's), then, on CUDA, how many rows with M >= 2048 reach
60% of cuBLAS's throughput. Only torch is needed (no NumPy). The Markdown goes to stdout (and
--out); progress and retnet's own table to stderr.
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

# bench_linear_command.cpp's kPrefillShapes: q/k, v/g, o_proj, fc1+gate as one product, fc2, the head.
PREFILL_SHAPES = ["2048x2048x2048", "2048x2048x4096", "2048x4096x2048", "2048x2048x5632", "2048x2816x2048",
                  "2048x2048x32000"]
TARGET = 0.6  # of cuBLAS's throughput, at M >= 2048
MIN_SECONDS = 0.3  # as apps/timing.h's TimingPolicy


def parse_shape(text):
    parts = text.split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise SystemExit(f"--shapes: expected MxKxN with positive sizes (e.g. 2048x2048x4096), got '{text}'")
    return tuple(int(p) for p in parts)


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


def time_reference_ms(M, K, N, device, warmup, repeats):
    """The median ms of torch.matmul(x, w.t()), each call synchronised (apps/timing.h's time_call)."""
    generator = torch.Generator().manual_seed(1234)
    x = (torch.rand(M, K, generator=generator) * 2 - 1).to(device)
    w = (torch.rand(N, K, generator=generator) * 2 - 1).to(device)
    y = torch.empty(M, N, device=device)

    def call():
        torch.matmul(x, w.t(), out=y)
        synchronize(device)

    for _ in range(warmup):
        call()
    samples, start = [], time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start < MIN_SECONDS:
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1e3)
    del x, w, y
    if device == "cuda":
        torch.cuda.empty_cache()  # leave the GPU's memory to our binary
    return statistics.median(samples)


def run_retnet(args):
    env = dict(os.environ)
    lib = os.path.abspath(".device/lib")
    if os.path.isdir(lib):
        env["LD_LIBRARY_PATH"] = lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as f:
        path = f.name
    command = [args.retnet, "bench-linear", "--device", args.device, "--weights", *args.weights, "--shapes",
               *args.shapes, "--warmup", str(args.warmup), "--repeats", str(args.repeats), "--csv", path]
    if args.device == "cpu":
        command += ["--threads", str(args.threads)]
    print("$ " + " ".join(command), file=sys.stderr)
    try:
        # Its table and any note of a storage skipped go to stderr, keeping stdout the Markdown.
        result = subprocess.run(command, env=env, stdout=sys.stderr)
        if result.returncode != 0:
            raise SystemExit(f"{args.retnet} bench-linear failed (exit {result.returncode})")
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    finally:
        os.unlink(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--retnet", default=".device/bin/retnet", help="the retnet binary")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--weights", nargs="+", default=["f32", "bf16", "int8"],
                    help="our weight storages (f32 bf16 f16 int8; one not built is skipped by retnet)")
    ap.add_argument("--shapes", nargs="+", default=PREFILL_SHAPES, help="MxKxN products, y [M, N] = x [M, K] W^T")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10, help="minimum timed calls a row, both sides (the median)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="CPU threads, both sides (torch.set_num_threads, retnet --threads)")
    ap.add_argument("--out", help="also write the Markdown to this file")
    args = ap.parse_args()
    shapes = [parse_shape(s) for s in args.shapes]
    if args.warmup < 0 or args.repeats < 1 or args.threads < 1:
        raise SystemExit("--warmup: expected >= 0; --repeats and --threads: expected >= 1")

    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch sees no CUDA device")
        # torch's default already, set anyway: plain fp32 sgemm, not TF32 tensor cores.
        torch.backends.cuda.matmul.allow_tf32 = False
        reference, short, unit, scale = "cuBLAS sgemm", "cuBLAS", "TFLOP/s", 1e12
        where = f"{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}, TF32 off"
    else:
        torch.set_num_threads(args.threads)
        reference, short, unit, scale = "torch fp32", "torch", "GFLOP/s", 1e9
        where = f"CPU, {args.threads} thread(s), torch {torch.__version__}"

    reference_ms = {}
    for M, K, N in shapes:
        reference_ms[(M, K, N)] = time_reference_ms(M, K, N, args.device, args.warmup, args.repeats)
        print(f"{reference} {M}x{K}x{N}: {reference_ms[(M, K, N)]:.4f} ms", file=sys.stderr)
    rows = run_retnet(args)

    ours = {}  # (M, K, N) -> {storage: ms}
    storages = []
    for row in rows:
        key = (int(row["M"]), int(row["K"]), int(row["N"]))
        ours.setdefault(key, {})[row["weights"]] = float(row["median_ms"])
        if row["weights"] not in storages:
            storages.append(row["weights"])
    commit = rows[0]["commit"] if rows else "?"

    def rate(M, K, N, ms):
        return 2.0 * M * K * N / (ms / 1e3) / scale

    lines = [f"Linear y = x W^T, ours (retnet {commit}) against {reference}: {where}; median ms of synchronised "
             f"calls; ratio = our throughput over {short}'s", ""]
    header = f"| M x K x N | {reference} ms | {unit} |"
    rule = "|---|---|---|"
    for s in storages:
        header += f" {s} ms | {unit} | {s} / {short} |"
        rule += "---|---|---|"
    lines += [header, rule]
    met, counted = 0, 0
    for M, K, N in shapes:
        ref = reference_ms[(M, K, N)]
        line = f"| {M} x {K} x {N} | {ref:.4f} | {rate(M, K, N, ref):.2f} |"
        for s in storages:
            ms = ours.get((M, K, N), {}).get(s)
            if ms is None:
                line += " - | - | - |"
                continue
            line += f" {ms:.4f} | {rate(M, K, N, ms):.2f} | {ref / ms:.2f} |"
            if args.device == "cuda" and M >= 2048:
                counted += 1
                met += ref / ms >= TARGET
        lines.append(line)
    if counted:
        lines += ["", f"Rows with M >= 2048 at >= {TARGET:.0%} of cuBLAS's throughput: {met} of {counted}"]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
