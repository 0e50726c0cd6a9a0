// CPU kernels for the trainer's packed-row step where libtorch 1.13's own are slow for small
// models (docs/PERFORMANCE.md, "Trainer MFU"):
// - causal attention per document on packed rows: libtorch's bmm over (batch x heads) small
//   matrices runs one addmm per matrix with ~20 us of dispatch each (select, resolve_conj,
//   checks), more than the attention's arithmetic; here every (document, head) is two BLAS
//   sgemm calls forward and four backward on the packed rows themselves (no padding, no
//   transposed copies), with the causal softmax in between;
// - GELU (tanh approximation) and the summed cross-entropy: one pass forward and one backward
//   each, with a vectorisable exp, instead of libtorch's multi-pass kernels;
// - clipping and AdamW fused per parameter (below).
// Loops are compiled for AVX-512, AVX2 and baseline x86-64 (chosen at run time).
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <string>
#include <vector>

namespace revsweep {

// GELU with the tanh approximation (GPT-2's), 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
// with autograd. Computed as x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) (the same function)
// with a fast exp: within a few float ulps of torch::gelu(x, "tanh") (gradient likewise).
// Falls back to torch::gelu for anything but a float32 CPU tensor (bf16 under autocast, CUDA).
torch::Tensor GeluTanh(const torch::Tensor& x);

// Whether GeluTanh takes the fast path for x.
bool GeluTanhIsFast(const torch::Tensor& x);

// Causal multi-head self-attention over packed rows, with autograd. qkv: (N, 3C) float32 CPU,
// the rows of documents laid end to end (document i: `lengths[i]` rows, the first at
// position 0), each row [q | k | v] with heads of C / n_head columns. Returns (N, C): per
// document and head softmax(q k^T / sqrt(C / n_head), causal) v, the heads side by side, as
// at::_scaled_dot_product_attention(is_causal) on the padded (B, nh, T, hs) layout gives for
// the real positions. No dropout.
torch::Tensor CausalAttentionPacked(const torch::Tensor& qkv, const std::vector<int64_t>& lengths,
                                    int64_t n_head);

// Whether CausalAttentionPacked can run on qkv (float32 CPU, and a BLAS sgemm was found in
// the process).
bool CausalAttentionPackedIsFast(const torch::Tensor& qkv);

// Summed cross-entropy, sum_i (logsumexp(logits[i]) - logits[i][targets[i]]), with autograd:
// torch::nn::functional::cross_entropy(logits, targets, reduction sum) in one pass forward
// and one backward with a vectorisable exp (libtorch's log_softmax + nll_loss make several
// passes over the (M, V) logits, a large part of a small model's step). Falls back to
// libtorch for anything but (M, V) float32 CPU logits; targets (M) int64, each in [0, V).
torch::Tensor CrossEntropySum(const torch::Tensor& logits, const torch::Tensor& targets);

// A parameter's key in torch::optim::Optimizer::state(): libtorch 1.x keys by the TensorImpl's
// address printed as a string, 2.x by the address itself.
#if TORCH_VERSION_MAJOR >= 2
using OptimizerStateKeyT = void*;
#else
using OptimizerStateKeyT = std::string;
#endif
OptimizerStateKeyT OptimizerStateKey(const torch::Tensor& p);

// Gradient clipping and one AdamW step in two passes over each parameter, instead of
// libtorch 1.13's ~15 tensor operations per parameter (each with its dispatch and a scalar
// converted to a tensor: a fifth of a nano model's step). The same arithmetic as
// torch::nn::utils::clip_grad_norm_(params, max_norm) over the optimizer's parameters
// followed by optimizer.step() (no amsgrad), with the state in the optimizer itself (so
// checkpoints are unchanged): results agree to float rounding (the norm is summed in double).
// max_norm <= 0: no clipping. Returns false without changing anything when a parameter,
// gradient or state is not a contiguous float32 CPU tensor or amsgrad is on; the caller then
// runs libtorch's.
bool ClipAndAdamWStep(torch::optim::AdamW& optimizer, double max_norm);

// The document lengths of a right-padded batch's packed rows: `rows` (int64 CPU, ascending)
// indexes the flattened (B * T) positions that are not padding. Empty when the rows are not
// per-row prefixes (position 0, 1, ... of each batch row) or not on the CPU.
std::vector<int64_t> PackedLengths(const torch::Tensor& rows, int64_t B, int64_t T);

}  // namespace revsweep
