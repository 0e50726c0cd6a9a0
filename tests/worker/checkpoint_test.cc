// worker/checkpoint: a checkpoint loads to the CPU first and its optimizer state follows the
// parameters' device, so a run resumes on another GPU, node, or on the CPU.
#include "worker/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

struct Tiny : torch::nn::Module {
  Tiny() { fc = register_module("fc", torch::nn::Linear(4, 3)); }
  torch::nn::Linear fc{nullptr};
};

// One AdamW step so every parameter has exp_avg / exp_avg_sq state.
void Step(Tiny& m, torch::optim::AdamW& opt) {
  opt.zero_grad();
  m.fc->forward(torch::ones({2, 4})).sum().backward();
  opt.step();
}

std::vector<torch::Tensor> AdamState(torch::optim::Optimizer& opt) {
  std::vector<torch::Tensor> out;
  for (auto& entry : opt.state()) {
    auto* s = dynamic_cast<torch::optim::AdamWParamState*>(entry.second.get());
    EXPECT_NE(s, nullptr);
    if (!s) continue;
    out.push_back(s->exp_avg());
    out.push_back(s->exp_avg_sq());
  }
  return out;
}

TEST(Checkpoint, OptimizerStateFollowsTheParametersAfterLoad) {
  testutil::TempDir dir("checkpoint_test");
  torch::manual_seed(0);
  Tiny a;
  torch::optim::AdamW opt_a(a.parameters(), torch::optim::AdamWOptions(1e-2));
  Step(a, opt_a);
  CheckpointState st;
  st.step = 1;
  st.trial_id = "t";
  SaveCheckpoint(dir.path(), a, opt_a, st);

  torch::manual_seed(1);
  Tiny b;
  torch::optim::AdamW opt_b(b.parameters(), torch::optim::AdamWOptions(1e-2));
  auto loaded = LoadNewestCheckpoint(dir.path(), "t", b, opt_b,
                                     [](const std::string& w) { ADD_FAILURE() << w; });
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->step, 1);
  ASSERT_EQ(ParameterDevice(b), torch::Device(torch::kCPU));
  auto sa = AdamState(opt_a), sb = AdamState(opt_b);
  ASSERT_EQ(sa.size(), 4u);  // weight and bias, two moments each
  ASSERT_EQ(sb.size(), sa.size());
  for (const auto& t : sb) EXPECT_EQ(t.device(), torch::Device(torch::kCPU));
  // Same values, whatever order each optimizer keeps its state in.
  double sum_a = 0, sum_b = 0;
  for (const auto& t : sa) sum_a += t.sum().item<double>();
  for (const auto& t : sb) sum_b += t.sum().item<double>();
  EXPECT_DOUBLE_EQ(sum_a, sum_b);
}

// A rank told the leader's step loads that file, not its own newest; a step with no valid file
// is nullopt (the trainer then fails the attempt rather than train from another step).
TEST(Checkpoint, OnlyStepLoadsThatStepsFile) {
  testutil::TempDir dir("checkpoint_test");
  torch::manual_seed(0);
  Tiny a;
  torch::optim::AdamW opt_a(a.parameters(), torch::optim::AdamWOptions(1e-2));
  CheckpointState st;
  st.trial_id = "t";
  Step(a, opt_a);
  st.step = 1;
  SaveCheckpoint(dir.path(), a, opt_a, st);
  const torch::Tensor w1 = a.fc->weight.detach().clone();
  Step(a, opt_a);
  st.step = 2;
  SaveCheckpoint(dir.path(), a, opt_a, st);
  Tiny b;
  torch::optim::AdamW opt_b(b.parameters(), torch::optim::AdamWOptions(1e-2));
  auto none = [](const std::string&) {};
  EXPECT_EQ(LoadNewestCheckpoint(dir.path(), "t", b, opt_b, none)->step, 2);
  auto one = LoadNewestCheckpoint(dir.path(), "t", b, opt_b, none, /*only_step=*/1);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->step, 1);
  EXPECT_TRUE(torch::equal(b.fc->weight, w1));
  EXPECT_FALSE(LoadNewestCheckpoint(dir.path(), "t", b, opt_b, none, /*only_step=*/7).has_value());
}

TEST(Checkpoint, MoveOptimizerStateMovesEveryEntry) {
  // The meta device stands in for a GPU on a CPU-only machine: a tensor moved there keeps its
  // shape and reports the device, which is all the mapping has to get right.
  Tiny m;
  torch::optim::AdamW opt(m.parameters(), torch::optim::AdamWOptions(1e-2));
  Step(m, opt);
  MoveOptimizerStateTo(opt, torch::Device(torch::kMeta));
  auto moved = AdamState(opt);
  ASSERT_EQ(moved.size(), 4u);
  for (const auto& t : moved) EXPECT_TRUE(t.is_meta());
}

}  // namespace
}  // namespace revsweep
