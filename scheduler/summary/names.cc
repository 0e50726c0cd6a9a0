#include "scheduler/summary/names.h"

#include <cmath>
#include <string_view>
#include <tuple>

#include "common/text_util.h"

namespace revsweep {
namespace {

int SubsetRank(const std::string& s) {
  static const char* const kOrder[] = {"p2d", "d2p", "both_n2d", "both_d2n", "qa"};
  for (int i = 0; i < 5; ++i) {
    if (s == kOrder[i]) return i;
  }
  return 5;
}
int DirectionRank(const std::string& d) { return d == "same" ? 0 : d == "reverse" ? 1 : 2; }
int SplitRank(const std::string& s) { return s == "train" ? 0 : s == "heldout" ? 1 : 2; }

int MetricFamily(const std::string& m) {
  if (StartsWith(m, "acc.")) return 0;
  if (StartsWith(m, "chance.")) return 1;
  if (StartsWith(m, "likelihood.")) return 2;
  if (StartsWith(m, "loss.")) return 3;
  return 4;
}

}  // namespace

bool ParseCell(const std::string& cell, CellName* out) {
  const size_t a = cell.find('.');
  if (a == std::string::npos) return false;
  const size_t b = cell.find('.', a + 1);
  if (b == std::string::npos || cell.find('.', b + 1) != std::string::npos) return false;
  if (a == 0 || b == a + 1 || b + 1 == cell.size()) return false;
  if (out) *out = {cell.substr(0, a), cell.substr(a + 1, b - a - 1), cell.substr(b + 1)};
  return true;
}

bool CellLess(const std::string& a, const std::string& b) {
  CellName x, y;
  const bool px = ParseCell(a, &x), py = ParseCell(b, &y);
  if (px != py) return px;  // well-formed cells first
  if (!px) return a < b;
  auto key = [](const CellName& c) {
    return std::make_tuple(SubsetRank(c.subset), c.subset, DirectionRank(c.direction), c.direction,
                           SplitRank(c.split), c.split);
  };
  return key(x) < key(y);
}

bool MetricLess(const std::string& a, const std::string& b) {
  const int fa = MetricFamily(a), fb = MetricFamily(b);
  if (fa != fb) return fa < fb;
  if (fa == 0) return CellLess(a.substr(4), b.substr(4));
  if (fa == 1) return CellLess(a.substr(7), b.substr(7));
  return a < b;
}

bool IsSettingKey(const std::string& key) {
  // Fast path (called for every key of every trial): only resources.* and train.* keys can
  // be excluded.
  if (key.empty() || (key[0] != 'r' && key[0] != 't')) return true;
  if (key.size() > 6 && key.compare(0, 6, "train.") == 0 && key[6] != 'c' && key[6] != 'f' &&
      key[6] != 's') {
    return true;
  }
  return IsIdentityKey(key) && key != "train.seed";
}

std::string ModelSizeLabel(const std::function<const Value*(const char*)>& find) {
  const Value* size = find("model.size");
  if (size && ValueToString(*size) != "custom") return ValueToString(*size);
  auto get = [&find](const char* k) {
    const Value* v = find(k);
    return v ? ValueToString(*v) : std::string("?");
  };
  return "L" + get("model.n_layer") + "-H" + get("model.n_head") + "-D" + get("model.d_model");
}

std::string ModelSizeLabel(const Settings& s) {
  return ModelSizeLabel([&s](const char* k) -> const Value* {
    auto it = s.find(k);
    return it == s.end() ? nullptr : &it->second;
  });
}

int64_t TrialParams(const TrialRow& row, const std::map<std::string, double>* metrics) {
  if (metrics) {
    auto it = metrics->find("params");
    if (it != metrics->end() && it->second > 0 && std::isfinite(it->second)) {
      return static_cast<int64_t>(std::llround(it->second));
    }
  }
  return row.params;
}

}  // namespace revsweep
