// Trainer model FLOP utilisation on one CPU core ("CPU MFU"): the model FLOP/s of
// worker/trainer.cc RunTrial (one rank, SelfCommunicator, one intra-op thread, the real
// trainer path) against this core's single-thread sgemm rate at the model's own GEMM shapes,
// measured in the same process.
//
// Model FLOPs per step (training = forward + backward = 3 x forward; L layers, width d,
// vocabulary V; counted from the step's real documents, the way the trainer runs them):
//   6 * 12 L d^2 * N      the linear layers (QKV 3d^2, attention output d^2, MLP 4d^2 + 4d^2
//                         weights) on the N real (non-padding) positions: "6N per token";
//   12 L d * S            causal attention scores QK^T and weighted sum AV (2 x 2 d per
//                         query-key pair, times 3), S = sum over positions of the keys it
//                         sees (a document of n positions: n (n + 1) / 2);
//   6 d V * M             the tied output projection on the M positions with a target (the
//                         trainer runs it there only).
// Embedding lookups, biases, layer norms, GELU, softmax, the loss and AdamW are not counted
// (the usual convention: they are not matrix multiplications). Padding is not counted either:
// work on padding is waste, not model FLOPs.
//
// sgemm rate at the model's shapes: torch::mm, fp32, one thread, on the GEMMs one step of
// the linear layers runs, with the step's mean row count R (N, or M for the output
// projection): for every weight (out x in) the forward (R x in)(in x out), the input gradient
// (R x out)(out x in) and the weight gradient (out x R)(R x in), each weighted by how often a
// step runs it (L times per layer weight, once for the output projection). Rate = their FLOPs
// / their time (median of batches of calls on the same buffers). MFU = model FLOP/s / that
// rate. Tokens counted as in bench_torch_trainer_vs_python: targets (= real positions with
// train.loss_on all).
//
// Usage: bench_torch_trainer_mfu [--sizes nano,micro,tiny] [--rounds 5] [--steps 40]
//          [--warmup 5] [--batch 32] [--precision fp32|bf16] [--profile PREFIX]
// --profile runs one more round per size under libtorch's autograd profiler and writes its
// chrome trace to PREFIX<size>.json (per-op times; not part of the figures).
// Prints per size: "<size> trainer MFU (model FLOP/s / sgemm at its shapes): X% (goal >= 65%
// for tiny)", from wall time and from process CPU time (one thread: the CPU-time figure is
// the one to trust on a shared machine).
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_torch_task.h"
#include "bench/bench_util.h"
#include "common/config/settings.h"
#include "common/config/sweep_config.h"
#include "common/data/token_cache.h"
#include "worker/communicator.h"
#include "worker/trainer.h"

namespace revsweep {
namespace {

using namespace bench;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

TrialConfig MakeTrial(const Size& s, int batch, int block_size, const std::string& precision) {
  Settings st = TimingSettings(s, batch, block_size);
  st["train.precision"] = precision;
  return MakeTrialConfig(st);
}

// What the timed steps process: real positions N, positions with a target M, and the
// attention pairs S (see the header).
struct Work {
  double positions = 0, targets = 0, pairs = 0;
  int64_t steps = 0;
};

Work CountWork(const TokenizedTask& task, const std::vector<std::vector<int64_t>>& steps,
               int64_t from, bool completion_only) {
  Work w;
  for (size_t s = static_cast<size_t>(from); s < steps.size(); ++s, ++w.steps)
    for (int64_t d : steps[s]) {
      const TokDoc& doc = task.train[d];
      const double n = static_cast<double>(doc.prompt.size() + doc.completion.size() + 1);
      w.positions += n;
      w.targets += n - (completion_only ? static_cast<double>(doc.prompt.size()) : 0.0);
      w.pairs += n * (n + 1) / 2;
    }
  return w;
}

double ModelFlops(const Work& w, const Size& s, int64_t vocab) {
  const double L = s.n_layer, d = s.d_model, V = static_cast<double>(vocab);
  return 6 * 12 * L * d * d * w.positions + 12 * L * d * w.pairs + 6 * d * V * w.targets;
}

double ThreadCpuNow() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct RoundResult {
  double seconds = 0, cpu_seconds = 0;
};

RoundResult RunCpp(const TrialConfig& trial, const TokenizedTask& task, int64_t n_steps, int warmup,
                   const std::string& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::map<int64_t, Clock::time_point> at;
  std::map<int64_t, double> cpu_at;
  TrainHooks hooks;
  hooks.progress_every_s = 0;  // a callback after every step
  hooks.on_progress = [&](const ProgressRow& p, const std::vector<std::pair<int64_t, double>>&) {
    at[p.step] = Clock::now();
    cpu_at[p.step] = CpuNow();
  };
  SelfCommunicator self;
  TrainContext ctx;
  ctx.checkpoint_dir = dir;
  RunTrial(trial, task, self, ctx, hooks);
  RoundResult r;
  r.seconds = std::chrono::duration<double>(at.at(n_steps) - at.at(warmup)).count();
  r.cpu_seconds = cpu_at.at(n_steps) - cpu_at.at(warmup);
  return r;
}

// Seconds (thread CPU time and wall time) of one torch::mm(a, b): the median over 7 batches
// of calls of at least ~20 ms each.
std::pair<double, double> TimeMm(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor out = torch::mm(a, b);
  for (int i = 0; i < 3; ++i) torch::mm_out(out, a, b);
  int reps = 1;
  for (;;) {
    const double t0 = ThreadCpuNow();
    for (int i = 0; i < reps; ++i) torch::mm_out(out, a, b);
    if (ThreadCpuNow() - t0 > 0.02 || reps > (1 << 20)) break;
    reps *= 2;
  }
  std::vector<double> cpu, wall;
  for (int k = 0; k < 7; ++k) {
    const auto w0 = Clock::now();
    const double t0 = ThreadCpuNow();
    for (int i = 0; i < reps; ++i) torch::mm_out(out, a, b);
    cpu.push_back((ThreadCpuNow() - t0) / reps);
    wall.push_back(std::chrono::duration<double>(Clock::now() - w0).count() / reps);
  }
  return {Median(cpu), Median(wall)};
}

struct GemmRate {
  double cpu_gflops = 0, wall_gflops = 0;
  std::vector<std::string> lines;  // per shape
};

// The sgemm rate over one step's linear-layer GEMMs (see the header).
GemmRate MeasureGemms(const Size& s, int64_t vocab, int64_t rows, int64_t target_rows) {
  torch::NoGradGuard ng;
  const int64_t d = s.d_model;
  struct Weight {
    const char* name;
    int64_t out, in, rows, count;
  };
  const std::vector<Weight> weights = {{"c_attn", 3 * d, d, rows, s.n_layer},
                                       {"attn.c_proj", d, d, rows, s.n_layer},
                                       {"c_fc", 4 * d, d, rows, s.n_layer},
                                       {"mlp.c_proj", d, 4 * d, rows, s.n_layer},
                                       {"lm_head", vocab, d, target_rows, 1}};
  GemmRate g;
  double flops = 0, cpu = 0, wall = 0;
  for (const Weight& w : weights) {
    auto x = torch::randn({w.rows, w.in});
    auto wt = torch::randn({w.out, w.in});
    auto gy = torch::randn({w.rows, w.out});
    const double f = 2.0 * static_cast<double>(w.rows * w.in * w.out);
    // forward x W^T (as F::linear), input gradient gy W, weight gradient gy^T x.
    const std::pair<double, double> t[3] = {TimeMm(x, wt.t()), TimeMm(gy, wt), TimeMm(gy.t(), x)};
    char line[200];
    std::snprintf(line, sizeof line,
                  "    %-11s (%lld x %lld) x (%lld x %lld) x%lld: fwd %.1f, dX %.1f, dW %.1f "
                  "GFLOP/s (cpu)",
                  w.name, static_cast<long long>(w.rows), static_cast<long long>(w.in),
                  static_cast<long long>(w.in), static_cast<long long>(w.out),
                  static_cast<long long>(w.count), f / t[0].first / 1e9, f / t[1].first / 1e9,
                  f / t[2].first / 1e9);
    g.lines.emplace_back(line);
    for (const auto& tt : t) {
      flops += f * w.count;
      cpu += tt.first * w.count;
      wall += tt.second * w.count;
    }
  }
  g.cpu_gflops = flops / cpu / 1e9;
  g.wall_gflops = flops / wall / 1e9;
  return g;
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) {
  using namespace revsweep;
  std::string sizes_arg = "nano,micro,tiny", precision = "fp32", profile;
  int rounds = 5, steps = 40, warmup = 5, batch = 32;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--sizes")
      sizes_arg = next();
    else if (a == "--rounds")
      rounds = std::stoi(next());
    else if (a == "--steps")
      steps = std::stoi(next());
    else if (a == "--warmup")
      warmup = std::stoi(next());
    else if (a == "--batch")
      batch = std::stoi(next());
    else if (a == "--precision")
      precision = next();
    else if (a == "--profile")
      profile = next();
    else {
      std::fprintf(stderr,
                   "usage: %s [--sizes nano,micro,tiny] [--rounds N] [--steps N] [--warmup N] "
                   "[--batch B] [--precision fp32|bf16]\n",
                   argv[0]);
      return 2;
    }
  }
  if (warmup < 1 || steps <= warmup || rounds < 1) {
    std::fprintf(stderr, "need 1 <= warmup < steps, rounds >= 1\n");
    return 2;
  }
  const std::map<std::string, Size> known = {{"nano", {"nano", 2, 2, 32}},
                                             {"micro", {"micro", 2, 2, 64}},
                                             {"tiny", {"tiny", 4, 4, 128}},
                                             {"small", {"small", 4, 4, 256}}};
  if (!KeepFreedMemoryForTraining()) {  // as revsweep-train does
    std::fprintf(stderr, "mallopt failed\n");
    return 2;
  }
  setenv("OMP_NUM_THREADS", "1", 1);
  at::set_num_threads(1);
  const fs::path tmp =
      fs::temp_directory_path() / ("revsweep_bench_mfu_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  const int64_t vocab = 1000;
  std::printf(
      "trainer MFU: %d rounds x %d steps (%d warmup), batch %d, vocab %lld, precision %s, 1 "
      "thread, load average %.2f\n"
      "model FLOPs/step = 6*12*L*d^2*N + 12*L*d*S + 6*d*V*M (N real positions, S causal "
      "query-key pairs, M target positions)\n",
      rounds, steps, warmup, batch, static_cast<long long>(vocab), precision.c_str(), LoadAvg());
  std::vector<std::string> summary;
  for (const std::string& name : Split(sizes_arg, ',')) {
    if (!known.count(name)) {
      std::fprintf(stderr, "unknown size %s\n", name.c_str());
      return 2;
    }
    const Size& size = known.at(name);
    TokenizedTask task = SyntheticTask(int64_t{steps} * batch, static_cast<int>(vocab), 20240601);
    TrialConfig trial = MakeTrial(size, batch, 64, precision);
    auto sched = Schedule(trial, static_cast<int64_t>(task.train.size()));
    const Work work = CountWork(task, sched, warmup, trial.train.loss_on == "completion");
    const double flops = ModelFlops(work, size, vocab);
    const int64_t rows = std::llround(work.positions / work.steps);
    const int64_t target_rows = std::llround(work.targets / work.steps);
    std::vector<double> wall, cpu;
    for (int r = 0; r < rounds; ++r) {
      RoundResult c =
          RunCpp(trial, task, static_cast<int64_t>(sched.size()), warmup, (tmp / "ckpt").string());
      wall.push_back(c.seconds);
      cpu.push_back(c.cpu_seconds);
      std::printf("  %-5s round %d: %8.0f tok/s (%.3f s wall, %.3f s cpu), %.2f GFLOP/s wall\n",
                  name.c_str(), r + 1, work.targets / c.seconds, c.seconds, c.cpu_seconds,
                  flops / c.seconds / 1e9);
      std::fflush(stdout);
    }
    if (!profile.empty()) {
      torch::autograd::profiler::RecordProfile guard(profile + name + ".json");
      RunCpp(trial, task, static_cast<int64_t>(sched.size()), warmup, (tmp / "ckpt").string());
    }
    const GemmRate g = MeasureGemms(size, vocab, rows, target_rows);
    for (const auto& l : g.lines) std::printf("%s\n", l.c_str());
    const double w = Median(wall), c = Median(cpu);
    std::printf(
        "  %-5s %.0f positions/step (%.0f targets), %.2f MFLOP/token, sgemm at these shapes "
        "%.1f GFLOP/s cpu (%.1f wall)\n",
        name.c_str(), work.positions / work.steps, work.targets / work.steps,
        flops / work.targets / 1e6, g.cpu_gflops, g.wall_gflops);
    char line[300];
    std::snprintf(line, sizeof line,
                  "%-5s (%dL/%dH/%dd, batch %d, %s): %.0f tok/s, model %.1f GFLOP/s; sgemm at its "
                  "shapes %.1f GFLOP/s (wall)",
                  name.c_str(), size.n_layer, size.n_head, size.d_model, batch, precision.c_str(),
                  work.targets / w, flops / w / 1e9, g.wall_gflops);
    summary.emplace_back(line);
    std::snprintf(line, sizeof line,
                  "%-5s trainer MFU (model FLOP/s / sgemm at its shapes): %.1f%% wall, %.1f%% "
                  "CPU time (%.0f tok per CPU-s, %.1f GFLOP/CPU-s vs %.1f)%s",
                  name.c_str(), 100 * flops / w / 1e9 / g.wall_gflops,
                  100 * flops / c / 1e9 / g.cpu_gflops, work.targets / c, flops / c / 1e9,
                  g.cpu_gflops, name == "tiny" ? " (goal >= 65%)" : "");
    summary.emplace_back(line);
  }
  std::printf("load average at end %.2f\n", LoadAvg());
  for (const auto& s : summary) std::printf("%s\n", s.c_str());
  fs::remove_all(tmp);
  return 0;
}
