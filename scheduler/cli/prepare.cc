#include "scheduler/cli/prepare.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "common/data/trial_data.h"
#include "common/file_io.h"
#include "common/store/results_store.h"
#include "scheduler/placement/placement_policy.h"

namespace revsweep {
namespace fs = std::filesystem;

PrepareReport PrepareSweep(const std::string& config_path, const std::string& store_override,
                           bool quiet) {
  return PrepareParsedSweep(LoadSweepConfig(config_path), store_override, quiet);
}

PrepareReport PrepareParsedSweep(SweepConfig config, const std::string& store_override,
                                 bool quiet) {
  PrepareReport rep;
  rep.store = store_override.empty() ? config.run.store : store_override;
  const std::string run_root = config.run.run_root;
  rep.run_dir = fs::absolute(run_root + "/" + config.name).lexically_normal().string();
  const std::string cache_dir = fs::absolute(run_root + "/cache").lexically_normal().string();
  // Open the store first: a bad store path fails before any work.
  ResultsStore store(rep.store);
  fs::create_directories(rep.run_dir);
  WriteFileAtomic(rep.run_dir + "/config.yaml", config.yaml);

  std::map<std::string, PreparedData> by_key;
  std::vector<std::pair<std::string, Settings>> rows;
  std::vector<double> costs;
  for (const TrialConfig& t : config.trials) {
    const std::string key = DataKey(t);
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      auto t0 = std::chrono::steady_clock::now();
      PreparedData d = PrepareTrialData(t, cache_dir);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++rep.datasets;
      if (!d.tokenizer_cached) ++rep.tokenizers_trained;
      if (!quiet)
        fprintf(stderr,
                "data %s: %lld docs, %lld tokens/epoch, vocab %d, %.1f tokens per name (%s, "
                "%.1fs)\n",
                key.c_str(), static_cast<long long>(d.train_docs),
                static_cast<long long>(d.train_tokens), d.vocab_size, d.pieces_per_name,
                d.task_cached        ? "cached"
                : d.tokenizer_cached ? "tokenizer cached"
                                     : "tokenizer trained",
                s);
      if (!quiet && d.distinct_words > d.vocab_size - 4) {
        fprintf(stderr,
                "warning: data %s: the training documents have %d distinct words but "
                "tokenizer.vocab_size keeps %d; the rarest %d are <unk> (raise "
                "tokenizer.vocab_size to at least %d to keep all)\n",
                key.c_str(), d.distinct_words, d.vocab_size - 4,
                d.distinct_words - (d.vocab_size - 4), d.distinct_words + 4);
      }
      it = by_key.emplace(key, d).first;
    }
    const PreparedData& d = it->second;
    const int block = t.model.block_size > 0 ? t.model.block_size : d.block_size;
    const int64_t params = GptParamCount(d.vocab_size, block, t.model.n_layer, t.model.d_model);
    rows.emplace_back(t.id, t.settings);
    costs.push_back(EstimateCost(params, d.train_tokens, t.train.epochs));
  }
  rep.trials = static_cast<int>(rows.size());
  rep.new_trials = store.UpsertSweep(config.name, config.yaml, rep.run_dir, rows, costs);
  rep.config = std::move(config);
  return rep;
}

}  // namespace revsweep
