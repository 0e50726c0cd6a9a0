#include "scheduler/placement/retry_policy.h"

#include <gtest/gtest.h>

namespace revsweep {
namespace {

struct Case {
  Outcome outcome;
  std::map<Outcome, int> past;
  TrialState want;
};

TEST(RetryPolicy, BudgetsPerKind) {
  RunOptions run{};
  run.retries_crash = 2;
  run.retries_timeout = 1;
  const Case cases[] = {
      {Outcome::kPreempted, {{Outcome::kPreempted, 100}}, TrialState::kPending},
      {Outcome::kLost, {{Outcome::kLost, 50}, {Outcome::kCrash, 2}}, TrialState::kPending},
      {Outcome::kCrash, {}, TrialState::kPending},
      {Outcome::kCrash, {{Outcome::kCrash, 1}}, TrialState::kPending},
      {Outcome::kCrash, {{Outcome::kCrash, 2}}, TrialState::kFailed},
      {Outcome::kCrash, {{Outcome::kTimeout, 5}, {Outcome::kPreempted, 9}}, TrialState::kPending},
      {Outcome::kTimeout, {}, TrialState::kPending},
      {Outcome::kTimeout, {{Outcome::kTimeout, 1}}, TrialState::kFailed},
      {Outcome::kFatal, {}, TrialState::kFailed},
      {Outcome::kDone, {}, TrialState::kDone},
  };
  for (const auto& c : cases)
    EXPECT_EQ(NextStateAfter(c.outcome, c.past, run), c.want) << OutcomeName(c.outcome);
}

}  // namespace
}  // namespace revsweep
