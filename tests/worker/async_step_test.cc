#include "worker/async_step.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace revsweep {
namespace {

TEST(StepLosses, ReadsPendingStepsInOrderWithTheTrainersScaling) {
  StepLosses losses(torch::kCPU, 3);
  EXPECT_EQ(losses.pending(), 0);
  EXPECT_FALSE(losses.full());
  losses.Slot(7, 4).fill_(2.0);
  losses.Slot(8, 10).fill_(5.0);
  EXPECT_EQ(losses.pending(), 2);
  EXPECT_FALSE(losses.full());
  losses.Slot(9, 3).fill_(1.0);
  EXPECT_TRUE(losses.full());
  EXPECT_THROW(losses.Slot(10, 1), c10::Error);
  const auto read = losses.Read(/*group_size=*/2);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].step, 7);
  EXPECT_EQ(read[1].step, 8);
  EXPECT_EQ(read[2].step, 9);
  // value * k / global_tokens, in double, exactly as the trainer computed it every step.
  EXPECT_EQ(read[0].loss, 2.0 * 2 / 4.0);
  EXPECT_EQ(read[1].loss, 5.0 * 2 / 10.0);
  EXPECT_EQ(read[2].loss, 1.0 * 2 / 3.0);
  EXPECT_EQ(losses.pending(), 0);
  EXPECT_TRUE(losses.Read(2).empty());
}

// A slot written after a read starts at the front of the buffer again, and a float32 loss sum
// copied in is the same double the old `.item<double>()` gave.
TEST(StepLosses, SlotsAreReusedAfterARead) {
  StepLosses losses(torch::kCPU, 2);
  losses.Slot(0, 1).fill_(1.0);
  losses.Read(1);
  const torch::Tensor f = torch::tensor(0.1f);
  losses.Slot(1, 1).copy_(f);
  const auto read = losses.Read(1);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].step, 1);
  EXPECT_EQ(read[0].loss, f.item<double>());
}

TEST(StepLosses, NonFiniteValuesComeBackAsTheyAre) {
  StepLosses losses(torch::kCPU, 4);
  losses.Slot(0, 2).fill_(1.0);
  losses.Slot(1, 2).fill_(std::nan(""));
  const auto read = losses.Read(1);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_TRUE(std::isfinite(read[0].loss));
  EXPECT_TRUE(std::isnan(read[1].loss));
}

TEST(StepLosses, CapacityMustBePositive) {
  EXPECT_THROW(StepLosses(torch::kCPU, 0), std::invalid_argument);
}

// The no-sync clip does libtorch 1.13's clip_grad_norm_ operations: bit-identical gradients
// (so the CUDA path clips exactly as the CPU's libtorch fallback did).
TEST(ClipGradNormNoSync, MatchesLibtorchBitForBit) {
  torch::manual_seed(3);
  for (double max_norm : {0.05, 1.0, 1e6}) {
    std::vector<torch::Tensor> a, b;
    for (auto shape : {std::vector<int64_t>{5, 7}, {7}, {3, 2, 4}}) {
      auto p = torch::randn(shape).requires_grad_();
      p.mutable_grad() = torch::randn(shape);
      auto q = p.detach().clone().requires_grad_();
      q.mutable_grad() = p.grad().clone();
      a.push_back(p);
      b.push_back(q);
    }
    auto undefined = torch::randn({2}).requires_grad_();  // no gradient: skipped
    a.push_back(undefined);
    b.push_back(undefined);
    const double expected = torch::nn::utils::clip_grad_norm_(a, max_norm);
    const torch::Tensor norm = ClipGradNormNoSync(b, max_norm);
    EXPECT_EQ(norm.item<double>(), expected);
    for (size_t i = 0; i + 1 < a.size(); ++i)
      EXPECT_TRUE(torch::equal(a[i].grad(), b[i].grad())) << "max_norm " << max_norm;
  }
  EXPECT_FALSE(ClipGradNormNoSync({torch::randn({2}).requires_grad_()}, 1.0).defined());
}

}  // namespace
}  // namespace revsweep
