// revsweep-train: one MPI world per sweep run. Started by `revsweep run` through mpirun, by
// srun in a Slurm job, or by hand. Rank 0 runs the coordinator as a thread beside its own
// worker, so every rank (and every GPU) trains; the coordinator mostly sleeps in short polls.
//
//   revsweep-train --store runs/revsweep.db --sweep quickstart [--policy largest_first]
//
// Exit status: 0 sweep done, 1 some trials failed, 2 user error, 75 preempted (requeue me).
#include <mpi.h>
#include <torch/torch.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "common/user_error.h"
#include "scheduler/coordinator.h"
#include "scheduler/placement/placement_policy.h"
#include "worker/trainer.h"
#include "worker/worker_loop.h"

namespace {

std::atomic<bool> g_stop{false};

}  // namespace

int main(int argc, char** argv) {
  // Before any tensor exists: keep the training step's freed memory in the heap.
  revsweep::KeepFreedMemoryForTraining();
  std::string store, sweep, policy = "largest_first";
  bool quiet = false;
  CLI::App app{
      "Runs the sweep's pending trials over the ranks of this MPI job. Start it with `revsweep "
      "run` (which prepares data and calls mpirun) or under srun/mpirun in a batch job.\n"
      "SIGTERM or SIGUSR2: checkpoint at the next step, exit 75 (requeue me).\n"
      "Exit status: 0 sweep done, 1 some trials failed, 2 user error, 75 stopped for a requeue.",
      "revsweep-train"};
  app.add_option("--store", store, "results store written by `revsweep prepare`")->required();
  app.add_option("--sweep", sweep, "sweep name in that store")->required();
  app.add_option("--policy", policy, "placement policy")
      ->capture_default_str()
      ->check(CLI::IsMember(revsweep::PlacementPolicyNames()));
  app.add_flag("--quiet", quiet, "no per-trial coordinator lines");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; anything else is a usage error (exit 2), like `revsweep`.
    const int code = app.exit(e);
    return code == 0 ? 0 : revsweep::kExitUserError;
  }

  // Watch SIGTERM and SIGUSR2 (SIGUSR1 belongs to NCCL) on a small Asio thread. Installed
  // before MPI_Init so no signal arrives unhandled.
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGTERM, SIGUSR2);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        g_stop = true;
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  std::thread signal_thread([&] { io.run(); });

  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (provided < MPI_THREAD_MULTIPLE) {
    if (rank == 0) fprintf(stderr, "revsweep-train: MPI lacks MPI_THREAD_MULTIPLE\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  // Two dups: the coordinator talks to workers on one and receives their reports on the other.
  MPI_Comm comm, report_comm;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  MPI_Comm_dup(MPI_COMM_WORLD, &report_comm);
  at::set_num_interop_threads(1);

  int code = 0;
  std::thread coordinator;
  int coordinator_code = 0;
  revsweep::CoordinatorOptions co;  // outlives the coordinator thread
  if (rank == 0) {
    co.comm = comm;
    co.report_comm = report_comm;
    co.store_path = store;
    co.sweep = sweep;
    co.policy = policy;
    co.stop = &g_stop;
    co.quiet = quiet;
    coordinator = std::thread([&] { coordinator_code = revsweep::RunCoordinator(co); });
  }
  revsweep::WorkerOptions wo;
  wo.comm = comm;
  wo.report_comm = report_comm;
  wo.stop = &g_stop;
  code = revsweep::RunWorkerLoop(wo);
  if (rank == 0) {
    coordinator.join();
    code = coordinator_code;
  }
  MPI_Comm_free(&report_comm);
  MPI_Comm_free(&comm);
  MPI_Finalize();
  // A late SIGUSR2/SIGTERM (a Slurm warning landing after the sweep finished) must not kill
  // a process that is done: ignore them from here, and leave with _exit so no destructor
  // restores the default (terminating) action before the process is gone.
  std::signal(SIGUSR2, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
  io.stop();
  signal_thread.join();
  fflush(nullptr);
  _exit(code);
}
