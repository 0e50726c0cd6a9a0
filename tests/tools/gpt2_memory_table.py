#!/usr/bin/env python3
"""Prints the GPT-2 fine-tuning memory table of docs/GPT2.md and docs/PERFORMANCE.md.

    tests/tools/gpt2_memory_table.py [--batch 8] [--tokens 128]

Per model: parameters (tied lm_head, the full 1024-row wpe), then bytes for
  weights, gradients   4 B/param each in fp32, 2 B/param each in bf16
  AdamW state          m and v in fp32: 8 B/param in every variant
  activations          per layer B*T*d*(34 + 5*a*T/d) bytes for 16-bit activations
                       (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
                       Transformer Models", eq. 1, no recomputation); twice that in fp32
  LM head and loss     logits, their log-softmax and the gradient, B*T*V values each:
                       3 x 4 B in fp32, 2 + 4 + 4 B under bf16 (the loss runs in fp32)
Variants: "fp32" (everything fp32), "bf16 autocast" (fp32 weights, gradients and AdamW,
bf16 activations), "bf16 weights" (bf16 weights and gradients, fp32 AdamW, bf16 activations).
Estimates: allocator slack, workspaces and the data batch are not counted.
Standard library only.
"""

import argparse

MODELS = [  # name, n_layer, n_head, d_model
    ("gpt2 (124M)", 12, 12, 768),
    ("gpt2-medium (355M)", 24, 16, 1024),
    ("gpt2-large (774M)", 36, 20, 1280),
    ("gpt2-xl (1.5B)", 48, 25, 1600),
]
VOCAB, POSITIONS = 50257, 1024
GIB = 2**30


def params(L, d):
    return VOCAB * d + POSITIONS * d + L * (12 * d * d + 13 * d) + 2 * d


def rows(B, T):
    out = []
    for name, L, a, d in MODELS:
        p = params(L, d)
        act16 = L * B * T * d * (34 + 5 * a * T / d)
        head = B * T * VOCAB
        fp32 = {"state": 16 * p, "act": 2 * act16, "head": 12 * head}
        autocast = {"state": 16 * p, "act": act16, "head": 10 * head}
        bf16w = {"state": 12 * p, "act": act16, "head": 10 * head}
        out.append((name, p, fp32, autocast, bf16w))
    return out


def g(x):
    return f"{x / GIB:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=128)
    args = ap.parse_args()
    B, T = args.batch, args.tokens
    print(f"B = {B} sequences of T = {T} tokens; GiB = 2^30 bytes.\n")
    print("| model | params | weights fp32 | grads fp32 | AdamW m+v fp32 | activations bf16 "
          "| activations fp32 | LM head + loss fp32 | total fp32 | total bf16 autocast "
          "| total bf16 weights |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, p, fp32, autocast, bf16w in rows(B, T):
        total = lambda v: v["state"] + v["act"] + v["head"]  # noqa: E731
        print(f"| {name} | {p / 1e6:.1f} M | {g(4 * p)} | {g(4 * p)} | {g(8 * p)} "
              f"| {g(autocast['act'])} | {g(fp32['act'])} | {g(fp32['head'])} "
              f"| **{g(total(fp32))}** | **{g(total(autocast))}** | **{g(total(bf16w))}** |")


if __name__ == "__main__":
    main()
