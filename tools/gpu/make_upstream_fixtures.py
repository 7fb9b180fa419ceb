#!/usr/bin/env python3
"""Cross-check tools/dialect_reference.py against the dialects' own PyTorch code.

How to run (a CUDA machine with python3, torch, transformers, safetensors, einops, triton and numpy;
copies of fla-org/flash-linear-attention and syncdoth/RetNet checked out somewhere, e.g. fla @ bc3b101d
and syncdoth @ 2634bbfb; the RetNet-Halide checkout provides tools/ and tests/data/models/):
    python3 tools/gpu/make_upstream_fixtures.py --fla-src ~/src/flash-linear-attention \\
        --syncdoth-src ~/src/RetNet --out /tmp/upstream_fixtures
It (1) builds each small config of tools/make_dialect_fixtures.py with the dialect's own
RetNetForCausalLM (its own random init, norm weights then set to 1 +- 0.2 so a mis-mapped norm shows),
saves it with save_pretrained into OUT/<name>/ (BF16 / sharded as the fixture is), reloads it with
from_pretrained in float32, writes tokens.txt and logits_upstream.npy (float32 forward, stored as
float64), runs tools/dialect_reference.py on the saved folder and prints the max relative error; it
also compares the saved tensor names/dtypes/shapes and config keys with the committed fixture;
(2) loads each committed fixture tests/data/models/<name> into the upstream class (strict: no
missing or unexpected tensors; fla's legacy fused gate_proj is split in halves first) and compares the
float32 logits with its logits.npy. syncdoth is compared in its own normalised parallel form and in
the raw form. Exit status 0 when every error is below --tolerance. syncdoth imports timm and
transformers.top_k_top_p_filtering (removed in transformers 4.39+): harmless stand-ins are installed
when they are missing. Nothing here is needed by the C++ build or its tests.
"""
import argparse
import json
import os
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import dialect_reference as ref  # noqa: E402
import make_dialect_fixtures as fixtures  # noqa: E402

import torch  # noqa: E402


def relative(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def import_fla(src):
    sys.path.insert(0, os.path.abspath(src))
    from fla.models.retnet import RetNetConfig, RetNetForCausalLM
    return RetNetConfig, RetNetForCausalLM


def import_syncdoth(src):
    try:
        import timm.models.layers  # noqa: F401
    except ImportError:  # drop_path is only used in training
        timm = types.ModuleType("timm")
        timm.models = types.ModuleType("timm.models")
        timm.models.layers = types.ModuleType("timm.models.layers")
        timm.models.layers.drop_path = lambda x, drop_prob=0.0, training=False: x
        sys.modules.update({"timm": timm, "timm.models": timm.models, "timm.models.layers": timm.models.layers})
    import transformers
    try:
        from transformers import top_k_top_p_filtering  # noqa: F401
    except ImportError:  # only used by syncdoth's own sampling helpers
        def unavailable(*args, **kwargs):
            raise NotImplementedError("top_k_top_p_filtering is not available in this transformers")
        transformers.top_k_top_p_filtering = unavailable
    sys.path.insert(0, os.path.abspath(src))
    from retnet.configuration_retnet import RetNetConfig
    from retnet.modeling_retnet import RetNetForCausalLM
    return RetNetConfig, RetNetForCausalLM


HF_ONLY = ("architectures", "torch_dtype", "transformers_version", "model_type")


def class_kwargs(config):
    return {k: v for k, v in config.items() if k not in HF_ONLY}


def perturb_norms(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name:
                p.copy_(1.0 + 0.2 * (2 * torch.rand(p.shape, generator=g) - 1))


def upstream_logits(model, tokens, dialect, device):
    ids = torch.tensor([tokens], dtype=torch.long, device=device)
    with torch.no_grad():
        if dialect == "syncdoth":
            out = model(input_ids=ids, forward_impl="parallel", use_cache=False, return_dict=True)
        else:
            out = model(input_ids=ids, use_cache=False, return_dict=True)
    return out.logits[0].double().cpu().numpy()


def header_of(folder):
    """{name: (dtype, shape)} over model.safetensors or its shards."""
    import struct
    files = [f for f in os.listdir(folder) if f.endswith(".safetensors")]
    out = {}
    for file in files:
        with open(os.path.join(folder, file), "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        out.update({k: (v["dtype"], v["shape"]) for k, v in header.items() if k != "__metadata__"})
    return out


def compare_layout(name, saved, committed):
    a, b = header_of(saved), header_of(committed)
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            print(f"    layout {name}: {key}: upstream {a.get(key)} vs fixture {b.get(key)}")
    with open(os.path.join(saved, "config.json")) as f:
        ca = json.load(f)
    with open(os.path.join(committed, "config.json")) as f:
        cb = json.load(f)
    only_up = sorted(set(ca) - set(cb) - {"transformers_version"})
    only_fx = sorted(set(cb) - set(ca))
    if only_up or only_fx:
        print(f"    config {name}: keys only upstream {only_up}, only fixture {only_fx}")
    if (a == b) and not only_up and not only_fx:
        print(f"    layout {name}: identical tensor names/dtypes/shapes and config keys")


def build_and_save(name, spec, classes, out, device, seed):
    """Part 1: upstream model -> save_pretrained -> reference."""
    Config, Model = classes[spec["kind"]]
    config = class_kwargs(spec["config"])
    torch.manual_seed(seed)
    model = Model(Config(**config))
    perturb_norms(model, seed)
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    dtype = torch.bfloat16 if spec["dtype"] == "BF16" else torch.float32
    shard = "60KB" if spec["shards"] > 1 else "10GB"
    model.to(dtype).save_pretrained(folder, safe_serialization=True, max_shard_size=shard)
    tokens = np.random.default_rng(seed).integers(0, spec["config"]["vocab_size"], 80 if spec["kind"] == "fla" else 40)
    with open(os.path.join(folder, "tokens.txt"), "w") as f:
        f.write(" ".join(str(t) for t in tokens) + "\n")
    model = Model.from_pretrained(folder, torch_dtype=torch.float32).to(device).eval()
    logits = upstream_logits(model, tokens.tolist(), spec["kind"], device)
    np.save(os.path.join(folder, "logits_upstream.npy"), logits)
    m = ref.load_model(folder)
    errors = {"raw": relative(ref.forward(m, tokens, "parallel"), logits)}
    if spec["kind"] == "syncdoth":
        errors["normalized"] = relative(ref.forward(m, tokens, "normalized"), logits)
    print(f"  [built+saved] {name}: " + ", ".join(f"{k} max rel err {v:.2e}" for k, v in errors.items()))
    compare_layout(name, folder, os.path.join(ROOT, "tests", "data", "models", name))
    return errors["normalized" if spec["kind"] == "syncdoth" else "raw"]


def load_committed(name, spec, classes, device):
    """Part 2: committed fixture -> upstream class (strict) -> logits vs logits.npy."""
    Config, Model = classes[spec["kind"]]
    folder = os.path.join(ROOT, "tests", "data", "models", name)
    with open(os.path.join(folder, "config.json")) as f:
        config = class_kwargs(json.load(f))
    model = Model(Config(**config)).float()
    state = {}
    from safetensors.torch import load_file
    for file in sorted(os.listdir(folder)):
        if file.endswith(".safetensors"):
            state.update(load_file(os.path.join(folder, file)))
    if spec["kind"] == "fla":
        for key in list(state):  # legacy fused gate_proj [2I, D]: first half gate (activated), second up
            if key.endswith("mlp.gate_proj.weight") and key.replace("gate_proj", "up_proj") not in state:
                gate, up = state.pop(key).chunk(2, dim=0)
                state[key], state[key.replace("gate_proj", "up_proj")] = gate, up
    if spec["kind"] == "syncdoth" and config.get("tie_word_embeddings"):
        state.setdefault("lm_head.weight", state["model.embed_tokens.weight"])
    state = {k: v.float() for k, v in state.items()}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        print(f"  [committed] {name}: missing {result.missing_keys}, unexpected {result.unexpected_keys}")
    model.tie_weights()
    model = model.to(device).eval()
    tokens = ref.read_tokens(os.path.join(folder, "tokens.txt"))
    logits = upstream_logits(model, tokens, spec["kind"], device)
    golden = np.load(os.path.join(folder, "logits.npy"))
    err = relative(logits, golden)
    line = f"  [committed] {name}: upstream vs logits.npy (raw) max rel err {err:.2e}"
    if spec["kind"] == "syncdoth":
        norm = ref.forward(ref.load_model(folder), tokens, "normalized")
        err = relative(logits, norm)
        line += f"; vs reference normalized form {err:.2e}"
    print(line)
    return err if not (result.missing_keys or result.unexpected_keys) else float("inf")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fla-src", required=True, help="checkout of fla-org/flash-linear-attention")
    ap.add_argument("--syncdoth-src", required=True, help="checkout of syncdoth/RetNet")
    ap.add_argument("--out", default="/tmp/upstream_fixtures")
    ap.add_argument("--tolerance", type=float, default=2e-3,
                    help="max relative error accepted (float32 forward; fla's chunk kernels may use TF32)")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    classes = {"fla": import_fla(args.fla_src), "syncdoth": import_syncdoth(args.syncdoth_src)}
    worst = 0.0
    for seed, (name, spec) in enumerate(fixtures.FIXTURES.items()):
        print(f"{name} ({spec['kind']}):")
        worst = max(worst, build_and_save(name, spec, classes, args.out, device, 2000 + seed))
        worst = max(worst, load_committed(name, spec, classes, device))
    print(f"max relative error over all checks: {worst:.2e} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
