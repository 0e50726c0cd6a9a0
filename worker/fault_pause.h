// Test-only fault hook: deterministic pause points inside a trial (train.fault_pause_dir), so
// a test can land a kill, a signal or a full disk at an exact step instead of hoping to hit a
// window with sleeps and polls. Off (one string compare per step) unless the key is set.
//
// After every training step each rank of the trial looks in DIR for two control files:
//   pause.step<S>    pause once the trial's step count is S (steps since step 0)
//   pause.after<N>   pause once this attempt has trained N steps (steps since its start)
// A rank that pauses writes DIR/paused.rank<R>.<trial>.step<S> (atomically: a temp name then
// rename), one line "pid=P trial=ID step=S start_step=S0 attempt=A", and blocks until the
// control file is removed or the stop flag is raised (SIGTERM/SIGUSR2, a Cancel); then it
// removes its marker and carries on with the step's stop check, checkpoint and progress.
//
// A third control file makes one rank fail, as an out-of-memory or a NCCL error would:
//   fail.rank<R>.step<S>  world rank R throws std::runtime_error after step S; the file is
//                         renamed to fired.fail.rank<R>.step<S> first, so it fires once
// The rank's peers are then left in the next collective with it: the group-failure path.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace revsweep {

struct FaultPausePoint {
  std::string dir;  // train.fault_pause_dir; "" = off
  std::string trial_id;
  int world_rank = 0;
  int attempt = 1;
  int64_t start_step = 0;  // the step this attempt resumed from
};

// Called after a step with the trial's step count `step` (>= 1). Returns true when it paused;
// throws for a fail control file. `on_pause` (may be empty) runs once before the wait: the
// trainer reports its progress there, so the coordinator knows where a paused trial stands
// (its regroup and ETA decisions need a progress report, and a trial that reaches its pause
// point within one report period would otherwise have sent none).
bool MaybeFaultPause(const FaultPausePoint& p, int64_t step,
                     const std::function<bool()>& stop_requested,
                     const std::function<void()>& on_pause = nullptr);

}  // namespace revsweep
