#include "scheduler/summary/summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>
#include <unordered_map>

#include "common/config/settings_vary.h"
#include "common/parallel.h"
#include "common/text_util.h"
#include "scheduler/summary/setting_groups.h"

namespace revsweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Interns cell names met in metric keys; the canonical order is applied at the end.
class CellIndex {
 public:
  int Find(std::string_view cell) {
    auto it = index_.find(cell);
    if (it != index_.end()) return it->second;
    const int i = static_cast<int>(names_.size());
    names_.emplace_back(cell);
    index_.emplace(names_.back(), i);
    return i;
  }
  int size() const { return static_cast<int>(names_.size()); }
  const std::string& name(int i) const { return names_[i]; }

 private:
  std::map<std::string, int, std::less<>> index_;
  std::vector<std::string> names_;
};

std::string Fixed(double v, int decimals, bool sign = false) {
  char buf[64];
  snprintf(buf, sizeof(buf), sign ? "%+.*f" : "%.*f", decimals, v);
  return buf;
}

std::string TrendVerdict(const CellTrend& t, double level) {
  const std::string what = "Reverse accuracy (" + t.cell + ")";
  if (t.n_sizes < 3) {
    return what + ": " + std::to_string(t.n_sizes) + " model size" + (t.n_sizes == 1 ? "" : "s") +
           ", fewer than the 3 a trend across size needs; no fit.";
  }
  if (!t.fitted) return what + ": the fit across sizes is undefined.";
  const LinearFit& f = t.fit;
  const char* trend = f.slope_lo > 0 ? "rises" : f.slope_hi < 0 ? "falls" : "does not rise";
  char pbuf[32];
  snprintf(pbuf, sizeof(pbuf), "%.2g", f.p);
  return what + " " + trend + " with model size: slope " + Fixed(f.slope, 3, true) +
         " per decade, " + Fixed(level * 100, 0) + "% CI [" + Fixed(f.slope_lo, 3) + ", " +
         Fixed(f.slope_hi, 3) + "] (p = " + pbuf + ", " + std::to_string(t.n_sizes) + " sizes).";
}

}  // namespace

std::string ModelSizeLabel(const SettingSummary& s) {
  return ModelSizeLabel([&s](const char* k) { return s.Find(k); });
}

const Value* SettingSummary::Find(const std::string& key) const {
  auto it = setting.find(key);
  if (it != setting.end()) return &it->second;
  if (common) {
    it = common->find(key);
    if (it != common->end()) return &it->second;
  }
  return nullptr;
}

Settings SettingSummary::Whole() const { return common ? Overlay(*common, setting) : setting; }

const CellSummary* SettingSummary::Cell(const std::string& name) const {
  for (const CellSummary& c : cells) {
    if (c.cell == name) return &c;
  }
  return nullptr;
}

Summary BuildSummary(const std::vector<TrialRow>& trials, const ResultsMap& results,
                     const SummaryOptions& options) {
  // Into the store's compact form, split as UpsertSweep splits a batch: the keys that vary
  // between the trials (common/config/settings_vary.h) are each trial's own, the rest one base.
  SweepData data;
  data.trials.reserve(trials.size());
  std::vector<const Settings*> all;
  all.reserve(trials.size());
  for (const TrialRow& t : trials) all.push_back(&t.settings);
  const std::vector<std::string> varying = VaryingKeys(all);
  const std::set<std::string> own_keys(varying.begin(), varying.end());
  if (!trials.empty()) {
    Settings base;
    for (const auto& kv : trials[0].settings) {
      if (!own_keys.count(kv.first)) base.emplace_hint(base.end(), kv);
    }
    data.bases.push_back(std::move(base));
  }
  std::map<std::string, uint32_t, std::less<>> names;
  for (const TrialRow& t : trials) {
    SweepData::Trial d;
    d.id = t.id;
    d.state = t.state;
    d.params = t.params;
    d.base = 0;
    for (const auto& kv : t.settings) {
      if (own_keys.count(kv.first)) d.own.emplace_hint(d.own.end(), kv);
    }
    auto r = results.find(t.id);
    d.metrics_begin = d.metrics_end = static_cast<uint32_t>(data.metric_key.size());
    if (r != results.end()) {
      for (const auto& [name, value] : r->second) {
        auto [n, added] = names.try_emplace(name, static_cast<uint32_t>(data.metric_names.size()));
        if (added) data.metric_names.push_back(name);
        data.metric_key.push_back(n->second);
        data.metric_value.push_back(value);
      }
      d.metrics_end = static_cast<uint32_t>(data.metric_key.size());
    }
    data.trials.push_back(std::move(d));
  }
  return SummarizeSweep(data, options);
}

namespace {

// Orders settings by params, size, then their varying keys' values (the other keys are
// equal, so this is the same order as comparing whole settings, at a fraction of the cost);
// `members_of` (each setting's trials) follows.
void OrderSettings(Summary& out, std::vector<std::vector<uint32_t>>& members_of) {
  const size_t n = out.settings.size(), k = out.varying_keys.size();
  std::vector<const Value*> values(n * k, nullptr);  // nullptr: key absent
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < k; ++j) {
      values[i * k + j] = out.settings[i].Find(out.varying_keys[j]);
    }
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const SettingSummary &x = out.settings[a], &y = out.settings[b];
    if (x.params != y.params) return x.params < y.params;
    if (x.size != y.size) return x.size < y.size;
    for (size_t j = 0; j < k; ++j) {
      const Value *u = values[a * k + j], *v = values[b * k + j];
      if (u == v || (u && v && *u == *v)) continue;
      if (!u || !v) return !u;
      return *u < *v;
    }
    return false;
  });
  std::vector<SettingSummary> sorted;
  std::vector<std::vector<uint32_t>> sorted_members;
  sorted.reserve(n);
  sorted_members.reserve(n);
  for (size_t i : order) {
    sorted.push_back(std::move(out.settings[i]));
    sorted_members.push_back(std::move(members_of[i]));
  }
  out.settings = std::move(sorted);
  members_of = std::move(sorted_members);
}

// out.best: the best setting per size (highest score, then lowest loss, then the first in
// order), ordered by params and size; marks them best_for_size.
void PickBestPerSize(Summary& out) {
  std::map<std::string, size_t> best_by_size;
  auto better = [](const SettingSummary& a, const SettingSummary& b) {
    const double sa = std::isnan(a.score) ? -1 : a.score, sb = std::isnan(b.score) ? -1 : b.score;
    if (sa != sb) return sa > sb;
    const double la = std::isnan(a.loss.mean) ? INFINITY : a.loss.mean;
    const double lb = std::isnan(b.loss.mean) ? INFINITY : b.loss.mean;
    return la < lb;
  };
  for (size_t i = 0; i < out.settings.size(); ++i) {
    auto [it, inserted] = best_by_size.try_emplace(out.settings[i].size, i);
    if (!inserted && better(out.settings[i], out.settings[it->second])) it->second = i;
  }
  for (const auto& [size, i] : best_by_size) {
    out.best.push_back(i);
    out.settings[i].best_for_size = true;
  }
  std::sort(out.best.begin(), out.best.end(), [&out](size_t a, size_t b) {
    const SettingSummary &x = out.settings[a], &y = out.settings[b];
    return x.params != y.params ? x.params < y.params : x.size < y.size;
  });
}

// The likelihood test's sentence (out.verdicts) from the best settings' mean p per size.
void AddLikelihoodVerdict(Summary& out) {
  std::string per_size, significant;
  int with_p = 0;
  for (size_t i : out.best) {
    const SettingSummary& s = out.settings[i];
    if (s.likelihood_p.empty()) continue;
    ++with_p;
    char buf[96];
    snprintf(buf, sizeof(buf), "%s%s %.2g", per_size.empty() ? "" : ", ", s.size.c_str(),
             s.likelihood_p_mean);
    per_size += buf;
    if (s.likelihood_p_mean < 0.05) significant += (significant.empty() ? "" : ", ") + s.size;
  }
  if (with_p > 0) {
    const std::string head =
        "Likelihood test (p2d reverse prompts, mean p over seeds at the best "
        "setting per size: " +
        per_size + "): ";
    out.verdicts.push_back(
        significant.empty()
            ? head +
                  "the correct name is not significantly more likely than a random name "
                  "at any size (p > 0.05)."
            : head +
                  "the correct and random names' likelihoods differ significantly "
                  "(p < 0.05) at " +
                  significant + ".");
  }
}

}  // namespace

namespace {

// What each metric name is, worked out once per name instead of once per result row.
enum MetricKind : uint8_t { kOther, kParams, kAcc, kChance, kLikelihoodP, kLossFinal };
struct MetricNames {
  CellIndex cells;                    // cells met in acc.* and chance.* names
  std::vector<MetricKind> kind;       // per SweepData::metric_names entry
  std::vector<int> cell_of_name;      // name -> cell of acc.<cell> / chance.<cell>, else -1
  std::vector<int> acc_name_of_cell;  // cell -> metric name index of acc.<cell>, or -1
  int loss_final_name = -1;
};

MetricNames ClassifyMetrics(const std::vector<std::string>& names) {
  MetricNames m;
  const size_t n_names = names.size();
  m.kind.assign(n_names, kOther);
  m.cell_of_name.assign(n_names, -1);
  for (size_t i = 0; i < n_names; ++i) {
    const std::string_view n(names[i]);
    if (n == "params") {
      m.kind[i] = kParams;
    } else if (StartsWith(n, "acc.") || StartsWith(n, "chance.")) {
      const bool is_acc = n[0] == 'a';
      m.kind[i] = is_acc ? kAcc : kChance;
      m.cell_of_name[i] = m.cells.Find(n.substr(is_acc ? 4 : 7));
      if (static_cast<int>(m.acc_name_of_cell.size()) <= m.cell_of_name[i]) {
        m.acc_name_of_cell.resize(m.cell_of_name[i] + 1, -1);
      }
      if (is_acc) m.acc_name_of_cell[m.cell_of_name[i]] = static_cast<int>(i);
    } else if (n == "likelihood.p") {
      m.kind[i] = kLikelihoodP;
    } else if (n == "loss.final") {
      m.kind[i] = kLossFinal;
      m.loss_final_name = static_cast<int>(i);
    }
  }
  return m;
}

// The value of metric `name` of trial `i`, or nullptr.
const double* TrialMetric(const SweepData& data, uint32_t i, int name) {
  if (name < 0) return nullptr;
  const SweepData::Trial& t = data.trials[i];
  for (uint32_t r = t.metrics_begin; r < t.metrics_end; ++r) {
    if (data.metric_key[r] == static_cast<uint32_t>(name)) return &data.metric_value[r];
  }
  return nullptr;
}

struct Described {
  std::vector<std::vector<int>> cell_of;          // per setting: cell of each CellSummary
  std::vector<std::vector<uint32_t>> members_of;  // per setting: trial indices, seed order
};

// One SettingSummary per group, same index: seeds ordered, metrics split by cell, each cell
// described. Groups are independent, so large summaries split them over the cores (25k
// settings: ~0.27 s on one core). Moves the groups' settings into `out`.
Described DescribeGroups(const SweepData& data, const MetricNames& names, SettingGroups& grouped,
                         const SummaryOptions& options, Summary& out) {
  std::vector<SettingGroup>& groups = grouped.groups;
  std::vector<Settings>& whole = grouped.whole;
  const CellIndex& cells = names.cells;
  Described r;
  r.cell_of.resize(groups.size());
  r.members_of.resize(groups.size());
  out.settings.resize(groups.size());
  auto describe_groups = [&](size_t lo, size_t hi) {
    std::map<int, MeanBootstrap> plans;  // by sample size: see MeanBootstrap
    auto plan_for = [&](int n) -> const MeanBootstrap& {
      auto it = plans.find(n);
      if (it == plans.end()) {
        it = plans.emplace(n, MeanBootstrap(n, options.bootstrap_resamples, options.seed)).first;
      }
      return it->second;
    };
    std::vector<std::vector<double>> acc(cells.size()), chance(cells.size());
    for (size_t gi = lo; gi < hi; ++gi) {
      SettingGroup& g = groups[gi];
      std::sort(g.members.begin(), g.members.end(),
                [&data](const SettingMember& a, const SettingMember& b) {
                  return a.seed != b.seed ? a.seed < b.seed
                                          : data.trials[a.trial].id < data.trials[b.trial].id;
                });
      SettingSummary& s = out.settings[gi];
      if (!whole.empty()) {
        s.setting = std::move(whole[gi]);
      } else {
        s.setting = std::move(g.own);
        s.common = grouped.common;
      }
      s.size = ModelSizeLabel(s);
      s.n_seeds = static_cast<int>(g.members.size());
      for (auto& v : acc) v.clear();
      for (auto& v : chance) v.clear();
      std::vector<double> loss;
      for (const SettingMember& m : g.members) {
        const SweepData::Trial& t = data.trials[m.trial];
        s.trial_ids.push_back(t.id);
        s.seeds.push_back(m.seed);
        r.members_of[gi].push_back(m.trial);
        int64_t params = t.params;  // TrialParams, without a lookup
        for (uint32_t r = t.metrics_begin; r < t.metrics_end; ++r) {
          const uint32_t name = data.metric_key[r];
          const double value = data.metric_value[r];
          switch (names.kind[name]) {
            case kParams:
              if (value > 0 && std::isfinite(value)) params = std::llround(value);
              break;
            case kAcc:
              acc[names.cell_of_name[name]].push_back(value);
              break;
            case kChance:
              chance[names.cell_of_name[name]].push_back(value);
              break;
            case kLikelihoodP:
              s.likelihood_p.push_back(value);
              break;
            case kLossFinal:
              loss.push_back(value);
              break;
            case kOther:
              break;
          }
        }
        s.params = std::max(s.params, params);
      }
      for (int c = 0; c < static_cast<int>(acc.size()); ++c) {
        if (acc[c].empty()) continue;
        CellSummary cs;
        cs.cell = cells.name(c);
        cs.acc = DescribeValues(acc[c]);
        cs.ci = plan_for(static_cast<int>(acc[c].size())).Ci(acc[c], options.level);
        cs.chance = DescribeValues(chance[c]);
        s.cells.push_back(std::move(cs));
        r.cell_of[gi].push_back(c);
      }
      s.likelihood_p_mean = DescribeValues(s.likelihood_p).mean;
      s.loss = DescribeValues(loss);
    }
  };
  ParallelFor(groups.size(), 2048, describe_groups);
  return r;
}

// Each setting's cells in canonical order, its selection score (SettingSummary::score), and
// out.cells: every cell some setting has accuracy for, in canonical order.
void OrderCells(const CellIndex& cells, const std::vector<std::vector<int>>& cell_of,
                Summary& out) {
  const int n_cells = cells.size();
  std::vector<int> by_rank(n_cells), rank(n_cells);
  for (int c = 0; c < n_cells; ++c) by_rank[c] = c;
  std::sort(by_rank.begin(), by_rank.end(),
            [&cells](int a, int b) { return CellLess(cells.name(a), cells.name(b)); });
  for (int r = 0; r < n_cells; ++r) rank[by_rank[r]] = r;
  std::vector<char> is_same(n_cells), is_heldout(n_cells), has_acc(n_cells);
  for (int c = 0; c < n_cells; ++c) {
    CellName cn;
    if (ParseCell(cells.name(c), &cn)) {
      is_same[c] = cn.direction == "same";
      is_heldout[c] = cn.split == "heldout";
    }
  }
  for (size_t gi = 0; gi < out.settings.size(); ++gi) {
    SettingSummary& s = out.settings[gi];
    std::vector<std::pair<int, int>> order;  // (rank, position)
    for (size_t i = 0; i < s.cells.size(); ++i) order.emplace_back(rank[cell_of[gi][i]], i);
    std::sort(order.begin(), order.end());
    std::vector<CellSummary> sorted;
    sorted.reserve(order.size());
    // Selection score (see SettingSummary::score).
    double heldout_sum = 0, same_sum = 0;
    int heldout_n = 0, same_n = 0;
    for (const auto& [r, i] : order) {
      const int c = by_rank[r];
      has_acc[c] = 1;
      if (is_same[c]) {
        same_sum += s.cells[i].acc.mean;
        ++same_n;
        if (is_heldout[c]) {
          heldout_sum += s.cells[i].acc.mean;
          ++heldout_n;
        }
      }
      sorted.push_back(std::move(s.cells[i]));
    }
    s.cells = std::move(sorted);
    s.score = heldout_n ? heldout_sum / heldout_n : same_n ? same_sum / same_n : kNaN;
  }
  for (int r = 0; r < n_cells; ++r) {
    if (has_acc[by_rank[r]]) out.cells.push_back(cells.name(by_rank[r]));
  }
}

// Accuracy per cell and the final loss against model size, over the per-seed points of the
// best setting of each size; a verdict for each reverse cell.
void FitScaling(const SweepData& data, MetricNames& names,
                const std::vector<std::vector<uint32_t>>& members_of, const SummaryOptions& options,
                Summary& out) {
  for (const std::string& cell : out.cells) {
    CellTrend t;
    t.cell = cell;
    const int acc_name = names.acc_name_of_cell[names.cells.Find(cell)];
    std::vector<double> x, y;
    std::set<int64_t> sizes;
    for (size_t i : out.best) {
      const SettingSummary& s = out.settings[i];
      if (s.params <= 0 || !s.Cell(cell)) continue;
      for (uint32_t trial : members_of[i]) {
        const double* v = TrialMetric(data, trial, acc_name);
        if (!v || !std::isfinite(*v)) continue;
        x.push_back(static_cast<double>(s.params));
        y.push_back(*v);
        sizes.insert(s.params);
      }
    }
    t.n_sizes = static_cast<int>(sizes.size());
    t.n_points = static_cast<int>(x.size());
    t.fit = FitVsLogParams(x, y, options.level);
    t.fitted = t.n_sizes >= 3 && t.fit.ok();
    CellName cn;
    if (ParseCell(cell, &cn) && cn.direction == "reverse") {
      t.verdict = TrendVerdict(t, options.level);
      out.verdicts.push_back(t.verdict);
    }
    out.trends.push_back(std::move(t));
  }
  {
    std::vector<double> n, loss;
    std::set<int64_t> sizes;
    for (size_t i : out.best) {
      const SettingSummary& s = out.settings[i];
      if (s.params <= 0) continue;
      for (uint32_t trial : members_of[i]) {
        const double* v = TrialMetric(data, trial, names.loss_final_name);
        if (!v) continue;
        n.push_back(static_cast<double>(s.params));
        loss.push_back(*v);
        sizes.insert(s.params);
      }
    }
    out.loss_fit_sizes = static_cast<int>(sizes.size());
    out.loss_fit = FitPowerLaw(n, loss, options.loss_fit);
  }
}

}  // namespace

Summary SummarizeSweep(const SweepData& data, const SummaryOptions& options) {
  Summary out;
  out.trials_total = static_cast<int>(data.trials.size());
  out.level = options.level;
  out.bootstrap_resamples = options.bootstrap_resamples;
  MetricNames names = ClassifyMetrics(data.metric_names);

  // 1. Group done trials by setting (setting_groups.h).
  SettingGroups grouped = GroupBySetting(data);
  out.trials_done = grouped.done;
  out.trials_excluded = grouped.excluded;

  // 2. Describe each setting; cells in canonical order.
  Described described = DescribeGroups(data, names, grouped, options, out);
  OrderCells(names.cells, described.cell_of, out);

  // Order settings by params, size, then their varying keys' values (the other keys are
  // equal, so this is the same order as comparing whole settings, at a fraction of the cost).
  // Within one base only own keys can differ, so a single-base sweep compares just those.
  // Keys in `common` are the same everywhere, so comparing the `setting` parts suffices.
  out.varying_keys = VaryingKeys(
      out.settings, [](const SettingSummary& s) -> const Settings& { return s.setting; },
      &IsSettingKey);

  OrderSettings(out, described.members_of);

  // 3. Best setting per size: highest score, then lowest loss, then the first in order.
  PickBestPerSize(out);

  // 4. Scaling across sizes: per-seed points of the best settings.
  FitScaling(data, names, described.members_of, options, out);

  // 5. The likelihood test at the best setting per size.
  AddLikelihoodVerdict(out);
  return out;
}

PerTrialTable BuildPerTrialTable(const std::vector<TrialRow>& trials, const ResultsMap& results) {
  PerTrialTable t;
  t.varying_keys = VaryingKeys(
      trials, [](const TrialRow& r) -> const Settings& { return r.settings; }, &IsIdentityKey);
  std::set<std::string, bool (*)(const std::string&, const std::string&)> cells(CellLess);
  for (const TrialRow& row : trials) {
    PerTrialRow r;
    r.id = row.id;
    r.state = row.state;
    r.settings = row.settings;
    r.likelihood_p = kNaN;
    auto it = results.find(row.id);
    const std::map<std::string, double>* m = it == results.end() ? nullptr : &it->second;
    r.params = TrialParams(row, m);
    if (m) {
      for (const auto& [name, value] : *m) {
        if (StartsWith(name, "acc.")) {
          r.acc[name.substr(4)] = value;
          cells.insert(name.substr(4));
        } else if (name == "likelihood.p") {
          r.likelihood_p = value;
        }
      }
    }
    t.rows.push_back(std::move(r));
  }
  t.cells.assign(cells.begin(), cells.end());
  return t;
}

}  // namespace revsweep
