// Data-parallel equivalence check (not a timing; built by the bench glob, run by
// tests/mpi/dp_equivalence.sh). Under `mpirun -np K`, K ranks with per-rank batch b train a
// nano GPT with RunTrial (worker/trainer.cc) over MPI_COMM_WORLD, and every rank also trains
// the same trial alone in-process (SelfCommunicator, the whole global batch K*b on one rank).
// After N steps the two parameter sets must agree: max |dp - ref| <= tol x max |ref| over all
// parameters (tol 1e-5; summation order differs, so bit equality is not expected).
//
// Both runs go through RunTrial itself: a synthetic TokenizedTask, a TrialConfig built with
// MakeTrialConfig from TrialSchema() defaults plus overrides. The data has 2*K*b + 1 documents
// of varying length, so every epoch ends with a one-document step in which K-1 ranks have an
// empty shard (no backward: GradSync averages their gradients as zeros), and shards pad to
// different lengths. RunTrial returns no parameters, so the group stops itself after N steps
// through hooks.stop_requested, which makes the leader write a checkpoint; the parameters are
// read back with LoadNewestCheckpoint. Each run gets a fresh checkpoint folder (RunTrial
// resumes from whatever it finds there).
//
// The leader's reported per-step losses must agree to the same tolerance (relative).
// Also checked, so that a pass means something: the parameters moved (max |final - init| is
// far above the tolerance), the K-rank run with 4 KB buckets (many buckets) agrees too, and a
// 1-rank run with only the per-rank batch b (what a broken shard/scaling would amount to)
// does NOT agree.
//
// Usage: mpirun --allow-run-as-root --oversubscribe -np K bench_torch_dp_equivalence
//          [--steps N] [--per-rank-batch b] [--tol 1e-5]
// Prints "dp equivalence K=<K> ...: PASS" (exit 0) or "... FAIL: <why>" (exit 1) on rank 0.
#include <mpi.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_torch_task.h"
#include "common/config/settings.h"
#include "common/config/sweep_config.h"
#include "common/data/token_cache.h"
#include "worker/checkpoint.h"
#include "worker/communicator.h"
#include "worker/gpt.h"
#include "worker/mpi_communicator.h"
#include "worker/trainer.h"

namespace revsweep {
namespace {

using bench::SyntheticTask;

namespace fs = std::filesystem;

TrialConfig MakeTrial(int global_batch, int epochs) {
  Settings st;
  for (const auto& e : TrialSchema()) st[e.key] = e.default_value;
  st["model.size"] = std::string("custom");
  st["model.n_layer"] = int64_t{2};
  st["model.n_head"] = int64_t{2};
  st["model.d_model"] = int64_t{32};
  st["model.block_size"] = int64_t{32};
  st["train.epochs"] = int64_t{epochs};
  st["train.batch_size"] = int64_t{global_batch};
  st["train.lr"] = 3e-3;
  st["train.warmup_steps"] = int64_t{2};
  st["train.grad_clip"] = 1.0;
  st["train.checkpoint_every_steps"] = int64_t{0};
  st["train.checkpoint_every_seconds"] = 0.0;
  return MakeTrialConfig(st);
}

GPTConfig ModelConfig(const TrialConfig& t, const TokenizedTask& task) {
  GPTConfig c;
  c.vocab_size = task.vocab_size;
  c.block_size = t.model.block_size;
  c.n_layer = t.model.n_layer;
  c.n_head = t.model.n_head;
  c.d_model = t.model.d_model;
  c.dropout = t.model.dropout;
  return c;
}

using Params = std::map<std::string, torch::Tensor>;

// Trains `steps` steps of `trial` over `comm` into the empty folder `dir` (the leader
// checkpoints when the stop hook fires after the last step). Returns the leader's per-step
// losses (empty on other ranks).
std::vector<double> Train(const TrialConfig& trial, const TokenizedTask& task, Communicator& comm,
                          const std::string& dir, double bucket_mb, int64_t steps) {
  if (comm.rank() == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  int64_t calls = 0;
  TrainHooks hooks;
  hooks.stop_requested = [&] { return ++calls >= steps; };
  std::vector<double> losses;
  hooks.progress_every_s = 0;  // one report per step
  hooks.on_progress = [&](const ProgressRow& p, const std::vector<std::pair<int64_t, double>>&) {
    losses.push_back(p.loss);
  };
  hooks.on_warning = [](const std::string& w) { std::fprintf(stderr, "warning: %s\n", w.c_str()); };
  TrainContext ctx;
  ctx.checkpoint_dir = dir;
  ctx.bucket_mb = bucket_mb;
  TrainResult r = RunTrial(trial, task, comm, ctx, hooks);
  if (!r.preempted || r.end_step != steps)
    throw std::runtime_error("run stopped at step " + std::to_string(r.end_step) + " of " +
                             std::to_string(steps) + " (preempted " + std::to_string(r.preempted) +
                             ")");
  return losses;
}

// The parameters in `dir`'s newest checkpoint, loaded into a model/optimizer built like
// RunTrial's.
Params Load(const TrialConfig& trial, const TokenizedTask& task, const std::string& dir) {
  torch::manual_seed(0);
  GPT model(ModelConfig(trial, task));
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : model->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(1e-3));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(1e-3));
  torch::optim::AdamW opt(std::move(groups));
  auto st = LoadNewestCheckpoint(dir, trial.id, *model, opt, [](const std::string& w) {
    std::fprintf(stderr, "checkpoint warning: %s\n", w.c_str());
  });
  if (!st) throw std::runtime_error("no checkpoint in " + dir);
  Params out;
  for (auto& p : model->named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

Params Initial(const TrialConfig& trial, const TokenizedTask& task) {
  torch::manual_seed(static_cast<uint64_t>(trial.train.seed));  // as RunTrial does
  GPT model(ModelConfig(trial, task));
  Params out;
  for (auto& p : model->named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

struct Diff {
  double max_abs = 0, scale = 0;
  double max_abs_no_key_bias = 0;  // the same, leaving out the attention key biases
  std::string worst;
  double rel() const { return scale > 0 ? max_abs / scale : max_abs; }
};

Diff Compare(const Params& a, const Params& ref) {
  Diff d;
  for (const auto& [k, r] : ref) {
    const torch::Tensor diff = (a.at(k) - r).abs().view({-1});
    const int64_t at = diff.argmax().item<int64_t>();
    const double m = diff[at].item<double>();
    d.scale = std::max(d.scale, r.abs().max().item<double>());
    // c_attn.bias = [query | key | value] biases. The loss does not depend on the key bias
    // (softmax over keys is invariant to q.b_k, the same for every key), so its gradient is
    // pure rounding noise that AdamW's normalisation turns into O(lr) steps: it is where the
    // two runs' different summation orders show most.
    torch::Tensor rest = diff;
    if (k.size() >= 16 && k.compare(k.size() - 16, 16, "attn.c_attn.bias") == 0) {
      const int64_t c = diff.numel() / 3;
      rest = torch::cat({diff.narrow(0, 0, c), diff.narrow(0, 2 * c, c)});
    }
    d.max_abs_no_key_bias = std::max(d.max_abs_no_key_bias, rest.max().item<double>());
    if (m > d.max_abs) {
      d.max_abs = m;
      d.worst = k + "[" + std::to_string(at) + "]";
    }
  }
  return d;
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) {
  using namespace revsweep;
  MPI_Init(&argc, &argv);
  int rank = 0, k = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &k);
  at::set_num_threads(1);
  int64_t steps = 6;
  int per_rank_batch = 4;
  double tol = 1e-5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--steps" && has)
      steps = std::atoll(argv[++i]);
    else if (a == "--per-rank-batch" && has)
      per_rank_batch = std::atoi(argv[++i]);
    else if (a == "--tol" && has)
      tol = std::atof(argv[++i]);
    else {
      if (rank == 0)
        std::fprintf(stderr, "usage: mpirun -np K %s [--steps N] [--per-rank-batch b] [--tol T]\n",
                     argv[0]);
      MPI_Finalize();
      return 2;
    }
  }
  // 2*K*b + 1 documents: 3 steps per epoch, the last with one document.
  const int global = per_rank_batch * k;
  TokenizedTask task =
      SyntheticTask(2 * int64_t{global} + 1, /*vocab=*/64, /*seed=*/12345, 2, 8, 2, 10);
  const int spe = 3;
  const int epochs = static_cast<int>((steps + spe - 1) / spe) + 1;  // never runs out of steps
  TrialConfig trial = MakeTrial(global, epochs);

  char dir_buf[512] = {0};
  if (rank == 0) {
    const std::string d =
        (fs::temp_directory_path() / ("revsweep_dp_equiv_" + std::to_string(getpid()))).string();
    std::snprintf(dir_buf, sizeof dir_buf, "%s", d.c_str());
  }
  MPI_Bcast(dir_buf, sizeof dir_buf, MPI_CHAR, 0, MPI_COMM_WORLD);
  const std::string base = dir_buf;

  std::string fail;
  Diff dp, dp_small, moved, control;
  double loss_diff = 0;
  try {
    MpiCommunicator world(MPI_COMM_WORLD);
    SelfCommunicator self;
    const auto dp_loss = Train(trial, task, world, base + "/dp", 25, steps);
    Train(trial, task, world, base + "/dp_small_buckets", 0.004, steps);
    const std::string own = base + "/ref_rank" + std::to_string(rank);
    const auto ref_loss = Train(trial, task, self, own, 25, steps);
    if (rank == 0) {  // the reported step losses (loss accounting across shards) agree too
      if (dp_loss.size() != ref_loss.size())
        throw std::runtime_error("different numbers of progress reports");
      for (size_t i = 0; i < dp_loss.size(); ++i)
        loss_diff = std::max(loss_diff, std::fabs(dp_loss[i] - ref_loss[i]) / ref_loss[i]);
    }
    MPI_Barrier(MPI_COMM_WORLD);  // the group's checkpoints are on disk
    Params ref = Load(trial, task, own);
    dp = Compare(Load(trial, task, base + "/dp"), ref);
    dp_small = Compare(Load(trial, task, base + "/dp_small_buckets"), ref);
    moved = Compare(Initial(trial, task), ref);
    if (k > 1) {  // negative control: one rank with only the per-rank batch
      TrialConfig small = MakeTrial(per_rank_batch, epochs * k);
      const std::string ctl = base + "/control_rank" + std::to_string(rank);
      Train(small, task, self, ctl, 25, steps);
      control = Compare(Load(small, task, ctl), ref);
    }
    char buf[512];
    if (dp.rel() > tol) {
      std::snprintf(buf, sizeof buf,
                    "%d ranks differ from 1 rank: max abs diff %.3g in %s (%.3g of max |param| "
                    "%.3g; tolerance %.0e)",
                    k, dp.max_abs, dp.worst.c_str(), dp.rel(), dp.scale, tol);
      fail = buf;
    } else if (dp_small.rel() > tol) {
      std::snprintf(buf, sizeof buf,
                    "%d ranks with 4 KB buckets differ from 1 rank: max abs diff %.3g in %s", k,
                    dp_small.max_abs, dp_small.worst.c_str());
      fail = buf;
    } else if (loss_diff > tol) {
      std::snprintf(buf, sizeof buf, "reported step losses differ by %.3g (relative)", loss_diff);
      fail = buf;
    } else if (moved.rel() < 100 * tol) {
      std::snprintf(buf, sizeof buf, "parameters barely moved (max %.3g): the check has no power",
                    moved.max_abs);
      fail = buf;
    } else if (k > 1 && control.rel() < 100 * tol) {
      std::snprintf(buf, sizeof buf,
                    "control (1 rank, batch %d) matches too (max diff %.3g): the check has no "
                    "power",
                    per_rank_batch, control.max_abs);
      fail = buf;
    }
  } catch (const std::exception& e) {
    fail = std::string("error: ") + e.what();
  }
  // Rank 0 reports; any rank's failure fails the run.
  int bad = fail.empty() ? 0 : 1, any = 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (!fail.empty()) std::fprintf(stderr, "rank %d: %s\n", rank, fail.c_str());
  if (rank == 0) {
    std::printf(
        "dp equivalence K=%d, per-rank batch %d, %lld steps: max |dp - ref| %.3g "
        "(%.3g relative, worst %s; %.3g without attention key biases), 4 KB buckets "
        "%.3g, step losses %.3g, moved %.3g, control (batch %d) %.3g: %s\n",
        k, per_rank_batch, static_cast<long long>(steps), dp.max_abs, dp.rel(), dp.worst.c_str(),
        dp.max_abs_no_key_bias, dp_small.max_abs, loss_diff, moved.max_abs, per_rank_batch,
        control.max_abs, any ? "FAIL" : "PASS");
    fs::remove_all(base);
  }
  MPI_Finalize();
  return any;
}
