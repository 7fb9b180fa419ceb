#!/usr/bin/python3
"""An independent float64 NumPy reference of the three RetNet checkpoint dialects the runtime reads
(see docs/CHECKPOINT_DIALECTS.md), written from the dialects' published semantics, not from the C++
runtime. No torch needed: Debian's python3-numpy only.

    /usr/bin/python3 tools/dialect_reference.py MODEL_DIR                  # logits of MODEL_DIR/tokens.txt
    /usr/bin/python3 tools/dialect_reference.py MODEL_DIR --form chunkwise --chunk 16 --out logits.npy
    /usr/bin/python3 tools/dialect_reference.py --check tests/data/models/*  # all forms agree, logits.npy matches
    /usr/bin/python3 tools/dialect_reference.py MODEL_DIR --form normalized  # torchscale/syncdoth parallel form

Dialects (decided by config.json, confirmed by the tensor names):
  torchscale  the project's own layout (tools/retnet_reference.py): decoder_* fields, no model_type,
              tensors without prefix (embed_tokens.weight, output_projection.weight).
  syncdoth    syncdoth/RetNet's Hugging Face port: decoder_* fields plus model_type "retnet",
              tensors under model. plus lm_head.weight and the buffers model.retnet_rel_pos.{angle,decay}.
  fla         fla-org/flash-linear-attention's RetNet: hidden_size / num_heads / expand_k / expand_v ...,
              tensors model.embeddings.weight, model.layers.{i}.attn.*, model.layers.{i}.mlp.*, lm_head.weight.

Every dialect is reduced to one common description (class Model) and run by one forward pass whose
retention is the raw form
    S_t = gamma S_{t-1} + k_t^T v_t,   o_t = scale * q_t S_t
computed in three ways that must agree (parallel, chunkwise, recurrent). torchscale and syncdoth also
have their own parallel form that rescales each retention row (decay-mask row normalisation and the
detached abs-sum clamp); --form normalized computes it. It differs from the raw form only through the
eps of the per-head RMSNorm that follows.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np


class DialectError(Exception):
    """A checkpoint this reference (and the runtime) does not read, with the reason."""


# ---------------------------------------------------------------- safetensors reading (F32/F16/BF16/F64)
_DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (None, 2), "F64": (np.float64, 8)}


def read_safetensors(path):
    """{name: (dtype string, float64 array)} of one .safetensors file (metadata skipped)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _DTYPES:
            raise DialectError(f"{path}: {name}: dtype {dtype} is not supported (F32, F16, BF16, F64)")
        blob = raw[base + begin:base + end]
        count = int(np.prod(shape)) if shape else 1
        if len(blob) != count * _DTYPES[dtype][1]:
            raise DialectError(f"{path}: {name}: {len(blob)} bytes for shape {shape} {dtype}")
        if dtype == "BF16":
            bits = np.frombuffer(blob, dtype="<u2").astype(np.uint32) << 16
            values = bits.view(np.float32)
        else:
            values = np.frombuffer(blob, dtype=np.dtype(_DTYPES[dtype][0]).newbyteorder("<"))
        out[name] = (dtype, values.astype(np.float64).reshape(shape))
    return out


def read_weights(folder):
    """All tensors of a model directory: model.safetensors, or the shards named by
    model.safetensors.index.json (weight_map)."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            for name, value in read_safetensors(os.path.join(folder, shard)).items():
                if weight_map.get(name) != shard:
                    raise DialectError(f"{folder}: {name} found in {shard}, but the index maps it to {weight_map.get(name)}")
                tensors[name] = value
        missing = sorted(set(weight_map) - set(tensors))
        if missing:
            raise DialectError(f"{folder}: tensors listed in the index but absent from the shards: {missing[:5]}")
        return tensors
    return read_safetensors(os.path.join(folder, "model.safetensors"))


# ---------------------------------------------------------------- dialect detection
# Fields only the RetNet-XATL fork (NucleusAI) has: a different model (LayerNorm with bias, partial
# rotary, parallel residual, ...) that none of the three dialects describes.
XATL_FIELDS = ("use_rms_norm", "groupnorm_affine", "use_bias", "parallel_residual", "rotary_percentage",
               "shared_attention_norm", "lm_head_bias", "retnet_stability_update", "retnet_bottleneck",
               "hybrid_attention_layers")


def detect_dialect(config, tensor_names=None):
    """'fla', 'syncdoth' or 'torchscale' from config.json; checked against the tensor names if given."""
    xatl = [k for k in XATL_FIELDS if k in config]
    if xatl:
        raise DialectError(f"config.json: fields {xatl} belong to the RetNet-XATL fork, which is not supported")
    if "hidden_size" in config or "num_heads" in config:
        if "decoder_embed_dim" in config:
            raise DialectError("config.json: has both fla fields (hidden_size/num_heads) and torchscale fields "
                               "(decoder_embed_dim): ambiguous dialect")
        if config.get("model_type", "retnet") != "retnet":
            raise DialectError(f"config.json: model_type {config.get('model_type')!r} is not an fla RetNet")
        dialect, first = "fla", "model.embeddings.weight"
    elif "decoder_embed_dim" in config:
        if config.get("model_type") == "retnet":
            dialect, first = "syncdoth", "model.embed_tokens.weight"
        elif "model_type" in config:
            raise DialectError(f"config.json: model_type {config['model_type']!r} is not a RetNet")
        else:
            dialect, first = "torchscale", "embed_tokens.weight"
    else:
        raise DialectError("config.json: neither fla fields (hidden_size, num_heads) nor torchscale fields "
                           "(decoder_embed_dim) present: not a RetNet config")
    if tensor_names is not None and first not in tensor_names:
        raise DialectError(f"config.json says dialect {dialect}, but the weights lack {first}")
    return dialect


# ---------------------------------------------------------------- the common model description
class Model:
    """One RetNet in a dialect-free form. Linear weights are torch-style [out, in]."""
    dialect = None
    D = H = H_kv = K = V = F = L = vocab = 0
    eps = 1e-6             # block norms, final norm, embedding norm
    group_eps = 1e-6       # per-head RMSNorm of the retention output
    embed_scale = 1.0
    alpha = 1.0            # residual multiplier (deepnorm)
    act = "swish"          # FFN activation, applied to the w_act branch
    rotary = "interleaved"  # 'interleaved': pairs (2i, 2i+1); 'half': pairs (i, i + K/2)
    angle = None           # [K] float32 per-feature rotation frequency (equal within a pair)
    gamma = None           # [H] float64 decay per query head
    scale = 1.0            # multiplies q.k (1/sqrt(K) in all dialects)
    embed = None           # [vocab, D]
    embed_norm = None      # [D] or None
    final_norm = None      # [D]
    head = None            # [vocab, D]
    layers = None          # list of dicts, see below


def _need(w, name, shape, source):
    if name not in w:
        raise DialectError(f"{source}: missing tensor {name}")
    dtype, value = w[name]
    if list(value.shape) != list(shape):
        raise DialectError(f"{source}: {name}: shape {list(value.shape)}, expected {list(shape)}")
    return value


def _float32_angles_linspace(pairs):
    """torchscale / syncdoth: theta_i = 1 / 10000^(i/(pairs-1)), float32, repeated for the pair."""
    exponents = np.array([0.0]) if pairs == 1 else np.arange(pairs) / (pairs - 1)
    theta = (1.0 / 10000.0 ** exponents).astype(np.float32)
    return np.repeat(theta, 2)


def _float32_angles_fla(dim, base=10000.0):
    """fla RotaryEmbedding: inv_freq_i = 1 / base^(2i/dim), all in float32 (as torch computes it);
    returned per feature in the half-split layout: [theta_0..theta_{K/2-1}, theta_0..theta_{K/2-1}]."""
    e = (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)).astype(np.float32)
    inv = (np.float32(1.0) / np.power(np.float32(base), e, dtype=np.float32)).astype(np.float32)
    return np.concatenate([inv, inv])


def _act_name(name, allowed, field, source):
    if name not in allowed:
        raise DialectError(f"{source}: {field}: {name!r} is not supported; expected one of {list(allowed)}")
    return name


def build_torchscale(c, w, source):
    """The project's torchscale layout (runtime/src/model_config.cpp, tools/retnet_reference.py)."""
    for field, ok in (("decoder_normalize_before", True), ("use_xmoe", False), ("multiway", False),
                      ("no_output_layer", False)):
        if c.get(field, ok) not in (ok, None):
            raise DialectError(f"{source}: {field}: {c[field]!r} is not supported; expected {ok!r}")
    if c.get("moe_freq", 0) not in (0, None):
        raise DialectError(f"{source}: moe_freq: mixture-of-experts layers are not supported")
    m = Model()
    m.dialect = "torchscale"
    m.D, m.H, m.L = c["decoder_embed_dim"], c["decoder_retention_heads"], c["decoder_layers"]
    m.vocab, m.F = c["vocab_size"], c["decoder_ffn_embed_dim"]
    if m.D % m.H or c["decoder_value_embed_dim"] % m.H:
        raise DialectError(f"{source}: decoder_embed_dim and decoder_value_embed_dim must divide by the heads")
    m.H_kv, m.K, m.V = m.H, m.D // m.H, c["decoder_value_embed_dim"] // m.H
    m.eps = m.group_eps = c.get("layernorm_eps", 1e-6)
    m.act = _act_name(c.get("activation_fn", "gelu"), ("swish", "gelu"), "activation_fn", source)
    m.alpha = (2.0 * m.L) ** 0.25 if c.get("deepnorm", False) else 1.0
    m.embed_scale = 1.0 if c.get("no_scale_embedding", True) else math.sqrt(m.D)
    m.rotary, m.angle = "interleaved", _float32_angles_linspace(m.K // 2)
    m.gamma = 1.0 - 2.0 ** (-5.0 - np.arange(m.H))          # buffers in the file are ignored
    m.scale = m.K ** -0.5
    m.embed = _need(w, "embed_tokens.weight", [m.vocab, m.D], source)
    m.embed_norm = _need(w, "layernorm_embedding.weight", [m.D], source) if c.get("layernorm_embedding", False) else None
    m.layers = [_decoder_layer(m, w, f"layers.{i}.", source) for i in range(m.L)]
    m.final_norm = _need(w, "layer_norm.weight", [m.D], source)
    tied = c.get("share_decoder_input_output_embed", False)
    m.head = m.embed if tied else _need(w, "output_projection.weight", [m.vocab, m.D], source)
    return m


def _decoder_layer(m, w, p, source):
    """torchscale / syncdoth block: names shared by both (prefix differs)."""
    D, HV, F = m.D, m.H * m.V, m.F
    return dict(
        attn_norm=_need(w, p + "retention_layer_norm.weight", [D], source),
        wq=_need(w, p + "retention.q_proj.weight", [D, D], source),
        wk=_need(w, p + "retention.k_proj.weight", [D, D], source),
        wv=_need(w, p + "retention.v_proj.weight", [HV, D], source),
        wg=_need(w, p + "retention.g_proj.weight", [HV, D], source),
        wo=_need(w, p + "retention.out_proj.weight", [D, HV], source),
        group_norm=None,
        ffn_norm=_need(w, p + "final_layer_norm.weight", [D], source),
        w_act=_need(w, p + "ffn.fc1.weight", [F, D], source),
        w_lin=_need(w, p + "ffn.gate.weight", [F, D], source),
        w_down=_need(w, p + "ffn.fc2.weight", [D, F], source),
    )


def _syncdoth_effective_flags(c):
    """RetNetConfig.__init__ rewrites these three before anything uses them."""
    deepnorm, subln = c.get("deepnorm", False), c.get("subln", True)
    before = c.get("decoder_normalize_before", True)
    if deepnorm:
        before, subln = False, False
    if subln:
        before, deepnorm = True, False
    return deepnorm, subln, before


def build_syncdoth(c, w, source):
    m = Model()
    m.dialect = "syncdoth"
    if not c.get("use_glu", True):
        raise DialectError(f"{source}: use_glu: false (the biased fc1/fc2 FFN with ffn_layernorm) is not supported")
    deepnorm, _, before = _syncdoth_effective_flags(c)
    if not before:
        raise DialectError(f"{source}: deepnorm / decoder_normalize_before=false (post-norm blocks) is not supported")
    if any(k.endswith("retention.decay_proj.weight") for k in w):
        raise DialectError(f"{source}: retention.decay_proj (tensor-parallel decay mixing) is not supported")
    m.D = c.get("decoder_embed_dim", 768)
    m.H = c.get("decoder_retention_heads", 3)
    m.L = c.get("decoder_layers", 12)
    m.vocab = c.get("vocab_size", 50257)
    m.F = c.get("decoder_ffn_embed_dim", 1280)
    dv = c.get("decoder_value_embed_dim", 1280)
    if m.D % m.H or dv % m.H:
        raise DialectError(f"{source}: decoder_embed_dim and decoder_value_embed_dim must divide by the heads")
    m.H_kv, m.K, m.V = m.H, m.D // m.H, dv // m.H
    if m.K % 2:
        raise DialectError(f"{source}: key dimension per head {m.K} is odd (the rotation pairs features)")
    m.eps = m.group_eps = c.get("layernorm_eps", 1e-6)
    m.act = _act_name(c.get("activation_fn", "gelu"), ("swish", "gelu", "relu"), "activation_fn", source)
    m.alpha = 1.0  # deepnorm is refused above (it implies post-norm)
    m.embed_scale = 1.0 if c.get("no_scale_embedding", True) else math.sqrt(m.D)
    # syncdoth uses the persistent buffers as loaded from the checkpoint (BF16 files carry
    # BF16-rounded values); recompute only if a file lacks them.
    m.rotary = "interleaved"
    if "model.retnet_rel_pos.angle" in w:
        m.angle = _need(w, "model.retnet_rel_pos.angle", [m.K], source).astype(np.float32)
    else:
        m.angle = _float32_angles_linspace(m.K // 2)
    if "model.retnet_rel_pos.decay" in w:
        m.gamma = np.exp(_need(w, "model.retnet_rel_pos.decay", [m.H], source))
    else:
        m.gamma = np.exp(syncdoth_decay(m.H, c.get("use_lm_decay", False)))
    m.scale = m.K ** -0.5
    m.embed = _need(w, "model.embed_tokens.weight", [m.vocab, m.D], source)
    m.embed_norm = (_need(w, "model.layernorm_embedding.weight", [m.D], source)
                    if c.get("layernorm_embedding", False) else None)
    m.layers = [_decoder_layer(m, w, f"model.layers.{i}.", source) for i in range(m.L)]
    m.final_norm = _need(w, "model.layer_norm.weight", [m.D], source)
    if c.get("tie_word_embeddings", False):
        m.head = m.embed  # Hugging Face ties lm_head to embed_tokens; save_pretrained drops lm_head.weight
    else:
        m.head = _need(w, "lm_head.weight", [m.vocab, m.D], source)
    return m


def syncdoth_decay(heads, use_lm_decay):
    """log(gamma) [H] as syncdoth's RetNetRelPos computes it (float64 here; the buffer is float32)."""
    if use_lm_decay:
        s, e = math.log(1 / 32), math.log(1 / 512)
        lin = np.array([s]) if heads == 1 else s + (e - s) * np.arange(heads) / (heads - 1)
        return np.log(1.0 - np.exp(lin))
    return np.log(1.0 - 2.0 ** (-5.0 - np.arange(heads)))


def syncdoth_angle(key_dim):
    """The angle buffer [K]: 1/10000^linspace(0, 1, K/2), each repeated twice (float32)."""
    return _float32_angles_linspace(key_dim // 2)


def fla_intermediate_size(hidden, hidden_ratio, intermediate_size):
    if intermediate_size is not None:
        return intermediate_size
    ratio = 4 if hidden_ratio is None else hidden_ratio
    i = int(hidden * ratio * 2 / 3)
    return 256 * ((i + 255) // 256)


def build_fla(c, w, source):
    m = Model()
    m.dialect = "fla"
    if c.get("feature_map") is not None:
        raise DialectError(f"{source}: feature_map: {c['feature_map']!r} is not supported (only null)")
    if c.get("attn") is not None:
        raise DialectError(f"{source}: attn: hybrid softmax-attention layers are not supported (only null)")
    if c.get("attnres_block_size") is not None:
        raise DialectError(f"{source}: attnres_block_size: attention residuals are not supported (only null)")
    if c.get("hidden_act", "swish") != "swish":
        raise DialectError(f"{source}: hidden_act: {c['hidden_act']!r} is not supported (only \"swish\")")
    m.D = c.get("hidden_size", 2048)
    m.H = c.get("num_heads", 8)
    m.H_kv = c.get("num_kv_heads") or m.H
    m.L = c.get("num_hidden_layers", 24)
    m.vocab = c.get("vocab_size", 32000)
    key_dim = int(m.D * c.get("expand_k", 1.0))
    value_dim = int(m.D * c.get("expand_v", 2.0))
    if m.H % m.H_kv:
        raise DialectError(f"{source}: num_heads {m.H} is not a multiple of num_kv_heads {m.H_kv}")
    if key_dim % m.H or value_dim % m.H:
        raise DialectError(f"{source}: key dim {key_dim} / value dim {value_dim} must divide by num_heads {m.H}")
    m.K, m.V = key_dim // m.H, value_dim // m.H
    if m.K % 2 or m.K > 256:
        raise DialectError(f"{source}: head_k_dim {m.K} must be even and at most 256")
    m.F = fla_intermediate_size(m.D, c.get("hidden_ratio", 2), c.get("intermediate_size"))
    # Current fla reads norm_eps (default 1e-6); the April-2024 config class only had rms_norm_eps.
    eps = c.get("norm_eps")
    if eps is None:
        eps = c.get("rms_norm_eps", 1e-6)
    m.eps = m.group_eps = eps
    m.act = "swish"
    m.alpha, m.embed_scale = 1.0, 1.0
    m.rotary, m.angle = "half", _float32_angles_fla(m.K)
    m.gamma = 1.0 - 2.0 ** (-5.0 - np.arange(m.H))          # over query heads
    m.scale = m.K ** -0.5
    use_gate = c.get("use_output_gate", True)
    affine = c.get("elementwise_affine", True)               # key absent: True; null/false: no weight
    fused = c.get("fuse_norm", True) and use_gate            # gate_fn is hidden_act == swish
    gnorm_name = "g_norm_swish_gate.weight" if fused else "g_norm.weight"
    D, F = m.D, m.F
    m.embed = _need(w, "model.embeddings.weight", [m.vocab, D], source)
    m.layers = []
    for i in range(m.L):
        p = f"model.layers.{i}."
        layer = dict(
            attn_norm=_need(w, p + "attn_norm.weight", [D], source),
            wq=_need(w, p + "attn.q_proj.weight", [key_dim, D], source),
            wk=_need(w, p + "attn.k_proj.weight", [m.H_kv * m.K, D], source),
            wv=_need(w, p + "attn.v_proj.weight", [m.H_kv * m.V, D], source),
            wg=_need(w, p + "attn.g_proj.weight", [value_dim, D], source) if use_gate else None,
            wo=_need(w, p + "attn.o_proj.weight", [D, value_dim], source),
            group_norm=_need(w, p + "attn." + gnorm_name, [m.V], source) if affine else None,
            ffn_norm=_need(w, p + "mlp_norm.weight", [D], source),
            w_down=_need(w, p + "mlp.down_proj.weight", [D, F], source),
        )
        if p + "mlp.up_proj.weight" in w:        # current layout (since 2025-02)
            layer["w_act"] = _need(w, p + "mlp.gate_proj.weight", [F, D], source)
            layer["w_lin"] = _need(w, p + "mlp.up_proj.weight", [F, D], source)
        else:                                     # legacy fused gate_proj [2F, D]: first half activated
            fused_gate = _need(w, p + "mlp.gate_proj.weight", [2 * F, D], source)
            layer["w_act"], layer["w_lin"] = fused_gate[:F], fused_gate[F:]
        m.layers.append(layer)
    m.final_norm = _need(w, "model.norm.weight", [D], source)
    if c.get("tie_word_embeddings", False):
        m.head = m.embed
    else:
        m.head = _need(w, "lm_head.weight", [m.vocab, D], source)
    return m


def load_model(folder):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    weights = read_weights(folder)
    dialect = detect_dialect(config, set(weights))
    build = {"torchscale": build_torchscale, "syncdoth": build_syncdoth, "fla": build_fla}[dialect]
    return build(config, weights, folder)


# ---------------------------------------------------------------- the forward pass
def rms_norm(x, weight, eps):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y if weight is None else y * weight


def activation(name, x):
    if name == "swish":
        return x / (1.0 + np.exp(-x))
    if name == "relu":
        return np.maximum(x, 0.0)
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def rotate(m, x, start=0):
    """x [T, heads, K] at positions start.. : phase = float32(float32(n) * angle), exact cos/sin."""
    T, K = x.shape[0], m.K
    pos = np.arange(start, start + T, dtype=np.float32)
    phase = (pos[:, None] * m.angle[None, :]).astype(np.float32).astype(np.float64)
    cos, sin = np.cos(phase)[:, None, :], np.sin(phase)[:, None, :]
    if m.rotary == "interleaved":
        partner = np.empty_like(x)            # (-x[2i+1], x[2i]) in pair order
        partner[..., 0::2], partner[..., 1::2] = -x[..., 1::2], x[..., 0::2]
    else:
        half = K // 2
        partner = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + partner * sin


def retention_parallel(q, k, v, gamma):
    T = q.shape[0]
    dist = np.arange(T)[:, None] - np.arange(T)[None, :]
    out = np.empty((T, q.shape[1], v.shape[2]))
    for h in range(q.shape[1]):
        decay = np.where(dist >= 0, gamma[h] ** np.maximum(dist, 0), 0.0)
        out[:, h] = ((q[:, h] @ k[:, h].T) * decay) @ v[:, h]
    return out


def retention_normalized(q, k, v, gamma):
    """torchscale / syncdoth parallel form: decay mask rows divided by sqrt(row sum), then scores
    divided by clamp(sum |scores| over the row, 1, 5e4)."""
    T = q.shape[0]
    dist = np.arange(T)[:, None] - np.arange(T)[None, :]
    out = np.empty((T, q.shape[1], v.shape[2]))
    for h in range(q.shape[1]):
        decay = np.where(dist >= 0, gamma[h] ** np.maximum(dist, 0), 0.0)
        decay = decay / np.sqrt(decay.sum(axis=-1, keepdims=True))
        scores = (q[:, h] @ k[:, h].T) * decay
        scores = scores / np.clip(np.abs(scores).sum(axis=-1, keepdims=True), 1.0, 5e4)
        out[:, h] = scores @ v[:, h]
    return out


def retention_chunkwise(q, k, v, gamma, chunk):
    """Inside a chunk the parallel form; across chunks the state R (K x V per head), paper eq. 7."""
    T, H = q.shape[0], q.shape[1]
    out = np.empty((T, H, v.shape[2]))
    for h in range(H):
        g = gamma[h]
        state = np.zeros((q.shape[2], v.shape[2]))
        for s in range(0, T, chunk):
            qc, kc, vc = q[s:s + chunk, h], k[s:s + chunk, h], v[s:s + chunk, h]
            C = qc.shape[0]
            j = np.arange(C)
            dist = j[:, None] - j[None, :]
            inner = np.where(dist >= 0, g ** np.maximum(dist, 0), 0.0)
            out[s:s + C, h] = ((qc @ kc.T) * inner) @ vc + (qc @ state) * (g ** (j + 1))[:, None]
            state = g ** C * state + kc.T @ (vc * (g ** (C - 1 - j))[:, None])
    return out


def retention_recurrent(q, k, v, gamma):
    T, H = q.shape[0], q.shape[1]
    out = np.empty((T, H, v.shape[2]))
    state = np.zeros((H, q.shape[2], v.shape[2]))
    for t in range(T):
        for h in range(H):
            state[h] = gamma[h] * state[h] + np.outer(k[t, h], v[t, h])
            out[t, h] = q[t, h] @ state[h]
    return out


def forward(m, tokens, form="parallel", chunk=16):
    """Logits [T, vocab] (float64). form: parallel | chunkwise | recurrent | normalized."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.min() < 0 or tokens.max() >= m.vocab:
        raise DialectError(f"token id out of range [0, {m.vocab})")
    if form == "normalized" and m.dialect == "fla":
        raise DialectError("fla has no normalised retention form (its kernels compute the raw form)")
    T, H, Hkv, K, V = len(tokens), m.H, m.H_kv, m.K, m.V
    x = m.embed_scale * m.embed[tokens]
    if m.embed_norm is not None:
        x = rms_norm(x, m.embed_norm, m.eps)
    for layer in m.layers:
        a = rms_norm(x, layer["attn_norm"], m.eps)
        q = rotate(m, (a @ layer["wq"].T).reshape(T, H, K)) * m.scale
        k = rotate(m, (a @ layer["wk"].T).reshape(T, Hkv, K))
        v = (a @ layer["wv"].T).reshape(T, Hkv, V)
        if Hkv != H:  # query head j reads kv head j // (H / Hkv)
            k, v = np.repeat(k, H // Hkv, axis=1), np.repeat(v, H // Hkv, axis=1)
        if form == "parallel":
            r = retention_parallel(q, k, v, m.gamma)
        elif form == "normalized":
            r = retention_normalized(q, k, v, m.gamma)
        elif form == "chunkwise":
            r = retention_chunkwise(q, k, v, m.gamma, chunk)
        elif form == "recurrent":
            r = retention_recurrent(q, k, v, m.gamma)
        else:
            raise ValueError(form)
        r = rms_norm(r, layer["group_norm"], m.group_eps).reshape(T, H * V)
        if layer["wg"] is not None:
            r = activation("swish", a @ layer["wg"].T) * r
        x = m.alpha * x + r @ layer["wo"].T
        a = rms_norm(x, layer["ffn_norm"], m.eps)
        f = activation(m.act, a @ layer["w_act"].T) * (a @ layer["w_lin"].T)
        x = m.alpha * x + f @ layer["w_down"].T
    x = rms_norm(x, m.final_norm, m.eps)
    return x @ m.head.T


# ---------------------------------------------------------------- fla -> torchscale-style weights
def fla_as_interleaved(m):
    """The weight mapping docs/CHECKPOINT_DIALECTS.md describes, done on a loaded fla Model: q/k rows
    permuted inside each head from half-split to interleaved pairs (new 2i <- i, new 2i+1 <- i + K/2),
    k/v rows repeated for grouped heads, the per-head norm weight folded into o_proj's columns (the
    same function as the runtime's applying it after the norm), the
    rotation switched to interleaved pairs with fla's frequencies. Must give the same logits."""
    import copy
    t = copy.copy(m)
    K, V, H, g = m.K, m.V, m.H, m.H // m.H_kv
    half = K // 2
    order = np.empty(K, dtype=np.int64)
    order[0::2], order[1::2] = np.arange(half), np.arange(half) + half
    per_head = lambda heads: np.concatenate([h * K + order for h in range(heads)])
    kv_rows = lambda dim, heads: np.concatenate([(j // g) * dim + np.arange(dim) for j in range(heads)])
    t.rotary, t.angle, t.H_kv = "interleaved", np.repeat(m.angle[:half], 2), m.H
    t.layers = []
    for layer in m.layers:
        new = dict(layer)
        new["wq"] = layer["wq"][per_head(H)]
        new["wk"] = layer["wk"][kv_rows(K, H)][per_head(H)]
        new["wv"] = layer["wv"][kv_rows(V, H)]
        if layer["group_norm"] is not None:
            new["wo"] = layer["wo"] * np.tile(layer["group_norm"], H)[None, :]
            new["group_norm"] = None
        t.layers.append(new)
    return t


# ---------------------------------------------------------------- command line
def read_tokens(path):
    with open(path) as f:
        return [int(t) for t in f.read().split()]


def relative(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def check(folder, tolerance=1e-10):
    """All forms agree to `tolerance`; logits.npy (if present) matches the parallel form."""
    m = load_model(folder)
    tokens = read_tokens(os.path.join(folder, "tokens.txt"))
    ref = forward(m, tokens, "parallel")
    report = [f"{folder}: dialect {m.dialect}, T={len(tokens)}, D={m.D} H={m.H} Hkv={m.H_kv} K={m.K} V={m.V} "
              f"F={m.F} L={m.L} vocab={m.vocab}"]
    worst = 0.0
    for form, chunk in (("recurrent", 0), ("chunkwise", 1), ("chunkwise", 5), ("chunkwise", 16), ("chunkwise", 64)):
        err = relative(forward(m, tokens, form, chunk), ref)
        worst = max(worst, err)
        report.append(f"  {form}{'(' + str(chunk) + ')' if chunk else ''} vs parallel: {err:.2e}")
    ok = worst <= tolerance
    stored = os.path.join(folder, "logits.npy")
    if os.path.exists(stored):
        golden = np.load(stored)
        limit = 1e-5 if golden.dtype == np.float32 else 1e-10
        err = relative(ref, golden.astype(np.float64))
        ok = ok and golden.shape == ref.shape and err <= limit
        report.append(f"  logits.npy ({golden.dtype}) vs parallel: {err:.2e} (limit {limit:g})")
    if m.dialect == "fla":
        err = relative(forward(fla_as_interleaved(m), tokens), ref)
        ok = ok and err <= tolerance
        report.append(f"  fla mapped to interleaved rotary + folded norm weight vs parallel: {err:.2e}")
    else:
        report.append(f"  normalized (decay-mask/abs-sum) vs raw: "
                      f"{relative(forward(m, tokens, 'normalized'), ref):.2e} (eps effect, not checked)")
    report.append("  OK" if ok else "  FAILED")
    print("\n".join(report))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="model directories (config.json + safetensors)")
    ap.add_argument("--check", action="store_true", help="assert all forms agree to 1e-10 and logits.npy matches")
    ap.add_argument("--tokens", help="token file (whitespace-separated ids); default MODEL/tokens.txt")
    ap.add_argument("--form", default="parallel", choices=["parallel", "chunkwise", "recurrent", "normalized"])
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--out", help="write the logits as float64 .npy")
    args = ap.parse_args()
    try:
        if args.check:
            results = [check(folder) for folder in args.models]
            return 0 if all(results) else 1
        for folder in args.models:
            m = load_model(folder)
            tokens = read_tokens(args.tokens or os.path.join(folder, "tokens.txt"))
            logits = forward(m, tokens, args.form, args.chunk)
            if args.out:
                np.save(args.out, logits)
            print(f"{folder}: dialect {m.dialect}, logits {logits.shape}, argmax {logits.argmax(-1).tolist()}")
    except DialectError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
