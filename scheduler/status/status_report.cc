#include "scheduler/status/status_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "common/config/settings_vary.h"
#include "scheduler/settings_json.h"
#include "scheduler/status/status_internal.h"

namespace revsweep {
namespace {

using status_internal::Clamp01;
using status_internal::StepFraction;

void Count(TrialState state, StatusCounts* c) {
  switch (state) {
    case TrialState::kPending:
      ++c->pending;
      break;
    case TrialState::kRunning:
      ++c->running;
      break;
    case TrialState::kDone:
      ++c->done;
      break;
    case TrialState::kFailed:
      ++c->failed;
      break;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::vector<std::string> DescribeTrials(const std::vector<Settings>& all) {
  std::vector<const Settings*> ptrs;
  ptrs.reserve(all.size());
  for (const Settings& s : all) ptrs.push_back(&s);
  const std::vector<std::string> varying = VaryingKeys(ptrs);
  std::vector<std::string> out(all.size());
  if (varying.empty()) return out;
  for (size_t i = 0; i < all.size(); ++i) out[i] = DescribeSettings(all[i], varying);
  return out;
}

// The estimator. Remaining work divided by observed throughput:
//
//   weight(t)     = t.cost when every trial has cost > 0, else 1 (costs are params x tokens x
//                   epochs, so a 4x bigger model counts 4x the work; without costs all weigh 1)
//   work_total    = sum of weight over trials that are not failed (failed ones will not run)
//   work_done     = sum of weight x f(t), f = 1 for done trials, step/total_steps for trials
//                   with progress (running, or pending after a preemption with a checkpoint)
//   rate per slot = sum(weight x f) / sum(elapsed_s) over trials whose progress has
//                   elapsed_s > 0: work units per second of one trial training. Done and running
//                   trials both count, so a sweep yields an estimate as soon as the first
//                   progress report arrives and improves as trials finish.
//   slots         = running trials (at least 1): trials run concurrently, so the sweep drains
//                   slots times faster than one trial. With nothing running (queued between
//                   jobs) we assume 1 slot, which errs on the long side.
//   ETA           = (work_total - work_done) / (rate per slot x slots)
//
// ETA is unknown while no trial has reported elapsed time (nothing measured), and 0 when no
// work remains. Assumes elapsed_s covers the same steps as `step` (cumulative over attempts).
namespace {

template <typename T>
EtaEstimate EstimateEtaOver(const std::vector<T>& trials) {
  EtaEstimate e;
  e.work_in_cost = !trials.empty();
  for (const T& t : trials) {
    if (!(t.cost > 0) || !std::isfinite(t.cost)) e.work_in_cost = false;
  }
  double measured_work = 0, measured_time = 0;
  int running = 0;
  for (const T& t : trials) {
    if (t.state == TrialState::kFailed) continue;
    if (t.state == TrialState::kRunning) ++running;
    double w = e.work_in_cost ? t.cost : 1.0;
    double f = StepFraction(t);
    e.work_total += w;
    e.work_done += w * (t.state == TrialState::kDone ? 1.0 : std::max(f, 0.0));
    // The rate pairs elapsed_s with the step fraction of the same progress row; a done trial
    // without step counts is taken as complete at its last elapsed time.
    double rate_f = f >= 0 ? f : (t.state == TrialState::kDone ? 1.0 : 0.0);
    if (t.has_progress && t.elapsed_s > 0 && std::isfinite(t.elapsed_s) && rate_f > 0) {
      measured_work += w * rate_f;
      measured_time += t.elapsed_s;
    }
  }
  e.work_remaining = std::max(e.work_total - e.work_done, 0.0);
  e.slots = std::max(running, 1);
  if (measured_time > 0) e.work_per_slot_s = measured_work / measured_time;
  if (trials.empty()) return e;  // unknown sweep: nothing to estimate
  e.fraction = e.work_total > 0 ? Clamp01(e.work_done / e.work_total) : 1.0;
  if (e.work_remaining <= 0) {
    e.eta_known = true;
    e.eta_s = 0;
  } else if (e.work_per_slot_s > 0) {
    e.eta_known = true;
    e.eta_s = e.work_remaining / (e.work_per_slot_s * e.slots);
  }
  return e;
}

}  // namespace

EtaEstimate EstimateEta(const std::vector<TrialStatus>& trials) { return EstimateEtaOver(trials); }

EtaEstimate EstimateEta(const std::vector<TrialStateRow>& trials) {
  return EstimateEtaOver(trials);
}

namespace {

// BuildSnapshot with the sweep's varying settings keys given (descriptions use them).
StatusSnapshot BuildWithVarying(const std::string& sweep, const std::vector<TrialRow>& trials,
                                const std::vector<ProgressRow>& progress,
                                const std::vector<JobRow>& jobs, double now,
                                const std::vector<std::string>& varying) {
  StatusSnapshot s;
  s.sweep = sweep;
  s.now = now;
  s.jobs = jobs;
  std::unordered_map<std::string, const ProgressRow*> by_id;
  for (const ProgressRow& p : progress) by_id[p.trial_id] = &p;

  s.trials.reserve(trials.size());
  for (const TrialRow& r : trials) {
    TrialStatus t;
    t.id = r.id;
    t.description = DescribeSettings(r.settings, varying);
    t.settings = r.settings;
    t.state = r.state;
    t.attempts = r.attempts;
    t.cost = r.cost;
    t.last_error = r.last_error;
    t.updated_at = r.updated_at;
    auto it = by_id.find(r.id);
    if (it != by_id.end()) {
      const ProgressRow& p = *it->second;
      t.has_progress = true;
      t.step = p.step;
      t.total_steps = p.total_steps;
      t.loss = p.loss;
      t.tokens_per_s = p.tokens_per_s;
      t.elapsed_s = p.elapsed_s;
      t.progress_updated_at = p.updated_at;
    }
    Count(t.state, &s.counts);
    if (t.state == TrialState::kFailed) s.failures.push_back(t);
    s.trials.push_back(std::move(t));
  }
  std::stable_sort(
      s.failures.begin(), s.failures.end(),
      [](const TrialStatus& a, const TrialStatus& b) { return a.updated_at > b.updated_at; });
  s.eta = EstimateEta(s.trials);
  return s;
}

}  // namespace

StatusSnapshot BuildSnapshot(const std::string& sweep, const std::vector<TrialRow>& trials,
                             const std::vector<ProgressRow>& progress,
                             const std::vector<JobRow>& jobs, double now) {
  std::vector<const Settings*> all;
  all.reserve(trials.size());
  for (const TrialRow& r : trials) all.push_back(&r.settings);
  return BuildWithVarying(sweep, trials, progress, jobs, now, VaryingKeys(all));
}

StatusSnapshot TakeSnapshot(ResultsStore& store, const std::string& sweep, double now,
                            SnapshotDetail detail) {
  if (detail == SnapshotDetail::kAll) {
    // Three reads, not one transaction: a trial may change state between them, which at
    // worst shows one stale row for one refresh.
    std::vector<TrialRow> trials = store.Trials(sweep);
    std::vector<ProgressRow> progress = store.Progress(sweep);
    std::vector<JobRow> jobs = store.Jobs(sweep);
    return BuildSnapshot(sweep, trials, progress, jobs, now);
  }
  // Active: counts and ETA from the narrow rows of every trial (one range scan); full rows,
  // descriptions and progress only for running and failed trials.
  std::vector<TrialStateRow> rows = store.TrialStates(sweep);
  std::vector<const TrialStateRow*> active;
  for (const TrialStateRow& r : rows) {
    if (r.state == TrialState::kRunning || r.state == TrialState::kFailed) active.push_back(&r);
  }
  std::sort(active.begin(), active.end(),
            [](const TrialStateRow* a, const TrialStateRow* b) { return a->ord < b->ord; });
  std::vector<TrialRow> full;
  full.reserve(active.size());
  std::vector<ProgressRow> progress;
  for (const TrialStateRow* r : active) {
    std::optional<TrialRow> t = store.Trial(r->id);
    if (!t) continue;
    // The narrow row and the full row are read apart; the narrow one decided membership.
    t->state = r->state;
    if (std::optional<ProgressRow> p = store.TrialProgress(t->id)) progress.push_back(*p);
    full.push_back(std::move(*t));
  }
  const std::vector<std::string> varying =
      full.empty() ? std::vector<std::string>() : store.VaryingKeys(sweep);
  StatusSnapshot s = BuildWithVarying(sweep, full, progress, store.Jobs(sweep), now, varying);
  s.all_trials = false;
  s.counts = StatusCounts();
  for (const TrialStateRow& r : rows) Count(r.state, &s.counts);
  s.eta = EstimateEta(rows);
  return s;
}

}  // namespace revsweep
