// The coordinator: runs on MPI rank 0 as a thread beside that rank's worker (so no
// accelerator idles). It owns the store (the only writer while a sweep runs), picks trials
// for free ranks with the placement policy, sends Assign messages, records progress,
// results and failures, applies retry budgets and shuts the world down at the end.
//
// Its protocol (common/messages.h) sits behind two seams so unit tests can drive it without
// MPI: a Transport (MPI or in memory) and injected store, clock and job-liveness check.
//
// Failures inside a group. A member that fails reports it; its peers are then usually blocked
// in a collective with it, which MPI cannot interrupt, and a stopped or dead member is found by
// its missing heartbeat (run.heartbeat_timeout_s). Either way the attempt is recorded at once
// (its retry budget applies), the group is *broken*: its ranks are never assigned again in this
// job, every other running group is told to checkpoint and stop, and once they have reported
// the world is ended with exit 75 (MPI_Abort: stuck ranks cannot take a Shutdown), so the batch
// script requeues the job and the next run starts with every rank healthy. A group that does
// not stop within the heartbeat timeout of its Cancel (trial timeout, preemption) is broken
// the same way.
//
// Moldable trials (resources.group_size_max). Placement widens trials onto ranks that would
// otherwise sit idle (placement_policy.h). When nothing is pending and ranks are idle (the tail
// of a sweep), a running moldable trial with at least run.regroup_min_remaining_s left (by its
// progress so far) is sent a Cancel with reason "regroup": it checkpoints and reports
// preempted, which costs no retry budget and does not stop the job, and the next placement
// starts it again, from that checkpoint, on its old ranks plus the idle ones. The global batch
// is fixed, so the group size changes when the trial ends, not what it computes.
#pragma once

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/config/sweep_config.h"
#include "common/messages.h"
#include "common/store/results_store.h"
#include "scheduler/placement/placement_policy.h"
#include "scheduler/transport.h"

namespace revsweep {

class StatusServer;

struct CoordinatorOptions {
  MPI_Comm comm = MPI_COMM_NULL;         // dup of WORLD; workers listen on it
  MPI_Comm report_comm = MPI_COMM_NULL;  // another dup: workers report on it (see MpiTransport)
  std::string store_path;
  std::string sweep;
  std::string policy = "largest_first";     // placement policy name
  const std::atomic<bool>* stop = nullptr;  // SIGTERM/SIGUSR2 seen: checkpoint and requeue
  bool quiet = false;
};

// Runs the sweep to completion (or until stopped). Returns the process exit code:
// 0 all done, 1 some trials failed, 75 (kExitRequeue) preempted, 2 user error.
// Sends Shutdown to every rank before returning; ends the world with MPI_Abort instead when
// ranks are stuck (a broken group, or a coordinator error while trials run).
int RunCoordinator(const CoordinatorOptions& options);

// ---- the protocol, MPI-free -------------------------------------------------------------------

// What the coordinator needs from outside. Everything has a real default except the transport
// and the store.
struct CoordinatorDeps {
  Transport* transport = nullptr;
  ResultsStore* store = nullptr;
  std::function<double()> now_s;                          // steady seconds; default steady_clock
  std::function<bool(const std::string& job)> job_alive;  // default JobAlive (squeue / pid)
  std::string job_id;      // this job (attempt owner); default CurrentJobId()
  int slurm_restart = 0;   // SLURM_RESTART_COUNT
  int ranks_per_node = 0;  // placement's node boundaries (0 = unknown)
  bool status_server = true;
};

class Coordinator {
 public:
  Coordinator(const CoordinatorOptions& options, CoordinatorDeps deps);
  ~Coordinator();

  // Loads the sweep, recovers attempts left running by dead jobs, starts the status server.
  // Throws UserError when the store has no such sweep.
  void Start();
  // One pass: place pending trials on free ranks, take every message that has arrived, apply
  // timeouts and heartbeats. Returns false once the loop is over (nothing runs and nothing more
  // will start); *busy says whether anything happened.
  bool Step(bool* busy = nullptr);
  // The exit code; flushes progress and stops the status server. Sends Shutdown to every rank,
  // or, when some ranks are stuck (a broken group), ends the world with exit 75 through the
  // transport.
  int Finish();
  // Start, Step until done (napping when idle), Finish.
  int Run();

  // Trials assigned to ranks whose outcome is not recorded yet.
  bool HasRunning() const;
  // Ranks of broken groups (never assigned again in this job).
  const std::set<int>& broken_ranks() const { return broken_; }

 private:
  struct Running {
    std::string trial_id;
    int64_t attempt_id = 0;
    std::vector<int> ranks;
    double started = 0;
    double cancel_at = 0;
    // "timeout" | "preempted" | "regroup"; "" while no Cancel was sent
    std::string cancel_reason;
    bool cancelled() const { return !cancel_reason.empty(); }
    double cost = 0;
    bool recorded = false;  // outcome written to the store
    double recorded_at = 0;
    std::set<int> left;  // members back in their idle loop
  };

  void Log(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  std::vector<PendingTrial> PendingTrials();
  bool PlacePending();
  bool Regroup();
  bool Receive();
  void OnFailed(int source, const FailedMsg& m);
  void OnLeft(int source, int64_t attempt_id);
  void Record(Running& r, Outcome outcome, const std::string& message, int64_t end_step);
  void Break(Running& r, const std::string& why);
  void CheckTimeouts();
  void CancelAll(const char* reason);
  void Retire();
  void StartStatusServer();
  void RefreshStatus();
  void FlushProgress();
  double Now() const { return deps_.now_s(); }

  CoordinatorOptions o_;
  CoordinatorDeps deps_;
  Transport& net_;
  ResultsStore& store_;
  RunOptions run_;
  std::string run_dir_, cache_dir_;
  bool dirty_ = true;  // pending trials or free ranks changed since the last placement
  bool preempted_seen_ = false;
  bool stopping_ = false;
  int world_size_ = 1;
  int comm_tag_ = 1000;
  double last_flush_ = 0;
  std::map<std::string, TrialConfig> trials_;
  std::set<int> free_;
  std::set<int> broken_;
  std::map<int, double> last_beat_;  // per rank in a running group: last message seen
  std::map<std::string, Running> running_;
  std::map<int64_t, std::string> by_attempt_;
  std::map<std::string, ProgressRow> progress_;       // not yet written to the store
  std::map<std::string, ProgressRow> progress_seen_;  // latest per trial (placement estimates)
  std::mutex status_mu_;
  std::string status_cache_[3] = {"{}", "[]", ""};
  std::chrono::steady_clock::time_point next_trials_refresh_{};
  bool none_pending_ = false;      // the last placement found no pending trial
  double next_regroup_check_ = 0;  // Now() seconds
  std::unique_ptr<StatusServer> server_;
  std::vector<std::tuple<std::string, int64_t, double>> curve_;
};

}  // namespace revsweep
