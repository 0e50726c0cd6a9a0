#include "common/data/trial_data.h"

namespace revsweep {

int64_t GptParamCount(int64_t vocab, int64_t block, int64_t n_layer, int64_t d_model) {
  return n_layer * (12 * d_model * d_model + 13 * d_model) + (vocab + block) * d_model +
         2 * d_model;
}

std::string DataKey(const TrialConfig& trial) {
  std::string k = kDataCacheVersion;
  for (const auto& [key, v] : trial.settings)
    if (key.rfind("dataset.", 0) == 0 || key.rfind("tokenizer.", 0) == 0)
      k += "|" + key + "=" + ValueToJson(v);
  return Hex64(Fnv1a64(k.data(), k.size()));
}

std::string TaskCachePath(const TrialConfig& trial, const std::string& cache_dir) {
  return cache_dir + "/task-" + DataKey(trial) + ".rstk";
}

}  // namespace revsweep
