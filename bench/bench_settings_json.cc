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

#include "common/settings.h"
#include "common/sweep_config.h"

namespace revsweep {
namespace {

// ---- Baseline: the implementation before the fast paths, verbatim. ----
namespace old_impl {

std::string FormatDouble(double d) {
  if (!std::isfinite(d)) return "null";
  char buf[64];
  std::string text;
  for (int precision = 1; precision <= 17; ++precision) {
    auto [end, ec] =
        std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::general, precision);
    if (ec != std::errc()) continue;
    double back = 0;
    auto parsed = std::from_chars(buf, end, back);
    text.assign(buf, end);
    if (parsed.ec == std::errc() && back == d) break;
  }
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string JsonString(const std::string& s) {
  bool plain = true;
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  if (plain) return "\"" + s + "\"";
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ValueToString(const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return FormatDouble(*d);
  return std::get<std::string>(v);
}

std::string ValueToJson(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return JsonString(*s);
  return ValueToString(v);
}

template <typename Pred>
std::string ToJsonObject(const Settings& s, Pred include) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : s) {
    if (!include(key)) continue;
    if (!first) out += ",";
    first = false;
    out += JsonString(key);
    out += ":";
    out += ValueToJson(value);
  }
  out += "}";
  return out;
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool IsIdentityKey(const std::string& key) {
  return !StartsWith(key, "resources.") && !StartsWith(key, "train.checkpoint_every_") &&
         !StartsWith(key, "train.fault_");
}

std::string SettingsToJson(const Settings& s) {
  return ToJsonObject(s, [](const std::string&) { return true; });
}

std::string Hex64(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string TrialId(const Settings& s) {
  const std::string json = ToJsonObject(s, IsIdentityKey);
  return Hex64(Fnv1a64(json.data(), json.size()));
}

Settings SettingsFromJson(const std::string& json) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("settings JSON: ") + e.what());
  }
  if (!doc.is_object()) throw std::runtime_error("settings JSON: expected an object");
  Settings out;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const auto& v = it.value();
    switch (v.type()) {
      case nlohmann::json::value_t::boolean:
        out[it.key()] = v.get<bool>();
        break;
      case nlohmann::json::value_t::number_integer:
        out[it.key()] = v.get<int64_t>();
        break;
      case nlohmann::json::value_t::number_unsigned: {
        uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          throw std::runtime_error("settings JSON: " + it.key() + ": integer out of range");
        }
        out[it.key()] = static_cast<int64_t>(u);
        break;
      }
      case nlohmann::json::value_t::number_float:
        out[it.key()] = v.get<double>();
        break;
      case nlohmann::json::value_t::string:
        out[it.key()] = v.get<std::string>();
        break;
      default:
        throw std::runtime_error("settings JSON: " + it.key() + ": expected a scalar");
    }
  }
  return out;
}

}  // namespace old_impl

// ---- Workload ----

// Same grid as bench_store_scale's Expand (first n trials in grid order), without the preset
// lookup: sizes only change the three model integers here.
std::vector<Settings> Expand(int n) {
  Settings base;
  for (const SchemaEntry& e : TrialSchema()) base[e.key] = e.default_value;
  const char* sizes[] = {"nano", "micro", "tiny", "small", "medium"};
  const char* mitigations[] = {"none", "both_orders", "reverse_word", "reverse_entity",
                               "reverse_segment"};
  std::vector<Settings> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    int r = i;
    const int seed = r % 4;
    r /= 4;
    const int wd = r % 5;
    r /= 5;
    const int warm = r % 4;
    r /= 4;
    const int mit = r % 5;
    r /= 5;
    const int batch = r % 5;
    r /= 5;
    const int lr = r % 10;
    r /= 10;
    const int size = r % 5;
    Settings s = base;
    s["model.size"] = std::string(sizes[size]);
    s["model.n_layer"] = static_cast<int64_t>(2 + 2 * size);
    s["model.d_model"] = static_cast<int64_t>(64) << size;
    s["train.lr"] = 1e-4 * std::pow(10.0, lr / 5.0);
    s["train.batch_size"] = static_cast<int64_t>(1) << (batch + 2);
    s["dataset.mitigation"] = std::string(mitigations[mit]);
    s["train.warmup_steps"] = static_cast<int64_t>(warm * 50);
    s["train.weight_decay"] = 0.05 * wd;
    s["train.seed"] = static_cast<int64_t>(seed);
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
