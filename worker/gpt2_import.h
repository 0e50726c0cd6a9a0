// Importing Hugging Face GPT-2-family checkpoints (gpt2, gpt2-medium, gpt2-large, gpt2-xl, or
// any folder in their format) into revsweep's GPT, for `model.init_from: /path/to/folder`.
//
// A checkpoint folder holds config.json and model.safetensors, or
// model.safetensors.index.json and its shards. Tensor names are GPT-2's, with or without the
// "transformer." prefix; the attention-mask buffers (attn.bias, attn.masked_bias) are
// skipped; lm_head.weight, when present, must equal wte.weight (tied). GPT-2 stores its
// attention and MLP projections as Conv1D weights, (in, out), which are transposed into our
// torch::nn::Linear's (out, in). See docs/GPT2.md.
#pragma once

#include <string>

#include "worker/gpt.h"

namespace revsweep {

// True when `dir` has config.json and model.safetensors or model.safetensors.index.json:
// what tells a Hugging Face folder from a revsweep checkpoint in model.init_from.
bool IsGpt2CheckpointDir(const std::string& dir);

// The GPT shape of the checkpoint in `dir`, from its config.json: n_layer, n_head, n_embd
// (-> d_model), n_positions (or n_ctx) -> block_size, vocab_size; dropout is 0 (the sweep's
// model.dropout is the caller's to set). Throws UserError (file config.json, key = the JSON
// key) when config.json is missing or malformed, or describes a model our GPT cannot
// represent: layer_norm_epsilon other than 1e-5, activation_function other than gelu_new
// (or its equal gelu_pytorch_tanh), n_inner other than 4 * n_embd, model_type other than
// gpt2, scale_attn_by_inverse_layer_idx, unscaled attention, or cross-attention.
GPTConfig ReadGpt2Config(const std::string& dir);

// Overwrites every parameter of `model` with the checkpoint's weights in `dir` (the model
// may be on any device and of any floating dtype). The model's n_layer, n_head, d_model and
// vocab_size must equal the checkpoint's; its block_size may be smaller than n_positions,
// and then the first block_size rows of wpe are loaded (positions beyond the model's are
// never used). Every parameter must be present with its exact shape (Conv1D weights
// as (in, out)) and an F32, F16 or BF16 dtype, and the file may hold nothing but parameters,
// the skipped buffers and a tied lm_head.weight; all of this is checked from the headers
// before any weight is copied, so such an error leaves the model untouched. Throws UserError
// naming the file and the tensor, e.g.
//   ".../model.safetensors: h.3.attn.c_attn.weight: expected shape [768, 2304]
//    (Conv1D, in x out), got [768, 768]".
// A weight holding NaN or Inf is reported the same way, after the weights before it were
// copied.
void LoadGpt2Weights(GPT& model, const std::string& dir);

// ReadGpt2Config, then a GPT of that shape (block_size cut to `block_size` when that is
// positive and smaller, dropout set to `dropout`) with the weights loaded, on the CPU.
// Throws UserError as the two above, and when block_size exceeds the checkpoint's n_positions.
GPT LoadGpt2Model(const std::string& dir, int64_t block_size = 0, double dropout = 0.0);

}  // namespace revsweep
