// Sweep status: a snapshot of the results store (counts, per-trial progress, ETA, failures,
// jobs) and its renderers: JSON for tools and `revsweep status --json`, text for terminals,
// Prometheus text exposition for scrapers. Schemas and metric names: docs/STATUS.md.
//
// The snapshot is plain data, so the coordinator can take it on its own thread (it owns the
// store) and hand rendered strings to the status server's thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/settings.h"
#include "common/store/results_store.h"

namespace revsweep {

// JSON schema version of StatusJson and TrialsJson. Bump on any incompatible change
// (removed or retyped field, or changed meaning); adding fields keeps the version.
// 2: `trials` may list only running and failed trials (`trials_listed`).
constexpr int kStatusSchemaVersion = 2;

// One trial as the status views show it.
struct TrialStatus {
  std::string id;
  std::string description;  // the settings that vary across the sweep: "lr=0.001 seed=2"
  Settings settings;        // all settings (TrialsJson prints them)
  TrialState state = TrialState::kPending;
  int attempts = 0;
  double cost = 0;  // TrialRow.cost (0 = unknown)
  std::string last_error;
  double updated_at = 0;  // unix seconds of the last state change
  // Progress, valid when has_progress (a worker has reported at least once).
  bool has_progress = false;
  int64_t step = 0, total_steps = 0;
  double loss = 0, tokens_per_s = 0, elapsed_s = 0;
  double progress_updated_at = 0;
};

struct StatusCounts {
  int pending = 0, running = 0, done = 0, failed = 0;
  int total() const { return pending + running + done + failed; }
};

// Sweep-level estimate; see EstimateEta in status_report.cc for the estimator.
struct EtaEstimate {
  // Work is measured in TrialRow.cost units when every trial has a cost > 0, otherwise in
  // trials (each trial weighs 1): mixing known and unknown costs would make the sum meaningless.
  bool work_in_cost = false;
  double work_total = 0;      // all trials except failed ones
  double work_done = 0;       // done trials + measured fraction of the others
  double work_remaining = 0;  // work_total - work_done
  double fraction = 0;        // settled share of the sweep, in [0, 1] (1 when nothing to do)
  // Observed throughput of one trial slot, in work units per second of training; 0 = unknown.
  double work_per_slot_s = 0;
  int slots = 0;  // parallelism assumed by the estimate
  bool eta_known = false;
  double eta_s = 0;  // valid when eta_known
};

struct StatusSnapshot {
  std::string sweep;
  // true: `trials` lists every trial; false (SnapshotDetail::kActive): only running and failed
  // ones, while counts and the ETA still cover every trial.
  bool all_trials = true;
  double now = 0;  // unix seconds the snapshot describes
  StatusCounts counts;
  EtaEstimate eta;
  std::vector<TrialStatus> trials;    // store order
  std::vector<TrialStatus> failures;  // failed trials, most recent first
  std::vector<JobRow> jobs;
};

// Reads one sweep from the store. `now` is the unix time the snapshot describes (pass the wall
// clock; tests pass fixed numbers). REQUIRES: `store` is not used by another thread meanwhile.
// An unknown sweep gives an empty snapshot (no trials, ETA unknown).
//
// kAll reads every trial with its settings (for /trials and `status --json`); kActive reads
// one narrow row per trial for counts and ETA and full rows only for running and failed
// trials: what the text status, /status and /metrics show, and cheap at 100k trials.
enum class SnapshotDetail { kAll, kActive };
StatusSnapshot TakeSnapshot(ResultsStore& store, const std::string& sweep, double now,
                            SnapshotDetail detail = SnapshotDetail::kAll);

// TakeSnapshot without the store: builds the snapshot from rows already read. Progress rows
// for trials not in `trials` are ignored.
StatusSnapshot BuildSnapshot(const std::string& sweep, const std::vector<TrialRow>& trials,
                             const std::vector<ProgressRow>& progress,
                             const std::vector<JobRow>& jobs, double now);

// The ETA estimate over trials whose state and progress fields are filled in.
EtaEstimate EstimateEta(const std::vector<TrialStatus>& trials);
EtaEstimate EstimateEta(const std::vector<TrialStateRow>& trials);

// "k=v k=v" over the keys whose values differ between `all` trials (a key missing in some
// trial counts as differing). Keys print as their last dotted component unless two varying
// keys share it. Empty when nothing varies.
std::vector<std::string> DescribeTrials(const std::vector<Settings>& all);

// Renderers. All are pure functions of the snapshot and never throw except std::bad_alloc.
// Full status as one JSON object (schema in docs/STATUS.md; "schema_version" is
// kStatusSchemaVersion).
std::string StatusJson(const StatusSnapshot& s);
// Trials with full settings as one JSON object (schema in docs/STATUS.md).
std::string TrialsJson(const StatusSnapshot& s);
// Human-readable status for a terminal `width` columns wide (clamped to >= 40): header with
// counts, progress bar and ETA, running trials, last 10 failures, jobs. Ends with '\n'.
std::string StatusText(const StatusSnapshot& s, int width);
// Prometheus text exposition format 0.0.4, every family with # HELP and # TYPE.
std::string PrometheusMetrics(const StatusSnapshot& s);

// "[#####-----]": exactly `width` characters for width >= 3, "" otherwise. `fraction` is
// clamped to [0, 1] (NaN counts as 0); the bar is full only at 1.
std::string ProgressBar(double fraction, int width);
// "45s", "3m12s", "2h05m", "3d04h"; rounds to whole seconds. "?" for negative or non-finite.
std::string FormatDuration(double seconds);

}  // namespace revsweep
