// A GPT in nanoGPT's shape: pre-LN blocks, causal self-attention through
// at::_scaled_dot_product_attention, GELU (tanh approximation, as GPT-2) MLP, tied input and
// output embeddings, GPT-2's scaled init. Parameter names match Hugging Face GPT-2's modules
// without the "transformer." prefix ("h.0.attn.c_attn.weight"), so GPT-2 checkpoints map
// onto it one to one (after transposing GPT-2's Conv1D weights).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace revsweep {

struct GPTConfig {
  int64_t vocab_size = 1000;  // tokens, including special ids
  int64_t block_size = 64;    // longest sequence the position table covers
  int64_t n_layer = 4;        // transformer blocks
  int64_t n_head = 4;         // attention heads; d_model % n_head == 0
  int64_t d_model = 128;      // residual width
  double dropout = 0.0;       // on embeddings, attention output and MLP output
};

class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const GPTConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)
  // The same on packed rows: x (N, C) holds the positions `rows` (indices into B * T) of a
  // right-padded batch; only attention needs the (B, T) layout (padding is zeros there, and
  // causal attention never lets a real position see the padding after it). -> (N, C)
  torch::Tensor ForwardPacked(const torch::Tensor& x, const torch::Tensor& rows, int64_t B,
                              int64_t T);
  // Incremental decoding: x (B, T, C) holds positions past .. past + T - 1; their keys and
  // values are written into the caches (B, nh, block_size, hs) at those positions and the new
  // queries attend to positions 0 .. past + T - 1. Either past == 0 (a prompt) or T == 1 (one
  // new token). -> (B, T, C)
  torch::Tensor ForwardCached(const torch::Tensor& x, torch::Tensor& k_cache,
                              torch::Tensor& v_cache, int64_t past);

  torch::nn::Linear c_attn{nullptr}, c_proj{nullptr};

 private:
  // Causal multi-head attention over a (B, T, 3C) block of q, k, v -> (B, T, C).
  torch::Tensor Attend(const torch::Tensor& qkv);
  // The output projection (and dropout).
  torch::Tensor Project(const torch::Tensor& y);

  int64_t n_head_;
  double dropout_;
};
TORCH_MODULE(CausalSelfAttention);

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const GPTConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};

 private:
  double dropout_;
};
TORCH_MODULE(MLP);

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const GPTConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)
  torch::Tensor ForwardPacked(const torch::Tensor& x, const torch::Tensor& rows, int64_t B,
                              int64_t T);  // (N, C) -> (N, C), see CausalSelfAttention
  torch::Tensor ForwardCached(const torch::Tensor& x, torch::Tensor& k_cache,
                              torch::Tensor& v_cache, int64_t past);  // see CausalSelfAttention

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  CausalSelfAttention attn{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(Block);

// Keys and values of the positions a batch has seen, per layer, for greedy decoding one token
// at a time (each step then costs one position, not the whole sequence again).
struct KVCache {
  std::vector<torch::Tensor> k, v;  // per layer, (B, nh, block_size, hs)
  int64_t length = 0;               // positions filled

  // Keeps only the batch rows `keep` (int64 indices, on the cache's device).
  void KeepRows(const torch::Tensor& keep);
};

class GPTImpl : public torch::nn::Module {
 public:
  // Builds the model and initialises it from the current torch RNG state (seed it first).
  explicit GPTImpl(const GPTConfig& c);
  // idx: (B, T) int64 token ids, T <= block_size. Returns logits (B, T, vocab_size).
  torch::Tensor forward(const torch::Tensor& idx);
  // The two halves of forward(): final hidden states after ln_f, (B, T, C), and the tied
  // output projection, (..., C) -> (..., vocab_size). Training applies Logits only to the
  // positions that have a target (the projection is the largest matmul of a small model).
  torch::Tensor Hidden(const torch::Tensor& idx);
  torch::Tensor Logits(const torch::Tensor& hidden);
  // Hidden() for the real positions only: `rows` (int64, ascending) indexes the flattened
  // (B * T) positions of a right-padded batch that are not padding. Every per-position
  // computation (embeddings, layer norms, projections, MLPs: most of a small model's work)
  // runs on those N rows only. -> (N, C), equal to Hidden(idx).view({-1, C})[rows] up to
  // floating-point rounding.
  torch::Tensor HiddenPacked(const torch::Tensor& idx, const torch::Tensor& rows);
  // An empty cache for a batch of B sequences, on the parameters' device and dtype.
  KVCache NewCache(int64_t B) const;
  // Incremental forward: idx (B, T) are the next T tokens of each sequence (the whole prompt
  // when the cache is empty, else one token). Extends the cache and returns the logits of the
  // last position, (B, vocab_size): equal to forward(whole sequence)[:, -1] up to rounding.
  torch::Tensor NextLogits(const torch::Tensor& idx, KVCache* cache);
  // Parameter count; tied weights counted once. non_embedding excludes wte and wpe.
  int64_t NumParams(bool non_embedding = false) const;
  const GPTConfig& config() const { return config_; }

  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  torch::nn::ModuleList h{nullptr};
  torch::nn::LayerNorm ln_f{nullptr};

 private:
  GPTConfig config_;
};
TORCH_MODULE(GPT);

}  // namespace revsweep
