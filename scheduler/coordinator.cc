#include "scheduler/coordinator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/data/trial_data.h"
#include "common/user_error.h"
#include "scheduler/mpi_transport.h"
#include "scheduler/placement/retry_policy.h"
#include "scheduler/slurm/job_liveness.h"
#include "scheduler/status/status_report.h"
#include "scheduler/status/status_server.h"

namespace revsweep {
namespace {

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

std::string RankList(const std::vector<int>& r) {
  std::string s;
  for (int x : r) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Coordinator::Coordinator(const CoordinatorOptions& o, CoordinatorDeps deps)
    : o_(o), deps_(std::move(deps)), net_(*deps_.transport), store_(*deps_.store) {
  if (!deps_.now_s) deps_.now_s = SteadySeconds;
  if (deps_.job_id.empty()) deps_.job_id = CurrentJobId();
  if (!deps_.job_alive) {
    const std::string self = deps_.job_id;
    deps_.job_alive = [self](const std::string& j) { return JobAlive(j, self); };
  }
  world_size_ = net_.WorldSize();
}

Coordinator::~Coordinator() {
  if (server_) server_->Stop();
}

bool Coordinator::HasRunning() const {
  for (const auto& [id, r] : running_)
    if (!r.recorded) return true;
  return false;
}

void Coordinator::Log(const char* fmt, ...) {
  if (o_.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[coordinator] ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

void Coordinator::Start() {
  if (!store_.HasSweep(o_.sweep))
    throw UserError(
        o_.store_path, 0, 0, "",
        "no sweep named '" + o_.sweep + "' in this store (run `revsweep prepare` first)");
  SweepConfig cfg = ParseSweepConfig(store_.SweepYaml(o_.sweep), o_.sweep + ".yaml");
  run_ = cfg.run;
  run_dir_ = store_.SweepRunDir(o_.sweep);
  cache_dir_ = run_dir_ + "/../cache";
  // The trials as stored, not a new expansion of the frozen YAML (ResultsStore::TrialConfigs):
  // expanding again once gave other ids, ran nothing and reported success.
  for (TrialConfig& t : store_.TrialConfigs(o_.sweep)) trials_[t.id] = std::move(t);

  if (deps_.status_server) StartStatusServer();
  // One question per job, however many of its attempts are open (each may cost an squeue).
  std::map<std::string, bool> alive;
  int lost = store_.RecoverLost([&](const std::string& job) {
    auto it = alive.find(job);
    if (it == alive.end()) it = alive.emplace(job, deps_.job_alive(job)).first;
    return it->second;
  });
  if (lost > 0) Log("recovered %d attempt(s) left running by a job that is gone", lost);
  for (int r = 0; r < world_size_; ++r) free_.insert(r);
  last_flush_ = Now();
}

int Coordinator::Run() {
  Start();
  for (;;) {
    bool busy = false;
    if (!Step(&busy)) break;
    if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Finish();
}

bool Coordinator::Step(bool* busy_out) {
  bool busy = false;
  if (!stopping_ && ((o_.stop && o_.stop->load()) || preempted_seen_)) {
    stopping_ = true;
    Log("signal received: running trials checkpoint and stop; requeue to continue");
    // Groups whose ranks did not see the signal themselves stop too.
    CancelAll("preempted");
  }
  if (!stopping_ && dirty_ && !free_.empty()) busy |= PlacePending();
  if (!stopping_ && !free_.empty() && Now() >= next_regroup_check_) busy |= Regroup();
  busy |= Receive();
  CheckTimeouts();
  if (Now() - last_flush_ >= run_.progress_every_s) {
    FlushProgress();
    RefreshStatus();
    last_flush_ = Now();
  }
  if (busy_out) *busy_out = busy;
  if (!HasRunning()) {
    // Broken ranks never leave: once every attempt is recorded, nothing else will come.
    if (stopping_) return false;
    if (PendingTrials().empty()) return false;
    dirty_ = true;
  }
  return true;
}

int Coordinator::Finish() {
  FlushProgress();
  RefreshStatus();
  if (server_) server_->Stop();
  server_.reset();
  auto counts = store_.CountByState(o_.sweep);
  int code = stopping_ ? kExitRequeue : (counts["failed"] > 0 ? kExitFailure : kExitOk);
  Log("%s: %d done, %d failed, %d pending", stopping_ ? "stopped for requeue" : "sweep finished",
      counts["done"], counts["failed"], counts["pending"]);
  if (!broken_.empty()) {
    std::vector<int> b(broken_.begin(), broken_.end());
    Log("ranks %s are stuck in a broken group: ending the world with exit %d so the job is "
        "requeued with every rank healthy",
        RankList(b).c_str(), kExitRequeue);
    fflush(stderr);
    net_.Abort(kExitRequeue);
  }
  std::string text = Encode(ShutdownMsg{code});
  for (int r = 0; r < world_size_; ++r) net_.Send(r, kTagShutdown, text);
  return code;
}

std::vector<PendingTrial> Coordinator::PendingTrials() {
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
      int64_t a = store_.StartAttempt(row.id, deps_.job_id, deps_.slurm_restart, 0, 0);
      if (a)
        store_.EndAttempt(a, Outcome::kFatal,
                          "resources.group_size " + std::to_string(k) + " exceeds the " +
                              std::to_string(world_size_) + " ranks of this job",
                          TrialState::kFailed, 0);
      continue;
    }
    const int k_max = std::min(world_size_, std::max(k, it->second.resources.group_size_max));
    out.push_back({row.id, row.cost, k, 0, k_max > k ? k_max : 0});
  }
  return out;
}

bool Coordinator::PlacePending() {
  dirty_ = false;
  std::vector<PendingTrial> pending = PendingTrials();
  none_pending_ = pending.empty();
  if (pending.empty()) return false;
  ClusterSnapshot snap;
  snap.free_ranks.assign(free_.begin(), free_.end());
  snap.world_size = world_size_;
  snap.ranks_per_node = deps_.ranks_per_node;
  for (const auto& [id, r] : running_) {
    if (r.recorded) continue;
    double frac = 0;
    auto p = progress_seen_.find(id);
    if (p != progress_seen_.end() && p->second.total_steps > 0)
      frac = static_cast<double>(p->second.step) / p->second.total_steps;
    snap.running.push_back({r.ranks, r.cost / r.ranks.size() * (1 - frac)});
  }
  bool busy = false;
  for (const Assignment& a : Place(o_.policy, pending, snap)) {
    const TrialConfig& t = trials_.at(a.trial_id);
    int number = static_cast<int>(store_.Attempts(a.trial_id).size()) + 1;
    const std::string ckpt_dir = run_dir_ + "/trials/" + a.trial_id + "/checkpoints";
    int64_t attempt =
        store_.StartAttempt(a.trial_id, deps_.job_id, deps_.slurm_restart,
                            static_cast<int>(a.ranks.size()), NewestCheckpointStepOnDisk(ckpt_dir));
    if (attempt == 0) continue;  // another job sharing the store claimed it
    AssignMsg m;
    m.trial_id = a.trial_id;
    m.settings_json = SettingsToJson(t.settings);
    m.task_path = TaskCachePath(t, cache_dir_);
    m.checkpoint_dir = ckpt_dir;
    m.attempt_id = attempt;
    m.attempt_number = number;
    m.ranks = a.ranks;
    m.comm_tag = comm_tag_++;
    m.bucket_mb = run_.bucket_mb;
    m.progress_every_s = run_.progress_every_s;
    m.heartbeat_every_s = run_.heartbeat_timeout_s / 4;
    const std::string text = Encode(m);
    const double now = Now();
    for (int r : a.ranks) {
      free_.erase(r);
      last_beat_[r] = now;
      net_.Send(r, kTagAssign, text);
    }
    double cost = 0;
    for (const auto& p : pending)
      if (p.id == a.trial_id) cost = p.cost;
    Running run;
    run.trial_id = a.trial_id;
    run.attempt_id = attempt;
    run.ranks = a.ranks;
    run.started = now;
    run.cost = cost;
    running_[a.trial_id] = std::move(run);
    by_attempt_[attempt] = a.trial_id;
    Log("start %s on rank%s %s (attempt %d)", a.trial_id.c_str(), a.ranks.size() > 1 ? "s" : "",
        RankList(a.ranks).c_str(), number);
    busy = true;
  }
  return busy;
}

bool Coordinator::Regroup() {
  // Once a second is plenty: it waits for trials to report progress.
  next_regroup_check_ = Now() + 1;
  if (run_.regroup_min_remaining_s <= 0) return false;
  Running* best = nullptr;
  double best_left = 0;
  // Placement, not regrouping, uses free ranks while trials wait (the last placement saw none).
  if (!none_pending_ || dirty_) return false;
  for (auto& [id, r] : running_) {
    // One regroup at a time (until it is placed again): the ranks it frees may be all the
    // others need.
    if (r.cancel_reason == "regroup") return false;
  }
  for (auto& [id, r] : running_) {
    if (r.recorded || r.cancelled()) continue;
    const int k_max = std::min(world_size_, trials_.at(id).resources.group_size_max);
    if (k_max <= static_cast<int>(r.ranks.size())) continue;
    // Ranks it could take: those on its node while the group is smaller than a node (as
    // placement widens it), else any.
    const int rpn = deps_.ranks_per_node;
    const bool in_node = GrowsInsideNode(static_cast<int>(r.ranks.size()), rpn);
    int usable = 0;
    for (int f : free_) usable += !in_node || f / rpn == r.ranks.front() / rpn;
    if (usable == 0) continue;
    // Time left from this attempt's own pace (its elapsed_s counts earlier attempts too, at
    // their group sizes: close enough to decide whether a restart pays).
    auto p = progress_seen_.find(id);
    if (p == progress_seen_.end() || p->second.total_steps <= 0 || p->second.step <= 0) continue;
    const double frac = static_cast<double>(p->second.step) / p->second.total_steps;
    if (frac >= 1) continue;
    const double left = p->second.elapsed_s * (1 - frac) / frac;
    if (left < run_.regroup_min_remaining_s || left <= best_left) continue;
    best = &r;
    best_left = left;
  }
  if (best == nullptr) return false;
  net_.Send(best->ranks.front(), kTagCancel, Encode(CancelMsg{best->trial_id, "regroup"}));
  best->cancel_at = Now();
  best->cancel_reason = "regroup";
  Log("regroup %s: ~%.0f s left on %zu rank(s) while %zu idle; it checkpoints and continues on "
      "more",
      best->trial_id.c_str(), best_left, best->ranks.size(), free_.size());
  return true;
}

bool Coordinator::Receive() {
  bool any = false;
  while (std::optional<Envelope> e = net_.TryReceive()) {
    any = true;
    last_beat_[e->source] = Now();
    if (e->tag == kTagHeartbeat) {
      // A heartbeat says "still here"; the last one of an assignment says "left the group".
      HeartbeatMsg h = DecodeHeartbeat(e->text);
      if (h.left) OnLeft(e->source, h.attempt_id);
    } else if (e->tag == kTagProgress) {
      ProgressMsg m = DecodeProgress(e->text);
      if (m.start_step >= 0) {
        store_.SetAttemptStartStep(m.attempt_id, m.start_step);
        continue;
      }
      m.row.updated_at = WallSeconds();
      progress_[m.row.trial_id] = m.row;
      progress_seen_[m.row.trial_id] = m.row;
      for (const auto& [s, l] : m.curve) curve_.emplace_back(m.row.trial_id, s, l);
    } else if (e->tag == kTagResult) {
      ResultMsg m = DecodeResult(e->text);
      FlushProgress();
      // Recorded even when a member's failure was recorded first (it failed after the last
      // collective): the leader only sends a result computed by the whole group.
      bool wrote = store_.FinishTrial(m.trial_id, m.attempt_id, m.metrics, m.params, m.end_step);
      Log("done  %s%s", m.trial_id.c_str(), wrote ? "" : " (already recorded; ignored)");
      auto it = running_.find(m.trial_id);
      if (it != running_.end() && it->second.attempt_id == m.attempt_id) {
        it->second.recorded = true;
        it->second.recorded_at = Now();
      }
    } else if (e->tag == kTagFailed) {
      OnFailed(e->source, DecodeFailed(e->text));
    }
  }
  Retire();
  return any;
}

void Coordinator::Record(Running& r, Outcome outcome, const std::string& message,
                         int64_t end_step) {
  if (r.recorded) return;
  FlushProgress();
  auto past = store_.AttemptOutcomes(r.trial_id);
  past[Outcome::kRunning] = 0;
  TrialState next = NextStateAfter(outcome, past, run_);
  store_.EndAttempt(r.attempt_id, outcome, message, next, end_step);
  Log("%s %s: %s -> %s", OutcomeName(outcome), r.trial_id.c_str(), message.c_str(),
      TrialStateName(next));
  r.recorded = true;
  r.recorded_at = Now();
}

void Coordinator::OnFailed(int source, const FailedMsg& m) {
  auto it = running_.find(m.trial_id);
  if (it == running_.end() || it->second.attempt_id != m.attempt_id) {
    Log("ignored a failure report for %s attempt %lld (not running)", m.trial_id.c_str(),
        static_cast<long long>(m.attempt_id));
    return;
  }
  Running& r = it->second;
  const bool leader = source == r.ranks.front();
  std::string message = m.message;
  if (!leader) message = "rank " + std::to_string(source) + ": " + message;
  Record(r, m.outcome, message, m.end_step);
  // A rank saw SIGTERM/SIGUSR2 (under Slurm signals may reach tasks one by one): the job
  // is going away, so stop assigning and let the whole job checkpoint and requeue,
  // rather than handing the trial back to a rank that will stop again.
  // A regroup the coordinator asked for is not the job going away.
  if (m.outcome == Outcome::kPreempted && r.cancel_reason != "regroup") preempted_seen_ = true;
}

void Coordinator::OnLeft(int source, int64_t attempt_id) {
  auto a = by_attempt_.find(attempt_id);
  if (a == by_attempt_.end()) return;
  running_.at(a->second).left.insert(source);
}

void Coordinator::Break(Running& r, const std::string& why) {
  std::vector<int> stuck;
  for (int rank : r.ranks) {
    if (r.left.count(rank)) continue;
    stuck.push_back(rank);
  }
  // The whole group is retired, not only the stuck members: the one that failed may sit on a
  // bad node or GPU.
  for (int rank : r.ranks) {
    broken_.insert(rank);
    free_.erase(rank);
  }
  Log("group %s of %s is broken (%s); stuck rank(s) %s: stopping the job",
      RankList(r.ranks).c_str(), r.trial_id.c_str(), why.c_str(), RankList(stuck).c_str());
  // The stuck members will never leave: count them as gone so the attempt can be retired.
  for (int rank : r.ranks) r.left.insert(rank);
  if (!stopping_) {
    stopping_ = true;
    CancelAll("preempted");
  }
}

void Coordinator::CheckTimeouts() {
  const double now = Now();
  const double beat = run_.heartbeat_timeout_s;
  for (auto& [id, r] : running_) {
    if (r.left.size() == r.ranks.size()) continue;
    // A member silent for the heartbeat timeout: stopped, dead, or its process hung.
    for (int rank : r.ranks) {
      if (r.left.count(rank)) continue;
      const double silent = now - last_beat_[rank];
      if (silent > beat) {
        const std::string why =
            "rank " + std::to_string(rank) + " silent for " + std::to_string(int(silent)) + " s";
        Record(r, Outcome::kCrash, why, 0);
        Break(r, why);
        break;
      }
    }
    if (r.left.size() == r.ranks.size()) continue;
    // Outcome known, some members still in the group past the heartbeat timeout: they are
    // blocked in a collective with the member that failed.
    if (r.recorded && now - r.recorded_at > beat) {
      Break(r, "members did not leave the group " + std::to_string(int(beat)) +
                   " s after its outcome was recorded");
      continue;
    }
    // A Cancel (timeout, preemption) the group did not act on within the heartbeat timeout.
    // Recorded under the Cancel's own reason: a preemption must not spend the timeout budget.
    if (!r.recorded && r.cancelled() && now - r.cancel_at > beat) {
      const std::string why = "did not stop within " + std::to_string(int(beat)) +
                              " s of being cancelled (" + r.cancel_reason + ")";
      Record(r, r.cancel_reason == "timeout" ? Outcome::kTimeout : Outcome::kPreempted, why, 0);
      Break(r, why);
      continue;
    }
    if (run_.trial_timeout_s > 0 && !r.cancelled() && now - r.started > run_.trial_timeout_s) {
      // Ask the group to checkpoint and stop; it reports Failed{timeout}.
      net_.Send(r.ranks.front(), kTagCancel, Encode(CancelMsg{id, "timeout"}));
      r.cancel_at = now;
      r.cancel_reason = "timeout";
    }
  }
  Retire();
}

void Coordinator::Retire() {
  // An attempt is over once every member has left the group (or is written off as stuck). Its
  // ranks are free again only then, and never when the group broke.
  for (auto it = running_.begin(); it != running_.end();) {
    Running& r = it->second;
    if (r.left.size() != r.ranks.size()) {
      ++it;
      continue;
    }
    if (!r.recorded) {
      // Every member went back to idle and nobody reported: a protocol bug, but the trial
      // must not stay running forever.
      Record(r, Outcome::kCrash, "the group ended without reporting a result", 0);
    }
    for (int rank : r.ranks)
      if (!broken_.count(rank)) free_.insert(rank);
    by_attempt_.erase(r.attempt_id);
    it = running_.erase(it);
    dirty_ = true;
  }
}

void Coordinator::CancelAll(const char* reason) {
  for (auto& [id, r] : running_) {
    if (r.cancelled() || r.recorded) continue;
    net_.Send(r.ranks.front(), kTagCancel, Encode(CancelMsg{id, reason}));
    r.cancel_at = Now();
    r.cancel_reason = reason;
  }
}

// The status server (read-only HTTP) serves strings cached here; it never touches the
// store, which only this thread uses.
void Coordinator::StartStatusServer() {
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

void Coordinator::RefreshStatus() {
  if (!deps_.status_server) return;
  try {
    const double now = WallSeconds();
    StatusSnapshot snap = TakeSnapshot(store_, o_.sweep, now, SnapshotDetail::kActive);
    std::string a = StatusJson(snap), b, c = PrometheusMetrics(snap);
    // /trials reads every trial with its settings, seconds at 100k trials: refresh it at
    // most every 20x its own cost, so it takes <= ~5% of this thread (and every time for
    // small sweeps).
    const auto t0 = std::chrono::steady_clock::now();
    if (t0 >= next_trials_refresh_) {
      b = TrialsJson(TakeSnapshot(store_, o_.sweep, now, SnapshotDetail::kAll));
      next_trials_refresh_ =
          std::chrono::steady_clock::now() + 20 * (std::chrono::steady_clock::now() - t0);
    }
    std::lock_guard<std::mutex> lock(status_mu_);
    status_cache_[0] = std::move(a);
    if (!b.empty()) status_cache_[1] = std::move(b);
    status_cache_[2] = std::move(c);
  } catch (const std::exception& e) {
    Log("status refresh failed: %s", e.what());
  }
}

void Coordinator::FlushProgress() {
  if (progress_.empty() && curve_.empty()) return;
  std::vector<ProgressRow> rows;
  for (auto& [id, r] : progress_) rows.push_back(r);
  store_.WriteProgress(rows, curve_);
  progress_.clear();
  curve_.clear();
}

// ---- MPI entry point ----------------------------------------------------------------------------

int RunCoordinator(const CoordinatorOptions& options) {
  int code = kExitFailure;
  MpiTransport net(options.comm, options.report_comm);
  std::unique_ptr<ResultsStore> store;
  std::unique_ptr<Coordinator> c;
  try {
    store = std::make_unique<ResultsStore>(options.store_path);
    CoordinatorDeps deps;
    deps.transport = &net;
    deps.store = store.get();
    if (const char* r = getenv("SLURM_RESTART_COUNT")) deps.slurm_restart = std::atoi(r);
    // Ranks r and r' share a node when r / n == r' / n (block distribution, as mpirun and
    // srun place ranks by default).
    if (const char* n = getenv("SLURM_NTASKS_PER_NODE"))
      deps.ranks_per_node = std::atoi(n);
    else if (const char* l = getenv("OMPI_COMM_WORLD_LOCAL_SIZE"))
      deps.ranks_per_node = std::atoi(l);
    c = std::make_unique<Coordinator>(options, std::move(deps));
    return c->Run();
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
  // Trials still running mean it threw mid-sweep.
  if (c && c->HasRunning()) {
    // Ranks that are training cannot take a Shutdown (they look for it between trials), and
    // their next message to this coordinator would go unanswered: end the whole world now.
    // Their attempts stay open in the store and the next run recovers them as lost and
    // resumes them from their checkpoints (under Slurm, the non-zero exit requeues).
    fprintf(stderr, "revsweep-train: ending the world (trials were running)\n");
    fflush(stderr);
    net.Abort(code);
  }
  std::string text = Encode(ShutdownMsg{code});
  for (int r = 0; r < net.WorldSize(); ++r) net.Send(r, kTagShutdown, text);
  return code;
}

}  // namespace revsweep
