#include "scheduler/coordinator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "common/messages.h"
#include "common/results_store.h"
#include "common/trial_data.h"
#include "common/user_error.h"
#include "scheduler/job_liveness.h"
#include "scheduler/placement_policy.h"
#include "scheduler/retry_policy.h"
#include "scheduler/status_report.h"
#include "scheduler/status_server.h"

namespace revsweep {
namespace {

using Clock = std::chrono::steady_clock;

void Send(MPI_Comm comm, int dest, int tag, const std::string& text) {
  MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, comm);
}

struct Running {
  std::string trial_id;
  int64_t attempt_id;
  std::vector<int> ranks;
  Clock::time_point started;
  bool cancel_sent = false;
  double cost = 0;
};

// Step of the newest checkpoint file in `dir` (0 when none); checksums are the worker's job.
int64_t NewestCheckpointStepOnDisk(const std::string& dir) {
  int64_t best = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("ckpt-", 0) == 0 && e.path().extension() == ".rsck")
      best = std::max<int64_t>(best, std::atoll(n.substr(5).c_str()));
  }
  return best;
}

class Coordinator {
 public:
  explicit Coordinator(const CoordinatorOptions& o) : o_(o), store_(o.store_path) {
    MPI_Comm_size(o.comm, &world_size_);
    job_id_ = CurrentJobId();
    if (const char* r = getenv("SLURM_RESTART_COUNT")) slurm_restart_ = std::atoi(r);
    // Ranks r and r' share a node when r / n == r' / n (block distribution, as mpirun and
    // srun place ranks by default).
    if (const char* n = getenv("SLURM_NTASKS_PER_NODE"))
      ranks_per_node_ = std::atoi(n);
    else if (const char* l = getenv("OMPI_COMM_WORLD_LOCAL_SIZE"))
      ranks_per_node_ = std::atoi(l);
  }

  // Trials assigned to ranks and not yet reported back.
  bool HasRunning() const { return !running_.empty(); }

  int Run() {
    if (!store_.HasSweep(o_.sweep))
      throw UserError(
          o_.store_path, 0, 0, "",
          "no sweep named '" + o_.sweep + "' in this store (run `revsweep prepare` first)");
    SweepConfig cfg = ParseSweepConfig(store_.SweepYaml(o_.sweep), o_.sweep + ".yaml");
    run_ = cfg.run;
    run_dir_ = store_.SweepRunDir(o_.sweep);
    cache_dir_ = run_dir_ + "/../cache";
    for (const TrialConfig& t : cfg.trials) trials_[t.id] = t;

    StartStatusServer();
    int lost = store_.RecoverLost([&](const std::string& j) { return JobAlive(j, job_id_); });
    if (lost > 0) Log("recovered %d attempt(s) left running by a job that is gone", lost);

    for (int r = 0; r < world_size_; ++r) free_.insert(r);
    int comm_tag = 1000;
    auto last_flush = Clock::now();
    bool stopping = false;
    for (;;) {
      bool busy = false;
      if (!stopping && ((o_.stop && o_.stop->load()) || preempted_seen_)) {
        stopping = true;
        Log("signal received: running trials checkpoint and stop; requeue to continue");
        // Groups whose ranks did not see the signal themselves stop too.
        for (auto& [id, r] : running_) {
          if (r.cancel_sent) continue;
          Send(o_.comm, r.ranks.front(), kTagCancel, Encode(CancelMsg{id, "preempted"}));
          r.cancel_sent = true;
        }
      }
      if (!stopping && dirty_ && !free_.empty()) {
        dirty_ = false;
        std::vector<PendingTrial> pending = PendingTrials();
        if (!pending.empty()) {
          ClusterSnapshot snap;
          snap.free_ranks.assign(free_.begin(), free_.end());
          snap.world_size = world_size_;
          snap.ranks_per_node = ranks_per_node_;
          for (const auto& [id, r] : running_) {
            double frac = 0;
            auto p = progress_seen_.find(id);
            if (p != progress_seen_.end() && p->second.total_steps > 0)
              frac = static_cast<double>(p->second.step) / p->second.total_steps;
            snap.running.push_back({r.ranks, r.cost / r.ranks.size() * (1 - frac)});
          }
          for (const Assignment& a : Place(o_.policy, pending, snap)) {
            const TrialConfig& t = trials_.at(a.trial_id);
            int number = static_cast<int>(store_.Attempts(a.trial_id).size()) + 1;
            const std::string ckpt_dir = run_dir_ + "/trials/" + a.trial_id + "/checkpoints";
            int64_t attempt = store_.StartAttempt(a.trial_id, job_id_, slurm_restart_,
                                                  static_cast<int>(a.ranks.size()),
                                                  NewestCheckpointStepOnDisk(ckpt_dir));
            if (attempt == 0) continue;  // another job sharing the store claimed it
            AssignMsg m;
            m.trial_id = a.trial_id;
            m.settings_json = SettingsToJson(t.settings);
            m.task_path = TaskCachePath(t, cache_dir_);
            m.checkpoint_dir = ckpt_dir;
            m.attempt_id = attempt;
            m.attempt_number = number;
            m.ranks = a.ranks;
            m.comm_tag = comm_tag++;
            m.bucket_mb = run_.bucket_mb;
            m.progress_every_s = run_.progress_every_s;
            std::string text = Encode(m);
            for (int r : a.ranks) {
              free_.erase(r);
              Send(o_.comm, r, kTagAssign, text);
            }
            double cost = 0;
            for (const auto& p : pending)
              if (p.id == a.trial_id) cost = p.cost;
            running_[a.trial_id] = {a.trial_id, attempt, a.ranks, Clock::now(), false, cost};
            Log("start %s on rank%s %s (attempt %d)", a.trial_id.c_str(),
                a.ranks.size() > 1 ? "s" : "", RankList(a.ranks).c_str(), number);
            busy = true;
          }
        }
      }
      busy |= Receive();
      // Timeouts: ask the group to checkpoint and stop; it reports Failed{timeout}.
      if (run_.trial_timeout_s > 0) {
        for (auto& [id, r] : running_) {
          double age = std::chrono::duration<double>(Clock::now() - r.started).count();
          if (!r.cancel_sent && age > run_.trial_timeout_s) {
            Send(o_.comm, r.ranks.front(), kTagCancel, Encode(CancelMsg{id, "timeout"}));
            r.cancel_sent = true;
          }
        }
      }
      if (std::chrono::duration<double>(Clock::now() - last_flush).count() >=
          run_.progress_every_s) {
        FlushProgress();
        RefreshStatus();
        last_flush = Clock::now();
      }
      if (running_.empty() && (stopping || PendingTrials().empty())) break;
      if (running_.empty()) dirty_ = true;
      if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    FlushProgress();
    RefreshStatus();
    if (server_) server_->Stop();
    auto counts = store_.CountByState(o_.sweep);
    int code = stopping ? kExitRequeue : (counts["failed"] > 0 ? kExitFailure : kExitOk);
    Log("%s: %d done, %d failed, %d pending", stopping ? "stopped for requeue" : "sweep finished",
        counts["done"], counts["failed"], counts["pending"]);
    return code;
  }

 private:
  void Log(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (o_.quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[coordinator] ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
  }

  static std::string RankList(const std::vector<int>& r) {
    std::string s;
    for (int x : r) s += (s.empty() ? "" : ",") + std::to_string(x);
    return s;
  }

  std::vector<PendingTrial> PendingTrials() {
    std::vector<PendingTrial> out;
    // Narrow rows: this runs whenever a group frees up, and must stay cheap at 100k trials.
    std::vector<TrialStateRow> rows = store_.TrialStates(o_.sweep);
    std::sort(rows.begin(), rows.end(),
              [](const TrialStateRow& a, const TrialStateRow& b) { return a.ord < b.ord; });
    for (const TrialStateRow& row : rows) {
      if (row.state != TrialState::kPending || running_.count(row.id)) continue;
      auto it = trials_.find(row.id);
      if (it == trials_.end()) continue;
      int k = it->second.resources.group_size;
      if (k > world_size_) {
        // Can never run in this world: fail it with a message rather than wait forever.
        int64_t a = store_.StartAttempt(row.id, job_id_, slurm_restart_, 0, 0);
        if (a)
          store_.EndAttempt(a, Outcome::kFatal,
                            "resources.group_size " + std::to_string(k) + " exceeds the " +
                                std::to_string(world_size_) + " ranks of this job",
                            TrialState::kFailed, 0);
        continue;
      }
      out.push_back({row.id, row.cost, k, 0});
    }
    return out;
  }

  bool Receive() {
    bool any = false;
    for (;;) {
      int flag = 0;
      MPI_Status st;
      // Probe our three tags only: Assign/Shutdown to rank 0 belong to its worker thread.
      for (int tag : {kTagResult, kTagFailed, kTagProgress}) {
        MPI_Iprobe(MPI_ANY_SOURCE, tag, o_.comm, &flag, &st);
        if (flag) break;
      }
      if (!flag) return any;
      int n = 0;
      MPI_Get_count(&st, MPI_CHAR, &n);
      std::string text(static_cast<size_t>(n), '\0');
      MPI_Recv(text.data(), n, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, o_.comm, MPI_STATUS_IGNORE);
      any = true;
      if (st.MPI_TAG == kTagProgress) {
        ProgressMsg m = DecodeProgress(text);
        if (m.start_step >= 0) {
          store_.SetAttemptStartStep(m.attempt_id, m.start_step);
          continue;
        }
        m.row.updated_at =
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        progress_[m.row.trial_id] = m.row;
        progress_seen_[m.row.trial_id] = m.row;
        for (const auto& [s, l] : m.curve) curve_.emplace_back(m.row.trial_id, s, l);
      } else if (st.MPI_TAG == kTagResult) {
        ResultMsg m = DecodeResult(text);
        FlushProgress();
        bool wrote = store_.FinishTrial(m.trial_id, m.attempt_id, m.metrics, m.params, m.end_step);
        Log("done  %s%s", m.trial_id.c_str(), wrote ? "" : " (already recorded; ignored)");
        Release(m.trial_id);
      } else {
        FailedMsg m = DecodeFailed(text);
        FlushProgress();
        auto past = store_.AttemptOutcomes(m.trial_id);
        past[Outcome::kRunning] = 0;
        TrialState next = NextStateAfter(m.outcome, past, run_);
        store_.EndAttempt(m.attempt_id, m.outcome, m.message, next, m.end_step);
        Log("%s %s: %s -> %s", OutcomeName(m.outcome), m.trial_id.c_str(), m.message.c_str(),
            TrialStateName(next));
        Release(m.trial_id);
        // A rank saw SIGTERM/SIGUSR2 (under Slurm signals may reach tasks one by one): the job
        // is going away, so stop assigning and let the whole job checkpoint and requeue,
        // rather than handing the trial back to a rank that will stop again.
        if (m.outcome == Outcome::kPreempted) preempted_seen_ = true;
      }
    }
  }

  // The status server (read-only HTTP) serves strings cached here; it never touches the
  // store, which only this thread uses.
  void StartStatusServer() {
    auto provider = [this](int which) {
      return [this, which]() {
        std::lock_guard<std::mutex> lock(status_mu_);
        return status_cache_[which];
      };
    };
    RefreshStatus();
    try {
      server_ = std::make_unique<StatusServer>(run_.status_bind, run_.status_port, provider(0),
                                               provider(1), provider(2));
      server_->Start();
      WritePortFile(run_dir_, run_.status_bind, server_->port());
      Log("status: http://%s:%d/status", run_.status_bind.c_str(), server_->port());
    } catch (const std::exception& e) {
      Log("status server not started: %s", e.what());
      server_.reset();
    }
  }

  void RefreshStatus() {
    try {
      double now =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      StatusSnapshot snap = TakeSnapshot(store_, o_.sweep, now, SnapshotDetail::kActive);
      std::string a = StatusJson(snap), b, c = PrometheusMetrics(snap);
      // /trials reads every trial with its settings, seconds at 100k trials: refresh it at
      // most every 20x its own cost, so it takes <= ~5% of this thread (and every time for
      // small sweeps).
      const auto t0 = Clock::now();
      if (t0 >= next_trials_refresh_) {
        b = TrialsJson(TakeSnapshot(store_, o_.sweep, now, SnapshotDetail::kAll));
        next_trials_refresh_ = Clock::now() + 20 * (Clock::now() - t0);
      }
      std::lock_guard<std::mutex> lock(status_mu_);
      status_cache_[0] = std::move(a);
      if (!b.empty()) status_cache_[1] = std::move(b);
      status_cache_[2] = std::move(c);
    } catch (const std::exception& e) {
      Log("status refresh failed: %s", e.what());
    }
  }

  void Release(const std::string& trial_id) {
    auto it = running_.find(trial_id);
    if (it == running_.end()) return;
    for (int r : it->second.ranks) free_.insert(r);
    running_.erase(it);
    dirty_ = true;
  }

  void FlushProgress() {
    if (progress_.empty() && curve_.empty()) return;
    std::vector<ProgressRow> rows;
    for (auto& [id, r] : progress_) rows.push_back(r);
    store_.WriteProgress(rows, curve_);
    progress_.clear();
    curve_.clear();
  }

  CoordinatorOptions o_;
  ResultsStore store_;
  RunOptions run_;
  std::string run_dir_, cache_dir_, job_id_;
  int slurm_restart_ = 0;
  bool dirty_ = true;  // pending trials or free ranks changed since the last placement
  bool preempted_seen_ = false;
  int world_size_ = 1;
  std::map<std::string, TrialConfig> trials_;
  std::set<int> free_;
  std::map<std::string, Running> running_;
  std::map<std::string, ProgressRow> progress_;       // not yet written to the store
  std::map<std::string, ProgressRow> progress_seen_;  // latest per trial (placement estimates)
  int ranks_per_node_ = 0;
  std::mutex status_mu_;
  std::string status_cache_[3] = {"{}", "[]", ""};
  Clock::time_point next_trials_refresh_{};
  std::unique_ptr<StatusServer> server_;
  std::vector<std::tuple<std::string, int64_t, double>> curve_;
};

}  // namespace

int RunCoordinator(const CoordinatorOptions& options) {
  int code = kExitFailure;
  std::unique_ptr<Coordinator> c;
  try {
    c = std::make_unique<Coordinator>(options);
    code = c->Run();
  } catch (const UserError& e) {
    fprintf(stderr, "revsweep-train: %s\n", e.what());
    code = kExitUserError;
  } catch (const std::exception& e) {
    // Every store write is one transaction, so a failed one (a full disk, an I/O error) left
    // the store as it was: finished results are kept, and the open attempts are recovered as
    // lost by the next run.
    fprintf(stderr,
            "revsweep-train: coordinator error: %s\nrevsweep-train: results recorded so far are "
            "safe; fix the cause, then `revsweep resume %s --store %s` continues the sweep\n",
            e.what(), options.sweep.c_str(), options.store_path.c_str());
    code = kExitFailure;
  }
  // Run() returns only once no trial is running, so trials still running mean it threw.
  if (c && c->HasRunning()) {
    // Ranks that are training cannot take a Shutdown (they look for it between trials), and
    // their next message to this coordinator would block in MPI_Send forever: end the whole
    // world now. Their attempts stay open in the store and the next run recovers them as lost
    // and resumes them from their checkpoints (under Slurm, the non-zero exit requeues).
    fprintf(stderr, "revsweep-train: ending the world (trials were running)\n");
    fflush(stderr);
    MPI_Abort(options.comm, code);
  }
  int world = 1;
  MPI_Comm_size(options.comm, &world);
  std::string text = Encode(ShutdownMsg{code});
  for (int r = 0; r < world; ++r) Send(options.comm, r, kTagShutdown, text);
  return code;
}

}  // namespace revsweep
