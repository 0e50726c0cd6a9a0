// The coordinator: runs on MPI rank 0 as a thread beside that rank's worker (so no
// accelerator idles). It owns the store (the only writer while a sweep runs), picks trials
// for free ranks with the placement policy, sends Assign messages, records progress,
// results and failures, applies retry budgets and shuts the world down at the end.
#pragma once

#include <mpi.h>

#include <atomic>
#include <functional>
#include <string>

#include "common/sweep_config.h"

namespace revsweep {

struct CoordinatorOptions {
  MPI_Comm comm = MPI_COMM_NULL;  // dup of WORLD; workers listen on it
  std::string store_path;
  std::string sweep;
  std::string policy = "largest_first";     // placement policy name
  const std::atomic<bool>* stop = nullptr;  // SIGTERM/SIGUSR2 seen: checkpoint and requeue
  bool quiet = false;
};

// Runs the sweep to completion (or until stopped). Returns the process exit code:
// 0 all done, 1 some trials failed, 75 (kExitRequeue) preempted, 2 user error.
// Always sends Shutdown to every rank before returning.
int RunCoordinator(const CoordinatorOptions& options);

}  // namespace revsweep
