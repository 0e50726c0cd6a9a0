#include "worker/fast_ops.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <vector>

namespace revsweep {
namespace {

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(FastOps, GeluTanhMatchesTorchForwardAndBackward) {
  torch::manual_seed(5);
  // Typical activations, plus the tails and the clamped extremes of the fast exp.
  auto x0 = torch::cat({torch::randn({4096}) * 3, torch::linspace(-60, 60, 1201),
                        torch::tensor({-1e4f, -100.f, 0.f, 100.f, 1e4f})})
                .reshape({-1, 2});  // 5302 values
  auto a = x0.clone().requires_grad_(true), b = x0.clone().requires_grad_(true);
  ASSERT_TRUE(GeluTanhIsFast(a));
  auto ya = GeluTanh(a), yb = torch::gelu(b, "tanh");
  EXPECT_TRUE(ya.isfinite().all().item<bool>());
  // Against the same function in float64 as x sigmoid(2z): the tanh form loses the left tail
  // to cancellation (libtorch's float gelu is 30% off at x = -5, and 0 below -8 even in
  // float64), x sigmoid(2z) does not.
  auto xd = x0.to(torch::kFloat64).requires_grad_(true);
  auto yd = xd * torch::sigmoid(2 * 0.7978845608028654 * (xd + 0.044715 * xd * xd * xd));
  auto rel = [](const torch::Tensor& y, const torch::Tensor& ref) {
    return ((y.to(torch::kFloat64) - ref).abs() / (ref.abs() + 1e-20)).max().item<double>();
  };
  EXPECT_LT(rel(ya, yd), 1e-5);
  EXPECT_LT(MaxDiff(ya, yb), 1e-5);  // absolute, against libtorch's float
  auto g = torch::randn(ya.sizes());
  ya.backward(g);
  yb.backward(g);
  yd.backward(g.to(torch::kFloat64));
  EXPECT_TRUE(a.grad().isfinite().all().item<bool>());
  EXPECT_LT(MaxDiff(a.grad().to(torch::kFloat64), xd.grad()), 1e-5 * g.abs().max().item<double>());
  EXPECT_LT(MaxDiff(a.grad(), b.grad()), 1e-5 * g.abs().max().item<double>());
}

TEST(FastOps, GeluTanhFallsBackOffTheFastPath) {
  auto x = torch::randn({5, 3}, torch::kFloat64);
  EXPECT_FALSE(GeluTanhIsFast(x));
  EXPECT_TRUE(torch::equal(GeluTanh(x), torch::gelu(x, "tanh")));
}

TEST(FastOps, CrossEntropySumMatchesTorch) {
  torch::manual_seed(2);
  const int64_t M = 37, V = 1000;
  auto x0 = torch::randn({M, V}) * 4;
  x0[3][5] = 80;  // a confident row
  auto t = torch::randint(0, V, {M}, torch::kLong);
  auto a = x0.clone().requires_grad_(true), b = x0.clone().requires_grad_(true);
  auto la = CrossEntropySum(a, t);
  auto lb = torch::nn::functional::cross_entropy(
      b, t, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  EXPECT_EQ(la.dim(), 0);
  EXPECT_NEAR(la.item<double>(), lb.item<double>(), 1e-5 * lb.item<double>());
  (la * 0.25).backward();
  (lb * 0.25).backward();
  EXPECT_LT(MaxDiff(a.grad(), b.grad()), 1e-6);
  EXPECT_THROW(CrossEntropySum(x0, torch::full({M}, V, torch::kLong)), c10::Error);
  // Off the fast path: libtorch's.
  auto xd = x0.to(torch::kFloat64);
  EXPECT_NEAR(CrossEntropySum(xd, t).item<double>(), lb.item<double>(), 1e-3);
}

// Two parameter groups (with and without weight decay), as RunTrial builds them.
torch::optim::AdamW MakeAdamW(const std::vector<torch::Tensor>& params) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{params[0], params[1]},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(3e-3).betas({0.9, 0.95}).weight_decay(0.1)));
  groups.emplace_back(std::vector<torch::Tensor>{params[2]},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(3e-3).betas({0.9, 0.95}).weight_decay(0)));
  return torch::optim::AdamW(std::move(groups));
}

TEST(FastOps, ClipAndAdamWStepMatchesLibtorch) {
  torch::manual_seed(4);
  std::vector<torch::Tensor> a = {torch::randn({70000}), torch::randn({33, 7}), torch::randn({5})};
  std::vector<torch::Tensor> b;
  for (auto& t : a) {
    t.requires_grad_(true);
    b.push_back(t.detach().clone().requires_grad_(true));
  }
  auto oa = MakeAdamW(a), ob = MakeAdamW(b);
  for (int step = 0; step < 6; ++step) {
    // Large gradients on even steps (clipped), small ones on odd steps (not clipped).
    const double scale = step % 2 == 0 ? 10.0 : 1e-3;
    for (size_t i = 0; i < a.size(); ++i) {
      auto g = torch::randn(a[i].sizes()) * scale;
      a[i].mutable_grad() = g.clone();
      b[i].mutable_grad() = g.clone();
    }
    for (auto& g : oa.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(3e-3 / (step + 1));
    for (auto& g : ob.param_groups())
      static_cast<torch::optim::AdamWOptions&>(g.options()).lr(3e-3 / (step + 1));
    ASSERT_TRUE(ClipAndAdamWStep(oa, 1.0));
    torch::nn::utils::clip_grad_norm_(b, 1.0);
    ob.step();
    for (size_t i = 0; i < a.size(); ++i) {
      SCOPED_TRACE("step " + std::to_string(step) + " param " + std::to_string(i));
      EXPECT_LT(MaxDiff(a[i], b[i]), 1e-6);
      EXPECT_LT(MaxDiff(a[i].grad(), b[i].grad()), 1e-6 * scale);  // clipped in place alike
    }
  }
  // The state is the optimizer's own: same step counts and moments.
  for (size_t i = 0; i < a.size(); ++i) {
    auto& sa = static_cast<torch::optim::AdamWParamState&>(*oa.state().at(OptimizerStateKey(a[i])));
    auto& sb = static_cast<torch::optim::AdamWParamState&>(*ob.state().at(OptimizerStateKey(b[i])));
    EXPECT_EQ(sa.step(), sb.step());
    EXPECT_LT(MaxDiff(sa.exp_avg(), sb.exp_avg()), 1e-6);
    EXPECT_LT(MaxDiff(sa.exp_avg_sq(), sb.exp_avg_sq()), 1e-6);
  }
  // Off the fast path: nothing changes and the caller is told.
  std::vector<torch::Tensor> d = {torch::randn({3}, torch::kFloat64).requires_grad_(true),
                                  torch::randn({3}).requires_grad_(true),
                                  torch::randn({3}).requires_grad_(true)};
  for (auto& t : d) t.mutable_grad() = torch::ones_like(t);
  auto od = MakeAdamW(d);
  auto before = d[1].detach().clone();
  EXPECT_FALSE(ClipAndAdamWStep(od, 1.0));
  EXPECT_TRUE(torch::equal(d[1].detach(), before));
  EXPECT_TRUE(od.state().empty());
}

TEST(FastOps, PackedLengthsOfRightPaddedRows) {
  auto rows = [](std::vector<int64_t> v) { return torch::tensor(v, torch::kLong); };
  // B = 3, T = 4: lengths 2, 4, 1.
  EXPECT_EQ(PackedLengths(rows({0, 1, 4, 5, 6, 7, 8}), 3, 4), (std::vector<int64_t>{2, 4, 1}));
  // A batch row with no position is skipped.
  EXPECT_EQ(PackedLengths(rows({0, 8, 9}), 3, 4), (std::vector<int64_t>{1, 2}));
  // Not prefixes: a gap, a row not starting at 0, out of order, out of range.
  EXPECT_TRUE(PackedLengths(rows({0, 2}), 3, 4).empty());
  EXPECT_TRUE(PackedLengths(rows({1, 2}), 3, 4).empty());
  EXPECT_TRUE(PackedLengths(rows({4, 0}), 3, 4).empty());
  EXPECT_TRUE(PackedLengths(rows({0, 12}), 3, 4).empty());
}

// The padded reference: at::_scaled_dot_product_attention (causal) on (B, nh, T, hs), the
// padding rows zero, then the real rows picked out.
torch::Tensor PaddedAttention(const torch::Tensor& qkv, const std::vector<int64_t>& lengths,
                              int64_t n_head, int64_t T) {
  const int64_t B = static_cast<int64_t>(lengths.size()), C = qkv.size(1) / 3;
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < B; ++r)
    for (int64_t j = 0; j < lengths[r]; ++j) rows.push_back(r * T + j);
  auto rows_t = torch::tensor(rows, torch::kLong);
  auto padded = torch::zeros({B * T, 3 * C}).index_copy(0, rows_t, qkv).view({B, T, 3 * C});
  auto parts = padded.split(C, 2);
  auto heads = [&](const torch::Tensor& t) {
    return t.view({B, T, n_head, C / n_head}).transpose(1, 2);
  };
#if TORCH_VERSION_MAJOR >= 2
  auto y = at::scaled_dot_product_attention(heads(parts[0]), heads(parts[1]), heads(parts[2]), {},
                                            0.0, /*is_causal=*/true);
#else
  auto y = std::get<0>(at::_scaled_dot_product_attention(heads(parts[0]), heads(parts[1]),
                                                         heads(parts[2]), {}, 0.0, false, true));
#endif
  return y.transpose(1, 2).contiguous().view({B * T, C}).index_select(0, rows_t);
}

TEST(FastOps, CausalAttentionPackedMatchesScaledDotProductAttention) {
  torch::manual_seed(9);
  const std::vector<int64_t> lengths = {7, 1, 12, 3};
  const int64_t n_head = 4, C = 32, T = 12, N = 23;
  auto qkv0 = torch::randn({N, 3 * C});
  if (!CausalAttentionPackedIsFast(qkv0))
    GTEST_SKIP() << "no BLAS sgemm_ in the process: the model uses libtorch's attention";
  auto a = qkv0.clone().requires_grad_(true), b = qkv0.clone().requires_grad_(true);
  auto ya = CausalAttentionPacked(a, lengths, n_head);
  auto yb = PaddedAttention(b, lengths, n_head, T);
  ASSERT_EQ(ya.sizes(), yb.sizes());
  EXPECT_LT(MaxDiff(ya, yb), 1e-5);
  auto g = torch::randn(ya.sizes());
  ya.backward(g);
  yb.backward(g);
  EXPECT_LT(MaxDiff(a.grad(), b.grad()), 1e-5);
  // The same with several threads (documents and heads run in parallel).
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  auto c = qkv0.clone().requires_grad_(true);
  auto yc = CausalAttentionPacked(c, lengths, n_head);
  yc.backward(g);
  at::set_num_threads(threads);
  EXPECT_LT(MaxDiff(yc, ya), 1e-6);
  EXPECT_LT(MaxDiff(c.grad(), a.grad()), 1e-6);
}

TEST(FastOps, CausalAttentionPackedRejectsWrongLengths) {
  auto qkv = torch::randn({5, 24});
  if (!CausalAttentionPackedIsFast(qkv)) GTEST_SKIP() << "no BLAS sgemm_ in the process";
  EXPECT_THROW(CausalAttentionPacked(qkv, {2, 2}, 2), c10::Error);
}

}  // namespace
}  // namespace revsweep
