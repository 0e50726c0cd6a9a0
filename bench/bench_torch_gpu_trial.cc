// One training trial through the real trainer (worker/trainer.cc RunTrial, one rank,
// SelfCommunicator) on one device at a chosen shape with random weights: tokens/s, model
// FLOP/s and peak memory, printed as one machine-readable line for bench/gpu_check.sh.
//
// Documents are synthetic (random tokens), every one `--seq` positions long (bos + seq - 1
// tokens + eos), the loss on every position (train.loss_on all), so a step is `--batch` full
// rows of `--seq` positions: the shape of GPT-2 small pretraining at the defaults.
//
// Model FLOPs per step (the convention of bench_torch_trainer_mfu.cc: matrix multiplications
// only, forward + backward = 3 x forward, padding not counted; there is none here):
//   6 * 12 L d^2 per position   the linear layers ("6N per token", N = 12 L d^2 weights)
//   6 d V per position          the tied output projection (every position has a target)
//   6 L d (T + 1) per position  causal attention: QK^T and AV, 2 x 2d FLOPs per (query, key)
//                               pair, T (T + 1) / 2 pairs per document of T positions, x 3
// so per token F = 72 L d^2 + 6 d V + 6 L d (T + 1). MFU = F x tokens/s / the GPU's peak for
// the dtype (bench/gpu_check.sh has the table; this program prints model_flops_per_s only).
//
// Timing: the trainer reports progress after every step (progress_every_s 0), which also
// makes it read that step's loss (one device sync per step, as a progress report would); the
// timed span runs from the end of step --warmup to the end of the last step.
// Peak memory: CUDA: the caching allocator's peak allocated bytes (needs a CUDA libtorch with
// c10_cuda; "n/a" otherwise); CPU: the process's peak resident set (getrusage).
//
// Usage: bench_torch_gpu_trial [--device cuda|cpu] [--precision fp32|bf16] [--layers 12]
//          [--heads 12] [--d-model 768] [--vocab 50257] [--seq 1024] [--batch 8]
//          [--steps 20] [--warmup 5] [--threads N]
// Prints "GPU_TRIAL key=value ..." on success. Exit status: 0 ok, 2 bad arguments, 3 CUDA
// asked for but this libtorch has no CUDA or sees no GPU, 1 the trial failed.
#include <sys/resource.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "common/config/settings.h"
#include "common/config/sweep_config.h"
#include "common/data/token_cache.h"
#include "worker/communicator.h"
#include "worker/trainer.h"

#ifdef REVSWEEP_TORCH_CUDA_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace revsweep {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string device = "cuda", precision = "fp32";
  int64_t layers = 12, heads = 12, d_model = 768, vocab = 50257, seq = 1024, batch = 8;
  int64_t steps = 20, warmup = 5, threads = 0;
};

TokenizedTask MakeTask(const Args& a) {
  TokenizedTask t;
  t.vocab_size = a.vocab;
  t.pad_id = 0;
  t.bos_id = 1;
  t.eos_id = 2;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> tok(3, a.vocab - 1);
  for (int64_t i = 0; i < a.batch * a.steps; ++i) {
    TokDoc d;
    for (int64_t j = 0; j + 1 < a.seq; ++j) d.completion.push_back(static_cast<int32_t>(tok(rng)));
    t.train.push_back(std::move(d));
  }
  return t;
}

TrialConfig MakeTrial(const Args& a) {
  Settings st;
  for (const auto& e : TrialSchema()) st[e.key] = e.default_value;
  st["model.size"] = std::string("custom");
  st["model.n_layer"] = a.layers;
  st["model.n_head"] = a.heads;
  st["model.d_model"] = a.d_model;
  st["model.block_size"] = a.seq + 1;
  st["train.epochs"] = int64_t{1};
  st["train.batch_size"] = a.batch;
  st["train.warmup_steps"] = int64_t{2};
  st["train.loss_on"] = std::string("all");
  st["train.checkpoint_every_steps"] = int64_t{0};
  st["train.checkpoint_every_seconds"] = 0.0;
  st["train.precision"] = a.precision;
  st["train.eval_max_new_tokens"] = int64_t{1};
  st["resources.threads"] = int64_t{1};
  return MakeTrialConfig(st);
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--device cuda|cpu] [--precision fp32|bf16] [--layers L] [--heads H] "
               "[--d-model D] [--vocab V] [--seq T] [--batch B] [--steps S] [--warmup W] "
               "[--threads N]\n",
               argv0);
  return 2;
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) {
  using namespace revsweep;
  Args a;
  std::map<std::string, int64_t*> ints = {
      {"--layers", &a.layers}, {"--heads", &a.heads},   {"--d-model", &a.d_model},
      {"--vocab", &a.vocab},   {"--seq", &a.seq},       {"--batch", &a.batch},
      {"--steps", &a.steps},   {"--warmup", &a.warmup}, {"--threads", &a.threads}};
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) return Usage(argv[0]);
    const std::string v = argv[++i];
    if (k == "--device") {
      a.device = v;
    } else if (k == "--precision") {
      a.precision = v;
    } else if (ints.count(k)) {
      char* end = nullptr;
      *ints[k] = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0') return Usage(argv[0]);
    } else {
      return Usage(argv[0]);
    }
  }
  if ((a.device != "cuda" && a.device != "cpu") ||
      (a.precision != "fp32" && a.precision != "bf16") || a.layers < 1 || a.heads < 1 ||
      a.d_model % a.heads != 0 || a.vocab < 4 || a.seq < 2 || a.batch < 1 || a.warmup < 1 ||
      a.steps <= a.warmup)
    return Usage(argv[0]);
  if (a.device == "cuda" && !torch::cuda::is_available()) {
    std::fprintf(stderr,
                 "bench_torch_gpu_trial: --device cuda, but this libtorch has no CUDA or sees no "
                 "GPU (torch::cuda::is_available() is false)\n");
    return 3;
  }
  if (a.threads > 0) at::set_num_threads(static_cast<int>(a.threads));
  const TokenizedTask task = MakeTask(a);
  const TrialConfig trial = MakeTrial(a);
  const std::string dir =
      (fs::temp_directory_path() / ("bench_gpu_trial_" + std::to_string(getpid()))).string();
  fs::create_directories(dir);

  std::map<int64_t, Clock::time_point> at;
  TrainHooks hooks;
  hooks.progress_every_s = 0;
  hooks.on_progress = [&](const ProgressRow& p, const std::vector<std::pair<int64_t, double>>&) {
    at[p.step] = Clock::now();
  };
  double final_loss = 0;
  int64_t params = 0;
  SelfCommunicator self;
  TrainContext ctx;
  ctx.checkpoint_dir = dir;
  ctx.device = a.device == "cuda" ? "cuda:0" : "cpu";
#ifdef REVSWEEP_TORCH_CUDA_STATS
  if (a.device == "cuda") c10::cuda::CUDACachingAllocator::resetPeakStats(0);
#endif
  try {
    TrainResult r = RunTrial(trial, task, self, ctx, hooks);
    final_loss = r.metrics.at("loss.final");
    params = r.params;
  } catch (const std::exception& e) {
    std::string what = e.what();
    std::fprintf(stderr, "bench_torch_gpu_trial: trial failed: %s\n",
                 what.substr(0, what.find('\n')).c_str());
    fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  const double seconds = std::chrono::duration<double>(at.at(a.steps) - at.at(a.warmup)).count();
  const double tokens = static_cast<double>(a.batch * a.seq * (a.steps - a.warmup));
  const double L = static_cast<double>(a.layers), d = static_cast<double>(a.d_model),
               V = static_cast<double>(a.vocab), T = static_cast<double>(a.seq);
  const double flops_per_token = 72 * L * d * d + 6 * d * V + 6 * L * d * (T + 1);
  const double tokens_per_s = tokens / seconds;

  std::string peak = "n/a", peak_kind = "none";
  if (a.device == "cuda") {
#ifdef REVSWEEP_TORCH_CUDA_STATS
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
    peak = std::to_string(stats.allocated_bytes[0].peak);
    peak_kind = "cuda_allocated";
#endif
  } else {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    peak = std::to_string(static_cast<long long>(ru.ru_maxrss) * 1024);
    peak_kind = "cpu_rss";
  }
  std::printf(
      "GPU_TRIAL device=%s precision=%s layers=%lld d_model=%lld heads=%lld vocab=%lld seq=%lld "
      "batch=%lld params=%lld steps_timed=%lld seconds=%.4f tokens_per_s=%.1f "
      "model_flops_per_token=%.6g model_flops_per_s=%.6g peak_mem_bytes=%s peak_mem_kind=%s "
      "final_loss=%.4f\n",
      ctx.device.c_str(), a.precision.c_str(), static_cast<long long>(a.layers),
      static_cast<long long>(a.d_model), static_cast<long long>(a.heads),
      static_cast<long long>(a.vocab), static_cast<long long>(a.seq),
      static_cast<long long>(a.batch), static_cast<long long>(params),
      static_cast<long long>(a.steps - a.warmup), seconds, tokens_per_s, flops_per_token,
      flops_per_token * tokens_per_s, peak.c_str(), peak_kind.c_str(), final_loss);
  return 0;
}
