#!/usr/bin/env python3
"""Trains a small byte-level RetNet (vocab 256, the model of docs/SEMANTICS.md §2: raw retention,
exactly what the C++ runtime computes) on a text file and writes config.json + model.safetensors
in torchscale's layout, with a model card.

    bash tools/kjv_corpus.sh .data                       # the KJV text, 95% / 5% split
    python3 tools/train_retnet.py --train .data/kjv_train.txt --val .data/kjv_val.txt \
        --out models/kjv-byte --minutes 7

Runs on a CUDA GPU (bf16 autocast, tf32) or, slowly, on the CPU. Training samples random windows
of --seq-len bytes, each from a zero state; the validation figure is bits per byte over the whole
validation text streamed in windows with the state carried across them (the model sees all the
text before each byte), computed in float32 from the weights as stored (rounded to --dtype) -
the same computation as `retnet perplexity`.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps, weight=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if weight else None

    def forward(self, x):
        y = x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps).to(x.dtype)
        return y if self.weight is None else y * self.weight


class Retention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, hv = cfg["decoder_embed_dim"], cfg["decoder_value_embed_dim"]
        self.heads = cfg["decoder_retention_heads"]
        self.key_dim, self.value_dim = d // self.heads, hv // self.heads
        self.q_proj, self.k_proj = nn.Linear(d, d, bias=False), nn.Linear(d, d, bias=False)
        self.v_proj, self.g_proj = nn.Linear(d, hv, bias=False), nn.Linear(d, hv, bias=False)
        self.out_proj = nn.Linear(hv, d, bias=False)
        self.group_norm = RMSNorm(self.value_dim, cfg["layernorm_eps"], weight=False)
        gamma = 1.0 - 2.0 ** (-5.0 - torch.arange(self.heads, dtype=torch.float64))
        self.register_buffer("log_gamma", torch.log(gamma).float(), persistent=False)

    def forward(self, x, cos, sin, state):
        """x [B, T, d]; state [B, H, K, V] (float32) or None; returns y, the state after the last token."""
        B, T, _ = x.shape
        H, K, V = self.heads, self.key_dim, self.value_dim
        q = self.q_proj(x).view(B, T, H, K).transpose(1, 2)
        k = (self.k_proj(x) * K ** -0.5).view(B, T, H, K).transpose(1, 2)
        v = self.v_proj(x).view(B, T, H, V).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        n = torch.arange(T, device=x.device, dtype=torch.float32)
        lg = self.log_gamma.view(H, 1, 1)
        distance = n[:, None] - n[None, :]
        decay = torch.where(distance >= 0, torch.exp(lg * distance.clamp(min=0)), torch.zeros((), device=x.device))
        o = ((q @ k.transpose(-1, -2)) * decay.to(q.dtype)) @ v
        if state is not None:  # the past: (q S0) gamma^(n+1)
            o = o + (q.float() @ state) * torch.exp(lg * (n[:, None] + 1)).to(torch.float32)
        # S_T = gamma^T S0 + sum_m gamma^(T-1-m) k_m^T v_m
        tail = torch.exp(lg * (T - 1 - n)[:, None]).view(1, H, T, 1)
        new_state = (k.float() * tail).transpose(-1, -2) @ v.float()
        if state is not None:
            new_state = new_state + state * torch.exp(lg * T).view(1, H, 1, 1)
        o = self.group_norm(o.float()).to(x.dtype).transpose(1, 2).reshape(B, T, H * V)
        return self.out_proj(F.silu(self.g_proj(x)) * o), new_state


def rotate(x, cos, sin):
    """Pairs (2i, 2i+1) of x [B, H, T, K] turned by cos, sin [T, K/2]."""
    even, odd = x[..., 0::2], x[..., 1::2]
    c, s = cos.to(x.dtype), sin.to(x.dtype)
    return torch.stack((even * c - odd * s, odd * c + even * s), dim=-1).flatten(-2)


def rotation(start, T, K, device):
    """torchscale's angles: float32 angle times float32 position (docs/SEMANTICS.md §2)."""
    pairs = K // 2
    exponent = torch.linspace(0, 1, pairs, dtype=torch.float64) if pairs > 1 else torch.zeros(1, dtype=torch.float64)
    angle = (1.0 / 10000.0 ** exponent).float()
    phase = torch.arange(start, start + T, dtype=torch.float32)[:, None] * angle[None, :]
    return torch.cos(phase.double()).float().to(device), torch.sin(phase.double()).float().to(device)


class Layer(nn.Module):
    def __init__(self, cfg, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        d, f, eps = cfg["decoder_embed_dim"], cfg["decoder_ffn_embed_dim"], cfg["layernorm_eps"]
        self.retention_layer_norm = RMSNorm(d, eps)
        self.retention = Retention(cfg)
        self.final_layer_norm = RMSNorm(d, eps)
        self.ffn = nn.Module()
        self.ffn.fc1, self.ffn.gate = nn.Linear(d, f, bias=False), nn.Linear(d, f, bias=False)
        self.ffn.fc2 = nn.Linear(f, d, bias=False)

    def forward(self, x, cos, sin, state):
        r, new_state = self.retention(self.retention_layer_norm(x), cos, sin, state)
        x = x + self.dropout(r)
        a = self.final_layer_norm(x)
        return x + self.dropout(self.ffn.fc2(F.silu(self.ffn.fc1(a)) * self.ffn.gate(a))), new_state


class RetNetLM(nn.Module):
    def __init__(self, cfg, dropout=0.0):
        super().__init__()
        self.cfg = cfg
        self.dropout = nn.Dropout(dropout)
        d = cfg["decoder_embed_dim"]
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], d)
        nn.init.normal_(self.embed_tokens.weight, std=d ** -0.5)
        self.layers = nn.ModuleList(Layer(cfg, dropout) for _ in range(cfg["decoder_layers"]))
        self.layer_norm = RMSNorm(d, cfg["layernorm_eps"])

    def forward(self, tokens, start=0, states=None):
        B, T = tokens.shape
        K = self.cfg["decoder_embed_dim"] // self.cfg["decoder_retention_heads"]
        cos, sin = rotation(start, T, K, tokens.device)
        x = self.dropout(self.embed_tokens(tokens))
        new_states = []
        for i, layer in enumerate(self.layers):
            x, s = layer(x, cos, sin, None if states is None else states[i])
            new_states.append(s)
        x = self.layer_norm(x)
        return x @ self.embed_tokens.weight.t().to(x.dtype), new_states  # tied output projection


def stream_bits_per_byte(model, data, window, device):
    """Bits per byte of data[1:] given everything before each byte, windows with carried state."""
    model.eval()
    total, count, states = 0.0, 0, None
    with torch.no_grad():
        for start in range(0, len(data) - 1, window):
            chunk = data[start:start + window + 1].to(device)
            inputs, targets = chunk[:-1][None, :], chunk[1:][None, :]
            logits, states = model(inputs, start=start, states=states)
            total += F.cross_entropy(logits[0].float(), targets[0], reduction="sum").item()
            count += targets.numel()
    model.train()
    return total / count / math.log(2)


def round_to_dtype(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).float())


def write_checkpoint(model, cfg, out_dir, dtype_name):
    os.makedirs(out_dir, exist_ok=True)
    config = {k: v for k, v in cfg.items()}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    torch_dtype = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32}[dtype_name]
    header, blobs, offset = {}, [], 0
    for name, p in model.state_dict().items():
        t = p.detach().to("cpu", torch_dtype).contiguous()
        data = t.view(torch.uint8 if t.element_size() == 1 else torch.int16 if t.element_size() == 2 else torch.int32)
        raw = data.numpy().tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt", "producer": "tools/train_retnet.py"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for raw in blobs:
            f.write(raw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=7.0, help="training time budget (the schedule follows it)")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--value-dim", type=int, default=512)
    ap.add_argument("--ffn-dim", type=int, default=512)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.2, help="on the embeddings and both sublayers' outputs")
    ap.add_argument("--eval-seconds", type=float, default=15.0, help="seconds between validation checks")
    ap.add_argument("--dtype", default="F16", choices=["F16", "BF16", "F32"])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    train = torch.frombuffer(bytearray(open(args.train, "rb").read()), dtype=torch.uint8).long()
    val = torch.frombuffer(bytearray(open(args.val, "rb").read()), dtype=torch.uint8).long()
    cfg = dict(decoder_embed_dim=args.dim, decoder_value_embed_dim=args.value_dim,
               decoder_retention_heads=args.heads, decoder_ffn_embed_dim=args.ffn_dim,
               decoder_layers=args.layers, vocab_size=256, activation_fn="swish", layernorm_eps=1e-6,
               no_scale_embedding=True, share_decoder_input_output_embed=True, deepnorm=False)
    model = RetNetLM(cfg, args.dropout).to(device)
    params = sum(p.numel() for p in model.parameters())
    decay_params = [p for n, p in model.named_parameters() if p.dim() == 2]
    other_params = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay_params, "weight_decay": args.weight_decay},
                             {"params": other_params, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    print(f"{params / 1e6:.2f} M parameters on {device}; train {len(train)} bytes, validation {len(val)} bytes", flush=True)

    budget, warmup = args.minutes * 60.0, 200
    start_time, step, best = time.time(), 0, (float("inf"), None)
    val_sample = val[: 64 * 1024]
    last_eval = start_time
    while True:
        elapsed = time.time() - start_time
        if elapsed >= budget:
            break
        progress = elapsed / budget
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, len(train) - args.seq_len - 1, (args.batch,))
        batch = torch.stack([train[i:i + args.seq_len + 1] for i in idx.tolist()]).to(device)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
            logits, _ = model(batch[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, 256), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if time.time() - last_eval > args.eval_seconds or step == 1:
            last_eval = time.time()
            bpb = stream_bits_per_byte(model, val_sample, 2048, device)
            if bpb < best[0]:
                best = (bpb, {k: v.detach().clone() for k, v in model.state_dict().items()})
            print(f"step {step}  {elapsed:6.0f} s  lr {lr:.2e}  train {loss.item() / math.log(2):.3f} bits/byte  "
                  f"validation (first 64 KB) {bpb:.3f}", flush=True)
    bpb = stream_bits_per_byte(model, val_sample, 2048, device)
    if bpb < best[0]:
        best = (bpb, None)
    else:
        model.load_state_dict(best[1])
    train_seconds = time.time() - start_time
    round_to_dtype(model, {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32}[args.dtype])
    model.float()
    final = stream_bits_per_byte(model, val, 2048, device)
    write_checkpoint(model, cfg, args.out, args.dtype)
    card = os.path.join(args.out, "README.md")
    with open(card, "w") as f:
        f.write(f"""# kjv-byte: a byte-level RetNet trained on the King James Bible

- **Data**: the King James Version from Debian's `bible-kjv-text` (public domain), written by
  `tools/kjv_corpus.sh` (one verse per line under chapter headings, {len(train) + len(val)} bytes);
  training text: the first 95% ({len(train)} bytes), validation: the last 5% ({len(val)} bytes).
- **Model**: docs/SEMANTICS.md §2, vocabulary 256 (bytes), d = {args.dim}, {args.layers} layers, {args.heads} heads
  (K = {args.dim // args.heads}, V = {args.value_dim // args.heads}), FFN {args.ffn_dim}, swish, tied embeddings;
  {params / 1e6:.2f} M parameters, stored as {args.dtype}.
- **Training**: `tools/train_retnet.py` on {torch.cuda.get_device_name() if device == "cuda" else "the CPU"},
  {step} steps of {args.batch} x {args.seq_len} bytes in {train_seconds / 60:.1f} minutes (AdamW, lr {args.lr},
  cosine to 10%, weight decay {args.weight_decay}, dropout {args.dropout}, bf16 autocast), seed {args.seed};
  the best of the evaluations every {args.eval_seconds:.0f} s (on the first 64 KB of the validation text) kept.
- **Validation**: {final:.4f} bits per byte over the whole validation text (each byte given all the text
  before it, weights as stored, float32). `retnet perplexity --model models/kjv-byte --text
  .data/kjv_val.txt` computes the same figure.
""")
    print(f"wrote {args.out}: {step} steps in {train_seconds:.0f} s; validation {final:.4f} bits/byte "
          f"(stored {args.dtype} weights, whole validation text)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
