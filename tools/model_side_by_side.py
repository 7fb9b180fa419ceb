#!/usr/bin/python3
"""Whole-model speed beside torchscale, in one run: our `retnet bench-model` and the official
torchscale RetNetDecoder (its embedding and output projection included) on the SAME random weights,
saved once as a torchscale-layout checkpoint (config.json + model.safetensors) that both load.

Measures, on --device with --threads threads (torch's and Halide's, HL_NUM_THREADS):
  prefill  B 1 x T tokens, all T positions' logits: the chunkwise form (chunk 64 on both sides) and,
           for T <= --parallel-max-tokens, the parallel form too;
  decode   after a 16-token prompt, the median time of one-token steps (--decode-steps of them, one
           untimed step first) at each batch of --decode-batches: torchscale's recurrent form through
           its incremental_state (after one whole untimed round: see time_torchscale), ours through
           `bench-model`'s decode steps.
Our whole bench-model run comes first, then torchscale's timings, back to back; on the CPU this
process fixes glibc's malloc thresholds for torch (see steady_allocator). With --check, an
8-token prompt's logits are compared first (torchscale's parallel form in float64 against
`retnet logits`), so the table is known to compare the same model. Prints a Markdown table
(times in ms, tokens/s, torchscale / ours time ratio: above 1, ours is faster); --out and --csv save it.

Run from the repository root (a benchmark, not a test). Full-size presets take minutes, memory up to
3x the float32 model (about 16 GB for fla-1.3b with --check, whose float64 copy is the largest part)
and the checkpoint's size on disk under $TMPDIR:
  CPU, f32   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/model_side_by_side.py \
                 --preset fla-1.3b --dtype f32 --check --out model_side_by_side_cpu_f32.md
  CPU, bf16  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/model_side_by_side.py \
                 --preset fla-1.3b --dtype bf16 --check --out model_side_by_side_cpu_bf16.md
  GPU        (.device from scripts/gpu_bundle.sh and .anchors/torchscale carried; the bundle's lib/ is put
             on the binary's library path by this script)
             python3 tools/model_side_by_side.py --device cuda --retnet .device/bin/retnet \
                 --preset fla-1.3b --dtype bf16 --check --out $OUT/model_side_by_side_cuda_bf16.md
Small smoke test: --preset small --layers 2 --dim 256 --heads 2 --value-dim 512 --ffn-dim 512
--vocab 1000 -T 128 --decode-batches 1 8 --decode-steps 3 --threads 1.

Needs PyTorch (Debian's python3-torch 1.13 on the CPU; any recent CUDA build on the GPU) and NumPy,
the built `retnet`, and a checkout of microsoft/torchscale outside the tracked files, e.g.
`git clone https://github.com/microsoft/torchscale .anchors/torchscale` (imported from there with the
stand-ins of tools/torchscale_agreement.py; a COMMIT file in it names the commit when it is no git
checkout).
"""
import argparse
import ctypes
import csv
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchscale_agreement import install_import_stand_ins, rel  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNK = 64         # our default chunk length; torchscale's recurrent_chunk_size is set to match
DECODE_PROMPT = 16  # tokens before the timed decode steps, as in bench-model

# (layers, d, heads, value width, FFN, vocab) of apps/bench_model_command.cpp's presets (key width = d).
PRESETS = {
    "fla-1.3b": (24, 2048, 8, 4096, 2816, 32000),
    "fla-2.7b": (32, 2560, 10, 5120, 3584, 32000),
    "sdprompt-300m": (12, 1280, 8, 2560, 2560, 33620),
    "spiral-3b": (32, 2560, 10, 4280, 4280, 65024),
    "paper-1.3b": (24, 2048, 8, 4096, 4096, 32000),
    "paper-2.7b": (32, 2560, 10, 5120, 5120, 32000),
    "paper-6.7b": (32, 4096, 16, 8192, 8192, 32000),
    "small": (12, 768, 3, 1536, 1536, 32000),
}


def model_config(args):
    layers, d, heads, value, ffn, vocab = PRESETS[args.preset]
    # bench-model's random models use swish; the rest are torchscale's (and our loader's) defaults.
    return dict(decoder_layers=args.layers or layers, decoder_embed_dim=args.dim or d,
                decoder_retention_heads=args.heads or heads, decoder_value_embed_dim=args.value_dim or value,
                decoder_ffn_embed_dim=args.ffn_dim or ffn, vocab_size=args.vocab or vocab, activation_fn="swish",
                layernorm_eps=1e-6)


def write_checkpoint(directory, cfg, model, dtype):
    """config.json and model.safetensors (torchscale's names), written one tensor at a time so that a
    full-size model is never copied whole. The rotation buffers are left out: our loader recomputes them."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    params = [(k, v) for k, v in model.state_dict().items() if not k.startswith("retnet_rel_pos.")]
    header, offset, width = {}, 0, 2 if dtype == "BF16" else 4
    for name, p in params:
        header[name] = {"dtype": dtype, "shape": list(p.shape), "data_offsets": [offset, offset + p.numel() * width]}
        offset += p.numel() * width
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(directory, "model.safetensors"), "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for _, p in params:
            # numpy has no bfloat16: write torch's bit pattern (exact: main() rounded the values to bf16 already).
            t = p.detach().cpu().contiguous()
            f.write((t.bfloat16().view(torch.int16) if dtype == "BF16" else t.float()).numpy().tobytes())


def steady_allocator():
    """PyTorch's CPU tensors come straight from glibc's malloc, which by default maps blocks over a
    threshold freshly and unmaps (or trims) them when freed, moving that threshold as it goes: every
    op then pays page faults, and how many depends on what ran before (we saw torchscale's decode step
    at B 8 take 2.4 ms or 15 to 38 ms in the same run, depending only on the order of the phases).
    Fixed thresholds (as jemalloc or tcmalloc would give) keep torchscale at its steady state. Only
    this process: our binary, a child, keeps the defaults. Returns whether glibc took them."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, 32 << 20) and libc.mallopt(-1, 1 << 30))  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        return False


def set_chunkwise(model, on):
    model.chunkwise_recurrent = on
    model.recurrent_chunk_size = model.retnet_rel_pos.recurrent_chunk_size = CHUNK


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def median_ms(fn, device, warmup, repeats):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def time_torchscale(model, cfg, args, forms):
    """{(phase, B): median ms}, in bench-model's phase names."""
    gen = torch.Generator().manual_seed(args.seed + 1)
    prompt = torch.randint(cfg["vocab_size"], (1, args.tokens), generator=gen).to(args.device)
    out = {}
    for form in forms:
        set_chunkwise(model, form == "chunkwise")
        out[("prefill_" + form, 1)] = median_ms(lambda: model(prompt), args.device, 1, args.repeats)
    # Decode: torchscale's incremental_state holds each layer's retention state; each call passes the
    # whole prefix (only its last token is embedded; its length gives the position). Its is_first_step
    # path cannot fill the state from a multi-token prompt (it runs the recurrent form with the parallel
    # mask), so the prompt goes in token by token, as torchscale's own generation does. The chunkwise
    # flag must be off here: it would pad the one-token input to a whole chunk.
    set_chunkwise(model, False)
    for B in args.decode_batches:
        tokens = torch.randint(cfg["vocab_size"], (B, DECODE_PROMPT + 1 + args.decode_steps), generator=gen)
        tokens = tokens.to(args.device)
        # Two rounds, the first untimed: every step allocates new states, and the first steps at a new
        # batch size touch memory that later ones reuse (see steady_allocator), unlike a long
        # generation loop's steady state.
        for _ in range(2):
            state, position = {}, [DECODE_PROMPT]
            for t in range(DECODE_PROMPT):
                model(tokens[:, : t + 1], incremental_state=state)

            def step():
                position[0] += 1
                model(tokens[:, : position[0]], incremental_state=state)
            out[("decode", B)] = median_ms(step, args.device, 1, args.decode_steps)
    return out


def retnet_env(args):
    env = dict(os.environ, HL_NUM_THREADS=str(args.threads))
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.retnet))), "lib")
    if os.path.isdir(lib):  # scripts/gpu_bundle.sh's shared libraries beside its bin/
        env["LD_LIBRARY_PATH"] = lib + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    return env


def run_ours(directory, args, forms, csv_path):
    cmd = [args.retnet, "bench-model", "--model", directory, "--device", args.device, "--weights", "auto",
           "-T", str(args.tokens), "--chunk", str(CHUNK), "--forms", *forms, "--decode-batches",
           *map(str, args.decode_batches), "--decode-steps", str(args.decode_steps), "--repeats", str(args.repeats),
           "--csv", csv_path]
    print("$", " ".join(map(shlex.quote, cmd)), flush=True)
    subprocess.run(cmd, check=True, env=retnet_env(args))
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    return {(r["phase"], int(r["B"])): float(r["median_ms"]) for r in rows}, rows[0]["commit"]


def check_logits(model, cfg, directory, args):
    """Same 8-token prompt: torchscale's parallel form in float64 (on the stored weights) against
    `retnet logits`; leaves the model in the timed dtype. Our raw retention equals torchscale's
    normalised one only as layernorm_eps -> 0 (tools/torchscale_agreement.py, docs/SEMANTICS.md 2.4):
    as there, the bar is at eps = 1e-12 (a copy of config.json beside the same weights), and the
    checkpoint's eps is shown for information."""
    tokens = [int(t) for t in np.random.default_rng(args.seed).integers(0, cfg["vocab_size"], 8)]
    norms = [m for m in model.modules() if hasattr(m, "eps")]
    model.double()  # in place; the f32 (or bf16-rounded) weights survive the way back exactly
    lines = []
    for eps in (1e-12, cfg["layernorm_eps"]):
        for m in norms:
            m.eps = eps
        expected = model(torch.tensor([tokens]))[0][0].numpy()
        d = os.path.join(directory, f"eps{eps:g}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(dict(cfg, layernorm_eps=eps), f)
        os.symlink(os.path.join(directory, "model", "model.safetensors"), os.path.join(d, "model.safetensors"))
        with open(os.path.join(d, "tokens.txt"), "w") as f:
            f.write(" ".join(map(str, tokens)))
        subprocess.run([args.retnet, "logits", "--model", d, "--tokens", os.path.join(d, "tokens.txt"), "--device",
                        args.device, "--weights", "auto", "--out", os.path.join(d, "ours.npy")],
                       check=True, stdout=subprocess.DEVNULL, env=retnet_env(args))
        ours = np.load(os.path.join(d, "ours.npy")).astype(np.float64)
        finite = bool(np.isfinite(ours).all() and np.isfinite(expected).all())
        max_rel = float(np.abs(ours - expected).max() / np.abs(expected).max())
        lines.append(f"logits check, 8 tokens, layernorm_eps {eps:g}: `retnet logits` ({args.dtype}, {args.device}) vs "
                     f"torchscale parallel float64: max |diff| / max |logit| {max_rel:.1e}, relative Frobenius "
                     f"{rel(ours, expected):.1e}, finite {finite}")
        print(lines[-1], flush=True)
    # The loop ended at the checkpoint's eps: the noise floor of torchscale itself in the timed dtype.
    model.to(torch.bfloat16 if args.dtype == "bf16" else torch.float32)
    own = model(torch.tensor([tokens]))[0][0].double().numpy()
    lines.append(f"torchscale's own parallel form in {args.dtype} vs float64, layernorm_eps {cfg['layernorm_eps']:g}: "
                 f"max |diff| / max |logit| {np.abs(own - expected).max() / np.abs(expected).max():.1e}")
    print(lines[-1], flush=True)
    return lines


def machine(device):
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    with open("/proc/cpuinfo") as f:
        names = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
    return f"{names[0] if names else platform.processor()}, {os.cpu_count()} logical cores"


def torchscale_commit(directory):
    """The checkout's commit: its own git HEAD (not that of a repository around it), else its COMMIT file."""
    try:
        top = subprocess.run(["git", "-C", directory, "rev-parse", "--show-toplevel", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.split()
        if os.path.realpath(top[0]) == os.path.realpath(directory):
            return top[1]
    except (OSError, subprocess.CalledProcessError):
        pass
    path = os.path.join(directory, "COMMIT")
    return open(path).read().strip() if os.path.exists(path) else "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    for flag in ("--layers", "--dim", "--heads", "--value-dim", "--ffn-dim", "--vocab"):
        ap.add_argument(flag, type=int, default=0, help="override the preset's (0: the preset's)")
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32", help="checkpoint and torchscale model dtype")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch's and Halide's threads")
    ap.add_argument("-T", "--tokens", type=int, default=2048, help="prefill tokens (batch 1)")
    ap.add_argument("--parallel-max-tokens", type=int, default=4096,
                    help="also time the parallel form when T is at most this (its cost grows as T^2)")
    ap.add_argument("--decode-batches", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--decode-steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1, help="timed prefills per form, after one untimed")
    ap.add_argument("--check", action="store_true", help="first compare an 8-token prompt's logits")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--torchscale", default=os.path.join(ROOT, ".anchors", "torchscale"))
    ap.add_argument("--retnet", default=os.path.join(ROOT, "build", "apps", "retnet"))
    ap.add_argument("--out", help="also write the table (Markdown, with a header) here")
    ap.add_argument("--csv", help="also write the rows here")
    args = ap.parse_args()
    if os.environ.get("OPENBLAS_CORETYPE") and args.device == "cpu":
        print("note: OPENBLAS_CORETYPE is set, which slows torch's OpenBLAS; see the docstring", file=sys.stderr)

    install_import_stand_ins()
    sys.path.insert(0, args.torchscale)
    from torchscale.architecture.config import RetNetConfig
    from torchscale.architecture.retnet import RetNetDecoder

    torch.set_num_threads(args.threads)
    allocator = "glibc malloc with fixed thresholds" if args.device == "cpu" and steady_allocator() else "default"
    cfg = model_config(args)
    forms = ["chunkwise"] + (["parallel"] if args.tokens <= args.parallel_max_tokens else [])
    # torchscale's own initialisation (xavier with small gains for the retention projections, fan-in
    # uniform for the FFN, N(0, 1/d) for the head) under a fixed seed: with pre-RMSNorm layers the
    # activations stay finite at any depth, which --check confirms.
    torch.manual_seed(args.seed)
    model = RetNetDecoder(RetNetConfig(**cfg), embed_tokens=torch.nn.Embedding(cfg["vocab_size"],
                                                                            cfg["decoder_embed_dim"])).eval()
    with tempfile.TemporaryDirectory(prefix="model_side_by_side_") as tmp, torch.inference_mode():
        if args.dtype == "bf16":
            for p in model.parameters():  # round once, so the checkpoint and every torchscale copy agree exactly
                p.copy_(p.bfloat16().float())
        checkpoint = os.path.join(tmp, "model")
        write_checkpoint(checkpoint, cfg, model, "BF16" if args.dtype == "bf16" else "F32")
        notes = check_logits(model, cfg, tmp, args) if args.check else []
        if args.dtype == "bf16":
            model = model.bfloat16()  # torchscale has no mixed mode: everything, rotation buffers too, in bf16
        ours, our_commit = run_ours(checkpoint, args, forms, os.path.join(tmp, "ours.csv"))
        model = model.to(args.device)  # only now: our run above had the device to itself
        theirs = time_torchscale(model, cfg, args, forms)

    rows = []
    for phase, B in [("prefill_" + f, 1) for f in forms] + [("decode", B) for B in args.decode_batches]:
        tokens = args.tokens * B if phase != "decode" else B
        label = f"prefill {phase[8:]}, T {args.tokens}" if phase != "decode" else f"decode step, B {B}"
        a, b = ours[(phase, B)], theirs[(phase, B)]
        rows.append((label, a, b, tokens / a * 1e3, tokens / b * 1e3, b / a))
    table = ["| phase | ours ms | torchscale ms | ours tokens/s | torchscale tokens/s | torchscale / ours |",
             "|---|---:|---:|---:|---:|---:|"]
    table += [f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.1f} | {r[4]:.1f} | {r[5]:.2f} |" for r in rows]
    params = sum(p.numel() for p in model.parameters())
    header = ["# Whole model: `retnet bench-model` beside torchscale's RetNetDecoder", "",
              f"- machine: {machine(args.device)}; device {args.device}, {args.threads} threads",
              f"- command: `{' '.join(map(shlex.quote, [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]))}`",
              f"- model: preset {args.preset}, config {json.dumps(cfg)}, {params / 1e6:.1f} M parameters, "
              f"random weights (seed {args.seed}), {args.dtype}",
              f"- torch {torch.__version__} ({allocator} allocator); torchscale {torchscale_commit(args.torchscale)}; "
              f"ours {our_commit}",
              f"- prefill: median of {args.repeats} after one untimed, all positions' logits, chunk {CHUNK}; "
              f"decode: median of {args.decode_steps} steps after a {DECODE_PROMPT}-token prompt and one untimed step",
              *[f"- {n}" for n in notes], ""]
    print("\n".join(table))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(header + table) + "\n")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["phase", "ours_ms", "torchscale_ms", "ours_tokens_per_s", "torchscale_tokens_per_s",
                        "torchscale_over_ours", "device", "dtype", "preset"])
            w.writerows([[r[0], f"{r[1]:.4f}", f"{r[2]:.4f}", f"{r[3]:.2f}", f"{r[4]:.2f}", f"{r[5]:.3f}",
                          args.device, args.dtype, args.preset] for r in rows])


if __name__ == "__main__":
    main()
