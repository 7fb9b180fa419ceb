#!/usr/bin/python3
"""Checks the C++ model against the official torchscale RetNetDecoder on random configurations.

    /usr/bin/python3 tools/torchscale_agreement.py [--torchscale .anchors/torchscale] [--retnet build/apps/retnet]
                                                   [--configs 8] [--device cpu] [--out docs/measurements/...md]

Needs Debian's python3-torch and python3-numpy, and a checkout of microsoft/torchscale outside the
project's tracked files (e.g. `git clone https://github.com/microsoft/torchscale .anchors/torchscale`).
torchscale imports fairscale, einops and timm at module level for features a RetNet decoder in
eval mode never uses (activation checkpointing, attention, drop path): this script installs
do-nothing stand-ins for those three imports only.

For each random configuration (activation, deepnorm, tied embeddings, embedding scale and norm,
head counts, layernorm_eps) it builds torchscale's model in float64, perturbs the norm weights
(torchscale initialises them to ones, which would hide a missing multiply), saves config.json and
model.safetensors (F32) in torchscale's names, runs `retnet logits` in each form, and reports the
relative Frobenius error of the logits against torchscale's parallel form (and torchscale's own
forms against each other). The specification's raw retention equals torchscale's only as
layernorm_eps -> 0 (docs/SEMANTICS.md §2): both eps = 1e-12 and torchscale's default 1e-6 are run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from retnet_reference import write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def install_import_stand_ins():
    fairscale, fairscale_nn = types.ModuleType("fairscale"), types.ModuleType("fairscale.nn")
    fairscale_nn.checkpoint_wrapper = lambda module, **kwargs: module
    fairscale_nn.wrap = lambda module, **kwargs: module
    fairscale.nn = fairscale_nn
    einops = types.ModuleType("einops")
    einops.rearrange = None
    timm, timm_models, timm_layers = (types.ModuleType(n) for n in ("timm", "timm.models", "timm.models.layers"))
    timm_layers.drop_path = lambda x, *args, **kwargs: x
    timm.models, timm_models.layers = timm_models, timm_layers
    sys.modules.update({"fairscale": fairscale, "fairscale.nn": fairscale_nn, "einops": einops, "timm": timm,
                        "timm.models": timm_models, "timm.models.layers": timm_layers})


def random_config(rng, eps):
    heads = int(rng.choice([1, 2, 3, 4]))
    key_dim = int(rng.choice([8, 16, 32]))
    value_dim = int(rng.choice([key_dim, 2 * key_dim, 12]))
    return dict(decoder_embed_dim=heads * key_dim, decoder_value_embed_dim=heads * value_dim,
                decoder_retention_heads=heads, decoder_ffn_embed_dim=int(rng.choice([32, 48, 96])),
                decoder_layers=int(rng.integers(1, 4)), vocab_size=int(rng.integers(20, 120)),
                activation_fn=str(rng.choice(["swish", "gelu"])), deepnorm=bool(rng.integers(2)),
                share_decoder_input_output_embed=bool(rng.integers(2)), no_scale_embedding=bool(rng.integers(2)),
                layernorm_embedding=bool(rng.integers(2)), layernorm_eps=eps)


def torchscale_logits(model, tokens, form, chunk):
    """float64 logits [T, vocab] from torchscale's parallel, chunkwise or recurrent form."""
    x = torch.tensor(tokens)[None, :]
    with torch.no_grad():
        if form == "parallel":
            return model(x)[0][0].numpy()
        if form == "chunkwise":
            model.chunkwise_recurrent, model.recurrent_chunk_size = True, chunk
            model.retnet_rel_pos.recurrent_chunk_size = chunk
            try:
                return model(x)[0][0].numpy()
            finally:
                model.chunkwise_recurrent = False
        state, rows = {}, []
        for t in range(len(tokens)):
            rows.append(model(x[:, : t + 1], incremental_state=state)[0][0, -1].numpy())
        return np.stack(rows)


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--torchscale", default=os.path.join(ROOT, ".anchors", "torchscale"))
    ap.add_argument("--retnet", default=os.path.join(ROOT, "build", "apps", "retnet"))
    ap.add_argument("--configs", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", help="also write the table (markdown) here")
    args = ap.parse_args()

    install_import_stand_ins()
    sys.path.insert(0, args.torchscale)
    from torchscale.architecture.config import RetNetConfig
    from torchscale.architecture.retnet import RetNetDecoder

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    lines = ["| # | eps | H K V | layers | act | deepnorm | tied | scaled emb | emb norm | ours parallel | ours chunkwise (16) "
             "| ours recurrent | torchscale chunkwise | torchscale recurrent |", "|" + "---|" * 15]
    worst = 0.0
    for i in range(args.configs):
        for eps in (1e-12, 1e-6):
            cfg = random_config(np.random.default_rng(args.seed + i), eps)
            model = RetNetDecoder(RetNetConfig(**cfg), embed_tokens=torch.nn.Embedding(cfg["vocab_size"],
                                                                                    cfg["decoder_embed_dim"]))
            model = model.double().eval()
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if "norm" in name:
                        p.copy_(1.0 + 0.3 * (2 * torch.rand_like(p) - 1))
            tokens = [int(t) for t in rng.integers(0, cfg["vocab_size"], args.tokens)]
            expected = torchscale_logits(model, tokens, "parallel", 0)
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "config.json"), "w") as f:
                    json.dump(cfg, f)
                state = {k: v.float().numpy() for k, v in model.state_dict().items()}
                write_safetensors(os.path.join(d, "model.safetensors"), [(k, v, "F32") for k, v in state.items()])
                with open(os.path.join(d, "tokens.txt"), "w") as f:
                    f.write(" ".join(map(str, tokens)))
                ours = {}
                for form in ("parallel", "chunkwise", "recurrent"):
                    out = os.path.join(d, form + ".npy")
                    subprocess.run([args.retnet, "logits", "--model", d, "--tokens", os.path.join(d, "tokens.txt"),
                                    "--form", form, "--chunk", "16", "--device", args.device, "--out", out],
                                   check=True, stdout=subprocess.DEVNULL)
                    ours[form] = np.load(out).astype(np.float64)
            errors = [rel(ours[f], expected) for f in ("parallel", "chunkwise", "recurrent")]
            own = [rel(torchscale_logits(model, tokens, f, 16), expected) for f in ("chunkwise", "recurrent")]
            if eps == 1e-12:
                worst = max(worst, *errors)
            H = cfg["decoder_retention_heads"]
            lines.append(f"| {i} | {eps:g} | {H} {cfg['decoder_embed_dim'] // H} {cfg['decoder_value_embed_dim'] // H} | "
                         f"{cfg['decoder_layers']} | {cfg['activation_fn']} | {cfg['deepnorm']} | "
                         f"{cfg['share_decoder_input_output_embed']} | {not cfg['no_scale_embedding']} | "
                         f"{cfg['layernorm_embedding']} | " + " | ".join(f"{e:.1e}" for e in errors + own) + " |")
            print(lines[-1], flush=True)
    summary = (f"\n{args.configs} random configurations, {args.tokens} tokens, torchscale in float64 (parallel form) vs "
               f"`retnet logits` (float32, {args.device}); worst error of ours at eps = 1e-12: {worst:.1e}")
    print(summary)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n" + summary + "\n")
    return 0 if worst <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
