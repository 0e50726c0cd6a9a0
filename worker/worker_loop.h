// The loop every rank runs (rank 0 runs it on its main thread beside the coordinator
// thread): wait for Assign, form the group, train, report, repeat until Shutdown.
#pragma once

#include <mpi.h>

#include <atomic>
#include <string>

namespace revsweep {

struct WorkerOptions {
  MPI_Comm comm = MPI_COMM_NULL;            // the coordinator communicator (a dup of WORLD)
  MPI_Comm report_comm = MPI_COMM_NULL;     // reports to the coordinator (another dup)
  const std::atomic<bool>* stop = nullptr;  // set by SIGTERM/SIGUSR2 handlers
  bool verbose = false;
  int local_rank = 0;  // set by RunWorkerLoop (MPI_COMM_TYPE_SHARED)
  int local_size = 1;
};

// Returns the exit code carried by Shutdown.
int RunWorkerLoop(const WorkerOptions& options);

// Receives one message of `tag` from `source`, polling (MPI_Iprobe + short sleep) so an idle
// rank does not spin a core in a blocking receive. Returns false if `give_up` became true.
bool PollRecv(MPI_Comm comm, int source, int tag, std::string* out, int* actual_source,
              const std::atomic<bool>* give_up = nullptr);
// Sends text with MPI_Send (small messages complete eagerly).
void SendText(MPI_Comm comm, int dest, int tag, const std::string& text);

}  // namespace revsweep
