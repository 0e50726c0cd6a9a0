#!/usr/bin/python3
"""Reference trainer for bench_torch_trainer_vs_python: the same GPT, optimizer, schedule,
batches and data as worker/trainer.cc RunTrial (one rank), written the way a PyTorch user
would write it, run on Debian's python3-torch (the same libtorch build the C++ side links:
1.13 on Debian 12, 2.6 on Debian 13).

Usage: /usr/bin/python3 bench/reference_trainer.py SPEC_FILE [--threads N] [--warmup W]

SPEC_FILE is written by bench_torch_trainer_vs_python (whitespace-separated, see
WriteSpec there): vocab/special ids, model shape, optimizer settings, the documents and, for
every step, the document indices of that step's batch (RunTrial's EpochPermutation order).

Prints one `key value` pair per line:
  tokens_per_s  counted target tokens / second over steps W+1..N (steps 1..W are warmup)
  seconds       the timed span (wall clock)
  cpu_seconds   process CPU time over the same span (robust to a shared, loaded machine)
  loss_first    loss of step 1 (RunTrial's step loss: target-token mean)
  loss_last     loss of step N
The model is initialised exactly like worker/gpt.cc (modules built in the same order from the
same seed, then N(0, 0.02) / scaled init in named_parameters() order), so the loss curve
matches the C++ trainer's to float precision; the benchmark checks that. `cproj_scaled` in
the spec says whether the residual projections get GPT-2's 0.02/sqrt(2 n_layer) (the C++
side detects what worker/gpt.cc actually does and asks for the same).
"""
import argparse
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_spec(path):
    with open(path) as f:
        tok = f.read().split()
    pos = 0

    def take(conv=int):
        nonlocal pos
        v = tok[pos]
        pos += 1
        return conv(v)

    spec = {}
    assert take(str) == "revsweep-trainer-spec-v1"
    for key, conv in [("vocab", int), ("bos", int), ("eos", int), ("pad", int),
                      ("n_layer", int), ("n_head", int), ("d_model", int), ("block_size", int),
                      ("lr", float), ("min_lr", float), ("warmup", int), ("beta1", float),
                      ("beta2", float), ("weight_decay", float), ("grad_clip", float),
                      ("seed", int), ("completion_only", int), ("total_steps", int),
                      ("cproj_scaled", int)]:
        name = take(str)
        assert name == key, (name, key)
        spec[key] = take(conv)
    assert take(str) == "docs"
    docs = []
    for _ in range(take()):
        np_ = take()
        prompt = [take() for _ in range(np_)]
        nc = take()
        completion = [take() for _ in range(nc)]
        docs.append((prompt, completion))
    spec["docs"] = docs
    assert take(str) == "steps"
    steps = []
    for _ in range(take()):
        n = take()
        steps.append([take() for _ in range(n)])
    spec["steps"] = steps
    return spec


def scaled_dot_product_attention(q, k, v):
    """Causal SDPA, no dropout: the kernel worker/gpt.cc calls on the same torch version."""
    if hasattr(F, "scaled_dot_product_attention"):  # torch 2.x (at::scaled_dot_product_attention)
        return F.scaled_dot_product_attention(q, k, v, None, 0.0, is_causal=True)
    # torch 1.13 exposes SDPA only as the private aten op (at::_scaled_dot_product_attention),
    # which torch 2.0 removed; it returns output and weights.
    return torch.ops.aten._scaled_dot_product_attention(q, k, v, None, 0.0, False, True)[0]


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.n_head = n_head

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = scaled_dot_product_attention(q, k, v)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.c_fc = nn.Linear(d_model, 4 * d_model)
        self.c_proj = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, d_model, n_head):
        super().__init__()
        # Registration order = worker/gpt.cc BlockImpl (ln_1, attn, ln_2, mlp).
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_head)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab, block_size, n_layer, n_head, d_model, cproj_scaled=True):
        super().__init__()
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Embedding(block_size, d_model)
        self.h = nn.ModuleList([Block(d_model, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d_model)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith(".bias"):
                    if "ln_" not in name:
                        p.zero_()
                elif "ln_" in name:
                    pass
                elif name.endswith("c_proj.weight") and cproj_scaled:
                    p.normal_(0.0, 0.02 / math.sqrt(2.0 * n_layer))
                else:
                    p.normal_(0.0, 0.02)

    def forward(self, idx):
        T = idx.size(1)
        pos = torch.arange(T, dtype=torch.long)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        return F.linear(x, self.wte.weight)  # tied output embedding


def learning_rate(s, step, total):
    if s["warmup"] > 0 and step < s["warmup"]:
        return s["lr"] * (step + 1) / s["warmup"]
    span = max(1, total - s["warmup"])
    progress = min(1.0, (step - s["warmup"]) / span)
    return s["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * progress)) * (s["lr"] - s["min_lr"])


def make_batch(s, doc_ids):
    rows_in, rows_tg, tokens = [], [], 0
    seqs = []
    for d in doc_ids:
        prompt, completion = s["docs"][d]
        seqs.append(([s["bos"]] + prompt + completion + [s["eos"]], len(prompt)))
    T = max(len(q) for q, _ in seqs) - 1
    for seq, np_ in seqs:
        first = np_ if s["completion_only"] else 0
        n = len(seq) - 1
        rows_in.append(seq[:-1] + [s["pad"]] * (T - n))
        rows_tg.append([-1] * first + seq[first + 1:] + [-1] * (T - n))
        tokens += n - first
    return torch.tensor(rows_in), torch.tensor(rows_tg), tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    s = read_spec(args.spec)

    torch.manual_seed(s["seed"])
    model = GPT(s["vocab"], s["block_size"], s["n_layer"], s["n_head"], s["d_model"],
                bool(s["cproj_scaled"]))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=s["lr"], betas=(s["beta1"], s["beta2"]))
    params = list(model.parameters())
    model.train()

    steps = s["steps"]
    total = s["total_steps"]
    t_start = cpu_start = None
    timed_tokens = 0
    loss_first = loss_last = float("nan")
    for step, doc_ids in enumerate(steps):
        inp, tgt, tokens = make_batch(s, doc_ids)
        logits = model(inp)
        loss_sum = F.cross_entropy(logits.view(-1, logits.size(-1)), tgt.view(-1),
                                   ignore_index=-1, reduction="sum")
        loss = loss_sum * (1.0 / tokens)
        loss.backward()
        step_loss = loss_sum.item() / tokens
        if s["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(params, s["grad_clip"])
        lr = learning_rate(s, step, total)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        opt.zero_grad()
        if step == 0:
            loss_first = step_loss
        loss_last = step_loss
        if step + 1 == args.warmup:
            t_start = time.perf_counter()
            cpu_start = time.process_time()
        elif step + 1 > args.warmup:
            timed_tokens += tokens
    seconds = time.perf_counter() - t_start
    cpu_seconds = time.process_time() - cpu_start
    print(f"tokens_per_s {timed_tokens / seconds:.6f}")
    print(f"seconds {seconds:.6f}")
    print(f"cpu_seconds {cpu_seconds:.6f}")
    print(f"loss_first {loss_first:.9g}")
    print(f"loss_last {loss_last:.9g}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
