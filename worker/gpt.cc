#include "worker/gpt.h"

#include <torch/version.h>

#include <cmath>

#include "worker/fast_ops.h"

namespace revsweep {
namespace F = torch::nn::functional;

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const GPTConfig& c)
    : n_head_(c.n_head), dropout_(c.dropout) {
  c_attn = register_module("c_attn", torch::nn::Linear(c.d_model, 3 * c.d_model));
  c_proj = register_module("c_proj", torch::nn::Linear(c.d_model, c.d_model));
}

namespace {

// Scaled dot-product attention, q (B, nh, Tq, hs) over k, v (B, nh, Tk, hs) -> (B, nh, Tq, hs);
// causal aligns the last query with the last key.
torch::Tensor Sdpa(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                   double dropout, bool causal) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, dropout, causal);
#else
  // 1.13: the private op of the same kernel (returns output and weights).
  return std::get<0>(at::_scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, dropout,
                                                       /*need_attn_weights=*/false, causal));
#endif
}

}  // namespace

torch::Tensor CausalSelfAttentionImpl::Attend(const torch::Tensor& qkv_btc) {
  const int64_t B = qkv_btc.size(0), T = qkv_btc.size(1), C = qkv_btc.size(2) / 3;
  auto qkv = qkv_btc.split(C, /*dim=*/2);                              // 3 x (B, T, C)
  auto q = qkv[0].view({B, T, n_head_, C / n_head_}).transpose(1, 2);  // (B, nh, T, hs)
  auto k = qkv[1].view({B, T, n_head_, C / n_head_}).transpose(1, 2);  // (B, nh, T, hs)
  auto v = qkv[2].view({B, T, n_head_, C / n_head_}).transpose(1, 2);  // (B, nh, T, hs)
  const double p = is_training() ? dropout_ : 0.0;
  auto y = Sdpa(q, k, v, p, /*causal=*/true);             // (B, nh, T, hs)
  return y.transpose(1, 2).contiguous().view({B, T, C});  // (B, T, C)
}

torch::Tensor CausalSelfAttentionImpl::Project(const torch::Tensor& y) {
  auto out = c_proj(y);
  if (dropout_ > 0)
    out = F::dropout(out, F::DropoutFuncOptions().p(dropout_).training(is_training()));
  return out;
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x) {
  return Project(Attend(c_attn(x)));  // (B, T, C)
}

torch::Tensor CausalSelfAttentionImpl::ForwardPacked(const torch::Tensor& x,
                                                     const torch::Tensor& rows, int64_t B,
                                                     int64_t T) {
  const int64_t C = x.size(1);
  // The buffer takes the projection's dtype: bf16 under autocast, fp32 otherwise.
  auto proj = c_attn(x);  // (N, 3C)
  // fp32 on the CPU without attention dropout: per document on the packed rows themselves
  // (worker/fast_ops.h; libtorch 1.13's bmm over many small matrices is mostly dispatch).
  if (CausalAttentionPackedIsFast(proj) && (dropout_ == 0 || !is_training())) {
    const std::vector<int64_t> lengths = PackedLengths(rows, B, T);
    if (!lengths.empty()) return Project(CausalAttentionPacked(proj, lengths, n_head_));  // (N, C)
  }
  auto qkv = torch::zeros({B * T, 3 * C}, proj.options())
                 .index_copy(0, rows, proj)  // padding rows stay zero
                 .view({B, T, 3 * C});
  return Project(Attend(qkv).view({B * T, C}).index_select(0, rows));  // (N, C)
}

torch::Tensor CausalSelfAttentionImpl::ForwardCached(const torch::Tensor& x, torch::Tensor& k_cache,
                                                     torch::Tensor& v_cache, int64_t past) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), hs = C / n_head_;
  TORCH_CHECK(past == 0 || T == 1, "a cached step takes the prompt or one token, not ", T);
  auto qkv = c_attn(x).split(C, /*dim=*/2);                   // 3 x (B, T, C)
  auto q = qkv[0].view({B, T, n_head_, hs}).transpose(1, 2);  // (B, nh, T, hs)
  k_cache.narrow(2, past, T).copy_(qkv[1].view({B, T, n_head_, hs}).transpose(1, 2));
  v_cache.narrow(2, past, T).copy_(qkv[2].view({B, T, n_head_, hs}).transpose(1, 2));
  auto k = k_cache.narrow(2, 0, past + T), v = v_cache.narrow(2, 0, past + T);  // (B, nh, L, hs)
  // A prompt attends causally within itself; one new token sees every position before it.
  auto y = Sdpa(q, k, v, /*dropout=*/0.0, /*causal=*/past == 0);   // (B, nh, T, hs)
  return Project(y.transpose(1, 2).contiguous().view({B, T, C}));  // (B, T, C)
}

MLPImpl::MLPImpl(const GPTConfig& c) : dropout_(c.dropout) {
  c_fc = register_module("c_fc", torch::nn::Linear(c.d_model, 4 * c.d_model));
  c_proj = register_module("c_proj", torch::nn::Linear(4 * c.d_model, c.d_model));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  auto y = c_proj(GeluTanh(c_fc(x)));  // (B, T, C); torch::gelu(.., "tanh"), faster on CPU
  if (dropout_ > 0) y = F::dropout(y, F::DropoutFuncOptions().p(dropout_).training(is_training()));
  return y;
}

BlockImpl::BlockImpl(const GPTConfig& c) {
  ln_1 = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
  attn = register_module("attn", CausalSelfAttention(c));
  ln_2 = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
  mlp = register_module("mlp", MLP(c));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  auto y = x + attn(ln_1(x));  // (B, T, C)
  return y + mlp(ln_2(y));     // (B, T, C)
}

torch::Tensor BlockImpl::ForwardPacked(const torch::Tensor& x, const torch::Tensor& rows, int64_t B,
                                       int64_t T) {
  auto y = x + attn->ForwardPacked(ln_1(x), rows, B, T);  // (N, C)
  return y + mlp(ln_2(y));                                // (N, C)
}

torch::Tensor BlockImpl::ForwardCached(const torch::Tensor& x, torch::Tensor& k_cache,
                                       torch::Tensor& v_cache, int64_t past) {
  auto y = x + attn->ForwardCached(ln_1(x), k_cache, v_cache, past);  // (B, T, C)
  return y + mlp(ln_2(y));                                            // (B, T, C)
}

void KVCache::KeepRows(const torch::Tensor& keep) {
  for (auto& t : k) t = t.index_select(0, keep);
  for (auto& t : v) t = t.index_select(0, keep);
}

GPTImpl::GPTImpl(const GPTConfig& c) : config_(c) {
  TORCH_CHECK(c.d_model % c.n_head == 0, "d_model must be divisible by n_head");
  wte = register_module("wte", torch::nn::Embedding(c.vocab_size, c.d_model));
  wpe = register_module("wpe", torch::nn::Embedding(c.block_size, c.d_model));
  h = register_module("h", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layer; ++i) h->push_back(Block(c));
  ln_f = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));

  // GPT-2 init: N(0, 0.02) everywhere, zero biases, residual projections scaled by
  // 1/sqrt(2 * n_layer) so the residual stream's variance does not grow with depth.
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    torch::Tensor& t = p.value();
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      if (name.find("ln_") == std::string::npos) t.zero_();
    } else if (name.find("ln_") != std::string::npos) {
      // LayerNorm weight stays 1.
    } else if (name.size() >= 13 && name.compare(name.size() - 13, 13, "c_proj.weight") == 0) {
      t.normal_(0.0, 0.02 / std::sqrt(2.0 * c.n_layer));
    } else {
      t.normal_(0.0, 0.02);
    }
  }
}

torch::Tensor GPTImpl::forward(const torch::Tensor& idx) { return Logits(Hidden(idx)); }

torch::Tensor GPTImpl::Logits(const torch::Tensor& hidden) {
  return F::linear(hidden, wte->weight);  // tied output embedding
}

torch::Tensor GPTImpl::HiddenPacked(const torch::Tensor& idx, const torch::Tensor& rows) {
  const int64_t B = idx.size(0), T = idx.size(1);
  TORCH_CHECK(T <= config_.block_size, "sequence of ", T, " tokens exceeds block_size ",
              config_.block_size);
  auto pos = torch::arange(T, idx.options().dtype(torch::kLong)).repeat({B});  // (B * T)
  auto x = wte(idx.reshape({-1}).index_select(0, rows)) + wpe(pos.index_select(0, rows));
  if (config_.dropout > 0)
    x = F::dropout(x, F::DropoutFuncOptions().p(config_.dropout).training(is_training()));
  for (auto& block : *h) x = block->as<Block>()->ForwardPacked(x, rows, B, T);  // (N, C)
  return ln_f(x);                                                               // (N, C)
}

torch::Tensor GPTImpl::Hidden(const torch::Tensor& idx) {
  const int64_t T = idx.size(1);
  TORCH_CHECK(T <= config_.block_size, "sequence of ", T, " tokens exceeds block_size ",
              config_.block_size);
  auto pos = torch::arange(T, idx.options().dtype(torch::kLong));  // (T)
  auto x = wte(idx) + wpe(pos);                                    // (B, T, C)
  if (config_.dropout > 0)
    x = F::dropout(x, F::DropoutFuncOptions().p(config_.dropout).training(is_training()));
  for (auto& block : *h) x = block->as<Block>()->forward(x);  // (B, T, C)
  return ln_f(x);                                             // (B, T, C)
}

KVCache GPTImpl::NewCache(int64_t B) const {
  KVCache cache;
  const auto opts = wte->weight.options().requires_grad(false);
  const int64_t hs = config_.d_model / config_.n_head;
  for (int64_t i = 0; i < config_.n_layer; ++i) {
    cache.k.push_back(torch::empty({B, config_.n_head, config_.block_size, hs}, opts));
    cache.v.push_back(torch::empty({B, config_.n_head, config_.block_size, hs}, opts));
  }
  return cache;
}

torch::Tensor GPTImpl::NextLogits(const torch::Tensor& idx, KVCache* cache) {
  const int64_t T = idx.size(1), past = cache->length;
  TORCH_CHECK(past + T <= config_.block_size, "sequence of ", past + T,
              " tokens exceeds block_size ", config_.block_size);
  auto pos = torch::arange(past, past + T, idx.options().dtype(torch::kLong));  // (T)
  auto x = wte(idx) + wpe(pos);                                                 // (B, T, C)
  for (size_t i = 0; i < h->size(); ++i)
    x = (*h)[i]->as<Block>()->ForwardCached(x, cache->k[i], cache->v[i], past);  // (B, T, C)
  cache->length = past + T;
  return Logits(ln_f(x.select(1, T - 1)));  // (B, V)
}

int64_t GPTImpl::NumParams(bool non_embedding) const {
  int64_t n = 0;
  for (const auto& p : named_parameters()) {
    if (non_embedding && (p.key() == "wte.weight" || p.key() == "wpe.weight")) continue;
    n += p.value().numel();
  }
  return n;
}

}  // namespace revsweep
