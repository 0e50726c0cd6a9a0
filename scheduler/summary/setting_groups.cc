#include "scheduler/summary/setting_groups.h"

#include <map>
#include <unordered_map>

namespace revsweep {
namespace {

// train.seed as a number (0 when it is not one).
int64_t SeedValue(const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
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
      if (k == "train.seed") *seed = SeedValue(v);
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
      if (k == "train.seed") *seed = SeedValue(v);
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

// Mixed into a group's hash so equal own keys over different bases hash apart.
constexpr uint64_t kBaseMix = 0x9e3779b97f4a7c15ULL;

}  // namespace

SettingGroups GroupBySetting(const SweepData& data) {
  SettingGroups r;
  // Trials of one base share every base key, so within a base a setting is told apart by
  // the trial's own keys alone; groups of different bases with equal settings are merged
  // afterwards.
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
  std::vector<SettingGroup>& groups = r.groups;
  std::unordered_map<uint64_t, std::vector<size_t>> by_hash;
  size_t last_group = SIZE_MAX;
  for (size_t i = 0; i < data.trials.size(); ++i) {
    const SweepData::Trial& t = data.trials[i];
    if (t.state != TrialState::kDone || !t.has_results()) {
      ++r.excluded;
      continue;
    }
    ++r.done;
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
  for (const SettingGroup& g : groups) bases_used.insert(g.base);
  if (bases_used.size() == 1 && *bases_used.begin() >= 0) {
    r.common = std::make_shared<const Settings>(FilterSetting(data.bases[*bases_used.begin()]));
  }
  if (bases_used.size() > 1) {
    std::map<int, Settings> filtered_base;
    for (int b : bases_used) {
      if (b >= 0) filtered_base.emplace(b, FilterSetting(data.bases[b]));
    }
    std::map<Settings, size_t> first_of;
    std::vector<SettingGroup> merged;
    for (SettingGroup& g : groups) {
      Settings w = g.base < 0 ? g.own : Overlay(filtered_base.at(g.base), g.own);
      auto [it, added] = first_of.try_emplace(w, merged.size());
      if (added) {
        merged.push_back(std::move(g));
        r.whole.push_back(std::move(w));
      } else {
        auto& m = merged[it->second].members;
        m.insert(m.end(), g.members.begin(), g.members.end());
      }
    }
    groups = std::move(merged);
  }
  return r;
}

}  // namespace revsweep
