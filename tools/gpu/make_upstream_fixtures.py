#!/usr/bin/env python3
"""Cross-check tools/dialect_reference.py against the dialects' own PyTorch code, and write golden
fixtures whose logits come from that code.

How to run (a CUDA machine with python3, torch, transformers, safetensors, einops, triton and numpy;
copies of fla-org/flash-linear-attention and syncdoth/RetNet checked out somewhere, e.g. fla @ bc3b101d
and syncdoth @ 2634bbfb; the RetNet-Halide checkout provides tools/ and tests/data/models/):
    python3 tools/gpu/make_upstream_fixtures.py --fla-src ~/src/flash-linear-attention \\
        --syncdoth-src ~/src/RetNet --out /tmp/upstream_fixtures
Then copy OUT/upstream_<name>/ to tests/data/models/ and run
    /usr/bin/python3 tools/dialect_reference.py --check tests/data/models/upstream_*

(1) For each small config of tools/make_dialect_fixtures.py it builds the dialect's own
RetNetForCausalLM (its own random init, norm weights then set to 1 +- 0.2 so a mis-mapped norm shows),
saves it with save_pretrained into OUT/upstream_<name>/ (BF16 / sharded as the fixture is), reloads it
with from_pretrained in float32 (checking that every stored tensor came back unchanged), and writes
tokens.txt and logits.npy: the upstream float32 forward on the GPU, stored as float32 [T, vocab]
(the C++ golden tests read these two files; dialect_reference.py --check then accepts 1e-5).
It runs tools/dialect_reference.py on the saved folder and prints the max relative error. It also
compares the saved tensor names/dtypes/shapes and config keys with the committed fixture <name>.
  - fla gets 72 tokens: fla's MultiScaleRetention switches to its fused_recurrent kernel for
    sequences of at most 64 tokens and uses the configured kernel (chunk / fused_chunk) above that.
  - syncdoth's own parallel forward rescales every retention row (decay-mask row sums, the abs-sum
    clamp); its per-head RMSNorm cancels that only up to eps. With syncdoth's own initialisation the
    retention outputs are ~1e-2, so at layernorm_eps 1e-6 its logits differ from the raw form (which
    the runtime computes) by far more than float32 rounding. The upstream syncdoth fixtures are
    therefore built with layernorm_eps 1e-12 (SYNCDOTH_EPS): the two forms then agree to rounding,
    and the upstream logits are a golden for the raw form. Both forms are printed.
(2) It loads each committed fixture tests/data/models/<name> into the upstream class (strict: no
missing or unexpected tensors; fla's legacy fused gate_proj is split in halves first) and compares the
float32 logits with its logits.npy. syncdoth is compared in its own normalised parallel form and in
the raw form (the committed fixtures use eps 1e-6, so the raw comparison shows the eps effect).

Numerics: TF32 is off for torch matmuls, and TRITON_F32_DEFAULT=ieee makes fla's Triton dots full
float32. --autotune-configs N keeps the first N candidate launch configs of every triton.autotune in
fla (block sizes and warps only; the kernels are fla's) so that a fresh machine does not spend
minutes autotuning; 0 keeps all. Exit status 0 when every judged error is at most --tolerance.
syncdoth imports timm and transformers.top_k_top_p_filtering (removed in transformers 4.39+):
harmless stand-ins are installed when they are missing. Under transformers 5, which ties weights only
through a dict _tied_weights_keys, both RetNetForCausalLM classes get {"lm_head.weight": <embedding>}
(what transformers 4 did through get_output_embeddings). A file UPSTREAM_COMMIT in a source folder, if
present, is printed as that copy's commit. Nothing here is needed by the C++ build or its tests.
The run that wrote tests/data/models/upstream_* is in tools/gpu/make_upstream_fixtures.log.
"""
import argparse
import inspect
import json
import os
import sys
import traceback
import types

os.environ.setdefault("TRITON_F32_DEFAULT", "ieee")  # before any Triton kernel is compiled

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import dialect_reference as ref  # noqa: E402
import make_dialect_fixtures as fixtures  # noqa: E402

import torch  # noqa: E402

FLA_TOKENS = 72        # > 64: fla's configured chunk kernels, not its short-sequence fused_recurrent path
SYNCDOTH_TOKENS = 40
SYNCDOTH_EPS = 1e-12   # see the docstring: makes syncdoth's normalised parallel form equal the raw form
HF_ONLY = ("architectures", "torch_dtype", "dtype", "transformers_version", "model_type")


def relative(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def limit_autotune(n):
    """Keep the first n configs of every triton.autotune declared from now on (fla's kernels)."""
    if n <= 0:
        return
    import triton
    original = triton.autotune

    def autotune(*args, **kwargs):
        if "configs" in kwargs:
            kwargs["configs"] = list(kwargs["configs"])[:n]
        elif args:
            args = (list(args[0])[:n],) + args[1:]
        return original(*args, **kwargs)

    triton.autotune = autotune


def transformers_major():
    import transformers
    return int(transformers.__version__.split(".")[0])


def import_fla(src):
    sys.path.insert(0, os.path.abspath(src))
    from fla.models.retnet import RetNetConfig, RetNetForCausalLM
    if transformers_major() >= 5:
        RetNetForCausalLM._tied_weights_keys = {"lm_head.weight": "model.embeddings.weight"}
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
    if transformers_major() >= 5:
        RetNetForCausalLM._tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}
    return RetNetConfig, RetNetForCausalLM


def class_kwargs(config):
    return {k: v for k, v in config.items() if k not in HF_ONLY}


def embedding_name(kind):
    return "model.embeddings.weight" if kind == "fla" else "model.embed_tokens.weight"


def perturb_norms(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name:
                p.copy_(1.0 + 0.2 * (2 * torch.rand(p.shape, generator=g) - 1))


def upstream_logits(model, tokens, dialect, device):
    ids = torch.tensor([list(tokens)], dtype=torch.long, device=device)
    with torch.no_grad():
        if dialect == "syncdoth":
            out = model(input_ids=ids, forward_impl="parallel", use_cache=False, return_dict=True,
                        output_hidden_states=False, output_retentions=False)
        else:
            out = model(input_ids=ids, use_cache=False, return_dict=True)
    return out.logits[0].double().cpu().numpy()


def read_tensors(folder):
    from safetensors.torch import load_file
    state = {}
    for file in sorted(os.listdir(folder)):
        if file.endswith(".safetensors"):
            state.update(load_file(os.path.join(folder, file)))
    return state


def tie_if_needed(model, kind, tied):
    """Make lm_head use the embedding (upstream semantics of tie_word_embeddings) if it does not."""
    if not tied:
        return ""
    emb = model.get_input_embeddings().weight
    if model.lm_head.weight is emb:
        return "tied by transformers"
    model.lm_head.weight = emb
    return "tied here"


def check_against_files(model, folder, kind, tied):
    """Every stored tensor equals the model's (as float32); lm_head is the embedding when tied."""
    stored = read_tensors(folder)
    state = model.state_dict()
    worst, problems = 0.0, []
    for name, t in stored.items():
        if name not in state:
            problems.append(f"{name} not in the model")
            continue
        d = (state[name].detach().float().cpu() - t.float()).abs().max().item()
        worst = max(worst, d)
    if tied:
        d = (model.lm_head.weight.detach().float().cpu() - stored[embedding_name(kind)].float()).abs().max().item()
        if d != 0:
            problems.append(f"lm_head differs from the embedding by {d:g}")
    if worst != 0:
        problems.append(f"stored tensors differ from the model's by up to {worst:g}")
    return problems


def manual_load(Config, Model, folder, kind, tied):
    with open(os.path.join(folder, "config.json")) as f:
        config = class_kwargs(json.load(f))
    model = Model(Config(**config)).float()
    state = {k: v.float() for k, v in read_tensors(folder).items()}
    if tied:
        state.setdefault("lm_head.weight", state[embedding_name(kind)])
    result = model.load_state_dict(state, strict=False)
    return model, result


def reload(Config, Model, folder, kind, tied, device):
    """from_pretrained, verified against the files; a plain load_state_dict if that fails."""
    try:
        model = Model.from_pretrained(folder).float()
        note = tie_if_needed(model, kind, tied)
        problems = check_against_files(model, folder, kind, tied)
        if not problems:
            return model.to(device).eval(), "from_pretrained" + (f" ({note})" if note else "")
        print(f"    from_pretrained: {'; '.join(problems)}; loading the tensors directly instead")
    except Exception as e:  # noqa: BLE001
        print(f"    from_pretrained failed ({type(e).__name__}: {e}); loading the tensors directly instead")
    model, result = manual_load(Config, Model, folder, kind, tied)
    if result.missing_keys or result.unexpected_keys:
        raise RuntimeError(f"missing {result.missing_keys}, unexpected {result.unexpected_keys}")
    tie_if_needed(model, kind, tied)
    problems = check_against_files(model, folder, kind, tied)
    if problems:
        raise RuntimeError("; ".join(problems))
    return model.to(device).eval(), "load_state_dict"


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
    files = sorted(f for f in os.listdir(saved) if f.endswith(".safetensors") or f.endswith(".json"))
    print(f"    files: {', '.join(files)}")
    if (a == b) and not only_up and not only_fx:
        print(f"    layout {name}: identical tensor names/dtypes/shapes and config keys")


def build_and_save(name, spec, classes, out, device, seed):
    """Part 1: upstream model -> save_pretrained -> from_pretrained -> logits; reference on the folder."""
    Config, Model = classes[spec["kind"]]
    kind = spec["kind"]
    config = class_kwargs(spec["config"])
    if kind == "syncdoth":
        config["layernorm_eps"] = SYNCDOTH_EPS
    tied = bool(config.get("tie_word_embeddings"))
    torch.manual_seed(seed)
    model = Model(Config(**config))
    perturb_norms(model, seed)
    print(f"    built: {tie_if_needed(model, kind, tied) or 'untied'}")
    folder = os.path.join(out, "upstream_" + name)
    os.makedirs(folder, exist_ok=True)
    dtype = torch.bfloat16 if spec["dtype"] == "BF16" else torch.float32
    model = model.to(dtype)
    save_kwargs = {"max_shard_size": "60KB" if spec["shards"] > 1 else "10GB"}
    if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
        save_kwargs["safe_serialization"] = True
    model.save_pretrained(folder, **save_kwargs)
    del model
    n = FLA_TOKENS if kind == "fla" else SYNCDOTH_TOKENS
    tokens = np.random.default_rng(seed).integers(0, spec["config"]["vocab_size"], n)
    with open(os.path.join(folder, "tokens.txt"), "w") as f:
        f.write(" ".join(str(t) for t in tokens) + "\n")
    model, how = reload(Config, Model, folder, kind, tied, device)
    print(f"    reloaded with {how}; every stored tensor unchanged")
    logits = upstream_logits(model, tokens.tolist(), kind, device)
    np.save(os.path.join(folder, "logits.npy"), logits.astype("<f4"))
    m = ref.load_model(folder)
    errors = {"raw": relative(ref.forward(m, tokens, "parallel"), logits)}
    if kind == "syncdoth":
        errors["normalized"] = relative(ref.forward(m, tokens, "normalized"), logits)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"  [built+saved] upstream_{name}: {n} tokens, |logits| max {np.abs(logits).max():.3f}, {size} bytes; "
          + ", ".join(f"vs reference {k} max rel err {v:.2e}" for k, v in errors.items()))
    compare_layout(name, folder, os.path.join(ROOT, "tests", "data", "models", name))
    return errors["raw"]


def load_committed(name, spec, classes, device):
    """Part 2: committed fixture -> upstream class (strict) -> logits vs logits.npy."""
    Config, Model = classes[spec["kind"]]
    folder = os.path.join(ROOT, "tests", "data", "models", name)
    with open(os.path.join(folder, "config.json")) as f:
        config = class_kwargs(json.load(f))
    model = Model(Config(**config)).float()
    state = read_tensors(folder)
    if spec["kind"] == "fla":
        for key in list(state):  # legacy fused gate_proj [2I, D]: first half gate (activated), second up
            if key.endswith("mlp.gate_proj.weight") and key.replace("gate_proj", "up_proj") not in state:
                gate, up = state.pop(key).chunk(2, dim=0)
                state[key], state[key.replace("gate_proj", "up_proj")] = gate, up
    tied = bool(config.get("tie_word_embeddings"))
    if tied:
        state.setdefault("lm_head.weight", state[embedding_name(spec["kind"])])
    state = {k: v.float() for k, v in state.items()}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        print(f"  [committed] {name}: missing {result.missing_keys}, unexpected {result.unexpected_keys}")
    tie_if_needed(model, spec["kind"], tied)
    model = model.to(device).eval()
    tokens = ref.read_tokens(os.path.join(folder, "tokens.txt"))
    logits = upstream_logits(model, tokens, spec["kind"], device)
    golden = np.load(os.path.join(folder, "logits.npy"))
    err = relative(logits, golden)
    line = f"  [committed] {name}: {len(tokens)} tokens, upstream vs logits.npy (raw) max rel err {err:.2e}"
    if spec["kind"] == "syncdoth":
        norm = ref.forward(ref.load_model(folder), tokens, "normalized")
        err = relative(logits, norm)
        line += f"; vs reference normalized form {err:.2e}"
    print(line)
    return err if not (result.missing_keys or result.unexpected_keys) else float("inf")


def source_commit(src):
    path = os.path.join(src, "UPSTREAM_COMMIT")
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip()
    return "unknown commit"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fla-src", required=True, help="checkout of fla-org/flash-linear-attention")
    ap.add_argument("--syncdoth-src", required=True, help="checkout of syncdoth/RetNet")
    ap.add_argument("--out", default="/tmp/upstream_fixtures")
    ap.add_argument("--tolerance", type=float, default=1e-5,
                    help="max relative error accepted (float32 forward, max |diff| / max |ref|)")
    ap.add_argument("--autotune-configs", type=int, default=4,
                    help="keep the first N configs of each of fla's triton.autotune lists (0: all)")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    import transformers
    import triton
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, triton {triton.__version__}, "
          f"numpy {np.__version__}, device {torch.cuda.get_device_name(0) if device == 'cuda' else 'cpu'}, "
          f"TRITON_F32_DEFAULT={os.environ.get('TRITON_F32_DEFAULT')}, autotune configs kept: "
          f"{args.autotune_configs or 'all'}")
    print(f"fla {source_commit(args.fla_src)}, syncdoth {source_commit(args.syncdoth_src)}")
    limit_autotune(args.autotune_configs)
    classes, results = {}, []
    for kind, load, src in (("fla", import_fla, args.fla_src), ("syncdoth", import_syncdoth, args.syncdoth_src)):
        try:
            classes[kind] = load(src)
        except Exception:  # noqa: BLE001
            print(f"importing {kind} failed:")
            traceback.print_exc(file=sys.stdout)
    for seed, (name, spec) in enumerate(fixtures.FIXTURES.items()):
        print(f"{name} ({spec['kind']}):", flush=True)
        for part, run in (("built+saved", lambda: build_and_save(name, spec, classes, args.out, device, 2000 + seed)),
                          ("committed", lambda: load_committed(name, spec, classes, device))):
            try:
                err = run()
            except Exception:  # noqa: BLE001
                print(f"  [{part}] {name}: FAILED")
                traceback.print_exc(file=sys.stdout)
                err = float("inf")
            results.append((part, name, err))
    print("\nsummary (max |diff| / max |ref|; judged: built = upstream vs reference raw form, "
          "committed = upstream vs reference in upstream's own form):")
    for part, name, err in results:
        print(f"  {part:12s} {name:24s} {err:.2e} {'ok' if err <= args.tolerance else 'FAIL'}")
    worst = max(err for _, _, err in results)
    print(f"max relative error over all checks: {worst:.2e} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
