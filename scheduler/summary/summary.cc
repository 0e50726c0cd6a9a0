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

namespace revsweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// FNV-1a over the setting's key lengths and typed values: the grouping hash. Equal settings
// hash equal; SameSetting resolves collisions (and settings that differ only in key names).
// Also returns train.seed (0 when absent or not a number), met on the same walk.
uint64_t SettingHash(const Settings& full, int64_t* seed) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](const void* p, size_t n) { h = Fnv1a64(p, n, h); };
  *seed = 0;
  for (const auto& [k, v] : full) {
    if (!IsSettingKey(k)) {
      if (k == "train.seed") {
        if (const auto* i = std::get_if<int64_t>(&v)) *seed = *i;
        if (const auto* d = std::get_if<double>(&v)) *seed = static_cast<int64_t>(*d);
      }
      continue;
    }
    const uint8_t tag[2] = {static_cast<uint8_t>(k.size()), static_cast<uint8_t>(v.index())};
    mix(tag, 2);
    if (const auto* b = std::get_if<bool>(&v)) {
      const uint8_t x = *b;
      mix(&x, 1);
    } else if (const auto* i = std::get_if<int64_t>(&v)) {
      mix(i, sizeof(*i));
    } else if (const auto* d = std::get_if<double>(&v)) {
      const double x = *d == 0 ? 0.0 : *d;  // -0.0 == 0.0, so they must hash alike
      mix(&x, sizeof(x));
    } else {
      const std::string& s = std::get<std::string>(v);
      mix(s.data(), s.size());
    }
  }
  return h;
}

// Whether `full` (a trial's settings) restricted to setting keys equals `setting`. Also
// sets *seed to train.seed when it is met before a difference (see SettingHash).
bool SameSetting(const Settings& full, const Settings& setting, int64_t* seed) {
  auto it = setting.begin();
  *seed = 0;
  for (const auto& [k, v] : full) {
    if (!IsSettingKey(k)) {
      if (k == "train.seed") {
        if (const auto* i = std::get_if<int64_t>(&v)) *seed = *i;
        if (const auto* d = std::get_if<double>(&v)) *seed = static_cast<int64_t>(*d);
      }
      continue;
    }
    if (it == setting.end() || it->first != k || !(it->second == v)) return false;
    ++it;
  }
  return it == setting.end();
}

Settings FilterSetting(const Settings& full) {
  Settings s;
  for (const auto& [k, v] : full) {
    if (IsSettingKey(k)) s.emplace_hint(s.end(), k, v);
  }
  return s;
}

// Keys (passing `keep`) whose value is not the same in every map; a key missing from some
// map varies. One merge walk per map against the first: no per-key lookups.
template <typename Range, typename Get>
std::vector<std::string> VaryingKeys(const Range& items, Get settings_of,
                                     bool (*keep)(const std::string&)) {
  std::set<std::string> varying;
  const Settings* first = nullptr;
  for (const auto& item : items) {
    const Settings& s = settings_of(item);
    if (!first) {
      first = &s;
      continue;
    }
    auto a = first->begin(), b = s.begin();
    while (a != first->end() || b != s.end()) {
      if (b == s.end() || (a != first->end() && a->first < b->first)) {
        if (keep(a->first)) varying.insert(a->first);
        ++a;
      } else if (a == first->end() || b->first < a->first) {
        if (keep(b->first)) varying.insert(b->first);
        ++b;
      } else {
        if (!(a->second == b->second) && keep(a->first)) varying.insert(a->first);
        ++a;
        ++b;
      }
    }
  }
  return {varying.begin(), varying.end()};
}

struct Member {
  int64_t seed;
  uint32_t trial;  // index into SweepData::trials
};

// Trials of one setting, while grouping: the base they share and their own setting keys.
struct Group {
  int base;
  Settings own;  // IsSettingKey keys only
  std::vector<Member> members;
};

// Mixed into a group's hash so equal own keys over different bases hash apart.
constexpr uint64_t kBaseMix = 0x9e3779b97f4a7c15ULL;

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

Summary SummarizeSweep(const SweepData& data, const SummaryOptions& options) {
  Summary out;
  out.trials_total = static_cast<int>(data.trials.size());
  out.level = options.level;
  out.bootstrap_resamples = options.bootstrap_resamples;

  // What each metric name is, worked out once per name instead of once per result row.
  enum Kind : uint8_t { kOther, kParams, kAcc, kChance, kLikelihoodP, kLossFinal };
  CellIndex cells;
  const size_t n_names = data.metric_names.size();
  std::vector<Kind> kind(n_names, kOther);
  std::vector<int> cell_of_name(n_names, -1);
  std::vector<int> acc_name_of_cell;  // cell -> metric name index of acc.<cell>
  int loss_final_name = -1;
  for (size_t i = 0; i < n_names; ++i) {
    const std::string_view n(data.metric_names[i]);
    if (n == "params") {
      kind[i] = kParams;
    } else if (StartsWith(n, "acc.") || StartsWith(n, "chance.")) {
      const bool is_acc = n[0] == 'a';
      kind[i] = is_acc ? kAcc : kChance;
      cell_of_name[i] = cells.Find(n.substr(is_acc ? 4 : 7));
      if (static_cast<int>(acc_name_of_cell.size()) <= cell_of_name[i]) {
        acc_name_of_cell.resize(cell_of_name[i] + 1, -1);
      }
      if (is_acc) acc_name_of_cell[cell_of_name[i]] = static_cast<int>(i);
    } else if (n == "likelihood.p") {
      kind[i] = kLikelihoodP;
    } else if (n == "loss.final") {
      kind[i] = kLossFinal;
      loss_final_name = static_cast<int>(i);
    }
  }

  // 1. Group done trials by setting. Trials of one base share every base key, so within a
  // base a setting is told apart by the trial's own keys alone (~7 instead of ~45); groups
  // of different bases with equal settings are merged afterwards.
  struct BaseInfo {
    int64_t seed = 0;  // train.seed when the whole batch shares one
    bool has_seed = false;
  };
  std::vector<BaseInfo> base_info(data.bases.size());
  for (size_t b = 0; b < data.bases.size(); ++b) {
    auto it = data.bases[b].find("train.seed");
    base_info[b].has_seed = it != data.bases[b].end();
    SettingHash(data.bases[b], &base_info[b].seed);
  }
  std::vector<Group> groups;
  std::unordered_map<uint64_t, std::vector<size_t>> by_hash;
  size_t last_group = SIZE_MAX;
  for (size_t i = 0; i < data.trials.size(); ++i) {
    const SweepData::Trial& t = data.trials[i];
    if (t.state != TrialState::kDone || !t.has_results()) {
      ++out.trials_excluded;
      continue;
    }
    ++out.trials_done;
    auto seed_of = [&](int64_t own_seed) {
      return t.base >= 0 && base_info[t.base].has_seed ? base_info[t.base].seed : own_seed;
    };
    // The store lists a sweep's trials in expansion order, seeds innermost: most trials
    // belong to the previous trial's setting, which one walk of the own keys confirms.
    int64_t seed = 0;
    if (last_group < groups.size() && groups[last_group].base == t.base &&
        SameSetting(t.own, groups[last_group].own, &seed)) {
      groups[last_group].members.push_back({seed_of(seed), static_cast<uint32_t>(i)});
      continue;
    }
    const uint64_t h = SettingHash(t.own, &seed) ^ (static_cast<uint64_t>(t.base + 1) * kBaseMix);
    std::vector<size_t>& bucket = by_hash[h];
    size_t g = groups.size();
    for (size_t candidate : bucket) {
      int64_t unused;
      if (groups[candidate].base == t.base && SameSetting(t.own, groups[candidate].own, &unused)) {
        g = candidate;
        break;
      }
    }
    if (g == groups.size()) {
      groups.push_back({t.base, FilterSetting(t.own), {}});
      bucket.push_back(g);
    }
    groups[g].members.push_back({seed_of(seed), static_cast<uint32_t>(i)});
    last_group = g;
  }
  // Settings: with one base, the base's setting keys (filtered once) are every setting's
  // `common` part and each group's own keys its `setting`; groups of several bases are
  // compared whole, and equal settings stored under different bases (batches) merged.
  std::set<int> bases_used;
  for (const Group& g : groups) bases_used.insert(g.base);
  std::shared_ptr<const Settings> common;
  if (bases_used.size() == 1 && *bases_used.begin() >= 0) {
    common = std::make_shared<const Settings>(FilterSetting(data.bases[*bases_used.begin()]));
  }
  std::vector<Settings> whole;  // only when merging
  if (bases_used.size() > 1) {
    std::map<int, Settings> filtered_base;
    for (int b : bases_used) {
      if (b >= 0) filtered_base.emplace(b, FilterSetting(data.bases[b]));
    }
    std::map<Settings, size_t> first_of;
    std::vector<Group> merged;
    for (Group& g : groups) {
      Settings w = g.base < 0 ? g.own : Overlay(filtered_base.at(g.base), g.own);
      auto [it, added] = first_of.try_emplace(w, merged.size());
      if (added) {
        merged.push_back(std::move(g));
        whole.push_back(std::move(w));
      } else {
        auto& m = merged[it->second].members;
        m.insert(m.end(), g.members.begin(), g.members.end());
      }
    }
    groups = std::move(merged);
  }

  // 2. Per group: order seeds, split metrics by cell, describe. Groups are independent, so
  // large summaries split them over two threads (25k settings: ~0.27 s on one core).
  std::vector<std::vector<int>> cell_of(groups.size());          // cell index of each CellSummary
  std::vector<std::vector<uint32_t>> members_of(groups.size());  // trial indices, seed order
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
      Group& g = groups[gi];
      std::sort(g.members.begin(), g.members.end(), [&data](const Member& a, const Member& b) {
        return a.seed != b.seed ? a.seed < b.seed
                                : data.trials[a.trial].id < data.trials[b.trial].id;
      });
      SettingSummary& s = out.settings[gi];
      if (!whole.empty()) {
        s.setting = std::move(whole[gi]);
      } else {
        s.setting = std::move(g.own);
        s.common = common;
      }
      s.size = ModelSizeLabel(s);
      s.n_seeds = static_cast<int>(g.members.size());
      for (auto& v : acc) v.clear();
      for (auto& v : chance) v.clear();
      std::vector<double> loss;
      for (const Member& m : g.members) {
        const SweepData::Trial& t = data.trials[m.trial];
        s.trial_ids.push_back(t.id);
        s.seeds.push_back(m.seed);
        members_of[gi].push_back(m.trial);
        int64_t params = t.params;  // TrialParams, without a lookup
        for (uint32_t r = t.metrics_begin; r < t.metrics_end; ++r) {
          const uint32_t name = data.metric_key[r];
          const double value = data.metric_value[r];
          switch (kind[name]) {
            case kParams:
              if (value > 0 && std::isfinite(value)) params = std::llround(value);
              break;
            case kAcc:
              acc[cell_of_name[name]].push_back(value);
              break;
            case kChance:
              chance[cell_of_name[name]].push_back(value);
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
        cell_of[gi].push_back(c);
      }
      s.likelihood_p_mean = DescribeValues(s.likelihood_p).mean;
      s.loss = DescribeValues(loss);
    }
  };
  ParallelFor(groups.size(), 2048, describe_groups);
  // The value of metric `name` of trial `i`, or nullptr.
  auto metric = [&data](uint32_t i, int name) -> const double* {
    if (name < 0) return nullptr;
    const SweepData::Trial& t = data.trials[i];
    for (uint32_t r = t.metrics_begin; r < t.metrics_end; ++r) {
      if (data.metric_key[r] == static_cast<uint32_t>(name)) return &data.metric_value[r];
    }
    return nullptr;
  };

  // Canonical cell order and what each cell is, worked out once per cell name.
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

  // Order settings by params, size, then their varying keys' values (the other keys are
  // equal, so this is the same order as comparing whole settings, at a fraction of the cost).
  // Within one base only own keys can differ, so a single-base sweep compares just those.
  // Keys in `common` are the same everywhere, so comparing the `setting` parts suffices.
  out.varying_keys = VaryingKeys(
      out.settings, [](const SettingSummary& s) -> const Settings& { return s.setting; },
      &IsSettingKey);
  OrderSettings(out, members_of);

  // 3. Best setting per size: highest score, then lowest loss, then the first in order.
  PickBestPerSize(out);

  // 4. Scaling across sizes: per-seed points of the best settings.
  for (const std::string& cell : out.cells) {
    CellTrend t;
    t.cell = cell;
    const int acc_name = acc_name_of_cell[cells.Find(cell)];
    std::vector<double> x, y;
    std::set<int64_t> sizes;
    for (size_t i : out.best) {
      const SettingSummary& s = out.settings[i];
      if (s.params <= 0 || !s.Cell(cell)) continue;
      for (uint32_t trial : members_of[i]) {
        const double* v = metric(trial, acc_name);
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
        const double* v = metric(trial, loss_final_name);
        if (!v) continue;
        n.push_back(static_cast<double>(s.params));
        loss.push_back(*v);
        sizes.insert(s.params);
      }
    }
    out.loss_fit_sizes = static_cast<int>(sizes.size());
    out.loss_fit = FitPowerLaw(n, loss, options.loss_fit);
  }

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
