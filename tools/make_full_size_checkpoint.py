#!/usr/bin/python3
"""Writes a full-size random checkpoint in a public RetNet layout, to time loading and decoding at
real sizes without downloading one (the weights are random; the text they generate is noise):

    /usr/bin/python3 tools/make_full_size_checkpoint.py fla-1.3b  DIR   # fla-hub/retnet-1.3B-100B: BF16, one file
    /usr/bin/python3 tools/make_full_size_checkpoint.py spiral-3b DIR   # Spiral-RetNet-3b-base: F32, syncdoth, 3 shards

Tensors are generated and written one at a time (the writer never holds more than the largest),
in the names, shapes, dtypes and file split of the real checkpoint (tools/make_dialect_fixtures.py
holds the layouts). A tokenizer file is copied from tests/data/tokenizers so that `retnet generate`
runs: its vocabulary is smaller than the model's, which the runtime allows.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_dialect_fixtures as fx  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = {
    # fla-hub/retnet-1.3B-100B's published config.json and tensor list (267 tensors, BF16).
    "fla-1.3b": dict(kind="fla", dtype="BF16", shards=1, tokenizer="spm_bpe/tokenizer.model",
                     config=fx.fla_legacy_config(hidden_size=2048, num_heads=8, num_hidden_layers=24,
                                                 torch_dtype="bfloat16", elementwise_affine=True, norm_eps=1e-6,
                                                 feature_map=None, num_kv_heads=None)),
    # Spiral-RetNet-3b-base: syncdoth's retnet-3b dimensions, the calm2 vocabulary, F32 in 3 shards.
    "spiral-3b": dict(kind="syncdoth", dtype="F32", shards=3, tokenizer="bytelevel_bpe/tokenizer.json",
                      config=fx.syncdoth_config(decoder_embed_dim=2560, decoder_value_embed_dim=4280,
                                                decoder_ffn_embed_dim=4280, decoder_layers=32,
                                                decoder_retention_heads=10, vocab_size=65024,
                                                layernorm_embedding=True, no_scale_embedding=False,
                                                tie_word_embeddings=False, torch_dtype="float32",
                                                bos_token_id=0, eos_token_id=0, pad_token_id=1)),
}


class Lazy:
    """A tensor to be generated when written: its shape, and how (normal with std, or near 1)."""

    def __init__(self, shape, std=None, norm=False):
        self.shape, self.std, self.norm = tuple(shape), std, norm

    def make(self, rng):
        if self.norm:
            return (1.0 + 0.2 * rng.uniform(-1, 1, self.shape)).astype(np.float32)
        return (rng.standard_normal(self.shape, dtype=np.float32) * np.float32(self.std))


class LazyInit:
    def linear(self, out, inp, std=0.02):
        return Lazy((out, inp), std=std)

    def norm(self, n):
        return Lazy((n,), norm=True)

    def embed(self, vocab, d, std=0.02):
        return Lazy((vocab, d), std=std)


def nbytes(shape, dtype):
    return int(np.prod(shape)) * (4 if dtype == "F32" else 2)


def write_file(path, items, rng):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, array, dtype in items:
        size = nbytes(array.shape, dtype)
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".partial", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name, array, dtype in items:
            data = array.make(rng) if isinstance(array, Lazy) else np.asarray(array, dtype=np.float32)
            f.write(fx._encode(data, dtype))
            del data
    os.replace(path + ".partial", path)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in MODELS:
        sys.exit(__doc__)
    spec, folder = MODELS[sys.argv[1]], sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    c = spec["config"]
    tensors = (fx.fla_tensors(c, LazyInit(), legacy_mlp=False) if spec["kind"] == "fla"
               else fx.syncdoth_tensors(c, LazyInit()))
    items = [(name, array, spec["dtype"]) for name, array in tensors]
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write(json.dumps(c, indent=2, sort_keys=True) + "\n")
    rng = np.random.default_rng(0)
    groups = [items]
    if spec["shards"] > 1:  # roughly equal byte sizes, in state-dict order, as transformers splits
        total = sum(nbytes(a.shape, d) for _, a, d in items)
        groups, current, filled = [], [], 0
        for item in items:
            size = nbytes(item[1].shape, item[2])
            if current and filled + size > total / spec["shards"] and len(groups) < spec["shards"] - 1:
                groups.append(current)
                current, filled = [], 0
            current.append(item)
            filled += size
        groups.append(current)
    if len(groups) == 1:
        write_file(os.path.join(folder, "model.safetensors"), items, rng)
    else:
        weight_map = {}
        for k, group in enumerate(groups):
            file = f"model-{k + 1:05d}-of-{len(groups):05d}.safetensors"
            write_file(os.path.join(folder, file), group, rng)
            weight_map.update({name: file for name, _, _ in group})
        total = sum(nbytes(a.shape, d) for _, a, d in items)
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    shutil.copy(os.path.join(ROOT, "tests", "data", "tokenizers", spec["tokenizer"]), folder)
    params = sum(int(np.prod(a.shape)) for _, a, _ in items)
    print(f"{folder}: {len(items)} tensors, {params / 1e9:.3f} B values ({spec['kind']} layout, {spec['dtype']})")


if __name__ == "__main__":
    main()
