// Names the summaries, export and plots share: cells ("<subset>.<direction>.<split>") and
// their canonical order, metric column order, which settings keys make up a setting, model
// size labels and a trial's parameter count.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/config/settings.h"
#include "common/store/results_store.h"

namespace revsweep {

struct CellName {
  std::string subset, direction, split;
};
// "<subset>.<direction>.<split>" with three non-empty parts; false otherwise.
bool ParseCell(const std::string& cell, CellName* out);
// Canonical cell order: subset p2d, d2p, both_n2d, both_d2n, qa, then others by name;
// direction same before reverse; split train before heldout. Strict weak order.
bool CellLess(const std::string& a, const std::string& b);
// Column order for metrics: acc.* and chance.* in cell order, then likelihood.*, loss.*,
// then the rest by name.
bool MetricLess(const std::string& a, const std::string& b);

// True for keys that make up a setting: identity keys other than train.seed.
bool IsSettingKey(const std::string& key);
// "model.size" unless it is missing or "custom"; then "L<n_layer>-H<n_head>-D<d_model>".
std::string ModelSizeLabel(const Settings& s);
// The same over any lookup (nullptr when a key is absent).
std::string ModelSizeLabel(const std::function<const Value*(const char*)>& find);
// Parameter count of a trial: results["params"] when positive, else row.params (0 = unknown).
int64_t TrialParams(const TrialRow& row, const std::map<std::string, double>* metrics);

}  // namespace revsweep
