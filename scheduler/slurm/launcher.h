// Starting the MPI world for `revsweep run`: builds the mpirun command line (root needs
// --allow-run-as-root; more ranks than cores need --oversubscribe; one thread per rank bound
// to a core) or, when already inside an allocation (srun/mpirun), runs revsweep-train as is.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace revsweep {

struct LaunchOptions {
  int ranks = 1;
  std::string train_bin;  // path of revsweep-train
  std::string store;
  std::string sweep;
  std::string policy = "largest_first";
  int threads_per_rank = 1;
  bool quiet = false;
};

// The argv that starts the world locally.
std::vector<std::string> MpirunCommand(const LaunchOptions& o);

// Runs the command, forwarding SIGINT/SIGTERM/SIGUSR2 as SIGUSR2 (checkpoint and stop) to
// the world. `on_tick` is called about once a second while it runs (progress display).
// Returns the exit status of the world (75 = preempted, requeue).
int RunWorld(const std::vector<std::string>& argv, const std::function<void()>& on_tick);

// Directory of the running executable (to find revsweep-train beside revsweep).
std::string SelfDir();

}  // namespace revsweep
