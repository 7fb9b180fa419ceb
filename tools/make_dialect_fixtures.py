#!/usr/bin/python3
"""Writes small random checkpoints in the fla and syncdoth dialects into tests/data/models/<name>/,
laid out as each dialect's save_pretrained would write them, with golden logits from
tools/dialect_reference.py (float64, computed from the stored, rounded weights).

    /usr/bin/python3 tools/make_dialect_fixtures.py
    /usr/bin/python3 tools/dialect_reference.py --check tests/data/models/*

Each directory gets config.json (the dialect's own field names), model.safetensors or shards +
model.safetensors.index.json, tokens.txt (whitespace-separated ids) and logits.npy (float64 [T, vocab]).
Deterministic: fixed seeds, no clocks, byte-identical output on every run.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dialect_reference as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "data", "models")


# ---------------------------------------------------------------- safetensors writing
def _encode(array, dtype):
    a = np.ascontiguousarray(array, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    if dtype == "BF16":
        u = a.view(np.uint32).astype(np.uint64)
        rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")  # round to nearest even
        return rounded.tobytes()
    raise ValueError(dtype)


# The safetensors library orders tensors by dtype (descending in its enum: F32 > BF16 > F16), then name.
_ORDER = {"F64": 0, "F32": 1, "BF16": 2, "F16": 3}


def write_safetensors(path, tensors):
    """tensors: list of (name, array, dtype); layout as safetensors.torch.save_file with
    metadata {"format": "pt"}: compact JSON header, "__metadata__" first, space padding to 8 bytes."""
    items = sorted(tensors, key=lambda t: (_ORDER[t[2]], t[0]))
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array, dtype in items:
        data = _encode(array, dtype)
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    return offset


def save_pretrained(folder, config, tensors, shards=1):
    """tensors in state-dict order. shards > 1: split in that order into roughly equal byte sizes as
    model-0000k-of-0000n.safetensors plus model.safetensors.index.json (as transformers does)."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".safetensors") or name.endswith(".safetensors.index.json"):
            os.remove(os.path.join(folder, name))
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), tensors)
        return
    sizes = [len(_encode(a, d)) for _, a, d in tensors]
    total, target = sum(sizes), sum(sizes) / shards
    groups, current, filled = [], [], 0
    for item, size in zip(tensors, sizes):
        if current and filled + size > target and len(groups) < shards - 1:
            groups.append(current)
            current, filled = [], 0
        current.append(item)
        filled += size
    groups.append(current)
    weight_map = {}
    for k, group in enumerate(groups):
        file = f"model-{k + 1:05d}-of-{len(groups):05d}.safetensors"
        write_safetensors(os.path.join(folder, file), group)
        weight_map.update({name: file for name, _, _ in group})
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------- random weights
class Init:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def linear(self, out, inp, std=0.06):
        return self.rng.normal(0.0, std, (out, inp)).astype(np.float32)

    def norm(self, n):
        return (1.0 + 0.2 * self.rng.uniform(-1, 1, n)).astype(np.float32)

    def embed(self, vocab, d, std=0.1):
        return self.rng.normal(0.0, std, (vocab, d)).astype(np.float32)


def fla_tensors(c, init, legacy_mlp):
    """fla RetNetForCausalLM state dict (registration order)."""
    D, H = c["hidden_size"], c["num_heads"]
    Hkv = c.get("num_kv_heads") or H
    key_dim, value_dim = int(D * c["expand_k"]), int(D * c["expand_v"])
    K, V = key_dim // H, value_dim // H
    F = ref.fla_intermediate_size(D, c.get("hidden_ratio", 2), c.get("intermediate_size"))
    gnorm = "g_norm_swish_gate" if c.get("fuse_norm", True) else "g_norm"
    out = [("model.embeddings.weight", init.embed(c["vocab_size"], D))]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [
            (p + "attn_norm.weight", init.norm(D)),
            (p + "attn.q_proj.weight", init.linear(key_dim, D)),
            (p + "attn.k_proj.weight", init.linear(Hkv * K, D)),
            (p + "attn.v_proj.weight", init.linear(Hkv * V, D)),
            (p + "attn.g_proj.weight", init.linear(value_dim, D)),
            (p + "attn.o_proj.weight", init.linear(D, value_dim)),
            (p + f"attn.{gnorm}.weight", init.norm(V)),
            (p + "mlp_norm.weight", init.norm(D)),
        ]
        if legacy_mlp:
            out.append((p + "mlp.gate_proj.weight", init.linear(2 * F, D)))
        else:
            out += [(p + "mlp.gate_proj.weight", init.linear(F, D)), (p + "mlp.up_proj.weight", init.linear(F, D))]
        out.append((p + "mlp.down_proj.weight", init.linear(D, F)))
    out.append(("model.norm.weight", init.norm(D)))
    if not c.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", init.linear(c["vocab_size"], D, std=0.08)))
    return out


def syncdoth_tensors(c, init):
    """syncdoth RetNetForCausalLM state dict (registration order), buffers included."""
    D, H, Dv, F = c["decoder_embed_dim"], c["decoder_retention_heads"], c["decoder_value_embed_dim"], c["decoder_ffn_embed_dim"]
    out = [("model.embed_tokens.weight", init.embed(c["vocab_size"], D))]
    if c["layernorm_embedding"]:
        out.append(("model.layernorm_embedding.weight", init.norm(D)))
    for i in range(c["decoder_layers"]):
        p = f"model.layers.{i}."
        out += [
            (p + "retention.q_proj.weight", init.linear(D, D)),
            (p + "retention.k_proj.weight", init.linear(D, D)),
            (p + "retention.v_proj.weight", init.linear(Dv, D)),
            (p + "retention.g_proj.weight", init.linear(Dv, D)),
            (p + "retention.out_proj.weight", init.linear(D, Dv)),
            (p + "retention_layer_norm.weight", init.norm(D)),
            (p + "ffn.fc1.weight", init.linear(F, D)),
            (p + "ffn.fc2.weight", init.linear(D, F)),
            (p + "ffn.gate.weight", init.linear(F, D)),
            (p + "final_layer_norm.weight", init.norm(D)),
        ]
    out.append(("model.layer_norm.weight", init.norm(D)))
    # Persistent buffers of RetNetRelPos, float32 as computed (cast with the model when it is saved in BF16).
    out.append(("model.retnet_rel_pos.angle", ref.syncdoth_angle(D // H)))
    out.append(("model.retnet_rel_pos.decay", ref.syncdoth_decay(H, c["use_lm_decay"]).astype(np.float32)))
    if not c["tie_word_embeddings"]:  # tied: save_pretrained keeps only model.embed_tokens.weight
        out.append(("lm_head.weight", init.linear(c["vocab_size"], D, std=0.08)))
    return out


# ---------------------------------------------------------------- configs (each dialect's saved field names)
def fla_current_config(**kw):
    c = dict(architectures=["RetNetForCausalLM"], attn=None, attn_mode="chunk", attnres_block_size=None,
             bos_token_id=1, conv_size=4, elementwise_affine=True, eos_token_id=2, expand_k=1, expand_v=2,
             feature_map=None, fuse_cross_entropy=True, fuse_linear_cross_entropy=False, fuse_norm=True,
             fuse_swiglu=True, hidden_act="swish", hidden_ratio=2, hidden_size=2048, initializer_range=0.02,
             intermediate_size=None, max_position_embeddings=2048, model_type="retnet", norm_eps=1e-6,
             num_heads=8, num_hidden_layers=24, num_kv_heads=None, tie_word_embeddings=False,
             torch_dtype="float32", transformers_version="4.53.3", use_cache=True, use_l2warp=False,
             use_output_gate=True, use_short_conv=False, vocab_size=32000)
    c.update(kw)
    return c


def fla_legacy_config(**kw):
    """fla's RetNetConfig of April 2024 (no norm_eps, no elementwise_affine, no num_kv_heads)."""
    c = dict(architectures=["RetNetForCausalLM"], attn_mode="fused_chunk", bos_token_id=1, conv_size=4,
             eos_token_id=2, expand_k=1, expand_v=2, fuse_cross_entropy=True, fuse_norm=True, hidden_act="swish",
             hidden_ratio=2, hidden_size=2048, initializer_range=0.02, intermediate_size=None,
             max_position_embeddings=2048, model_type="retnet", num_heads=8, num_hidden_layers=24,
             rms_norm_eps=1e-6, share_conv_kernel=True, tie_word_embeddings=False, torch_dtype="bfloat16",
             transformers_version="4.40.0", use_cache=True, use_short_conv=False, vocab_size=32000)
    c.update(kw)
    return c


def syncdoth_config(**kw):
    c = dict(activation_dropout=0.0, activation_fn="swish", architectures=["RetNetForCausalLM"], bos_token_id=1,
             decoder_embed_dim=768, decoder_ffn_embed_dim=1280, decoder_layers=12, decoder_normalize_before=True,
             decoder_retention_heads=3, decoder_value_embed_dim=1280, deepnorm=False, drop_path_rate=0.0,
             dropout=0.0, eos_token_id=2, forward_impl="parallel", initializer_range=0.02, is_decoder=True,
             layernorm_embedding=True, layernorm_eps=1e-6, model_type="retnet", no_scale_embedding=False,
             output_retentions=False, pad_token_id=0, recurrent_chunk_size=512, subln=True,
             tie_word_embeddings=False, torch_dtype="float32", transformers_version="4.38.2", use_cache=True,
             use_ffn_rms_norm=False, use_glu=True, use_lm_decay=False, vocab_size=50257, z_loss_coeff=0.0)
    c.update(kw)
    return c


FIXTURES = {
    # Current fla layout: split gate/up MLP, fused norm+gate (attn.g_norm_swish_gate.weight), F32.
    "fla_tiny": dict(
        config=fla_current_config(hidden_size=32, num_heads=4, num_hidden_layers=2, expand_k=1, expand_v=2,
                                  intermediate_size=48, vocab_size=320, torch_dtype="float32"),
        kind="fla", legacy_mlp=False, dtype="F32", shards=1, seq_len=37),
    # April-2024 fla layout: fused mlp.gate_proj [2I, D], rms_norm_eps only, fuse_norm false
    # (attn.g_norm.weight), intermediate_size null (-> 256), expand_k 0.5, BF16, three shards.
    "fla_legacy_sharded": dict(
        config=fla_legacy_config(hidden_size=32, num_heads=2, num_hidden_layers=2, expand_k=0.5, expand_v=2,
                                 intermediate_size=None, hidden_ratio=2, vocab_size=384, fuse_norm=False,
                                 torch_dtype="bfloat16"),
        kind="fla", legacy_mlp=True, dtype="BF16", shards=3, seq_len=29),
    # syncdoth: embedding x sqrt(D) then RMSNorm, default decays, untied lm_head, F32.
    "syncdoth_tiny": dict(
        config=syncdoth_config(decoder_embed_dim=32, decoder_value_embed_dim=64, decoder_retention_heads=4,
                               decoder_ffn_embed_dim=64, decoder_layers=2, vocab_size=320, layernorm_embedding=True,
                               no_scale_embedding=False, use_lm_decay=False, tie_word_embeddings=False,
                               torch_dtype="float32"),
        kind="syncdoth", dtype="F32", shards=1, seq_len=33),
    # syncdoth: use_lm_decay decays, no embedding norm, tied lm_head, everything (buffers too) BF16.
    "syncdoth_lm_decay_bf16": dict(
        config=syncdoth_config(decoder_embed_dim=48, decoder_value_embed_dim=96, decoder_retention_heads=3,
                               decoder_ffn_embed_dim=80, decoder_layers=2, vocab_size=400, layernorm_embedding=False,
                               no_scale_embedding=False, use_lm_decay=True, tie_word_embeddings=True,
                               activation_fn="gelu", torch_dtype="bfloat16"),
        kind="syncdoth", dtype="BF16", shards=1, seq_len=24),
}


def write_fixture(name, spec, seed):
    init = Init(seed)
    config = spec["config"]
    if spec["kind"] == "fla":
        tensors = fla_tensors(config, init, spec["legacy_mlp"])
    else:
        tensors = syncdoth_tensors(config, init)
    folder = os.path.join(MODELS, name)
    save_pretrained(folder, config, [(n, a, spec["dtype"]) for n, a in tensors], spec["shards"])
    tokens = init.rng.integers(0, config["vocab_size"], spec["seq_len"])
    with open(os.path.join(folder, "tokens.txt"), "w") as f:
        f.write(" ".join(str(t) for t in tokens) + "\n")
    model = ref.load_model(folder)
    logits = ref.forward(model, tokens, "parallel")
    np.save(os.path.join(folder, "logits.npy"), logits.astype("<f8"))
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"{folder}: dialect {model.dialect}, {len(tokens)} tokens, logits {logits.shape}, "
          f"|logits| max {np.abs(logits).max():.3f} std {logits.std():.3f}, {size} bytes")


def main():
    for seed, (name, spec) in enumerate(FIXTURES.items()):
        write_fixture(name, spec, 1000 + seed)


if __name__ == "__main__":
    sys.exit(main())
