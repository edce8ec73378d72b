#!/usr/bin/env python3
"""PyTorch eager training throughput of a plain llama-shaped model, for `tinychat bench train`.

Same shape and work as tinychat's training step: embedding, L blocks of RMSNorm, grouped-query
causal attention with RoPE and SwiGLU MLP, untied head, mean cross-entropy, backward, AdamW.
Uses torch's own ops (F.scaled_dot_product_attention, nn.Linear), float32, CPU, N threads.
Prints one JSON line: {"tokens_per_s": ...}.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WARMUP = 3


class Block(nn.Module):
    def __init__(s, c, nh, nkv, ff, t):
        super().__init__()
        s.nh, s.nkv, s.hs = nh, nkv, c // nh
        s.n1, s.n2 = nn.RMSNorm(c, eps=1e-5), nn.RMSNorm(c, eps=1e-5)
        s.q = nn.Linear(c, nh * s.hs, bias=False)
        s.k = nn.Linear(c, nkv * s.hs, bias=False)
        s.v = nn.Linear(c, nkv * s.hs, bias=False)
        s.o = nn.Linear(nh * s.hs, c, bias=False)
        s.g = nn.Linear(c, ff, bias=False)
        s.u = nn.Linear(c, ff, bias=False)
        s.d = nn.Linear(ff, c, bias=False)
        inv = 1.0 / (10000 ** (torch.arange(0, s.hs, 2).float() / s.hs))
        ang = torch.outer(torch.arange(t).float(), inv)
        s.register_buffer("cos", torch.cat([ang.cos()] * 2, -1), persistent=False)
        s.register_buffer("sin", torch.cat([ang.sin()] * 2, -1), persistent=False)

    def rope(s, x):
        h = x.shape[-1] // 2
        rot = torch.cat([-x[..., h:], x[..., :h]], -1)
        return x * s.cos + rot * s.sin

    def forward(s, x):
        b, t, c = x.shape
        h = s.n1(x)
        q = s.rope(s.q(h).view(b, t, s.nh, s.hs).transpose(1, 2))
        k = s.rope(s.k(h).view(b, t, s.nkv, s.hs).transpose(1, 2))
        v = s.v(h).view(b, t, s.nkv, s.hs).transpose(1, 2)
        rep = s.nh // s.nkv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + s.o(y.transpose(1, 2).reshape(b, t, c))
        h = s.n2(x)
        return x + s.d(F.silu(s.g(h)) * s.u(h))


class Model(nn.Module):
    def __init__(s, a):
        super().__init__()
        s.emb = nn.Embedding(a.vocab, a.dim)
        s.blocks = nn.ModuleList(Block(a.dim, a.heads, a.kv_heads, a.ffn, a.seq_len) for _ in range(a.layers))
        s.norm = nn.RMSNorm(a.dim, eps=1e-5)
        s.head = nn.Linear(a.dim, a.vocab, bias=False)

    def forward(s, idx, tgt):
        x = s.emb(idx)
        for b in s.blocks:
            x = b(x)
        logits = s.head(s.norm(x))
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt.reshape(-1))


def main():
    p = argparse.ArgumentParser()
    for k, d in [("vocab", 4096), ("dim", 192), ("layers", 4), ("heads", 6), ("kv-heads", 2), ("ffn", 512),
                 ("seq-len", 128), ("batch-size", 16), ("steps", 5), ("threads", 2)]:
        p.add_argument("--" + k, type=int, default=d)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = Model(a)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    idx = torch.randint(0, a.vocab, (a.batch_size, a.seq_len + 1))
    x, y = idx[:, :-1], idx[:, 1:]
    # As tinychat's side and shared/peers/torch_train_bench.py: WARMUP untimed steps (oneDNN
    # builds its kernels on the first ones), then the median of the timed steps.
    times = []
    for i in range(WARMUP + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = m(x, y)
        loss.backward()
        opt.step()
        if i >= WARMUP:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"tokens_per_s": a.batch_size * a.seq_len / statistics.median(times),
                      "loss": loss.item(),
                      "torch": torch.__version__, "threads": a.threads}))


if __name__ == "__main__":
    main()
