// Data-parallel weak scaling: tokens/s of RunTrial (worker/trainer.cc) on K ranks x 1 thread
// with a fixed per-rank batch, against 1 rank x 1 thread with the same per-rank batch, both
// measured in the same mpirun invocation, alternating, several rounds:
//   single: rank 0 alone runs RunTrial with a SelfCommunicator (global batch b) while the
//           other ranks wait in MPI_Ibarrier + MPI_Test + sleep (a rank blocked in an MPI call
//           busy-polls and would take a core from rank 0);
//   group:  all K ranks run RunTrial over MPI_COMM_WORLD (global batch K*b: each rank still
//           reads b documents per step), the real data-parallel path (bucketed GradSync, loss
//           all-reduce, stop flag all-reduce every step).
// Timing: the leader's on_progress callback fires after every step; a run's time is from the
// end of warmup step W to the end of step N, tokens are the counted targets of steps W+1..N
// (computed from RunTrial's own EpochPermutation order). Model set-up and the (empty) final
// evaluation are outside the timed span. Rounds alternate which of the two goes first.
// Every other rank also runs alone in turn, because on a shared machine the cores are not
// equally busy: printed as "vs their mean" (the group against the average single-core speed)
// and "vs K x the slowest" (the group against what lockstep on those cores allows at best: 1.0
// means sync and lockstep cost nothing). The goal line uses rank 0 alone, as specified.
//
// Usage: OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe --bind-to core -np 2
//          -x OMP_NUM_THREADS bench_torch_weak_scaling [--model tiny] [--batch 16]
//          [--steps 25] [--warmup 3] [--rounds 5] [--bucket-mb 25]
// Prints: "weak scaling 2 ranks vs 1: X.XXx (goal >= 1.85x)".
#include <mpi.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_torch_task.h"
#include "bench/bench_util.h"
#include "common/config/settings.h"
#include "common/config/sweep_config.h"
#include "common/data/token_cache.h"
#include "worker/communicator.h"
#include "worker/mpi_communicator.h"
#include "worker/trainer.h"

namespace revsweep {
namespace {

using namespace bench;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

TrialConfig MakeTrial(const Size& s, int global_batch) {
  return MakeTrialConfig(TimingSettings(s, global_batch, /*block_size=*/64));
}

// Counted targets of steps [from, to) (0-based), in RunTrial's order (epochs = 1).
int64_t Tokens(const TokenizedTask& task, int64_t batch, int64_t seed, int64_t from, int64_t to) {
  const int64_t n = static_cast<int64_t>(task.train.size());
  auto perm = EpochPermutation(n, seed, 0);
  int64_t tokens = 0;
  for (int64_t s = from; s < to; ++s)
    for (int64_t i = s * batch; i < std::min(n, (s + 1) * batch); ++i) {
      const TokDoc& d = task.train[perm[i]];
      tokens += static_cast<int64_t>(d.prompt.size() + d.completion.size()) + 1;
    }
  return tokens;
}

struct Timed {
  double tokens_per_s = 0, seconds = 0;
  // The same from the median step time (mean tokens per timed step / median step seconds):
  // less sensitive to the bursts of a shared machine than the total.
  double median_step_tokens_per_s = 0;
  // 90th percentile over steps of (that step's tokens / that step's time): the steps least
  // disturbed by other processes, an estimate of what an unshared machine would do.
  double p90_step_tokens_per_s = 0;
};

// Runs RunTrial and times steps warmup+1..N on the leader (other ranks return zeros).
Timed Run(const TrialConfig& trial, const TokenizedTask& task, Communicator& comm,
          const std::string& dir, double bucket_mb, int warmup) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::map<int64_t, Clock::time_point> at;
  TrainHooks hooks;
  hooks.progress_every_s = 0;
  hooks.on_progress = [&](const ProgressRow& p, const std::vector<std::pair<int64_t, double>>&) {
    at[p.step] = Clock::now();
  };
  TrainContext ctx;
  ctx.checkpoint_dir = dir;
  ctx.bucket_mb = bucket_mb;
  TrainResult r = RunTrial(trial, task, comm, ctx, hooks);
  fs::remove_all(dir);
  Timed t;
  if (comm.rank() != 0) return t;
  const int64_t n = r.total_steps;
  t.seconds = std::chrono::duration<double>(at.at(n) - at.at(warmup)).count();
  const int64_t tokens = Tokens(task, trial.train.batch_size, trial.train.seed, warmup, n);
  t.tokens_per_s = tokens / t.seconds;
  std::vector<double> step_s, step_tps;
  for (int64_t s = warmup + 1; s <= n; ++s) {
    step_s.push_back(std::chrono::duration<double>(at.at(s) - at.at(s - 1)).count());
    step_tps.push_back(Tokens(task, trial.train.batch_size, trial.train.seed, s - 1, s) /
                       step_s.back());
  }
  t.median_step_tokens_per_s = static_cast<double>(tokens) / (n - warmup) / Median(step_s);
  std::sort(step_tps.begin(), step_tps.end());
  t.p90_step_tokens_per_s = step_tps[step_tps.size() * 9 / 10];
  return t;
}

// Waits for every rank at a barrier without busy-polling (MPI_Test + sleep).
void IdleBarrier() {
  MPI_Request req;
  MPI_Ibarrier(MPI_COMM_WORLD, &req);
  int done = 0;
  while (!done) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (!done) usleep(2000);
  }
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) {
  using namespace revsweep;
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  at::set_num_threads(1);
  std::string model = "tiny";
  int batch = 16, steps = 25, warmup = 3, rounds = 5;
  double bucket_mb = 25;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--model" && has)
      model = argv[++i];
    else if (a == "--batch" && has)
      batch = std::atoi(argv[++i]);
    else if (a == "--steps" && has)
      steps = std::atoi(argv[++i]);
    else if (a == "--warmup" && has)
      warmup = std::atoi(argv[++i]);
    else if (a == "--rounds" && has)
      rounds = std::atoi(argv[++i]);
    else if (a == "--bucket-mb" && has)
      bucket_mb = std::atof(argv[++i]);
    else {
      if (rank == 0)
        std::fprintf(stderr,
                     "usage: mpirun -np 2 %s [--model nano|micro|tiny|small] [--batch B] "
                     "[--steps N] [--warmup W] [--rounds R] [--bucket-mb MB]\n",
                     argv[0]);
      MPI_Finalize();
      return 2;
    }
  }
  const std::map<std::string, Size> known = {{"nano", {"nano", 2, 2, 32}},
                                             {"micro", {"micro", 2, 2, 64}},
                                             {"tiny", {"tiny", 4, 4, 128}},
                                             {"small", {"small", 4, 4, 256}}};
  if (!known.count(model) || warmup < 1 || steps <= warmup || size < 2) {
    if (rank == 0)
      std::fprintf(stderr, "need a known --model, 1 <= warmup < steps, and mpirun -np >= 2\n");
    MPI_Finalize();
    return 2;
  }
  const Size& sz = known.at(model);
  // Each run is exactly `steps` steps (epochs = 1, n_docs = steps x global batch).
  TokenizedTask task1 = SyntheticTask(int64_t{steps} * batch, 1000, 7);
  TokenizedTask taskk = SyntheticTask(int64_t{steps} * batch * size, 1000, 7);
  TrialConfig trial1 = MakeTrial(sz, batch), trialk = MakeTrial(sz, batch * size);

  // Per-rank scratch folders (each run starts from an empty checkpoint folder: RunTrial
  // resumes from whatever it finds there; checkpointing is off, so they stay empty).
  char dir_buf[512] = {0};
  if (rank == 0) {
    const std::string d =
        (fs::temp_directory_path() / ("revsweep_bench_ws_" + std::to_string(getpid()))).string();
    std::snprintf(dir_buf, sizeof dir_buf, "%s", d.c_str());
  }
  MPI_Bcast(dir_buf, sizeof dir_buf, MPI_CHAR, 0, MPI_COMM_WORLD);
  const std::string base = std::string(dir_buf) + "_r" + std::to_string(rank);

  if (rank == 0)
    std::printf(
        "weak scaling: model %s (%dL/%dH/%dd), per-rank batch %d, %d ranks, %d rounds "
        "x %d steps (%d warmup), bucket %.0f MB, 1 thread per rank, load average "
        "%.2f\n",
        model.c_str(), sz.n_layer, sz.n_head, sz.d_model, batch, size, rounds, steps, warmup,
        bucket_mb, LoadAvg());
  std::vector<double> one, many, ratio, one_med, many_med, one_p90, many_p90;
  MpiCommunicator world(MPI_COMM_WORLD);
  SelfCommunicator self;
  std::vector<double> vs_mean, vs_slowest;
  for (int r = 0; r < rounds; ++r) {
    Timed t1, tk;
    // Every rank also runs alone in turn (the others idle): the cores of a shared machine are
    // not equally busy, and the group can only go as fast as its slowest rank's core.
    std::vector<double> solo(size, 0.0);
    auto singles = [&](bool forward) {
      for (int i = 0; i < size; ++i) {
        const int who = forward ? i : size - 1 - i;
        Timed t;
        if (rank == who) t = Run(trial1, task1, self, base + "_single", bucket_mb, warmup);
        IdleBarrier();
        double v = t.tokens_per_s;
        MPI_Bcast(&v, 1, MPI_DOUBLE, who, MPI_COMM_WORLD);
        solo[who] = v;
        if (who == 0 && rank == 0) t1 = t;
      }
    };
    auto group = [&] {
      MPI_Barrier(MPI_COMM_WORLD);
      tk = Run(trialk, taskk, world, base + "_group", bucket_mb, warmup);
      MPI_Barrier(MPI_COMM_WORLD);
    };
    if (r % 2 == 0) {
      singles(true);
      group();
    } else {
      group();
      singles(false);
    }
    if (rank == 0) {
      one.push_back(t1.tokens_per_s);
      many.push_back(tk.tokens_per_s);
      ratio.push_back(tk.tokens_per_s / t1.tokens_per_s);
      one_med.push_back(t1.median_step_tokens_per_s);
      many_med.push_back(tk.median_step_tokens_per_s);
      one_p90.push_back(t1.p90_step_tokens_per_s);
      many_p90.push_back(tk.p90_step_tokens_per_s);
      double mean = 0, slowest = solo[0];
      std::string solos;
      for (int i = 0; i < size; ++i) {
        mean += solo[i] / size;
        slowest = std::min(slowest, solo[i]);
        solos += (i ? ", " : "") + std::to_string(static_cast<int>(solo[i]));
      }
      vs_mean.push_back(tk.tokens_per_s / mean);
      vs_slowest.push_back(tk.tokens_per_s / (size * slowest));
      std::printf(
          "  round %d: 1 rank %8.0f tok/s (%.3f s), %d ranks %8.0f tok/s (%.3f s), "
          "speed-up %.3fx; median step %.3fx; p90 step %.3fx; each rank alone: %s tok/s, "
          "vs their mean %.3fx, vs %d x the slowest %.3f\n",
          r + 1, t1.tokens_per_s, t1.seconds, size, tk.tokens_per_s, tk.seconds, ratio.back(),
          many_med.back() / one_med.back(), many_p90.back() / one_p90.back(), solos.c_str(),
          vs_mean.back(), size, vs_slowest.back());
      std::fflush(stdout);
    }
  }
  if (rank == 0) {
    std::printf("load average at end %.2f\n", LoadAvg());
    std::printf(
        "medians: 1 rank %.0f tok/s, %d ranks %.0f tok/s; median per-round speed-up "
        "%.3fx; efficiency %.1f%%\n",
        Median(one), size, Median(many), Median(ratio), 100.0 * Median(many) / Median(one) / size);
    std::printf("from median step times: 1 rank %.0f tok/s, %d ranks %.0f tok/s: %.3fx\n",
                Median(one_med), size, Median(many_med), Median(many_med) / Median(one_med));
    std::printf(
        "least-disturbed steps (p90 of per-step tok/s): 1 rank %.0f, %d ranks %.0f: "
        "%.3fx\n",
        Median(one_p90), size, Median(many_p90), Median(many_p90) / Median(one_p90));
    std::printf(
        "least-disturbed: %d ranks vs the mean of each rank's solo speed (its own core): "
        "%.3fx; vs %d x the slowest rank's solo speed (lockstep + sync cost only): %.3f\n",
        size, Median(vs_mean), size, Median(vs_slowest));
    std::printf("weak scaling %d ranks vs 1: %.2fx (goal >= %.2fx)\n", size,
                Median(many) / Median(one), 0.925 * size);
  }
  MPI_Finalize();
  return 0;
}
