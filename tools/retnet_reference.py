#!/usr/bin/python3
"""An independent float64 reference of the RetNet language model of docs/SEMANTICS.md §2, in NumPy,
written from the specification (not from the C++ runtime), and the writer of the golden data the
C++ tests compare against.

    /usr/bin/python3 tools/retnet_reference.py            # regenerate tests/data/models/*

Needs Debian's python3-numpy. Each model directory gets config.json, model.safetensors (some
tensors stored as F16 / BF16 to exercise the conversions), tokens.txt and logits.npy (float32,
[T, vocab], computed in float64 from the stored weights).
"""
import json
import math
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- safetensors (no package needed)
def to_bits(array, dtype):
    """float32 array -> (bytes, stored values as float64) for F32, F16 or BF16 storage."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    if dtype == "F32":
        return a.tobytes(), a.astype(np.float64)
    if dtype == "F16":
        h = a.astype(np.float16)
        return h.tobytes(), h.astype(np.float64)
    if dtype == "BF16":
        u = a.view(np.uint32)
        rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
        back = (rounded.astype(np.uint32) << 16).view(np.float32)
        return rounded.tobytes(), back.astype(np.float64)
    raise ValueError(dtype)


def write_safetensors(path, tensors):
    """tensors: list of (name, float32 array, dtype). Returns {name: stored values as float64}."""
    header, blobs, stored, offset = {}, [], {}, 0
    for name, array, dtype in tensors:
        data, values = to_bits(array, dtype)
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        stored[name] = values
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    return stored


# ---------------------------------------------------------------- the model (docs/SEMANTICS.md §2)
def rms_norm(x, weight, eps):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y if weight is None else y * weight


def swish(x):
    return x / (1.0 + np.exp(-x))


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def rotation(seq_len, key_dim):
    """cos, sin [T, K/2]: float32 angle and float32 position * angle (as torchscale), exact trig."""
    pairs = key_dim // 2
    exponents = np.array([0.0]) if pairs == 1 else np.arange(pairs) / (pairs - 1)
    angle = (1.0 / 10000.0 ** exponents).astype(np.float32)
    phase = (np.arange(seq_len, dtype=np.float32)[:, None] * angle[None, :]).astype(np.float32)
    return np.cos(phase.astype(np.float64)), np.sin(phase.astype(np.float64))


def rotate(x, cos, sin):
    """x [T, H, K]; pairs (2i, 2i+1) turn by the position's angle i."""
    even, odd = x[..., 0::2], x[..., 1::2]
    c, s = cos[:, None, :], sin[:, None, :]
    out = np.empty_like(x)
    out[..., 0::2] = even * c - odd * s
    out[..., 1::2] = odd * c + even * s
    return out


def retention(q, k, v, heads):
    """Raw retention, parallel form, float64: q, k [T, H, K], v [T, H, V], gamma_h = 1 - 2^(-5-h)."""
    T = q.shape[0]
    n = np.arange(T)
    out = np.empty_like(v)
    for h in range(heads):
        gamma = 1.0 - 2.0 ** (-5 - h)
        distance = n[:, None] - n[None, :]
        decay = np.where(distance >= 0, gamma ** np.maximum(distance, 0), 0.0)
        out[:, h, :] = ((q[:, h, :] @ k[:, h, :].T) * decay) @ v[:, h, :]
    return out


def forward(config, w, tokens):
    """Logits [T, vocab] in float64 for one sequence of token ids."""
    d, H, L = config["decoder_embed_dim"], config["decoder_retention_heads"], config["decoder_layers"]
    K, V = d // H, config["decoder_value_embed_dim"] // H
    eps = config.get("layernorm_eps", 1e-6)
    act = swish if config.get("activation_fn", "gelu") == "swish" else gelu
    alpha = (2.0 * L) ** 0.25 if config.get("deepnorm", False) else 1.0
    scale = 1.0 if config.get("no_scale_embedding", True) else math.sqrt(d)
    T = len(tokens)
    x = scale * w["embed_tokens.weight"][tokens]
    if config.get("layernorm_embedding", False):
        x = rms_norm(x, w["layernorm_embedding.weight"], eps)
    cos, sin = rotation(T, K)
    for i in range(L):
        p = lambda name: w[f"layers.{i}.{name}"]
        a = rms_norm(x, p("retention_layer_norm.weight"), eps)
        q = (a @ p("retention.q_proj.weight").T).reshape(T, H, K)
        k = (a @ p("retention.k_proj.weight").T).reshape(T, H, K) * K ** -0.5
        v = (a @ p("retention.v_proj.weight").T).reshape(T, H, V)
        g = a @ p("retention.g_proj.weight").T
        r = retention(rotate(q, cos, sin), rotate(k, cos, sin), v, H)
        r = rms_norm(r, None, eps).reshape(T, H * V)
        x = alpha * x + (swish(g) * r) @ p("retention.out_proj.weight").T
        a = rms_norm(x, p("final_layer_norm.weight"), eps)
        f = act(a @ p("ffn.fc1.weight").T) * (a @ p("ffn.gate.weight").T)
        x = alpha * x + f @ p("ffn.fc2.weight").T
    x = rms_norm(x, w["layer_norm.weight"], eps)
    head = w["embed_tokens.weight"] if config.get("share_decoder_input_output_embed", False) else w["output_projection.weight"]
    return x @ head.T


# ---------------------------------------------------------------- random models
def random_tensors(config, rng):
    """(name, float32 array) in torchscale's state-dict layout; norm weights near 1."""
    d, hv, f = config["decoder_embed_dim"], config["decoder_value_embed_dim"], config["decoder_ffn_embed_dim"]
    vocab = config["vocab_size"]

    def lin(out, inp):
        return rng.uniform(-1, 1, (out, inp)).astype(np.float32) / np.float32(math.sqrt(inp))

    def norm():
        return (1.0 + 0.2 * rng.uniform(-1, 1, d)).astype(np.float32)

    out = [("embed_tokens.weight", rng.normal(0, 1, (vocab, d)).astype(np.float32))]
    if config.get("layernorm_embedding", False):
        out.append(("layernorm_embedding.weight", norm()))
    for i in range(config["decoder_layers"]):
        out += [
            (f"layers.{i}.retention_layer_norm.weight", norm()),
            (f"layers.{i}.retention.q_proj.weight", lin(d, d)),
            (f"layers.{i}.retention.k_proj.weight", lin(d, d)),
            (f"layers.{i}.retention.v_proj.weight", lin(hv, d)),
            (f"layers.{i}.retention.g_proj.weight", lin(hv, d)),
            (f"layers.{i}.retention.out_proj.weight", lin(d, hv)),
            (f"layers.{i}.final_layer_norm.weight", norm()),
            (f"layers.{i}.ffn.fc1.weight", lin(f, d)),
            (f"layers.{i}.ffn.gate.weight", lin(f, d)),
            (f"layers.{i}.ffn.fc2.weight", lin(d, f)),
        ]
    out.append(("layer_norm.weight", norm()))
    if not config.get("share_decoder_input_output_embed", False):
        out.append(("output_projection.weight", lin(vocab, d)))
    return out


# Small models covering every option the runtime supports. Sequence lengths cross chunk
# boundaries (the C++ tests use chunks 16 and 64) and end in a partial chunk.
GOLDEN = {
    "tiny_swish": dict(config=dict(decoder_embed_dim=32, decoder_value_embed_dim=64, decoder_retention_heads=2,
                                   decoder_ffn_embed_dim=48, decoder_layers=2, vocab_size=50, activation_fn="swish"),
                       seq_len=70, dtypes="F32"),
    "gelu_deepnorm_tied": dict(config=dict(decoder_embed_dim=24, decoder_value_embed_dim=48, decoder_retention_heads=3,
                                           decoder_ffn_embed_dim=40, decoder_layers=3, vocab_size=41,
                                           activation_fn="gelu", deepnorm=True, share_decoder_input_output_embed=True,
                                           no_scale_embedding=False, layernorm_embedding=True, layernorm_eps=1e-5),
                               seq_len=45, dtypes="BF16"),
    "odd_dims_f16": dict(config=dict(decoder_embed_dim=30, decoder_value_embed_dim=21, decoder_retention_heads=3,
                                     decoder_ffn_embed_dim=20, decoder_layers=2, vocab_size=37, activation_fn="swish"),
                         seq_len=33, dtypes="F16"),
}


def write_golden(name, spec, seed):
    rng = np.random.default_rng(seed)
    config = spec["config"]
    folder = os.path.join(ROOT, "tests", "data", "models", name)
    os.makedirs(folder, exist_ok=True)
    tensors = random_tensors(config, rng)
    # Linear weights in the model's storage dtype; norms and embeddings stay F32 (as in mixed
    # checkpoints), and torchscale's recomputed buffers ride along to be ignored.
    stored_as = [(n, a, spec["dtypes"] if a.ndim == 2 and n != "embed_tokens.weight" else "F32") for n, a in tensors]
    K = config["decoder_embed_dim"] // config["decoder_retention_heads"]
    stored_as.append(("retnet_rel_pos.decay", np.zeros(config["decoder_retention_heads"], np.float32), "F32"))
    stored_as.append(("retnet_rel_pos.angle", np.zeros(K, np.float32), "F32"))
    stored = write_safetensors(os.path.join(folder, "model.safetensors"), stored_as)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    tokens = rng.integers(0, config["vocab_size"], spec["seq_len"])
    with open(os.path.join(folder, "tokens.txt"), "w") as f:
        f.write(" ".join(str(t) for t in tokens) + "\n")
    logits = forward(config, stored, tokens)
    np.save(os.path.join(folder, "logits.npy"), logits.astype(np.float32))
    print(f"{folder}: {len(tokens)} tokens, logits {logits.shape}, |logits| max {np.abs(logits).max():.3f}")


def main():
    for seed, (name, spec) in enumerate(GOLDEN.items()):
        write_golden(name, spec, seed + 1)


if __name__ == "__main__":
    sys.exit(main())
