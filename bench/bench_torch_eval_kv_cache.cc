// Evaluation with and without the KV cache, on the same checkpoint: Evaluate() (worker/
// evaluator.h: greedy exact match over every cell and chance set, and the likelihood tests) as
// the trainer runs it at the end of a trial, once with GreedyGenerate's KV cache (each step runs
// the new token only) and once without (each step runs the whole sequence again: the path
// before the cache). Rounds alternate which goes first so machine load hits both alike; one
// intra-op thread, as revsweep-train runs. Every metric but the timings must be equal between
// the two (the cached path predicts the same tokens); the bench fails otherwise.
//
// The checkpoint is a finished trial of a sweep that has run, e.g. the quickstart:
//   revsweep run configs/quickstart.yaml --ranks 2
//   bench_torch_eval_kv_cache --store runs/revsweep.db --sweep quickstart
// It takes the done trial with the most parameters (or --trial ID), its token cache
// (<run root>/cache) and the newest checkpoint in its checkpoint folder.
// Prints "evaluation without / with KV cache: X.XXx" and the evaluation's share of that
// trial's wall time (its train_seconds from the store plus the cached evaluation measured
// here): "evaluation share of a trial: Y% (goal <= 5%)".
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "common/config/sweep_config.h"
#include "common/data/token_cache.h"
#include "common/data/trial_data.h"
#include "common/store/results_store.h"
#include "worker/checkpoint.h"
#include "worker/evaluator.h"
#include "worker/gpt.h"
#include "worker/trainer.h"

namespace revsweep {
namespace {

using namespace bench;

using Clock = std::chrono::steady_clock;

int Main(int argc, char** argv) {
  std::string store_path = "runs/revsweep.db", sweep = "quickstart", trial_id;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fprintf(stderr, "%s needs a value\n", argv[i]);
        exit(2);
      }
      return argv[++i];
    };
    if (!strcmp(argv[i], "--store"))
      store_path = next();
    else if (!strcmp(argv[i], "--sweep"))
      sweep = next();
    else if (!strcmp(argv[i], "--trial"))
      trial_id = next();
    else if (!strcmp(argv[i], "--rounds"))
      rounds = std::atoi(next().c_str());
    else {
      fprintf(stderr,
              "usage: bench_torch_eval_kv_cache [--store PATH] [--sweep NAME] [--trial ID] "
              "[--rounds N]\n");
      return 2;
    }
  }
  ResultsStore store(store_path, /*readonly=*/true);
  if (!store.HasSweep(sweep)) {
    fprintf(stderr, "%s: no sweep '%s' (run it first, see the header of this bench)\n",
            store_path.c_str(), sweep.c_str());
    return 2;
  }
  const std::string run_dir = store.SweepRunDir(sweep);
  std::optional<TrialRow> pick;
  for (const TrialRow& t : store.Trials(sweep)) {
    if (t.state != TrialState::kDone) continue;
    if (!trial_id.empty() ? t.id == trial_id : (!pick || t.params > pick->params)) pick = t;
  }
  if (!pick) {
    fprintf(stderr, "%s: no done trial%s in sweep '%s'\n", store_path.c_str(),
            trial_id.empty() ? "" : (" " + trial_id).c_str(), sweep.c_str());
    return 2;
  }
  const TrialConfig trial = MakeTrialConfig(pick->settings);
  const TokenizedTask task = ReadTokenizedTask(TaskCachePath(trial, run_dir + "/../cache"));
  torch::set_num_threads(1);
  GPT model(ModelConfigFor(trial, task));
  LoadModelWeights(run_dir + "/trials/" + trial.id + "/checkpoints", *model);
  const int max_new = trial.train.eval_max_new_tokens;
  const auto stored = store.Results(trial.id);
  const double train_s = stored.count("train_seconds") ? stored.at("train_seconds") : 0;
  printf("trial %s (%s, %lld params): train_seconds %.1f in the store\n", trial.id.c_str(),
         trial.model.size.c_str(), static_cast<long long>(pick->params), train_s);

  std::vector<double> t_full, t_cached;
  std::map<std::string, double> m_full, m_cached;
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 2; ++k) {
      const bool cached = (k == 0) == (r % 2 == 0);
      const auto t0 = Clock::now();
      auto m = Evaluate(model, task, max_new, cached);
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      (cached ? t_cached : t_full).push_back(s);
      (cached ? m_cached : m_full) = std::move(m);
    }
  }
  int differ = 0;
  for (const auto& [key, v] : m_full) {
    if (!m_cached.count(key) || m_cached.at(key) != v) {
      // Accuracies are exact; log-probabilities come from the same (uncached) forward.
      fprintf(stderr, "metric %s differs: without cache %.17g, with %.17g\n", key.c_str(), v,
              m_cached.count(key) ? m_cached.at(key) : NAN);
      ++differ;
    }
  }
  const double full = Median(t_full), cached = Median(t_cached);
  printf("evaluation without KV cache: median %.3f s (min %.3f) over %d rounds\n", full,
         *std::min_element(t_full.begin(), t_full.end()), rounds);
  printf("evaluation with KV cache:    median %.3f s (min %.3f)\n", cached,
         *std::min_element(t_cached.begin(), t_cached.end()));
  printf("metrics equal with and without the cache: %s (%zu metrics)\n", differ ? "NO" : "yes",
         m_full.size());
  printf("evaluation without / with KV cache: %.2fx\n", full / cached);
  if (train_s > 0) {
    printf("evaluation share of a trial, before: %.1f%%\n", 100 * full / (train_s + full));
    printf("evaluation share of a trial: %.1f%% (goal <= 5%%)\n",
           100 * cached / (train_s + cached));
  }
  return differ ? 1 : 0;
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) {
  try {
    return revsweep::Main(argc, argv);
  } catch (const std::exception& e) {
    fprintf(stderr, "bench_torch_eval_kv_cache: %s\n", e.what());
    return 1;
  }
}
