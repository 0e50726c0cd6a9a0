#include "worker/trainer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "tests/lib/temp_dir.h"
#include "tests/worker/test_task.h"
#include "worker/autocast_scope.h"
#include "worker/fault_pause.h"

namespace revsweep {
namespace {
namespace fs = std::filesystem;

constexpr double kGoldenLoss = 3.218203135899135;

// A fresh folder for one training run; all are removed when the test process exits.
std::string RunDir(const std::string& name) {
  static std::vector<std::unique_ptr<testutil::TempDir>> dirs;
  dirs.push_back(std::make_unique<testutil::TempDir>("trainer_test_" + name));
  return dirs.back()->path();
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

// Golden value: nano-sized model, fixed seed, 12 steps on the synthetic task (measured on
// the development machine). A change in init, batching, loss scaling, schedule or optimizer
// moves it by far more than 1%; another CPU's BLAS kernels (other summation order, other
// rounding) move it by ~1e-6 relative, so the tolerance is relative 1e-3: it catches
// semantics, never a kernel. Update it only on purpose. Same-machine determinism is asserted
// exactly (two runs, bit-identical).
TEST(Trainer, GoldenFinalLoss) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  TrainResult r = Train(testing::DefaultSettings(), task, RunDir("golden"));
  EXPECT_EQ(r.total_steps, 12);
  EXPECT_EQ(r.end_step, 12);
  EXPECT_NEAR(r.metrics.at("loss.final"), kGoldenLoss, 1e-3 * kGoldenLoss);
  TrainResult again = Train(testing::DefaultSettings(), task, RunDir("golden2"));
  EXPECT_EQ(again.metrics.at("loss.final"), r.metrics.at("loss.final"));
}

// train.precision bf16 trains on CPU under autocast (the CUDA path's code, run here): the
// loss is finite and falls like fp32's, and autocast is off again after the trial.
TEST(Trainer, Bf16AutocastTrainsOnCpu) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  s["train.precision"] = std::string("bf16");
  s["train.epochs"] = int64_t{20};
  TrainResult bf = Train(s, task, RunDir("bf16"));
  s["train.precision"] = std::string("fp32");
  TrainResult fp = Train(s, task, RunDir("fp32"));
  const double lb = bf.metrics.at("loss.final"), lf = fp.metrics.at("loss.final");
  EXPECT_TRUE(std::isfinite(lb));
  // Uniform over the vocabulary would be log(V); both must be well below it, and bf16
  // within 10% of fp32 (bf16 has an 8-bit mantissa: rounding, not a different result).
  EXPECT_LT(lb, 0.9 * std::log(static_cast<double>(task.vocab_size))) << "fp32: " << lf;
  EXPECT_NEAR(lb, lf, 0.1 * lf);
  EXPECT_NE(lb, lf) << "bf16 ran in fp32";
  EXPECT_FALSE(AutocastScope::IsOn(c10::kCPU));
}

TEST(Trainer, AutocastScopeEndsOnException) {
  EXPECT_FALSE(AutocastScope::IsOn(c10::kCPU));
  try {
    AutocastScope scope(true, c10::kCPU);
    EXPECT_TRUE(AutocastScope::IsOn(c10::kCPU));
    auto a = torch::ones({2, 2}), b = torch::ones({2, 2});
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    throw std::runtime_error("forward failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(AutocastScope::IsOn(c10::kCPU));
  EXPECT_EQ(torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), torch::kFloat32);
}

// train.fault_pause_dir: a rank pauses at pause.step<S>, writes its marker, and carries on once
// the control file is gone; a stop request also ends the pause.
TEST(Trainer, FaultPauseWaitsForTheControlFile) {
  const std::string dir = RunDir("pause");
  FaultPausePoint p{dir, "trial1", 3, 2, 4};
  EXPECT_FALSE(MaybeFaultPause(p, 5, nullptr));  // no control file: no pause
  std::ofstream(dir + "/pause.step6").put('\n');
  std::atomic<bool> seen{false};
  std::thread releaser([&] {
    const std::string marker = dir + "/paused.rank3.trial1.step6";
    while (!fs::exists(marker)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::ifstream in(marker);
    std::string line;
    std::getline(in, line);
    seen = line.find("trial=trial1 step=6 start_step=4 attempt=2") != std::string::npos;
    fs::remove(dir + "/pause.step6");
  });
  EXPECT_TRUE(MaybeFaultPause(p, 6, nullptr));
  releaser.join();
  EXPECT_TRUE(seen);
  EXPECT_FALSE(fs::exists(dir + "/paused.rank3.trial1.step6"));
  // pause.after<N>: N steps into this attempt (start 4 + 3 = step 7); ended by a stop request.
  std::ofstream(dir + "/pause.after3").put('\n');
  int polls = 0;
  EXPECT_TRUE(MaybeFaultPause(p, 7, [&] { return ++polls >= 3; }));
  EXPECT_GE(polls, 3);
  EXPECT_TRUE(fs::exists(dir + "/pause.after3"));  // the control stays; the rank moved on
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
  TrainResult r = Train(s, task, RunDir("memorise"));
  EXPECT_LT(r.metrics.at("loss.final"), 0.2);
  EXPECT_GE(r.metrics.at("acc.p2d.same.train"), 0.9);
}

TEST(Trainer, ResumeFromCheckpointEndsWithIdenticalMetrics) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  TrainResult straight = Train(s, task, RunDir("straight"));

  std::string dir = RunDir("resumed");
  int calls = 0;
  TrainResult first = Train(s, task, dir, [&] { return ++calls == 5; });
  EXPECT_TRUE(first.preempted);
  EXPECT_EQ(first.end_step, 5);
  TrainResult second = Train(s, task, dir);
  EXPECT_FALSE(second.preempted);
  EXPECT_EQ(second.start_step, 5);
  for (const auto& [k, v] : straight.metrics) {
    if (k == "train_seconds" || k == "tokens_per_s" || k == "eval_seconds") continue;
    EXPECT_EQ(second.metrics.at(k), v) << k;
  }
}

TEST(Trainer, CorruptNewestCheckpointFallsBackToOlder) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  s["train.checkpoint_every_steps"] = int64_t{2};
  std::string dir = RunDir("corrupt");
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
    Train(s, task, RunDir("nan1"), nullptr, /*attempt=*/1);
    FAIL() << "expected a TrialError";
  } catch (const TrialError& e) {
    EXPECT_EQ(e.kind(), Outcome::kCrash);
    EXPECT_NE(std::string(e.what()).find("nan"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("step 3"), std::string::npos) << e.what();
  }
  TrainResult r = Train(s, task, RunDir("nan2"), nullptr, /*attempt=*/2);
  EXPECT_FALSE(r.preempted);
}

// The CUDA schedule of loss reads (several steps pending on the device, one read) run on the
// CPU: the same progress losses, checkpoint state and metrics as reading every step.
TEST(Trainer, DeferredLossReadsGiveTheSameNumbers) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  s["train.epochs"] = int64_t{3};  // 9 steps of 3 per epoch: a read spans an epoch start
  auto run = [&](int64_t read_every, const std::string& dir, std::function<bool()> stop,
                 std::vector<std::pair<int64_t, double>>* curve) {
    TrialConfig t = MakeTrialConfig(s);
    SelfCommunicator comm;
    TrainContext ctx;
    ctx.checkpoint_dir = dir;
    ctx.loss_read_every = read_every;
    TrainHooks hooks;
    hooks.stop_requested = stop;
    hooks.progress_every_s = 0;  // a report every step: every step forces a read
    hooks.on_progress = [&](const ProgressRow& p, const std::vector<std::pair<int64_t, double>>&) {
      curve->emplace_back(p.step, p.loss);
    };
    return RunTrial(t, task, comm, ctx, hooks);
  };
  std::vector<std::pair<int64_t, double>> every, deferred;
  TrainResult a = run(1, RunDir("read1"), nullptr, &every);
  TrainResult b = run(5, RunDir("read5"), nullptr, &deferred);
  EXPECT_EQ(every, deferred);
  ASSERT_EQ(static_cast<int64_t>(every.size()), a.total_steps);
  for (const auto& [k, v] : a.metrics) {
    if (k == "train_seconds" || k == "tokens_per_s" || k == "eval_seconds") continue;
    EXPECT_EQ(b.metrics.at(k), v) << k;
  }
  // Without progress reports the reads happen every 5 steps and at the end only; the epoch
  // loss (reset at each epoch's first step, inside a batch of reads) is still the same.
  TrialConfig t = MakeTrialConfig(s);
  SelfCommunicator comm;
  TrainContext ctx;
  ctx.checkpoint_dir = RunDir("read5quiet");
  ctx.loss_read_every = 5;
  TrainResult c = RunTrial(t, task, comm, ctx, TrainHooks());
  EXPECT_EQ(c.metrics.at("loss.final"), a.metrics.at("loss.final"));
  // A stop reads the pending losses before the checkpoint: resuming from it ends the same.
  std::string dir = RunDir("read5resume");
  int calls = 0;
  std::vector<std::pair<int64_t, double>> unused;
  TrainResult first = run(
      5, dir, [&] { return ++calls == 7; }, &unused);
  EXPECT_TRUE(first.preempted);
  TrainResult second = run(5, dir, nullptr, &unused);
  EXPECT_EQ(second.start_step, 7);
  EXPECT_EQ(second.metrics.at("loss.final"), a.metrics.at("loss.final"));
}

// With deferred reads a non-finite loss is found at the next read, and still named by the
// step that produced it.
TEST(Trainer, DeferredLossReadsStillNameTheNanStep) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  s["train.fault_nan_at_step"] = int64_t{3};
  s["train.fault_nan_attempts"] = int64_t{1};
  TrialConfig t = MakeTrialConfig(s);
  SelfCommunicator comm;
  TrainContext ctx;
  ctx.checkpoint_dir = RunDir("nandeferred");
  ctx.loss_read_every = 8;
  try {
    RunTrial(t, task, comm, ctx, TrainHooks());
    FAIL() << "expected a TrialError";
  } catch (const TrialError& e) {
    EXPECT_EQ(e.kind(), Outcome::kCrash);
    EXPECT_NE(std::string(e.what()).find("step 3"), std::string::npos) << e.what();
  }
}

TEST(Trainer, CheckpointWriteFailureIsATrialError) {
  at::set_num_threads(1);
  auto task = testing::SyntheticTask();
  Settings s = testing::DefaultSettings();
  s["train.checkpoint_every_steps"] = int64_t{2};
  std::string dir = RunDir("ro") + "/file";
  std::ofstream(dir) << "x";  // a file where the checkpoint folder should be
  EXPECT_THROW(Train(s, task, dir), TrialError);
}

}  // namespace
}  // namespace revsweep
