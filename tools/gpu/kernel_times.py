#!/usr/bin/env python3
"""Where a decode step's time goes, kernel by kernel, from Nsight Compute's per-kernel durations.

Run on the GPU machine (ncu reads the durations from the hardware; the clocks are left alone):
    RETNET_CUDA_GRAPHS=0 ncu --clock-control none --metrics gpu__time_duration.sum --csv \\
        --log-file ncu.csv .device/bin/retnet bench-model --device cuda --preset fla-1.3b \\
        --weights bf16 -T 16 --repeats 1 --decode-batches 1 --decode-steps 2
    python3 tools/gpu/kernel_times.py ncu.csv --last 317 [--bytes-per-second 1.45e12]
`retnet bench-model` ends with its launch-floor probe (one tiny kernel launched many times), which
is dropped first: the trailing run of launches of the last kernel's name and shape. Then --last N
keeps the last N kernels (one decode step: `retnet bench-model` prints its launches per step); they
are grouped by kernel name and shape and printed as a Markdown table, the most time first, with
each group's share of the step. ncu runs the kernels one at a time, so the sum is the step's kernel
time without launch gaps or overlap.
"""
import argparse
import csv
import sys
from collections import OrderedDict


def read_durations(path):
    """(kernel name, grid, block, microseconds) per profiled kernel, in launch order."""
    rows = []
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]  # ncu's own messages are not CSV
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        unit = row.get("Metric Unit", "ns")
        scale = {"ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "nsecond": 1e-3}.get(unit, 1e-3)
        rows.append((row["Kernel Name"], row.get("Grid Size", ""), row.get("Block Size", ""), value * scale))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", help="ncu --csv --log-file output with gpu__time_duration.sum")
    ap.add_argument("--last", type=int, default=0, help="keep only the last N kernels (0: all)")
    args = ap.parse_args()
    rows = read_durations(args.csv)
    if len(rows) < 2:
        sys.exit(f"{args.csv}: no gpu__time_duration.sum rows")
    probe = rows[-1][:3]
    while rows and rows[-1][:3] == probe:
        rows.pop()
    if args.last > 0:
        rows = rows[-args.last:]
    groups = OrderedDict()
    for name, grid, block, us in rows:
        key = (name.split("(")[0], grid, block)
        count, total = groups.get(key, (0, 0.0))
        groups[key] = (count + 1, total + us)
    step = sum(r[3] for r in rows)
    print(f"{len(rows)} kernels, {step:.1f} us of kernel time\n")
    print("| kernel | grid | block | count | total us | mean us | share |")
    print("|---|---|---|---|---|---|---|")
    for (name, grid, block), (count, total) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print(f"| {name} | {grid} | {block} | {count} | {total:.1f} | {total / count:.2f} | {100 * total / step:.1f}% |")


if __name__ == "__main__":
    main()
