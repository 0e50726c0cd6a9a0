#include "worker/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "tests/worker/test_task.h"

namespace revsweep {
namespace {
namespace fs = std::filesystem;

constexpr double kGoldenLoss = 3.218203135899135;

std::string TempDir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("trainer_test_" + std::to_string(getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

TrainResult Train(const Settings& s, const TokenizedTask& task, const std::string& ckpt,
                  std::function<bool()> stop = nullptr, int attempt = 1) {
  TrialConfig t = MakeTrialConfig(s);
  SelfCommunicator comm;
  TrainContext ctx;
  ctx.checkpoint_dir = ckpt;
  ctx.attempt_number = attempt;
  TrainHooks hooks;
  hooks.stop_requested = stop;
  return RunTrial(t, task, comm, ctx, hooks);
}

TEST(Trainer, EpochPermutationIsDeterministicAndComplete) {
  auto a = EpochPermutation(100, 3, 2), b = EpochPermutation(100, 3, 2),
       c = EpochPermutation(100, 3, 3);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(StepsPerEpoch(24, 8), 3);
  EXPECT_EQ(StepsPerEpoch(25, 8), 4);
}

// Golden value: nano-sized model, fixed seed, 12 steps on the synthetic task. A change in
// init, batching, loss scaling, schedule or optimizer moves it; update it only on purpose.
TEST(Trainer, GoldenFinalLoss) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  TrainResult r = Train(testing::DefaultSettings(), task, TempDir("golden"));
  EXPECT_EQ(r.total_steps, 12);
  EXPECT_EQ(r.end_step, 12);
  EXPECT_NEAR(r.metrics.at("loss.final"), kGoldenLoss, 1e-5);
}

TEST(Trainer, LossFallsAndMemorises) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask(16);
  Settings s = testing::DefaultSettings();
  s["train.epochs"] = int64_t{150};
  s["train.lr"] = 0.01;
  s["train.min_lr"] = 0.001;
  s["model.d_model"] = int64_t{64};
  s["train.loss_on"] = std::string("completion");  // random prompts cannot be predicted
  TrainResult r = Train(s, task, TempDir("memorise"));
  EXPECT_LT(r.metrics.at("loss.final"), 0.2);
  EXPECT_GE(r.metrics.at("acc.p2d.same.train"), 0.9);
}

TEST(Trainer, ResumeFromCheckpointEndsWithIdenticalMetrics) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  TrainResult straight = Train(s, task, TempDir("straight"));

  std::string dir = TempDir("resumed");
  int calls = 0;
  TrainResult first = Train(s, task, dir, [&] { return ++calls == 5; });
  EXPECT_TRUE(first.preempted);
  EXPECT_EQ(first.end_step, 5);
  TrainResult second = Train(s, task, dir);
  EXPECT_FALSE(second.preempted);
  EXPECT_EQ(second.start_step, 5);
  for (const auto& [k, v] : straight.metrics) {
    if (k == "train_seconds" || k == "tokens_per_s") continue;
    EXPECT_EQ(second.metrics.at(k), v) << k;
  }
}

TEST(Trainer, CorruptNewestCheckpointFallsBackToOlder) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  s["train.checkpoint_every_steps"] = int64_t{2};
  std::string dir = TempDir("corrupt");
  int calls = 0;
  Train(s, task, dir, [&] { return ++calls == 5; });  // checkpoints at 2, 4 and 5 (stop)
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 2u);  // the two newest are kept: steps 4 and 5
  {
    std::fstream f(files.back(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.write("garbage!", 8);
  }
  TrialConfig t = MakeTrialConfig(s);
  SelfCommunicator comm;
  TrainContext ctx;
  ctx.checkpoint_dir = dir;
  std::vector<std::string> warnings;
  TrainHooks hooks;
  hooks.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  TrainResult r = RunTrial(t, task, comm, ctx, hooks);
  EXPECT_EQ(r.start_step, 4);
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(files.back()), std::string::npos);
  EXPECT_NE(warnings[0].find("checksum"), std::string::npos);
}

TEST(Trainer, NanFaultIsACrashOnlyForEarlyAttempts) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  s["train.fault_nan_at_step"] = int64_t{3};
  s["train.fault_nan_attempts"] = int64_t{1};
  try {
    Train(s, task, TempDir("nan1"), nullptr, /*attempt=*/1);
    FAIL() << "expected a TrialError";
  } catch (const TrialError& e) {
    EXPECT_EQ(e.kind(), Outcome::kCrash);
    EXPECT_NE(std::string(e.what()).find("nan"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step 3"), std::string::npos) << e.what();
  }
  TrainResult r = Train(s, task, TempDir("nan2"), nullptr, /*attempt=*/2);
  EXPECT_FALSE(r.preempted);
}

TEST(Trainer, CheckpointWriteFailureIsATrialError) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  s["train.checkpoint_every_steps"] = int64_t{2};
  std::string dir = TempDir("ro") + "/file";
  std::ofstream(dir) << "x";  // a file where the checkpoint folder should be
  EXPECT_THROW(Train(s, task, dir), TrialError);
}

}  // namespace
}  // namespace revsweep
