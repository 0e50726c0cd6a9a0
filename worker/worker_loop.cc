#include "worker/worker_loop.h"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "common/config/sweep_config.h"
#include "common/data/token_cache.h"
#include "common/messages.h"
#include "common/user_error.h"
#include "worker/device_choice.h"
#include "worker/group_reuse.h"
#include "worker/mpi_communicator.h"
#include "worker/nccl_communicator.h"
#include "worker/trainer.h"

namespace revsweep {

void SendText(MPI_Comm comm, int dest, int tag, const std::string& text) {
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, comm);
}

bool PollRecv(MPI_Comm comm, int source, int tag, std::string* out, int* actual_source,
              const std::atomic<bool>* give_up) {
  for (int spins = 0;; ++spins) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(source, tag, comm, &flag, &st);
    if (flag) {
      int n = 0;
      MPI_Get_count(&st, MPI_CHAR, &n);
      out->assign(static_cast<size_t>(n), '\0');
      MPI_Recv(out->data(), n, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, comm, MPI_STATUS_IGNORE);
      if (actual_source) *actual_source = st.MPI_SOURCE;
      return true;
    }
    if (give_up && give_up->load()) return false;
    // Short naps first (latency), longer when idle (CPU for the training ranks).
    std::this_thread::sleep_for(std::chrono::microseconds(spins < 100 ? 200 : 5000));
  }
}

namespace {

// One line to stderr in one write(2): ranks share mpirun's output, and glibc 2.41 (Debian 13)
// writes a long fprintf to unbuffered stderr in 128-byte pieces, so two ranks' warnings
// interleaved mid-line (seen in the Debian 13 tier's corrupt_checkpoint test). A pipe write
// of at most PIPE_BUF (4096) bytes is atomic.
void WriteStderrLine(const std::string& line) {
  std::string text = line + "\n";
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

bool TryRecv(MPI_Comm comm, int source, int tag, std::string* out) {
  int flag = 0;
  MPI_Status st;
  MPI_Iprobe(source, tag, comm, &flag, &st);
  if (!flag) return false;
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  out->assign(static_cast<size_t>(n), '\0');
  MPI_Recv(out->data(), n, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, comm, MPI_STATUS_IGNORE);
  return true;
}

// Token caches are shared by many trials: keep the last few in memory.
const TokenizedTask& LoadTask(const std::string& path) {
  static std::map<std::string, std::shared_ptr<TokenizedTask>> cache;
  auto it = cache.find(path);
  if (it != cache.end()) return *it->second;
  if (cache.size() >= 4) cache.clear();
  auto task = std::make_shared<TokenizedTask>(ReadTokenizedTask(path));
  return *cache.emplace(path, task).first->second;
}

// Beats on its own thread while this rank holds an assignment, so a rank blocked in a
// collective still answers for itself and a stopped or dead one falls silent. The last message
// says the rank has left the group.
class Heartbeat {
 public:
  Heartbeat(MPI_Comm comm, int64_t attempt_id, int rank, double every_s)
      : comm_(comm), msg_{attempt_id, rank, false} {
    const auto period = std::chrono::duration<double>(std::max(every_s, 0.05));
    thread_ = std::thread([this, period] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, period, [this] { return done_; }))
        SendText(comm_, 0, kTagHeartbeat, Encode(msg_));
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    msg_.left = true;
    SendText(comm_, 0, kTagHeartbeat, Encode(msg_));
  }

 private:
  MPI_Comm comm_;
  HeartbeatMsg msg_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// This rank's node as its group's other members should see it: Slurm's node name (several
// "nodes" may share a host in a test cluster), else MPI's processor name.
std::string NodeName() {
  if (const char* n = getenv("SLURMD_NODENAME")) return n;
  char name[MPI_MAX_PROCESSOR_NAME] = {0};
  int len = 0;
  MPI_Get_processor_name(name, &len);
  return std::string(name, static_cast<size_t>(len));
}

// Every member's device, gathered over the group (one small all-gather per assignment).
std::vector<MemberDevice> GatherMemberDevices(MPI_Comm group, int world_rank,
                                              const DeviceChoice& mine) {
  struct Wire {
    int world_rank, cuda, gpu;
    char node[64];
  };
  Wire w{world_rank, mine.cuda ? 1 : 0, mine.gpu, {0}};
  const std::string node = NodeName();
  node.copy(w.node, sizeof(w.node) - 1);
  int n = 0;
  MPI_Comm_size(group, &n);
  std::vector<Wire> all(static_cast<size_t>(n));
  MPI_Allgather(&w, sizeof(Wire), MPI_BYTE, all.data(), sizeof(Wire), MPI_BYTE, group);
  std::vector<MemberDevice> out;
  for (const Wire& x : all) out.push_back({x.world_rank, x.node, x.cuda != 0, x.gpu});
  return out;
}

// The group communicators a rank keeps between trials (worker/group_reuse.h): the MPI group
// communicator and the Communicator over it (NCCL, MPI or self).
struct HeldGroup {
  HeldGroupKey key;
  MPI_Comm comm = MPI_COMM_NULL;
  std::unique_ptr<Communicator> communicator;
  // Frees both (the Communicator first: NCCL's uses the MPI communicator).
  void Release() {
    communicator.reset();
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
    comm = MPI_COMM_NULL;
    key = HeldGroupKey();
  }
};

// Every member's vote goes to the leader, which answers every member with the group's
// decision (point to point on the coordinator communicator: no group collective, so members
// that hold different communicators cannot deadlock on one of them).
bool AgreeOnReuse(MPI_Comm comm, const std::vector<int>& ranks, int world_rank, int64_t vote) {
  if (ranks.size() == 1) return AgreeReuse({vote});
  const int leader = ranks.front();
  int decision = 0;
  if (world_rank == leader) {
    std::vector<int64_t> votes{vote};
    for (size_t i = 1; i < ranks.size(); ++i) {
      int64_t v = -1;
      MPI_Recv(&v, 1, MPI_INT64_T, ranks[i], kTagGroupReuse, comm, MPI_STATUS_IGNORE);
      votes.push_back(v);
    }
    decision = AgreeReuse(votes) ? 1 : 0;
    for (size_t i = 1; i < ranks.size(); ++i)
      MPI_Send(&decision, 1, MPI_INT, ranks[i], kTagGroupReuse, comm);
  } else {
    MPI_Send(&vote, 1, MPI_INT64_T, leader, kTagGroupReuse, comm);
    MPI_Recv(&decision, 1, MPI_INT, leader, kTagGroupReuse, comm, MPI_STATUS_IGNORE);
  }
  return decision != 0;
}

// CUDA when this build has NCCL and the process sees a GPU (a CUDA libtorch): one GPU per
// rank, chosen by the node-local rank; otherwise CPU tensors over MPI.
DeviceChoice ChooseThisRanksDevice(const WorkerOptions& o) {
  DeviceEnv env;
  env.local_rank = o.local_rank;
  env.local_size = o.local_size;
  if (const char* v = getenv("CUDA_VISIBLE_DEVICES")) env.cuda_visible_devices = v;
#ifdef REVSWEEP_WITH_NCCL
  env.cuda_build = torch::cuda::is_available() && CudaDeviceAvailable();
  env.visible_gpus = env.cuda_build ? static_cast<int>(torch::cuda::device_count()) : 0;
#endif
  return ChooseDevice(env);
}

void RunAssignment(const WorkerOptions& o, const AssignMsg& a, int world_rank, HeldGroup& held) {
  // Declared first, so it says "left" only after this rank's report and, unless the group's
  // communicators are kept for its next trial, their teardown.
  Heartbeat heartbeat(o.report_comm, a.attempt_id, world_rank, a.heartbeat_every_s);
  const DeviceChoice device = ChooseThisRanksDevice(o);
  GroupKey want{a.ranks, device.cuda, device.gpu};
  const bool reuse = AgreeOnReuse(o.comm, a.ranks, world_rank, ReuseVote(held.key, want));
  if (reuse) {
    if (o.verbose)
      fprintf(stderr, "[rank %d] trial %s keeps the group communicators of attempt %lld\n",
              world_rank, a.trial_id.c_str(), static_cast<long long>(held.key.created_by));
  } else {
    held.Release();
    MPI_Group world_group, group;
    MPI_Comm_group(o.comm, &world_group);
    MPI_Group_incl(world_group, static_cast<int>(a.ranks.size()), a.ranks.data(), &group);
    MPI_Comm_create_group(o.comm, group, a.comm_tag, &held.comm);
    MPI_Group_free(&group);
    MPI_Group_free(&world_group);
  }
  MPI_Comm group_comm = held.comm;
  const bool leader = world_rank == a.ranks.front();
  TrialEnd end = TrialEnd::kFailed;

  FailedMsg failed;
  failed.trial_id = a.trial_id;
  failed.attempt_id = a.attempt_id;
  failed.rank = world_rank;
  std::string cancel_reason;
  try {
    TrialConfig trial = MakeTrialConfig(SettingsFromJson(a.settings_json));
    trial.id = a.trial_id;
    at::set_num_threads(trial.resources.threads);
    const TokenizedTask& task = LoadTask(a.task_path);
    // Every member learns every member's device first, so a group that cannot work (CUDA
    // beside CPU, two members on one GPU) is refused with a message by all of them, before
    // any NCCL communicator exists.
    if (!device.note.empty() && leader)
      WriteStderrLine("[trial " + a.trial_id + "] note: " + device.note);
    const std::string refused =
        CheckGroupDevices(GatherMemberDevices(group_comm, world_rank, device));
    if (!refused.empty()) throw UserError("", 0, 0, "resources.group_size", refused);
    TrainContext ctx;
    if (device.cuda) ctx.device = "cuda:" + std::to_string(device.gpu);
    if (!held.communicator) {
      // A group of one has nothing to synchronise: no NCCL communicator (its set-up costs
      // about a second on a GPU) and no MPI collectives per step.
      if (a.ranks.size() == 1) held.communicator = std::make_unique<SelfCommunicator>();
#ifdef REVSWEEP_WITH_NCCL
      if (device.cuda && !held.communicator)
        held.communicator = std::make_unique<NcclCommunicator>(group_comm, device.gpu);
#endif
      if (!held.communicator) held.communicator = std::make_unique<MpiCommunicator>(group_comm);
      held.key.key = want;
      held.key.created_by = a.attempt_id;
    }
    Communicator& comm = *held.communicator;
    ctx.checkpoint_dir = a.checkpoint_dir;
    ctx.attempt_number = a.attempt_number;
    ctx.world_rank = world_rank;
    ctx.bucket_mb = a.bucket_mb;
    TrainHooks hooks;
    hooks.progress_every_s = a.progress_every_s;
    hooks.stop_requested = [&]() {
      if (o.stop && o.stop->load()) {
        if (cancel_reason.empty()) cancel_reason = "preempted";
        return true;
      }
      std::string text;
      // A Cancel names its trial: one sent for an earlier trial of this rank (it finished
      // before the Cancel arrived) is stale and must not stop this one.
      while (leader && cancel_reason.empty() && TryRecv(o.comm, 0, kTagCancel, &text)) {
        CancelMsg c = DecodeCancel(text);
        if (c.trial_id == a.trial_id) cancel_reason = c.reason;
      }
      return !cancel_reason.empty();
    };
    hooks.on_progress = [&](const ProgressRow& row,
                            const std::vector<std::pair<int64_t, double>>& curve) {
      ProgressMsg m;
      m.attempt_id = a.attempt_id;
      m.row = row;
      m.curve = curve;
      SendText(o.report_comm, 0, kTagProgress, Encode(m));
    };
    hooks.on_start = [&](int64_t step) {
      ProgressMsg m;
      m.attempt_id = a.attempt_id;
      m.start_step = step;
      m.row.trial_id = a.trial_id;
      SendText(o.report_comm, 0, kTagProgress, Encode(m));
    };
    hooks.on_warning = [&](const std::string& w) {
      WriteStderrLine("[trial " + a.trial_id + "] warning: " + w);
    };
    TrainResult r = RunTrial(trial, task, comm, ctx, hooks);
    end = r.preempted ? TrialEnd::kStopped : TrialEnd::kFinished;
    if (r.preempted) {
      // A regroup (the coordinator moves the trial to more ranks) ends like a preemption.
      failed.outcome = cancel_reason == "timeout" ? Outcome::kTimeout : Outcome::kPreempted;
      failed.message = (cancel_reason == "timeout"   ? "timed out"
                        : cancel_reason == "regroup" ? "regrouped onto more ranks"
                                                     : "preempted") +
                       std::string(": checkpoint at step ") + std::to_string(r.end_step);
      failed.end_step = r.end_step;
      if (leader) SendText(o.report_comm, 0, kTagFailed, Encode(failed));
    } else if (leader) {
      ResultMsg m;
      m.trial_id = a.trial_id;
      m.attempt_id = a.attempt_id;
      m.metrics = r.metrics;
      m.params = r.params;
      m.end_step = r.end_step;
      SendText(o.report_comm, 0, kTagResult, Encode(m));
    }
  } catch (const TrialError& e) {
    failed.outcome = e.kind();
    failed.message = e.what();
    SendText(o.report_comm, 0, kTagFailed, Encode(failed));
  } catch (const UserError& e) {
    failed.outcome = Outcome::kFatal;
    failed.message = e.what();
    SendText(o.report_comm, 0, kTagFailed, Encode(failed));
  } catch (const std::exception& e) {
    // libtorch and I/O errors: translated here, retried within the crash budget.
    std::string what = e.what();
    failed.outcome = Outcome::kCrash;
    failed.message = what.substr(0, what.find('\n'));
    SendText(o.report_comm, 0, kTagFailed, Encode(failed));
  }
  // A stop (cancel, regroup, preemption, timeout) or a failure frees the communicators; a
  // finished trial keeps them for the next trial of the same group (worker/group_reuse.h).
  if (!KeepGroupAfter(end)) held.Release();
}

}  // namespace

int RunWorkerLoop(const WorkerOptions& options) {
  WorkerOptions o = options;
  // REVSWEEP_WORKER_VERBOSE=1: a line per assignment and per kept group (tests read them).
  if (const char* v = getenv("REVSWEEP_WORKER_VERBOSE")) o.verbose = o.verbose || *v == '1';
  int world_rank = 0;
  MPI_Comm_rank(o.comm, &world_rank);
  // This rank's place among the processes of its host (for the GPU it takes), from MPI itself
  // rather than a launcher's environment variable.
  MPI_Comm node_comm = MPI_COMM_NULL;
  MPI_Comm_split_type(o.comm, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &node_comm);
  MPI_Comm_rank(node_comm, &o.local_rank);
  MPI_Comm_size(node_comm, &o.local_size);
  MPI_Comm_free(&node_comm);
  HeldGroup held;  // the last group's communicators, while they may be reused
  for (;;) {
    std::string text;
    int src = 0;
    // Assign and Shutdown both come from the coordinator on rank 0.
    int flag_assign = 0, flag_shutdown = 0;
    MPI_Status st;
    for (int spins = 0;; ++spins) {
      MPI_Iprobe(0, kTagShutdown, o.comm, &flag_shutdown, &st);
      if (flag_shutdown) break;
      MPI_Iprobe(0, kTagAssign, o.comm, &flag_assign, &st);
      if (flag_assign) break;
      std::this_thread::sleep_for(std::chrono::microseconds(spins < 100 ? 200 : 5000));
    }
    if (flag_shutdown) {
      held.Release();
      PollRecv(o.comm, 0, kTagShutdown, &text, &src);
      return DecodeShutdown(text).exit_code;
    }
    PollRecv(o.comm, 0, kTagAssign, &text, &src);
    AssignMsg a = DecodeAssign(text);
    if (o.verbose)
      fprintf(stderr, "[rank %d] trial %s on ranks %zu\n", world_rank, a.trial_id.c_str(),
              a.ranks.size());
    RunAssignment(o, a, world_rank, held);
  }
}

}  // namespace revsweep
