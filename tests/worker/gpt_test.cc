#include "worker/gpt.h"

#include <gtest/gtest.h>

#include "common/data/trial_data.h"

namespace revsweep {
namespace {

// vocab 50, block 16, 2 layers, 2 heads, d_model 32.
GPTConfig SmallConfig() {
  GPTConfig c;
  c.vocab_size = 50;
  c.block_size = 16;
  c.n_layer = 2;
  c.n_head = 2;
  c.d_model = 32;
  return c;
}

TEST(Gpt, ShapesAndParameterCount) {
  torch::manual_seed(0);
  const GPTConfig c = SmallConfig();
  GPT m(c);
  auto idx = torch::randint(0, 50, {3, 10}, torch::kLong);
  auto logits = m->forward(idx);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 10, 50}));
  EXPECT_EQ(m->NumParams(), GptParamCount(50, 16, 2, 32));
  EXPECT_EQ(m->NumParams(/*non_embedding=*/true), GptParamCount(50, 16, 2, 32) - (50 + 16) * 32);
  // Tied embeddings: no separate lm_head parameter.
  for (const auto& p : m->named_parameters()) EXPECT_EQ(p.key().find("lm_head"), std::string::npos);
  EXPECT_THROW(m->forward(torch::zeros({1, 17}, torch::kLong)), c10::Error);
}

TEST(Gpt, PackedRowsEqualThePaddedForwardAndGradients) {
  // Right-padded rows of lengths 10, 4, 7 in a (3, 10) batch; the padding holds garbage ids
  // that must not influence anything.
  torch::manual_seed(3);
  const GPTConfig c = SmallConfig();
  GPT a(c);
  torch::manual_seed(3);
  GPT b(c);
  const int64_t B = 3, T = 10, C = 32;
  const int64_t len[] = {10, 4, 7};
  auto idx = torch::randint(0, 50, {B, T}, torch::kLong);
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < B; ++r)
    for (int64_t j = 0; j < len[r]; ++j) rows.push_back(r * T + j);
  auto rows_t = torch::tensor(rows, torch::kLong);
  auto padded = a->Hidden(idx).reshape({-1, C}).index_select(0, rows_t);  // (N, C)
  auto packed = b->HiddenPacked(idx, rows_t);                             // (N, C)
  ASSERT_EQ(packed.sizes(), padded.sizes());
  EXPECT_LT((packed - padded).abs().max().item<double>(), 1e-5);
  // Same loss, same gradients.
  auto target = torch::randint(0, 50, {static_cast<int64_t>(rows.size())}, torch::kLong);
  namespace F = torch::nn::functional;
  auto opts = F::CrossEntropyFuncOptions().reduction(torch::kSum);
  F::cross_entropy(a->Logits(padded), target, opts).backward();
  F::cross_entropy(b->Logits(packed), target, opts).backward();
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) {
    SCOPED_TRACE(p.key());
    EXPECT_LT((p.value().grad() - pb[p.key()].grad()).abs().max().item<double>(), 1e-4);
  }
  // Changing what sits in the padding changes nothing.
  auto idx2 = idx.clone();
  idx2[1].narrow(0, 4, 6).fill_(7);
  EXPECT_TRUE(torch::equal(b->HiddenPacked(idx2, rows_t), b->HiddenPacked(idx, rows_t)));
}

TEST(Gpt, CausalPrefixDoesNotSeeTheFuture) {
  torch::manual_seed(1);
  GPTConfig c;
  c.vocab_size = 40;
  c.block_size = 12;
  c.n_layer = 2;
  c.n_head = 4;
  c.d_model = 32;
  GPT m(c);
  m->eval();
  auto a = torch::randint(0, 40, {1, 12}, torch::kLong);
  auto b = a.clone();
  b.index_put_({0, 11}, (a.index({0, 11}).item<int64_t>() + 1) % 40);
  auto la = m->forward(a), lb = m->forward(b);
  EXPECT_TRUE(torch::allclose(la.narrow(1, 0, 11), lb.narrow(1, 0, 11), 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(la.narrow(1, 11, 1), lb.narrow(1, 11, 1)));
}

TEST(Gpt, InitIsDeterministicAndScaled) {
  GPTConfig c;
  c.n_layer = 4;
  torch::manual_seed(7);
  GPT a(c);
  torch::manual_seed(7);
  GPT b(c);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  // Residual projections use std 0.02 / sqrt(2 * n_layer).
  double sd = pa["h.0.mlp.c_proj.weight"].std().item<double>();
  EXPECT_NEAR(sd, 0.02 / std::sqrt(8.0), 0.002);
  EXPECT_NEAR(pa["wte.weight"].std().item<double>(), 0.02, 0.002);
}

}  // namespace
}  // namespace revsweep
