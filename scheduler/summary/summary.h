// Sweep summaries: done trials grouped into settings (seeds are replicates), per-cell
// accuracy with SE and bootstrap CI, the best setting per model size, and the scaling view
// across sizes with a plain-language verdict per reverse cell. Pure functions of the store's
// rows; rendering is in summary_render.h. Field reference: docs/SUMMARY.md.
//
// Vocabulary (metric names as the worker stores them):
//   cell     "<subset>.<direction>.<split>", e.g. "p2d.reverse.heldout"
//   acc.<cell>     exact-match accuracy in [0, 1];  chance.<cell>  its random baseline
//   likelihood.p   p-value of the increased-likelihood t-test (p2d reverse prompts)
//   loss.final     final training loss;  params  parameter count
//   setting  a trial's identity settings without train.seed (so resources.*, checkpoint and
//            fault-injection keys are out too: they do not change what a trial computes)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config/settings.h"
#include "common/stats/stats.h"
#include "common/store/results_store.h"
#include "scheduler/summary/names.h"
#include "scheduler/summary/scaling_fit.h"

namespace revsweep {

using ResultsMap = std::map<std::string, std::map<std::string, double>>;

// ---- The summary.
struct CellSummary {
  std::string cell;
  Describe acc;     // acc.<cell> over the setting's seeds that have it
  Interval ci;      // percentile bootstrap CI of the mean (SummaryOptions)
  Describe chance;  // chance.<cell> over the same seeds (n == 0 when not stored)
};

struct SettingSummary {
  // The setting (IsSettingKey keys only) in two parts: `common`, keys every setting of the
  // summary shares (one object for all; may be null), and `setting`, this one's other keys;
  // disjoint. A large sweep's settings share ~40 keys, which are then stored once. Find()
  // looks a key up in both; Whole() merges them (CanonicalJson(Whole()) is the text form
  // renderers print).
  Settings setting;
  std::shared_ptr<const Settings> common;
  std::string size;                    // ModelSizeLabel
  int64_t params = 0;                  // largest TrialParams among its trials
  int n_seeds = 0;                     // done trials in the group
  std::vector<std::string> trial_ids;  // ordered by train.seed, then id
  std::vector<int64_t> seeds;          // same order
  std::vector<CellSummary> cells;      // canonical cell order, cells with data only
  std::vector<double> likelihood_p;    // per trial that has it, same order
  double likelihood_p_mean = 0;        // NaN when none
  Describe loss;                       // loss.final
  // Selection score: mean of the setting's "*.same.heldout" cell means (or, when it has
  // none, of all "*.same.*" cells; NaN when neither). Reverse cells never enter it, so the
  // best setting is not chosen for the effect being measured.
  double score = 0;
  bool best_for_size = false;

  const CellSummary* Cell(const std::string& name) const;  // nullptr when absent
  const Value* Find(const std::string& key) const;         // nullptr when absent
  Settings Whole() const;
};

// ModelSizeLabel of a summarised setting (its `common` and `setting` parts).
std::string ModelSizeLabel(const SettingSummary& s);

// Accuracy of one cell against log10(params) over the best setting of each size, one point
// per seed.
struct CellTrend {
  std::string cell;
  int n_sizes = 0;  // distinct params among those points
  int n_points = 0;
  bool fitted = false;  // n_sizes >= 3 and the fit is defined
  LinearFit fit;        // slope = change in accuracy (0-1) per decade of parameters
  std::string verdict;  // reverse cells only (empty otherwise)
};

struct Summary {
  int trials_total = 0;                   // rows given
  int trials_done = 0;                    // state done with results: the ones summarised
  int trials_excluded = 0;                // not done, or done without results
  double level = 0.95;                    // coverage of every CI below (SummaryOptions::level)
  int bootstrap_resamples = 0;            // per-cell CI resamples (SummaryOptions)
  std::vector<std::string> cells;         // every acc cell seen, canonical order
  std::vector<std::string> varying_keys;  // setting keys whose value differs across settings
  // Sorted by params, then size label, then the values of varying_keys in key order (a
  // missing key first; values by type, then value).
  std::vector<SettingSummary> settings;
  // Index into `settings` of the best setting per size, by ascending params: highest
  // score, then lowest mean final loss, then the first in `settings` order.
  std::vector<size_t> best;
  std::vector<CellTrend> trends;  // one per cell in `cells`
  PowerLawFit loss_fit;           // loss.final vs params over the best settings' trials
  int loss_fit_sizes = 0;
  // Plain-language sentences: one per reverse cell, then the likelihood test.
  std::vector<std::string> verdicts;
};

struct SummaryOptions {
  int bootstrap_resamples = kBootstrapResamples;  // per-cell CI
  uint64_t seed = kBootstrapSeed;
  double level = 0.95;
  PowerLawOptions loss_fit;  // its bootstrap is the slowest part; 0 disables intervals
};

// Groups done trials by setting and computes everything above. Trials whose state is not
// done, or that have no entry in `results`, are counted in trials_excluded and otherwise
// ignored. Deterministic and independent of the order of `trials`.
Summary BuildSummary(const std::vector<TrialRow>& trials, const ResultsMap& results,
                     const SummaryOptions& options = {});

// The same from the store's compact form (ResultsStore::LoadSweepData), without building
// per-trial settings maps; what `revsweep summary` uses. The form above converts and calls this.
Summary SummarizeSweep(const SweepData& data, const SummaryOptions& options = {});

// ---- One row per trial (`revsweep summary --per-trial`).
struct PerTrialRow {
  std::string id;
  TrialState state = TrialState::kPending;
  Settings settings;
  int64_t params = 0;
  std::map<std::string, double> acc;  // cell -> accuracy
  double likelihood_p = 0;            // NaN when not stored
};
struct PerTrialTable {
  // Identity keys (train.seed included) whose value differs between trials; all trials
  // count, whatever their state.
  std::vector<std::string> varying_keys;
  std::vector<std::string> cells;  // every acc cell seen, canonical order
  std::vector<PerTrialRow> rows;   // in the order of `trials`
};
PerTrialTable BuildPerTrialTable(const std::vector<TrialRow>& trials, const ResultsMap& results);

}  // namespace revsweep
