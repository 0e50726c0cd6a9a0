// Which job owns an attempt, and whether that job still exists. Used on start-up to send
// attempts left "running" by a dead job back to pending (recorded as lost).
#pragma once

#include <functional>
#include <string>

#include "scheduler/slurm/slurm.h"

namespace revsweep {

// This process's job id: $SLURM_JOB_ID when under Slurm, else "local-<pid>@<host>".
std::string CurrentJobId();

enum class Liveness {
  kAlive,    // queued, running, suspended, requeued, stopped: its attempts may still report
  kGone,     // finished, purged, or a local process that no longer exists
  kUnknown,  // Slurm could not be asked (controller down, squeue failing): not "gone"
};

struct LivenessProbe {
  SlurmTools tools;
  int tries = 3;                            // squeue calls before the answer is "unknown"
  std::function<void(double seconds)> nap;  // between tries; default sleeps 1 s, then 2 s
};

// `self_job` is gone (a requeued Slurm job keeps its id: its old attempts are dead). A Slurm
// job's state comes from QueryJobs and JobInfo::Finished, the one table of Slurm states.
Liveness CheckJob(const std::string& job_id, const std::string& self_job,
                  const LivenessProbe& probe = {}, std::string* why = nullptr);

// CheckJob(...) != kGone: attempts of a job that may be alive are never recovered, so a trial
// is never trained twice at once.
bool JobAlive(const std::string& job_id, const std::string& self_job);

}  // namespace revsweep
