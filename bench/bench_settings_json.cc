// Settings JSON at sweep scale: SettingsToJson, TrialId and SettingsFromJson over 100k
// settings maps shaped like real trials (every schema key, 7 keys varied as in
// bench_store_scale), against the previous implementations kept below as the baseline and
// run in the same process. Also checks that both produce identical bytes and values.
// Usage: bench_settings_json [--trials N] [--reps R]
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "bench/bench_grid.h"
#include "common/config/settings.h"
#include "common/config/sweep_config.h"
#include "tests/lib/settings_reference.h"

namespace revsweep {
namespace {

namespace old_impl = settings_reference;  // the baseline: tests/lib/settings_reference.h

// ---- Workload ----

// The first n trials of bench/bench_grid.h, as bench_store_scale expands them but without the
// preset lookup: a size sets made-up n_layer and d_model here.
std::vector<Settings> Expand(int n) {
  Settings base;
  for (const SchemaEntry& e : TrialSchema()) base[e.key] = e.default_value;
  std::vector<Settings> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    const bench_grid::Point p = bench_grid::At(i);
    Settings s = base;
    bench_grid::Apply(p, &s);
    s["model.n_layer"] = static_cast<int64_t>(2 + 2 * p.size);
    s["model.d_model"] = static_cast<int64_t>(64) << p.size;
    out.push_back(std::move(s));
  }
  return out;
}

double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double Seconds(const std::function<void()>& f) {
  const double c0 = CpuNow();
  f();
  return CpuNow() - c0;
}

size_t g_sink = 0;  // keeps the work from being optimized away

// Runs the old and the new version alternately `reps` times and prints the best CPU time per
// call of each. CPU time because the machine is shared (wall time would measure the queue);
// alternating and best-of so that a burst of load from the neighbours hits both alike.
void Row(const char* what, int reps, size_t calls, const std::function<void()>& old_f,
         const std::function<void()>& new_f) {
  double old_s = 1e300, new_s = 1e300;
  for (int r = 0; r < reps; ++r) {
    old_s = std::min(old_s, Seconds(old_f));
    new_s = std::min(new_s, Seconds(new_f));
  }
  const double old_ns = old_s / calls * 1e9, new_ns = new_s / calls * 1e9;
  printf("%-18s old %8.0f ns/call  new %8.0f ns/call  new/old %.3f  (%.1fx faster)\n", what, old_ns,
         new_ns, new_ns / old_ns, old_ns / new_ns);
}

bool SameSettings(const Settings& a, const Settings& b) {
  if (a.size() != b.size()) return false;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    if (ia->first != ib->first || ia->second.index() != ib->second.index()) return false;
    if (const auto* d = std::get_if<double>(&ia->second)) {
      const double e = std::get<double>(ib->second);
      if (std::memcmp(d, &e, sizeof(double)) != 0) return false;
    } else if (ia->second != ib->second) {
      return false;
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  int n = 100000, reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--trials")) n = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
  }
  const std::vector<Settings> trials = Expand(n);
  std::vector<std::string> jsons;
  jsons.reserve(trials.size());
  size_t bytes = 0, mismatches = 0;
  for (const Settings& s : trials) {
    jsons.push_back(old_impl::SettingsToJson(s));
    bytes += jsons.back().size();
    if (SettingsToJson(s) != jsons.back()) ++mismatches;
    if (TrialId(s) != old_impl::TrialId(s)) ++mismatches;
    if (!SameSettings(SettingsFromJson(jsons.back()), old_impl::SettingsFromJson(jsons.back())))
      ++mismatches;
  }
  printf("%d trials, %zu keys each, %.0f JSON bytes each; mismatches new vs old: %zu\n", n,
         trials.empty() ? 0 : trials[0].size(), static_cast<double>(bytes) / n, mismatches);

  // Two working sets: "cold" walks all n maps once per rep (as a 100k-trial sweep does; mostly
  // cache misses while walking the map nodes, which both versions pay), "hot" makes as many
  // calls over 512 maps spread across the grid that stay in cache, which shows the cost of
  // the code itself.
  std::vector<size_t> hot_index;
  for (size_t i = 0; i < trials.size(); ++i) {
    hot_index.push_back((i % 512) * (trials.size() / 512 > 0 ? trials.size() / 512 : 1) %
                        trials.size());
  }
  for (const bool hot : {false, true}) {
    printf("-- %s\n", hot ? "hot (512 distinct maps)" : "cold (all maps)");
    const size_t calls = trials.size();
    auto to_json = [&](auto fn) {
      return [&, fn] {
        for (size_t i = 0; i < calls; ++i) g_sink += fn(trials[hot ? hot_index[i] : i]).size();
      };
    };
    Row("SettingsToJson", reps, calls, to_json(old_impl::SettingsToJson), to_json(SettingsToJson));
    Row("TrialId", reps, calls, to_json(old_impl::TrialId), to_json(TrialId));
    auto from_json = [&](auto fn) {
      return [&, fn] {
        for (size_t i = 0; i < calls; ++i) g_sink += fn(jsons[hot ? hot_index[i] : i]).size();
      };
    };
    Row("SettingsFromJson", reps, calls, from_json(old_impl::SettingsFromJson),
        from_json(SettingsFromJson));
  }

  // The doubles alone: the lr grid values and the weight decays, as ValueToString formats them.
  std::vector<Value> doubles;
  for (int k = 0; k < 10; ++k) doubles.emplace_back(1e-4 * std::pow(10.0, k / 5.0));
  for (int k = 0; k < 5; ++k) doubles.emplace_back(0.05 * k);
  const int dreps = 20000;
  auto fmt = [&](auto fn) {
    return [&, fn] {
      for (int r = 0; r < dreps; ++r)
        for (const Value& v : doubles) g_sink += fn(v).size();
    };
  };
  Row("ValueToString(dbl)", reps, dreps * doubles.size(), fmt(old_impl::ValueToString),
      fmt(ValueToString));
  return mismatches == 0 && g_sink != 0 ? 0 : 1;
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) { return revsweep::Main(argc, argv); }
