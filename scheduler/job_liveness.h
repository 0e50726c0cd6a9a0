// Which job owns an attempt, and whether that job still exists. Used on start-up to send
// attempts left "running" by a dead job back to pending (recorded as lost).
#pragma once

#include <string>
#include <vector>

namespace revsweep {

// This process's job id: $SLURM_JOB_ID when under Slurm, else "local-<pid>@<host>".
std::string CurrentJobId();

// False for `self_job` (a requeued Slurm job keeps its id: its old attempts are dead) and for
// a local job whose process is gone; true while a Slurm job is queued or running.
bool JobAlive(const std::string& job_id, const std::string& self_job);

// Runs a command (argv, no shell) and returns its stdout; exit status in *status.
std::string RunCapture(const std::vector<std::string>& argv, int* status);

}  // namespace revsweep
