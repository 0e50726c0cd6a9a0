// The results store: one SQLite file holding sweeps, trials, attempts, progress, loss
// curves, results and jobs. Versioned schema with migrations.
//
// Thread safety: a ResultsStore object is used by one thread at a time. Many processes may
// open the same file; only the coordinator writes while a sweep runs, readers never block it
// (WAL on local disks; see docs/ARCHITECTURE.md for network filesystems).
// Every state change is one transaction: a crash at any point leaves the file consistent.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config/settings.h"
#include "common/config/sweep_config.h"

struct sqlite3;

namespace revsweep {

// Version 1: sweeps, trials, attempts, progress, results. Version 2: jobs, loss curves.
// Version 3: covering indexes for status queries. Version 4: sweep_trials carries each
// trial's state, cost, attempts and progress (trigger-maintained copies) so status is one
// range scan; sweeps.varying holds the sweep's varying settings keys.
constexpr int kStoreSchemaVersion = 4;

// Trial states. pending -> running -> done | failed; running -> pending on preemption/loss.
enum class TrialState { kPending, kRunning, kDone, kFailed };
const char* TrialStateName(TrialState s);
// Throws std::runtime_error for a name it does not know (never a silent "pending").
TrialState TrialStateFromName(const std::string& s);

// Attempt outcomes. Retry budgets are kept per kind (NextStateAfter in
// scheduler/placement/retry_policy.h).
enum class Outcome { kRunning, kDone, kFailed, kCrash, kTimeout, kPreempted, kLost, kFatal };
const char* OutcomeName(Outcome o);
// Throws std::runtime_error for a name it does not know.
Outcome OutcomeFromName(const std::string& s);

struct TrialRow {
  std::string id;
  Settings settings;
  TrialState state = TrialState::kPending;
  double cost = 0;     // estimated work: params x tokens x epochs
  int64_t params = 0;  // parameter count (0 until known)
  int attempts = 0;
  std::string last_error;
  double updated_at = 0;  // unix seconds
};

// A sweep's trials and results in the store's own compact shape, for summaries of large
// sweeps (ResultsStore::LoadSweepData): the settings a batch of trials shares are parsed once
// (`bases`), each trial keeps only its own keys, and metrics are flat arrays with interned
// names. At 100k trials this is ~10x fewer heap nodes than Trials() + SweepResults().
struct SweepData {
  struct Trial {
    std::string id;
    TrialState state = TrialState::kPending;
    int64_t params = 0;                           // trials.params (0 until known)
    int base = -1;                                // index into `bases`; -1: `own` holds every key
    Settings own;                                 // the trial's own keys, disjoint from bases[base]
    uint32_t metrics_begin = 0, metrics_end = 0;  // its slice of metric_key / metric_value
    bool has_results() const { return metrics_end > metrics_begin; }
  };
  std::vector<Settings> bases;
  std::vector<Trial> trials;              // store order
  std::vector<std::string> metric_names;  // interned; metric_key indexes it
  std::vector<uint32_t> metric_key;       // per result row, grouped by trial, name order
  std::vector<double> metric_value;

  // Every key of trial i (base and own merged).
  Settings FullSettings(size_t i) const;
};

// One trial as status, ETA and placement need it: no settings, no error text. Read in one
// range scan of the sweep (TrialStates), so it stays cheap at 100k trials.
struct TrialStateRow {
  std::string id;
  int64_t ord = 0;  // position in the sweep (store order)
  TrialState state = TrialState::kPending;
  double cost = 0;
  int attempts = 0;
  double updated_at = 0;
  bool has_progress = false;  // a progress row exists; then the three fields below are valid
  int64_t step = 0, total_steps = 0;
  double elapsed_s = 0;
};

struct AttemptRow {
  int64_t id = 0;
  std::string trial_id;
  std::string job_id;     // "local-<pid>@host" or a Slurm job id
  int slurm_restart = 0;  // SLURM_RESTART_COUNT
  int ranks = 0;
  double started_at = 0, ended_at = 0;
  Outcome outcome = Outcome::kRunning;
  std::string message;
  int64_t start_step = 0;  // step resumed from (0 = fresh)
  int64_t end_step = 0;
};

struct ProgressRow {
  std::string trial_id;
  int64_t step = 0, total_steps = 0;
  double loss = 0, tokens_per_s = 0, elapsed_s = 0, updated_at = 0;
};

struct JobRow {
  std::string job_id;
  std::string sweep;
  std::string kind;   // local | slurm
  std::string state;  // last known scheduler state
  double submitted_at = 0;
  std::string info;  // free text: reason, restarts, node list
};

class ResultsStore {
 public:
  // Opens or creates the store. Creates parent folders. Throws UserError when the path is a
  // directory, unwritable, not a SQLite file, or from a newer schema version; migrates older
  // versions in one transaction. `readonly` opens without creating or migrating.
  explicit ResultsStore(const std::string& path, bool readonly = false);
  ~ResultsStore();
  ResultsStore(const ResultsStore&) = delete;
  ResultsStore& operator=(const ResultsStore&) = delete;

  const std::string& path() const { return path_; }
  int SchemaVersion();
  std::string JournalMode();

  // Records the sweep (name, verbatim YAML, run dir) and upserts its trials in one
  // transaction. Existing trials keep their state and results. Returns how many were new.
  int UpsertSweep(const std::string& name, const std::string& yaml, const std::string& run_dir,
                  const std::vector<std::pair<std::string, Settings>>& trials,
                  const std::vector<double>& costs);
  bool HasSweep(const std::string& name);
  std::string SweepYaml(const std::string& name);
  std::string SweepRunDir(const std::string& name);
  std::vector<std::string> SweepNames();

  std::vector<TrialRow> Trials(const std::string& sweep);
  // The sweep's trials as stored, typed, each keyed by its stored id. Runs use these rather than
  // expanding the frozen YAML again: a relative dataset.source was resolved against the config
  // file's folder, which the store does not record, so a new expansion can give other ids.
  std::vector<TrialConfig> TrialConfigs(const std::string& sweep);
  std::optional<TrialRow> Trial(const std::string& id);
  // Every trial of the sweep, narrow (see TrialStateRow), in trial id order; sort by `ord`
  // for store order.
  std::vector<TrialStateRow> TrialStates(const std::string& sweep);
  // The settings keys that differ between the sweep's trials (see common/config/settings_vary.h),
  // as recorded by UpsertSweep; computed from every trial when a store migrated from an
  // older version has not recorded them yet.
  std::vector<std::string> VaryingKeys(const std::string& sweep);
  std::map<std::string, int> CountByState(const std::string& sweep);

  // Claims a pending trial (state pending -> running, atomically, so several coordinators
  // sharing one store never train the same trial) and opens an attempt, in one transaction.
  // Returns the attempt id, or 0 when the trial was not pending (someone else has it).
  int64_t StartAttempt(const std::string& trial_id, const std::string& job_id, int slurm_restart,
                       int ranks, int64_t start_step);
  // Writes all metrics, closes the attempt as done and marks the trial done, in one
  // transaction. Idempotent: a second call for a done trial changes nothing and returns false.
  bool FinishTrial(const std::string& trial_id, int64_t attempt_id,
                   const std::map<std::string, double>& metrics, int64_t params, int64_t end_step);
  // Closes the attempt with `outcome`; the trial goes to `next` (pending for a retry,
  // failed when its budget is spent).
  void EndAttempt(int64_t attempt_id, Outcome outcome, const std::string& message, TrialState next,
                  int64_t end_step);
  // Attempts left running by jobs that are gone: outcome lost, trial back to pending.
  // `alive(job_id)` says whether a job still exists. Returns the number recovered.
  template <typename Alive>
  int RecoverLost(Alive alive);

  std::vector<AttemptRow> Attempts(const std::string& trial_id);
  // Count of attempts per outcome for one trial (used by retry budgets).
  std::map<Outcome, int> AttemptOutcomes(const std::string& trial_id);

  // Records the step an attempt really resumed from (the worker's restored checkpoint).
  void SetAttemptStartStep(int64_t attempt_id, int64_t step);
  // Progress: one row per trial (upsert), plus loss curve points.
  void WriteProgress(const std::vector<ProgressRow>& rows,
                     const std::vector<std::tuple<std::string, int64_t, double>>& curve_points);
  std::vector<ProgressRow> Progress(const std::string& sweep);
  std::optional<ProgressRow> TrialProgress(const std::string& trial_id);
  std::vector<std::pair<int64_t, double>> LossCurve(const std::string& trial_id);

  std::map<std::string, double> Results(const std::string& trial_id);
  // Trials and results of a sweep in compact form (see SweepData), read in one transaction
  // so both come from the same snapshot.
  SweepData LoadSweepData(const std::string& sweep);
  // All results of a sweep: trial id -> metric -> value (one query).
  std::map<std::string, std::map<std::string, double>> SweepResults(const std::string& sweep);

  void UpsertJob(const JobRow& job);
  std::vector<JobRow> Jobs(const std::string& sweep);

  // Attempts currently open (outcome running), with their job ids.
  std::vector<AttemptRow> RunningAttempts();

  // Marks failed trials pending again (attempt history is kept). Returns how many.
  int ResetFailed(const std::string& sweep);

  // No sqlite3* in the public API: tests and benchmarks that must reach below it (bulk inserts,
  // a transaction held open by "another process", old-version stores to migrate) use
  // common/store/store_raw_access.h, which the product never includes.
 private:
  friend struct StoreRawAccess;
  // Applies migrations on a raw connection from its current version up to `target`.
  static void MigrateTo(sqlite3* db, int target);
  void Exec(const std::string& sql);
  void Migrate();
  std::string path_;
  sqlite3* db_ = nullptr;
  bool readonly_;
};

template <typename Alive>
int ResultsStore::RecoverLost(Alive alive) {
  int n = 0;
  for (const AttemptRow& a : RunningAttempts()) {
    if (alive(a.job_id)) continue;
    EndAttempt(a.id, Outcome::kLost, "job " + a.job_id + " is gone", TrialState::kPending,
               a.end_step);
    ++n;
  }
  return n;
}

}  // namespace revsweep
