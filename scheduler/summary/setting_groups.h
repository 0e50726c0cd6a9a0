// Grouping a sweep's done trials into settings, the first phase of SummarizeSweep: trials
// whose identity settings agree except for train.seed are one setting, and its trials are
// seed replicates (summary.h defines "setting"). Works on the store's compact form
// (SweepData: a few shared bases plus each trial's own keys), so a 100k-trial sweep is grouped
// by comparing ~7 own keys per trial instead of ~45.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/config/settings.h"
#include "common/store/results_store.h"
#include "scheduler/summary/names.h"

namespace revsweep {

struct SettingMember {
  int64_t seed;    // train.seed (0 when absent)
  uint32_t trial;  // index into SweepData::trials
};

struct SettingGroup {
  int base;                            // SweepData base the trials share (-1: none)
  Settings own;                        // the trials' own setting keys (IsSettingKey only)
  std::vector<SettingMember> members;  // in store order; SummarizeSweep orders them by seed
};

struct SettingGroups {
  std::vector<SettingGroup> groups;
  // One base used: its setting keys, which every group shares (SettingSummary::common).
  std::shared_ptr<const Settings> common;
  // Several bases used: each group's whole setting, same index as `groups` (groups of different
  // bases with equal settings are merged). Empty otherwise.
  std::vector<Settings> whole;
  int done = 0;      // trials grouped: state done with results
  int excluded = 0;  // the others
};

// Groups in order of first appearance in `data.trials`.
SettingGroups GroupBySetting(const SweepData& data);

// Keys (passing `keep`) whose value is not the same in every map of `items`; a key missing
// from some map varies. One merge walk per map against the first: no per-key lookups.
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

}  // namespace revsweep
