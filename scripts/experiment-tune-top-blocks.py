#!/usr/bin/env python3
"""A prototype, not part of the recipe: does tuning SmolLM2's top blocks with the moderation head
beat the frozen trunk's head? (docs/moderation.md, "Tuning the top blocks (measured in a
PyTorch prototype)".) A minimal Llama in PyTorch (f32, CPU, 2 threads) on the weights `tinychat convert`
writes; the shipped moderator is trained by `tinychat train moderation` in Rust.

    tinychat convert --gguf models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --out /tmp/smol-hf
    pip install torch numpy tokenizers safetensors          # in a venv
    MODE=frozen EPOCHS=15 python scripts/experiment-tune-top-blocks.py   # the head alone
    MODE=tune EPOCHS=4 LRB=2e-5 python scripts/experiment-tune-top-blocks.py  # blocks 16..19 too
    python scripts/experiment-tune-top-blocks.py check   # the model check: greedy "... is Paris."

Environment: HF (the converted directory, /tmp/smol-hf), K (frozen blocks, 16), L (blocks read,
20), MODE (tune | frozen), EPOCHS, LRB (the tuned blocks' learning rate), H (head width, 64),
CACHE (where the states after K blocks are kept, /tmp). The texts and labels come from the Rust
route's files in the same numbers (16,000 training texts plus the written benign training sets;
2,000-text samples of val, test and test_obfuscated; the challenge and benign eval sets), sampled
with Python's seeded shuffle (not the Rust route's sample), and simplified where noted: the
text is only lowercased (not `moderation::normalize`d, so the obfuscated split scores low here),
a text is one window of its first 64 tokens, and the thresholds are the lowest reaching 0.9
precision on val, then repeatedly raised for whichever category flags the most benign val texts
while more than 1% are flagged. Each epoch prints every set's figures; the best epoch is read
off that log (nothing is saved).
"""
import json, os, random, sys, time
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file
from tokenizers import Tokenizer

torch.set_num_threads(2)
torch.manual_seed(0)
HF = os.environ.get("HF", "/tmp/smol-hf")
K = int(os.environ.get("K", 16))  # frozen blocks
L = int(os.environ.get("L", 20))  # blocks read in all
CATS = ["harassment", "harassment/threatening", "hate", "hate/threatening", "self-harm",
        "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence",
        "violence/graphic", "illicit", "illicit/violent"]
cfg = json.load(open(f"{HF}/config.json"))
C, NH, NKV, HD = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
W = {k: torch.from_numpy(v.copy()) for k, v in load_file(f"{HF}/model.safetensors").items()}
tok = Tokenizer.from_file(f"{HF}/tokenizer.json")
PRE, SUF = tok.encode("<|im_start|>user\n", add_special_tokens=False).ids, tok.encode("<|im_end|>", add_special_tokens=False).ids


def rope(T):
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, HD, 2).float() / HD))
    f = torch.outer(torch.arange(T).float(), inv)
    e = torch.cat([f, f], -1)
    return e.cos(), e.sin()


def rot(x):
    a, b = x.chunk(2, -1)
    return torch.cat([-b, a], -1)


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["rms_norm_eps"]) * w


def block(p, x, cos, sin, mask):
    B, T, _ = x.shape
    h = rms(x, p["input_layernorm.weight"])
    q = (h @ p["self_attn.q_proj.weight"].T).view(B, T, NH, HD).transpose(1, 2)
    k = (h @ p["self_attn.k_proj.weight"].T).view(B, T, NKV, HD).transpose(1, 2)
    v = (h @ p["self_attn.v_proj.weight"].T).view(B, T, NKV, HD).transpose(1, 2)
    q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
    k, v = k.repeat_interleave(NH // NKV, 1), v.repeat_interleave(NH // NKV, 1)
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    x = x + a.transpose(1, 2).reshape(B, T, C) @ p["self_attn.o_proj.weight"].T
    h = rms(x, p["post_attention_layernorm.weight"])
    m = F.silu(h @ p["mlp.gate_proj.weight"].T) * (h @ p["mlp.up_proj.weight"].T)
    return x + m @ p["mlp.down_proj.weight"].T


def params(i, trainable=False):
    pre = f"model.layers.{i}."
    d = {k[len(pre):]: v.clone() for k, v in W.items() if k.startswith(pre)}
    if trainable:
        for v in d.values():
            v.requires_grad_(True)
    return d


def read(path, limit=None, seed=0):
    rows = [json.loads(l) for l in open(path)]
    if limit and len(rows) > limit:
        random.Random(seed).shuffle(rows)
        rows = rows[:limit]
    xs = [tok.encode(r["text"].lower(), add_special_tokens=False).ids[:64] for r in rows]
    ys = np.array([[float(r["labels"].get(c, 0)) for c in CATS] for r in rows], np.float32)
    return [PRE + x + SUF for x in xs], ys


def batches(seqs, bs, order=None):
    order = order if order is not None else sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for s in range(0, len(order), bs):
        yield order[s:s + bs]


def run_blocks(layers, x):
    B, T, _ = x.shape
    cos, sin = rope(T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for p in layers:
        x = block(p, x, cos, sin, causal)
    return x


def frozen_states(seqs, n):
    """States after blocks 0..n, per text, (T_i, C) f16."""
    layers = [params(i) for i in range(n)]
    out = [None] * len(seqs)
    t0 = time.time()
    with torch.no_grad():
        for idx in batches(seqs, 64):
            T = max(len(seqs[i]) for i in idx)
            ids = torch.tensor([seqs[i] + [0] * (T - len(seqs[i])) for i in idx])
            x = W["model.embed_tokens.weight"][ids]
            x = run_blocks(layers, x)
            for j, i in enumerate(idx):
                out[i] = x[j, :len(seqs[i])].half()
    print(f"  states after {n} blocks: {len(seqs)} texts in {time.time()-t0:.0f} s", flush=True)
    return out


def pool(x, lens):
    # mean over the text's positions (between the prompt's prefix and suffix)
    m = torch.zeros(x.shape[:2])
    for j, n in enumerate(lens):
        m[j, len(PRE):n - len(SUF)] = 1
    m = m / m.sum(1, keepdim=True).clamp(min=1)
    return (x * m[..., None]).sum(1)


class Head(torch.nn.Module):
    def __init__(self, mean, std, hidden=64, drop=0.3):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.l1 = torch.nn.Linear(C, hidden)
        self.l2 = torch.nn.Linear(hidden, len(CATS))
        self.drop = drop

    def forward(self, p):
        z = (p - self.mean) / self.std
        z = F.dropout(z, self.drop, self.training)
        return self.l2(F.gelu(self.l1(z)))


def forward(states, idx, tuned):
    if states[idx[0]].dim() == 2 and states[idx[0]].shape[0] == 1 and not tuned:
        return torch.cat([states[i] for i in idx])
    T = max(states[i].shape[0] for i in idx)
    x = torch.stack([F.pad(states[i].float(), (0, 0, 0, T - states[i].shape[0])) for i in idx])
    lens = [states[i].shape[0] for i in idx]
    if tuned:
        x = run_blocks(tuned, x)
    return pool(x, lens)


def scores(states, head, tuned):
    head.eval()
    out = []
    with torch.no_grad():
        order = list(range(len(states)))
        for idx in batches(states, 128, order):
            out.append(torch.sigmoid(head(forward(states, idx, tuned))))
    head.train()
    return torch.cat(out).numpy()


def calibrate(s, y, benign_budget=0.01, target=0.9):
    th = np.zeros(len(CATS))
    for c in range(len(CATS)):
        o = np.argsort(-s[:, c]); ys = y[o, c]; tp = np.cumsum(ys); k = np.arange(1, len(ys) + 1)
        prec = tp / k
        ok = np.where(prec >= target)[0]
        th[c] = s[o[ok[-1]], c] if len(ok) else 0.999
    # raise the category flagging most benign texts until within budget
    benign = y.sum(1) == 0
    for _ in range(400):
        f = s[benign] >= th
        if f.any(1).mean() <= benign_budget:
            break
        c = f.sum(0).argmax()
        th[c] = min(0.9999, th[c] + (1 - th[c]) * 0.2)
    return th


def implied(f):
    f = f.copy()
    imp = {1: [0, 9], 3: [2, 9], 5: [4], 6: [4], 8: [7], 10: [9], 12: [11, 9]}
    for c, ps in imp.items():
        for p in ps:
            f[:, p] |= f[:, c]
    return f


def report(name, s, y, th):
    f = implied(s >= th)
    yb = y > 0.5
    f1s = []
    for c in range(len(CATS)):
        if yb[:, c].sum() == 0:
            continue
        tp = (f[:, c] & yb[:, c]).sum(); p = tp / max(f[:, c].sum(), 1); r = tp / yb[:, c].sum()
        f1s.append(0 if tp == 0 else 2 * p * r / (p + r))
    benign = yb.sum(1) == 0
    fpr = f[benign].any(1).mean() if benign.any() else float("nan")
    mf = np.mean(f1s) if f1s else float("nan")
    print(f"  {name:22s} macro F1 {mf:.3f}  benign FPR {100*fpr:.2f}% ({f[benign].any(1).sum()}/{benign.sum()})", flush=True)
    return mf, fpr


def main():
    D = "data/moderation"
    tr, ytr = read(f"{D}/train.jsonl", 16000, 1)
    for extra in ["data/moderation_benign_short_train.jsonl", "data/moderation_benign_answers_train.jsonl"]:
        a, b = read(extra); tr += a; ytr = np.concatenate([ytr, b])
    sets = {"val": read(f"{D}/val.jsonl", 2000, 2), "test": read(f"{D}/test.jsonl", 2000, 3),
            "test_obfuscated": read(f"{D}/test_obfuscated.jsonl", 2000, 4),
            "challenge": read("data/moderation_challenge.jsonl"),
            "benign_short": read("data/moderation_benign_short_eval.jsonl"),
            "benign_answers": read("data/moderation_benign_answers_eval.jsonl")}
    print(f"train {len(tr)} texts, mean {np.mean([len(s) for s in tr]):.1f} tokens", flush=True)
    cache = os.path.join(os.environ.get("CACHE", "/tmp"), f"tinychat-states-{K}.pt")
    sizes = {"train": len(tr), **{k: len(s) for k, (s, _) in sets.items()}}
    if os.path.exists(cache):
        st = torch.load(cache)
        # The cache is named by K only: refuse states of other texts rather than mislabel them.
        got = {k: len(v) for k, v in st.items()}
        if got != sizes or any(v.shape[0] != len(s) for v, s in zip(st["train"], tr)):
            sys.exit(f"{cache} holds states of other texts ({got}, want {sizes}): delete it")
    else:
        st = {"train": frozen_states(tr, K)}
        for k, (s, _) in sets.items():
            st[k] = frozen_states(s, K)
        torch.save(st, cache)
    mode = os.environ.get("MODE", "tune")
    tuned = [params(i, trainable=(mode == "tune")) for i in range(K, L)]
    if mode != "tune":  # frozen: pool once, then the head alone
        with torch.no_grad():
            for k in st:
                st[k] = [pool(run_blocks(tuned, s.float()[None]), [s.shape[0]]) for s in st[k]]
        tuned = []
    with torch.no_grad():
        p0 = torch.cat([forward(st["train"], idx, tuned) for idx in batches(st["train"], 128, list(range(len(tr))))])
    head = Head(p0.mean(0), p0.std(0) + 1e-5, hidden=int(os.environ.get("H", 64)))
    lr_b = float(os.environ.get("LRB", 2e-5))
    groups = [{"params": head.parameters(), "lr": 1e-3, "weight_decay": 0.01}]
    if mode == "tune":
        groups.append({"params": [v for p in tuned for v in p.values()], "lr": lr_b, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups)
    ytr_t = torch.from_numpy(ytr)
    epochs = int(os.environ.get("EPOCHS", 3 if mode == "tune" else 15))
    for ep in range(epochs):
        t0 = time.time(); order = list(range(len(tr))); random.Random(ep).shuffle(order)
        tot = 0
        for idx in batches(st["train"], 32, order):
            logits = head(forward(st["train"], idx, tuned))
            loss = F.binary_cross_entropy_with_logits(logits, ytr_t[idx])
            opt.zero_grad(); loss.backward(); opt.step(); tot += loss.item() * len(idx)
        sv = scores(st["val"], head, tuned)
        vl = F.binary_cross_entropy(torch.from_numpy(sv).clamp(1e-6, 1 - 1e-6), torch.from_numpy(sets["val"][1])).item()
        print(f"epoch {ep+1}: train loss {tot/len(tr):.4f} val loss {vl:.4f} ({time.time()-t0:.0f} s)", flush=True)
        th = calibrate(sv, sets["val"][1])
        for k in ["val", "test", "test_obfuscated", "challenge", "benign_short", "benign_answers"]:
            report(k, sv if k == "val" else scores(st[k], head, tuned), sets[k][1], th)


if sys.argv[1:] == ["check"]:
    ids = tok.encode("The capital of France is", add_special_tokens=False).ids
    for _ in range(8):
        x = run_blocks([params(i) for i in range(cfg["num_hidden_layers"])], W["model.embed_tokens.weight"][torch.tensor([ids])])
        ids.append(int((rms(x[0, -1], W["model.norm.weight"]) @ W["model.embed_tokens.weight"].T).argmax()))
    print(tok.decode(ids))
else:
    main()
