#include "scheduler/placement/retry_policy.h"

namespace revsweep {

TrialState NextStateAfter(Outcome outcome, const std::map<Outcome, int>& past,
                          const RunOptions& run) {
  auto count = [&](Outcome o) {
    auto it = past.find(o);
    return it == past.end() ? 0 : it->second;
  };
  switch (outcome) {
    case Outcome::kDone:
      return TrialState::kDone;
    case Outcome::kPreempted:
    case Outcome::kLost:
    case Outcome::kRunning:
      return TrialState::kPending;
    case Outcome::kCrash:
    case Outcome::kFailed:
      return count(Outcome::kCrash) + count(Outcome::kFailed) < run.retries_crash
                 ? TrialState::kPending
                 : TrialState::kFailed;
    case Outcome::kTimeout:
      return count(Outcome::kTimeout) < run.retries_timeout ? TrialState::kPending
                                                            : TrialState::kFailed;
    case Outcome::kFatal:
      return TrialState::kFailed;
  }
  return TrialState::kFailed;
}

}  // namespace revsweep
