#!/usr/bin/python3
"""Writes a small random GPT-2 checkpoint in Hugging Face's format, and a reference forward.

Used by tests/worker/gpt2_import_test.cc (run with Debian's /usr/bin/python3, which has torch;
no transformers, no safetensors package: the safetensors file is written by hand here so the
C++ reader is checked against an independent writer).

    gpt2_reference.py write DIR [--dtype f32|f16|bf16] [--shards N] [--no-prefix]
                                [--seed S] [--corrupt KIND]

writes into DIR:
  config.json               Hugging Face GPT2Config keys (n_layer 2, n_head 2, n_embd 64,
                            vocab_size 300, n_positions 32, gelu_new, eps 1e-5)
  model.safetensors         or, with --shards N > 1, model-0000i-of-0000N.safetensors and
                            model.safetensors.index.json ({"weight_map": {name: file}})
  reference.json            {"tokens": [[...], ...], "logits_shape": [B, T, V], ...}
  reference_logits.f32      raw little-endian float32 logits of the reference forward

Tensor names are GPT2LMHeadModel's ("transformer.h.0.attn.c_attn.weight", the causal-mask
buffers "transformer.h.{i}.attn.bias"/"attn.masked_bias", a tied "lm_head.weight"); with
--no-prefix they are GPT2Model's as on the Hub's gpt2 files ("h.0.attn.c_attn.weight", no
lm_head). Linear weights are in GPT-2's Conv1D layout, (in, out).

The reference forward is standard GPT-2 in plain PyTorch, in float64, on the weights as stored
(after rounding to --dtype), so a correct loader matches it within float32 rounding whatever
the file's dtype.

    gpt2_reference.py write-all BASE

writes every variant the C++ test uses, each into BASE/NAME (see VARIANTS), in one process.

--corrupt KIND writes a bad checkpoint: "shape" (h.1.attn.c_attn.weight stored (out, in)),
"missing" (no h.1.mlp.c_fc.bias), "dtype" (h.0.ln_1.weight stored as I32), "nan" (a NaN in
h.0.mlp.c_fc.weight), "untied" (lm_head.weight differs from wte.weight), "extra" (an unknown
tensor "h.0.attn.rotary.weight").
"""

import argparse
import json
import math
import os
import struct
import sys

import torch

CONFIG = {
    "activation_function": "gelu_new",
    "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1,
    "bos_token_id": 299,
    "embd_pdrop": 0.1,
    "eos_token_id": 299,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "gpt2",
    "n_ctx": 32,
    "n_embd": 64,
    "n_head": 2,
    "n_inner": None,
    "n_layer": 2,
    "n_positions": 32,
    "resid_pdrop": 0.1,
    "scale_attn_weights": True,
    "vocab_size": 300,
}
BATCH = 2

DTYPES = {"f32": (torch.float32, "F32"), "f16": (torch.float16, "F16"), "bf16": (torch.bfloat16, "BF16")}


def random_weights(seed):
    """GPT-2 parameters with our names (no prefix), Conv1D layout, float32."""
    g = torch.Generator().manual_seed(seed)
    c = CONFIG
    d, v, p = c["n_embd"], c["vocab_size"], c["n_positions"]

    def rnd(*shape, std=0.1, mean=0.0):
        return torch.randn(*shape, generator=g, dtype=torch.float32) * std + mean

    w = {"wte.weight": rnd(v, d, std=0.2), "wpe.weight": rnd(p, d, std=0.1)}
    for i in range(c["n_layer"]):
        h = f"h.{i}."
        w[h + "ln_1.weight"] = rnd(d, mean=1.0)
        w[h + "ln_1.bias"] = rnd(d, std=0.05)
        w[h + "attn.c_attn.weight"] = rnd(d, 3 * d, std=0.15)
        w[h + "attn.c_attn.bias"] = rnd(3 * d, std=0.05)
        w[h + "attn.c_proj.weight"] = rnd(d, d, std=0.1)
        w[h + "attn.c_proj.bias"] = rnd(d, std=0.05)
        w[h + "ln_2.weight"] = rnd(d, mean=1.0)
        w[h + "ln_2.bias"] = rnd(d, std=0.05)
        w[h + "mlp.c_fc.weight"] = rnd(d, 4 * d, std=0.1)
        w[h + "mlp.c_fc.bias"] = rnd(4 * d, std=0.05)
        w[h + "mlp.c_proj.weight"] = rnd(4 * d, d, std=0.05)
        w[h + "mlp.c_proj.bias"] = rnd(d, std=0.05)
    w["ln_f.weight"] = rnd(d, mean=1.0)
    w["ln_f.bias"] = rnd(d, std=0.05)
    tokens = torch.randint(0, v, (BATCH, p), generator=g)
    return w, tokens


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased, as torch.nn.LayerNorm
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def reference_forward(w, idx):
    """Standard GPT-2 (pre-LN, causal softmax attention, gelu_new, ln_f, tied head)."""
    c = CONFIG
    nh, d = c["n_head"], c["n_embd"]
    hs = d // nh
    B, T = idx.shape
    x = w["wte.weight"][idx] + w["wpe.weight"][:T]  # (B, T, C)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(c["n_layer"]):
        h = f"h.{i}."
        a = layer_norm(x, w[h + "ln_1.weight"], w[h + "ln_1.bias"])
        qkv = a @ w[h + "attn.c_attn.weight"] + w[h + "attn.c_attn.bias"]  # Conv1D: x W + b
        q, k, v = qkv.split(d, dim=2)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)
        v = v.view(B, T, nh, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, nh, T, T)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + (y @ w[h + "attn.c_proj.weight"] + w[h + "attn.c_proj.bias"])
        m = layer_norm(x, w[h + "ln_2.weight"], w[h + "ln_2.bias"])
        m = gelu_new(m @ w[h + "mlp.c_fc.weight"] + w[h + "mlp.c_fc.bias"])
        x = x + (m @ w[h + "mlp.c_proj.weight"] + w[h + "mlp.c_proj.bias"])
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"])
    return x @ w["wte.weight"].t()  # (B, T, V)


def tensor_bytes(t, st_dtype):
    t = t.contiguous()
    if st_dtype == "BF16":  # numpy has no bfloat16: write the raw 16-bit patterns
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    if st_dtype == "F16":
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    if st_dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if st_dtype == "I32":
        return t.to(torch.int32).numpy().astype("<i4").tobytes()
    raise ValueError(st_dtype)


def write_safetensors(path, entries, metadata=None):
    """entries: list of (name, st_dtype, shape, bytes). The format, by hand."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, st_dtype, shape, data in entries:
        header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, _, data in entries:
            f.write(data)


def cmd_write(args):
    os.makedirs(args.dir, exist_ok=True)
    torch_dtype, st_dtype = DTYPES[args.dtype]
    w, tokens = random_weights(args.seed)
    # The weights as the file stores them (rounded to its dtype), back in float32.
    stored = {k: t.to(torch_dtype).to(torch.float32) for k, t in w.items()}

    prefix = "" if args.no_prefix else "transformer."
    entries = []  # (name, st_dtype, shape, bytes)
    for k, t in stored.items():
        dt = st_dtype
        if args.corrupt == "missing" and k == "h.1.mlp.c_fc.bias":
            continue
        if args.corrupt == "shape" and k == "h.1.attn.c_attn.weight":
            t = t.t()  # Linear's (out, in), not Conv1D's (in, out)
        if args.corrupt == "dtype" and k == "h.0.ln_1.weight":
            dt = "I32"
        if args.corrupt == "nan" and k == "h.0.mlp.c_fc.weight":
            t = t.clone()
            t[3, 5] = float("nan")
        entries.append((prefix + k, dt, t.shape, tensor_bytes(t, dt)))
    n_pos = CONFIG["n_positions"]
    for i in range(CONFIG["n_layer"]):  # the buffers GPT2Attention registers
        mask = torch.tril(torch.ones(n_pos, n_pos)).view(1, 1, n_pos, n_pos)
        entries.append((f"{prefix}h.{i}.attn.bias", st_dtype, mask.shape, tensor_bytes(mask, st_dtype)))
        mb = torch.tensor(-1e4)
        entries.append((f"{prefix}h.{i}.attn.masked_bias", st_dtype, [], tensor_bytes(mb, st_dtype)))
    if prefix:
        head = stored["wte.weight"]
        if args.corrupt == "untied":
            head = head + 0.5
        entries.append(("lm_head.weight", st_dtype, head.shape, tensor_bytes(head, st_dtype)))
    if args.corrupt == "extra":
        e = torch.zeros(4, 4)
        entries.append((prefix + "h.0.attn.rotary.weight", st_dtype, e.shape, tensor_bytes(e, st_dtype)))

    entries.sort(key=lambda e: e[0])
    meta = {"format": "pt", "writer": "tests/tools/gpt2_reference.py"}
    if args.shards <= 1:
        write_safetensors(os.path.join(args.dir, "model.safetensors"), entries, meta)
    else:
        n = args.shards
        per = (len(entries) + n - 1) // n
        weight_map = {}
        total = 0
        for s in range(n):
            fname = f"model-{s + 1:05d}-of-{n:05d}.safetensors"
            chunk = entries[s * per:(s + 1) * per]
            write_safetensors(os.path.join(args.dir, fname), chunk, meta)
            for name, _, _, data in chunk:
                weight_map[name] = fname
                total += len(data)
        with open(os.path.join(args.dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)

    with open(os.path.join(args.dir, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)

    w64 = {k: t.to(torch.float64) for k, t in stored.items()}
    with torch.no_grad():
        logits = reference_forward(w64, tokens).to(torch.float32)
    with open(os.path.join(args.dir, "reference_logits.f32"), "wb") as f:
        f.write(logits.contiguous().numpy().astype("<f4").tobytes())
    with open(os.path.join(args.dir, "reference.json"), "w") as f:
        json.dump({"tokens": tokens.tolist(), "logits_shape": list(logits.shape), "dtype": args.dtype,
                   "seed": args.seed}, f)


# Name -> `write` arguments of each checkpoint tests/worker/gpt2_import_test.cc reads.
VARIANTS = {
    "f32": [],
    "noprefix": ["--no-prefix"],
    "sharded": ["--shards", "2"],
    "f16": ["--dtype", "f16"],
    "bf16": ["--dtype", "bf16"],
    "shape": ["--corrupt", "shape"],
    "missing": ["--corrupt", "missing"],
    "dtype": ["--corrupt", "dtype"],
    "nan": ["--corrupt", "nan"],
    "untied": ["--corrupt", "untied"],
    "extra": ["--corrupt", "extra"],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="write a random GPT-2 checkpoint and reference logits")
    w.add_argument("dir")
    w.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    w.add_argument("--shards", type=int, default=1)
    w.add_argument("--no-prefix", action="store_true")
    w.add_argument("--seed", type=int, default=1234)
    w.add_argument("--corrupt", choices=["shape", "missing", "dtype", "nan", "untied", "extra"])
    wa = sub.add_parser("write-all", help="write every variant of VARIANTS under BASE")
    wa.add_argument("base")
    args = ap.parse_args()
    if args.cmd == "write":
        cmd_write(args)
    else:
        for name, extra in VARIANTS.items():
            cmd_write(w.parse_args([os.path.join(args.base, name)] + extra))
    return 0


if __name__ == "__main__":
    sys.exit(main())
