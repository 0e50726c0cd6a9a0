// `revsweep prepare`: the torch-free half of a run. Validates the config, writes datasets,
// trains or reuses tokenizers, writes token caches, freezes the config into the run
// directory and upserts the sweep's trials (with cost estimates) into the store.
#pragma once

#include <string>

#include "common/config/sweep_config.h"

namespace revsweep {

struct PrepareReport {
  SweepConfig config;
  std::string store;
  std::string run_dir;
  int trials = 0, new_trials = 0, datasets = 0, tokenizers_trained = 0;
};

// `store_override` replaces run.store when not empty. Prints one line per dataset unless quiet.
PrepareReport PrepareSweep(const std::string& config_path, const std::string& store_override,
                           bool quiet);

// Same, from a config already parsed (e.g. the YAML frozen in the store for `resume`).
PrepareReport PrepareParsedSweep(SweepConfig config, const std::string& store_override, bool quiet);

}  // namespace revsweep
