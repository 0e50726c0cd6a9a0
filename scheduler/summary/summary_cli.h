// `revsweep summary`: builds the summary from the store and renders it (table, csv, json,
// markdown), per setting or per trial; optionally writes plots.
#pragma once

#include <string>

#include "common/store/results_store.h"

namespace revsweep {

// Prints to stdout. `plots_dir` empty: no plots. Returns the exit code.
int RunSummaryCommand(ResultsStore& store, const std::string& sweep, const std::string& format,
                      bool per_trial, const std::string& plots_dir);

}  // namespace revsweep
