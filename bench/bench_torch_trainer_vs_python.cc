// Trainer throughput against PyTorch (Python): tokens/s of worker/trainer.cc RunTrial (one
// rank, SelfCommunicator, one intra-op thread) against bench/reference_trainer.py, the same
// GPT, AdamW (two parameter groups), gradient clip, learning-rate schedule, batches and data
// in Debian's python3-torch (the same libtorch 1.13 build). Rounds alternate C++ / Python
// (and which goes first) so machine load hits both alike; reports medians and ratios.
//
// Both sides time steps W+1..N (W warmup steps) of the same step sequence and count the same
// target tokens; model start-up, Python's interpreter start and RunTrial's final evaluation
// (empty here) are outside the timed span. Both start from the same initial weights (same
// seed, same module order) and the benchmark compares their loss curves, so the two really
// train the same thing.
//
// Usage: bench_torch_trainer_vs_python [--sizes nano,micro,tiny] [--rounds 5] [--steps 40]
//          [--warmup 5] [--batch 32] [--python /usr/bin/python3] [--script PATH]
//          [--cpp-default-malloc] [--py-malloc-env]
// The C++ side runs with KeepFreedMemoryForTraining() (worker/trainer.h), as revsweep-train
// does: glibc malloc keeps freed memory (M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 1 GiB)
// instead of returning the step's large tensors to the kernel and page-faulting them back in
// every step. --cpp-default-malloc measures without it (--cpp-mallopt: the default, kept for
// old command lines). --py-malloc-env gives
// the Python side the same through MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_.
// Prints, per size: "C++ trainer / PyTorch tokens/s: X.XXx (goal >= 1.3x)".
#include <malloc.h>
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
#include "worker/gpt.h"
#include "worker/trainer.h"

extern char** environ;

namespace revsweep {
namespace {

using namespace bench;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

TrialConfig MakeTrial(const Size& s, int batch, int block_size) {
  return MakeTrialConfig(TimingSettings(s, batch, block_size));
}

int64_t Targets(const TokenizedTask& task, const std::vector<int64_t>& docs) {
  int64_t n = 0;
  for (int64_t d : docs) n += task.train[d].prompt.size() + task.train[d].completion.size() + 1;
  return n;
}

// Whether worker/gpt.cc gives the residual projections GPT-2's scaled init
// (std 0.02/sqrt(2 n_layer)) or plain 0.02: the Python reference is told to do the same, so
// both train from identical weights.
bool CprojScaled(const TrialConfig& trial, const TokenizedTask& task) {
  GPTConfig c;
  c.vocab_size = task.vocab_size;
  c.block_size = trial.model.block_size;
  c.n_layer = trial.model.n_layer;
  c.n_head = trial.model.n_head;
  c.d_model = trial.model.d_model;
  torch::manual_seed(0);
  GPT m(c);
  const double sd = m->named_parameters()["h.0.attn.c_proj.weight"].std().item<double>();
  return sd < 0.02 * (1 + 1 / std::sqrt(2.0 * c.n_layer)) / 2;  // nearer the scaled value
}

void WriteSpec(const std::string& path, const TrialConfig& trial, const TokenizedTask& task,
               const std::vector<std::vector<int64_t>>& steps, bool cproj_scaled) {
  std::ofstream f(path);
  const TrainOptions& o = trial.train;
  f.precision(17);
  f << "revsweep-trainer-spec-v1\n"
    << "vocab " << task.vocab_size << " bos " << task.bos_id << " eos " << task.eos_id << " pad "
    << task.pad_id << "\n"
    << "n_layer " << trial.model.n_layer << " n_head " << trial.model.n_head << " d_model "
    << trial.model.d_model << " block_size " << trial.model.block_size << "\n"
    << "lr " << o.lr << " min_lr " << o.min_lr << " warmup " << o.warmup_steps << " beta1 "
    << o.beta1 << " beta2 " << o.beta2 << " weight_decay " << o.weight_decay << " grad_clip "
    << o.grad_clip << " seed " << o.seed << " completion_only "
    << (o.loss_on == "completion" ? 1 : 0) << " total_steps " << steps.size() << " cproj_scaled "
    << (cproj_scaled ? 1 : 0) << "\n";
  f << "docs " << task.train.size() << "\n";
  for (const auto& d : task.train) {
    f << d.prompt.size();
    for (int v : d.prompt) f << ' ' << v;
    f << ' ' << d.completion.size();
    for (int v : d.completion) f << ' ' << v;
    f << '\n';
  }
  f << "steps " << steps.size() << "\n";
  for (const auto& s : steps) {
    f << s.size();
    for (int64_t d : s) f << ' ' << d;
    f << '\n';
  }
  if (!f) throw std::runtime_error("cannot write " + path);
}

struct RoundResult {
  double tokens_per_s = 0, seconds = 0, cpu_seconds = 0, loss_first = NAN, loss_last = NAN;
};

RoundResult RunCpp(const TrialConfig& trial, const TokenizedTask& task,
                   const std::vector<std::vector<int64_t>>& steps, int warmup,
                   const std::string& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::map<int64_t, Clock::time_point> at;
  std::map<int64_t, double> cpu_at;
  std::map<int64_t, double> loss;
  TrainHooks hooks;
  hooks.progress_every_s = 0;  // a callback after every step
  hooks.on_progress = [&](const ProgressRow& p, const std::vector<std::pair<int64_t, double>>&) {
    at[p.step] = Clock::now();
    cpu_at[p.step] = CpuNow();
    loss[p.step] = p.loss;
  };
  SelfCommunicator self;
  TrainContext ctx;
  ctx.checkpoint_dir = dir;
  RunTrial(trial, task, self, ctx, hooks);
  const int64_t n = static_cast<int64_t>(steps.size());
  int64_t tokens = 0;
  for (int64_t s = warmup; s < n; ++s) tokens += Targets(task, steps[s]);
  RoundResult r;
  r.seconds = std::chrono::duration<double>(at.at(n) - at.at(warmup)).count();
  r.tokens_per_s = tokens / r.seconds;
  r.cpu_seconds = cpu_at.at(n) - cpu_at.at(warmup);
  r.loss_first = loss.at(1);
  r.loss_last = loss.at(n);
  return r;
}

RoundResult RunPython(const std::string& python, const std::string& script, const std::string& spec,
                      int warmup, bool malloc_env) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  std::vector<std::string> args = {
      python, script, spec, "--threads", "1", "--warmup", std::to_string(warmup)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Same environment, with one OpenMP thread (the C++ side calls at::set_num_threads(1)).
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) != 0) env_s.emplace_back(*e);
  env_s.emplace_back("OMP_NUM_THREADS=1");
  if (malloc_env) {
    env_s.emplace_back("MALLOC_MMAP_THRESHOLD_=33554432");
    env_s.emplace_back("MALLOC_TRIM_THRESHOLD_=1073741824");
  }
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, python.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("posix_spawn " + python + ": " + std::strerror(rc));
  }
  std::string out;
  char buf[4096];
  ssize_t k;
  while ((k = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(k));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("reference trainer failed (status " + std::to_string(status) +
                             "): " + out);
  RoundResult r;
  std::istringstream in(out);
  std::string key;
  double v;
  while (in >> key >> v) {
    if (key == "tokens_per_s")
      r.tokens_per_s = v;
    else if (key == "seconds")
      r.seconds = v;
    else if (key == "cpu_seconds")
      r.cpu_seconds = v;
    else if (key == "loss_first")
      r.loss_first = v;
    else if (key == "loss_last")
      r.loss_last = v;
  }
  if (r.tokens_per_s <= 0) throw std::runtime_error("no tokens_per_s in: " + out);
  return r;
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) {
  using namespace revsweep;
  std::string sizes_arg = "nano,micro,tiny";
  int rounds = 5, steps = 40, warmup = 5, batch = 32;
  std::string python = "/usr/bin/python3";
  bool cpp_mallopt = true, py_malloc_env = false;  // revsweep-train sets the malloc options
  std::string script = (fs::path(__FILE__).parent_path() / "reference_trainer.py").string();
  if (const char* src = std::getenv("REVSWEEP_SRC"))
    script = (fs::path(src) / "bench" / "reference_trainer.py").string();
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
    else if (a == "--python")
      python = next();
    else if (a == "--script")
      script = next();
    else if (a == "--cpp-mallopt")
      cpp_mallopt = true;
    else if (a == "--cpp-default-malloc")
      cpp_mallopt = false;
    else if (a == "--py-malloc-env")
      py_malloc_env = true;
    else {
      std::fprintf(
          stderr,
          "usage: %s [--sizes nano,micro,tiny] [--rounds N] [--steps N] [--warmup N] "
          "[--batch B] [--python PATH] [--script reference_trainer.py] [--cpp-default-malloc] "
          "[--py-malloc-env]\n",
          argv[0]);
      return 2;
    }
  }
  if (warmup < 1 || steps <= warmup) {
    std::fprintf(stderr, "need 1 <= warmup < steps\n");
    return 2;
  }
  if (!fs::exists(script)) {
    std::fprintf(stderr, "reference script %s not found (--script or REVSWEEP_SRC)\n",
                 script.c_str());
    return 2;
  }
  const std::map<std::string, Size> known = {{"nano", {"nano", 2, 2, 32}},
                                             {"micro", {"micro", 2, 2, 64}},
                                             {"tiny", {"tiny", 4, 4, 128}},
                                             {"small", {"small", 4, 4, 256}}};
  if (cpp_mallopt && !KeepFreedMemoryForTraining()) {
    std::fprintf(stderr, "mallopt failed\n");
    return 2;
  }
  setenv("OMP_NUM_THREADS", "1", 1);
  at::set_num_threads(1);
  const fs::path tmp =
      fs::temp_directory_path() / ("revsweep_bench_tvp_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  std::printf(
      "trainer vs python: %d rounds x %d steps (%d warmup), batch %d, 1 thread each, "
      "C++ malloc %s, Python malloc %s, load average %.2f\n",
      rounds, steps, warmup, batch, cpp_mallopt ? "tuned (--cpp-mallopt)" : "default",
      py_malloc_env ? "tuned (--py-malloc-env)" : "default", LoadAvg());
  int rc = 0;
  std::vector<std::string> summary;
  for (const std::string& name : Split(sizes_arg, ',')) {
    if (!known.count(name)) {
      std::fprintf(stderr, "unknown size %s\n", name.c_str());
      return 2;
    }
    const Size& size = known.at(name);
    TokenizedTask task = SyntheticTask(int64_t{steps} * batch, 1000, 20240601);
    TrialConfig trial = MakeTrial(size, batch, 64);
    auto sched = Schedule(trial, static_cast<int64_t>(task.train.size()));
    const std::string spec = (tmp / (name + ".spec")).string();
    const bool scaled = CprojScaled(trial, task);
    if (!scaled && name == Split(sizes_arg, ',').front())
      std::printf(
          "  note: worker/gpt.cc leaves c_proj.weight at std 0.02 (GPT-2's "
          "0.02/sqrt(2 n_layer) not applied); the Python reference does the same\n");
    WriteSpec(spec, trial, task, sched, scaled);
    std::vector<double> cpp, py, ratio, cpu_ratio;
    RoundResult last_c, last_p;
    for (int r = 0; r < rounds; ++r) {
      RoundResult c, p;
      if (r % 2 == 0) {
        c = RunCpp(trial, task, sched, warmup, (tmp / "ckpt").string());
        p = RunPython(python, script, spec, warmup, py_malloc_env);
      } else {
        p = RunPython(python, script, spec, warmup, py_malloc_env);
        c = RunCpp(trial, task, sched, warmup, (tmp / "ckpt").string());
      }
      cpp.push_back(c.tokens_per_s);
      py.push_back(p.tokens_per_s);
      ratio.push_back(c.tokens_per_s / p.tokens_per_s);
      cpu_ratio.push_back(p.cpu_seconds / c.cpu_seconds);
      std::printf(
          "  %-5s round %d: C++ %8.0f tok/s (%.3f s wall, %.3f s cpu), Python %8.0f "
          "tok/s (%.3f s wall, %.3f s cpu), ratio %.3f (cpu %.3f)\n",
          name.c_str(), r + 1, c.tokens_per_s, c.seconds, c.cpu_seconds, p.tokens_per_s, p.seconds,
          p.cpu_seconds, ratio.back(), cpu_ratio.back());
      std::fflush(stdout);
      last_c = c;
      last_p = p;
    }
    // Same model, data and initial weights: the loss curves must agree (else the comparison
    // is not like for like).
    const double d_first = std::fabs(last_c.loss_first - last_p.loss_first);
    const double d_last = std::fabs(last_c.loss_last - last_p.loss_last);
    const bool same = d_first <= 1e-4 * std::fabs(last_p.loss_first) &&
                      d_last <= 1e-3 * std::fabs(last_p.loss_last);
    std::printf("  %-5s loss step 1: C++ %.6f Python %.6f; step %d: C++ %.6f Python %.6f (%s)\n",
                name.c_str(), last_c.loss_first, last_p.loss_first, steps, last_c.loss_last,
                last_p.loss_last, same ? "same training" : "MISMATCH: not the same computation");
    if (!same) rc = 1;
    char line[256];
    std::snprintf(line, sizeof line,
                  "%-5s (%dL/%dH/%dd, batch %d): C++ %.0f tok/s, Python %.0f tok/s (medians); "
                  "median per-round ratio %.3f; CPU-time ratio %.3f",
                  name.c_str(), size.n_layer, size.n_head, size.d_model, batch, Median(cpp),
                  Median(py), Median(ratio), Median(cpu_ratio));
    summary.emplace_back(line);
    std::snprintf(line, sizeof line, "%-5s C++ trainer / PyTorch tokens/s: %.2fx (goal >= 1.3x)",
                  name.c_str(), Median(cpp) / Median(py));
    summary.emplace_back(line);
    // One thread each, so tokens per CPU-second is tokens/s on a core of one's own: the
    // figure to trust when the machine is shared (wall time then mostly measures the queue).
    std::snprintf(line, sizeof line,
                  "%-5s C++ trainer / PyTorch tokens per CPU-second: %.2fx (goal >= 1.3x)",
                  name.c_str(), Median(cpu_ratio));
    summary.emplace_back(line);
  }
  std::printf("load average at end %.2f\n", LoadAvg());
  for (const auto& s : summary) std::printf("%s\n", s.c_str());
  fs::remove_all(tmp);
  return rc;
}
