// Retry budgets, one per kind of failure (see docs/ARCHITECTURE.md, "Failures"):
//   preempted, lost  unlimited: the infrastructure's fault, resumes from a checkpoint
//   crash            run.retries_crash extra attempts (NaN loss, libtorch error, disk full)
//   timeout          run.retries_timeout extra attempts
//   fatal            never retried (config or data errors)
#pragma once

#include <map>

#include "common/config/sweep_config.h"
#include "common/store/results_store.h"

namespace revsweep {

// State a trial goes to after an attempt ends with `outcome`. `past` counts this trial's
// earlier attempts by outcome, not including the one ending now.
TrialState NextStateAfter(Outcome outcome, const std::map<Outcome, int>& past,
                          const RunOptions& run);

}  // namespace revsweep
