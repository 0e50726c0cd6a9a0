#include "common/config/settings_vary.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "common/parallel.h"

namespace revsweep {
namespace {

// Equality of printed values (what descriptions show): the variant compare decides except for
// doubles, where -0.0 == 0.0 but they print differently.
bool SamePrinted(const Value& a, const Value& b) {
  if (a != b) return false;
  if (std::holds_alternative<double>(a)) return ValueToString(a) == ValueToString(b);
  return true;
}

std::string Tail(const std::string& k) {
  size_t dot = k.rfind('.');
  return dot == std::string::npos ? k : k.substr(dot + 1);
}

}  // namespace

namespace {

// Keys in which all[begin, end) differ from `ref`, into `varying`.
void CollectVarying(const Settings& ref, const std::vector<const Settings*>& all, size_t begin,
                    size_t end, std::set<std::string>* varying) {
  for (size_t i = begin; i < end; ++i) {
    const Settings& s = *all[i];
    // Both maps are sorted: walk them together (real sweeps have the same keys everywhere).
    auto a = ref.begin(), b = s.begin();
    while (a != ref.end() || b != s.end()) {
      const int c = a == ref.end() ? 1 : b == s.end() ? -1 : a->first.compare(b->first);
      if (c < 0) {
        varying->insert(a->first);
        ++a;
      } else if (c > 0) {
        varying->insert(b->first);
        ++b;
      } else {
        if (!SamePrinted(a->second, b->second)) varying->insert(a->first);
        ++a;
        ++b;
      }
    }
  }
}

}  // namespace

std::vector<std::string> VaryingKeys(const std::vector<const Settings*>& all) {
  if (all.size() < 2) return {};
  std::set<std::string> varying;
  const Settings& ref = *all[0];
  // Walking 100k maps of ~60 nodes is bound by memory latency; more threads divide it
  // (inserting a 100k-trial sweep spends a fifth of its time here).
  constexpr size_t kParallelFrom = 20000;
  std::mutex mu;
  ParallelFor(all.size(), kParallelFrom / 2, [&](size_t lo, size_t hi) {
    std::set<std::string> mine;
    CollectVarying(ref, all, std::max<size_t>(lo, 1), hi, &mine);
    std::lock_guard<std::mutex> lock(mu);
    varying.insert(mine.begin(), mine.end());
  });
  return {varying.begin(), varying.end()};
}

std::vector<std::string> MergeVaryingKeys(const std::vector<std::string>& a, const Settings* a_rep,
                                          const std::vector<std::string>& b,
                                          const Settings* b_rep) {
  if (!a_rep) return b;
  if (!b_rep) return a;
  std::set<std::string> out(a.begin(), a.end());
  out.insert(b.begin(), b.end());
  for (const std::string& k : VaryingKeys({a_rep, b_rep})) out.insert(k);
  return {out.begin(), out.end()};
}

std::string DescribeSettings(const Settings& s, const std::vector<std::string>& varying) {
  std::map<std::string, int> tail_uses;
  for (const std::string& k : varying) ++tail_uses[Tail(k)];
  std::string d;
  for (const std::string& k : varying) {
    auto it = s.find(k);
    if (it == s.end()) continue;
    if (!d.empty()) d += ' ';
    d += (tail_uses[Tail(k)] > 1 ? k : Tail(k)) + "=" + ValueToString(it->second);
  }
  return d;
}

}  // namespace revsweep
