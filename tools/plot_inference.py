#!/usr/bin/env python3
"""Draws `retnet bench-inference` CSVs as the paper's inference figure: RetNet against the
Transformer of the same size, three panels: decode latency per token against context length
(batch 1), decode throughput against batch size (at the CSV's throughput context), and memory
(weights plus the RetNet state or the Transformer's KV cache) against context length. Points that
did not fit are marked on the axis. Uses Debian's python3-matplotlib:

  /usr/bin/python3 tools/plot_inference.py BENCH_INFERENCE.csv [LLAMA_ANCHOR.csv] --out FIGURE.png

The first file must be a bench-inference CSV; tools/gpu/llama_anchor.py's rows join the latency panel.
"""
import argparse
import csv
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"retnet": "tab:red", "transformer": "tab:blue", "hf_llama": "tab:gray"}
NAMES = {"retnet": "RetNet", "transformer": "Transformer (KV cache)", "hf_llama": "transformers' Llama (SDPA)"}


def read(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            rows.extend(csv.DictReader(f))
    return rows


def series(rows, measure, x_field, needs=()):
    """{model: [(x, row)]} for one measure, sorted by x (rows without the fields `needs` left out:
    tools/gpu/llama_anchor.py's rows have no memory columns)."""
    out = defaultdict(list)
    for r in rows:
        if r["measure"] == measure and all(r.get(f) for f in needs):
            out[r["model"]].append((int(r[x_field]), r))
    return {m: sorted(points, key=lambda p: p[0]) for m, points in out.items()}


def panel(ax, data, value, ylabel, xlabel, log_x=True):
    for model, points in sorted(data.items()):
        ok = [(x, value(r)) for x, r in points if r["status"] == "ok"]
        missing = [x for x, r in points if r["status"] != "ok"]
        if ok:
            ax.plot([x for x, _ in ok], [y for _, y in ok], "o-", color=COLOURS.get(model), label=NAMES.get(model, model))
        for x in missing:
            ax.annotate("does not fit", (x, 0), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                        color=COLOURS.get(model), ha="center", va="bottom")
    if log_x:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", nargs="+", help="bench-inference CSV files (one run's, or several appended)")
    ap.add_argument("--out", required=True, help="the PNG to write")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    rows = read(a.csv)
    if not rows:
        raise SystemExit("plot_inference.py: no rows in " + ", ".join(a.csv))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panel(axes[0], series(rows, "decode_latency", "context"), lambda r: float(r["ms"]), "ms per token (B 1)",
          "context length (tokens)")
    throughput = series(rows, "throughput", "B")
    context = next((r["context"] for pts in throughput.values() for _, r in pts), "?")
    panel(axes[1], throughput, lambda r: float(r["tokens_per_s"]), "tokens/s", f"batch size (context {context})")
    panel(axes[2], series(rows, "decode_latency", "context", needs=("weight_mb", "state_mb")),
          lambda r: (float(r["weight_mb"]) + float(r["state_mb"])) / 1e3, "GB (weights + state or KV cache)",
          "context length (tokens)")
    first = rows[0]
    fig.suptitle(a.title or f"{first['preset']} on {first['device']} ({first['machine']}), weights {first['weights']}")
    fig.tight_layout()
    fig.savefig(a.out, dpi=120)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
