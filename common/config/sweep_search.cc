// search: grid, zip and random blocks, and the random block's deterministic sampler.
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/config/sweep_internal.h"

namespace revsweep {
namespace sweep_internal {
namespace {

Origin KeyOrValue(const Reporter& reporter, const YAML::Node& key, const YAML::Node& value,
                  const std::string& path) {
  return reporter.At(value.IsNull() ? key : value, path);
}

// The schema entry for a search key, after rejecting unknown keys and keys that are already
// an axis elsewhere (two axes on one key would silently override each other).
const SchemaEntry& AxisEntry(const Reporter& reporter, const YAML::Node& key,
                             const std::string& path, std::map<std::string, Origin>* used) {
  const SchemaEntry* entry = FindSchemaEntry(key.Scalar());
  if (entry == nullptr) reporter.Fail(key, path, UnknownTrialKey(key.Scalar()));
  Origin origin = reporter.At(key, path);
  auto [it, inserted] = used->emplace(entry->key, origin);
  if (!inserted) {
    reporter.Fail(origin, entry->key + " is already an axis (" + it->second.path + ", line " +
                              std::to_string(it->second.line) + "); a key can be only one axis");
  }
  return *entry;
}

// A non-empty list of values for `entry`, each converted and checked.
std::vector<std::pair<Value, Origin>> ValueList(const Reporter& reporter, const SchemaEntry& entry,
                                                const YAML::Node& key, const YAML::Node& node,
                                                const std::string& path, const std::string& dir) {
  Origin origin = KeyOrValue(reporter, key, node, path);
  if (!node.IsSequence()) {
    reporter.Fail(origin, "expected a non-empty list of values, got " + Describe(node));
  }
  if (node.size() == 0) reporter.Fail(origin, "empty axis: expected at least one value");
  std::vector<std::pair<Value, Origin>> out;
  for (size_t i = 0; i < node.size(); ++i) {
    Origin o = reporter.At(node[i], path + "[" + std::to_string(i) + "]");
    out.emplace_back(ConvertValue(reporter, entry, node[i], o, dir), o);
  }
  return out;
}

std::vector<ListAxis> ParseAxes(const Reporter& reporter, const YAML::Node& key,
                                const YAML::Node& node, const std::string& path,
                                const std::string& dir, std::map<std::string, Origin>* used) {
  if (!node.IsMap() || node.size() == 0) {
    reporter.Fail(KeyOrValue(reporter, key, node, path),
                  "expected a map of key: [values], got " +
                      (node.IsMap() ? std::string("an empty map") : Describe(node)));
  }
  std::vector<ListAxis> axes;
  for (const auto& [k, v] : MapEntries(reporter, node, path)) {
    const std::string axis_path = path + "." + k.Scalar();
    const SchemaEntry& entry = AxisEntry(reporter, k, axis_path, used);
    ListAxis axis{entry.key, reporter.At(k, axis_path), {}};
    axis.values = ValueList(reporter, entry, k, v, axis_path, dir);
    axes.push_back(std::move(axis));
  }
  return axes;
}

// An integer from a non-schema field (random.samples, random.seed, int_uniform bounds).
int64_t IntField(const Reporter& reporter, const YAML::Node& node, const Origin& origin,
                 int64_t min, int64_t max) {
  const std::string expected =
      "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  int64_t v = 0;
  bool overflow = false;
  if (!node.IsScalar() || IsQuoted(node) || !ParseInt64(node.Scalar(), &v, &overflow) || v < min ||
      v > max) {
    reporter.Fail(origin, expected + ", got " + Describe(node));
  }
  return v;
}

void ParseDistribution(const Reporter& reporter, const SchemaEntry& entry, const YAML::Node& key,
                       const YAML::Node& node, const std::string& path, const std::string& dir,
                       RandomDim* dim) {
  static const std::vector<std::string> kinds = {"choice", "uniform", "log_uniform", "int_uniform"};
  const std::string one_of =
      "expected one of {choice: [...]}, {uniform: [lo, hi]}, "
      "{log_uniform: [lo, hi]}, {int_uniform: [lo, hi]}";
  if (!node.IsMap() || node.size() != 1) {
    reporter.Fail(KeyOrValue(reporter, key, node, path), one_of + ", got " + Describe(node));
  }
  const auto entries = MapEntries(reporter, node, path);
  const YAML::Node& kind_key = entries[0].first;
  const YAML::Node& args = entries[0].second;
  const std::string& kind = kind_key.Scalar();
  const std::string kind_path = path + "." + kind;
  if (kind == "choice") {
    dim->kind = RandomDim::kChoice;
    dim->choices = ValueList(reporter, entry, kind_key, args, kind_path, dir);
    return;
  }
  if (kind == "uniform") {
    dim->kind = RandomDim::kUniform;
  } else if (kind == "log_uniform") {
    dim->kind = RandomDim::kLogUniform;
  } else if (kind == "int_uniform") {
    dim->kind = RandomDim::kIntUniform;
  } else {
    reporter.Fail(
        kind_key, kind_path,
        "unknown distribution \"" + kind + "\"" + Suggestion(kind, kinds) + "; " + one_of);
  }
  if (entry.type != SchemaEntry::kInt && entry.type != SchemaEntry::kDouble) {
    reporter.Fail(kind_key, kind_path, entry.key + " is not numeric; use choice: [...] for it");
  }
  if (!args.IsSequence() || args.size() != 2) {
    reporter.Fail(KeyOrValue(reporter, kind_key, args, kind_path),
                  "expected a list [lo, hi], got " + Describe(args));
  }
  // Integer keys (and int_uniform) take integer bounds, so every sample is an integer in
  // range; numeric keys take any number.
  const bool integral = entry.type == SchemaEntry::kInt || dim->kind == RandomDim::kIntUniform;
  double bounds[2];
  for (size_t i = 0; i < 2; ++i) {
    Origin o = reporter.At(args[i], kind_path + "[" + std::to_string(i) + "]");
    if (integral) {
      int64_t lim = int64_t{1} << 53;  // exact in a double
      bounds[i] = static_cast<double>(IntField(reporter, args[i], o, -lim, lim));
    } else if (!args[i].IsScalar() || IsQuoted(args[i]) ||
               !ParseNumber(args[i].Scalar(), &bounds[i])) {
      reporter.Fail(o, "expected a number, got " + Describe(args[i]));
    }
    CheckValue(reporter, entry, Value(bounds[i]), o);
  }
  if (bounds[0] > bounds[1]) {
    reporter.Fail(reporter.At(args, kind_path),
                  "expected lo <= hi, got [" + args[0].Scalar() + ", " + args[1].Scalar() + "]");
  }
  if (dim->kind == RandomDim::kLogUniform && bounds[0] <= 0) {
    reporter.Fail(reporter.At(args[0], kind_path + "[0]"),
                  "expected lo > 0 for log_uniform, got " + args[0].Scalar());
  }
  dim->lo = bounds[0];
  dim->hi = bounds[1];
}

void ParseRandom(const Reporter& reporter, const YAML::Node& key, const YAML::Node& node,
                 const std::string& dir, RandomSpec* spec, std::map<std::string, Origin>* used) {
  const std::string path = "search.random";
  spec->origin = reporter.At(key, path);
  if (!node.IsMap()) {
    reporter.Fail(KeyOrValue(reporter, key, node, path),
                  "expected a map with samples, seed and space, got " + Describe(node));
  }
  bool has_samples = false, has_space = false;
  for (const auto& [k, v] : MapEntries(reporter, node, path)) {
    const std::string field = path + "." + k.Scalar();
    if (k.Scalar() == "samples") {
      spec->samples = IntField(reporter, v, KeyOrValue(reporter, k, v, field), 1, kMaxSweepTrials);
      has_samples = true;
    } else if (k.Scalar() == "seed") {
      spec->seed = static_cast<uint64_t>(IntField(reporter, v, KeyOrValue(reporter, k, v, field), 0,
                                                  std::numeric_limits<int64_t>::max()));
    } else if (k.Scalar() == "space") {
      if (!v.IsMap() || v.size() == 0) {
        reporter.Fail(KeyOrValue(reporter, k, v, field),
                      "expected a map of key: {distribution}, got " +
                          (v.IsMap() ? std::string("an empty map") : Describe(v)));
      }
      for (const auto& [sk, sv] : MapEntries(reporter, v, field)) {
        const std::string dim_path = field + "." + sk.Scalar();
        const SchemaEntry& entry = AxisEntry(reporter, sk, dim_path, used);
        RandomDim dim{RandomDim::kChoice, entry.key, reporter.At(sk, dim_path), {}, 0, 0};
        ParseDistribution(reporter, entry, sk, sv, dim_path, dir, &dim);
        spec->dims.push_back(std::move(dim));
      }
      has_space = true;
    } else {
      reporter.Fail(k, field,
                    "unknown key \"" + k.Scalar() + "\"" +
                        Suggestion(k.Scalar(), {"samples", "seed", "space"}));
    }
  }
  if (!has_samples) reporter.Fail(spec->origin, "missing samples: (how many trials to draw)");
  if (!has_space) reporter.Fail(spec->origin, "missing space: (the keys to draw)");
}

// Portable uniform draws: the standard distributions differ between standard libraries, and
// the sampled trials must be the same wherever the sweep is loaded.
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

int64_t UniformInt(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (span == 0) return static_cast<int64_t>(rng());  // the whole 64-bit range
  // Rejection keeps every value equally likely.
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % span;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % span);
}

Value Draw(std::mt19937_64& rng, const RandomDim& dim, const SchemaEntry& entry) {
  double v = 0;
  switch (dim.kind) {
    case RandomDim::kChoice:
      return dim.choices[UniformInt(rng, 0, static_cast<int64_t>(dim.choices.size()) - 1)].first;
    case RandomDim::kIntUniform:
      v = static_cast<double>(
          UniformInt(rng, static_cast<int64_t>(dim.lo), static_cast<int64_t>(dim.hi)));
      break;
    case RandomDim::kUniform:
      v = dim.lo + (dim.hi - dim.lo) * Uniform01(rng);
      break;
    case RandomDim::kLogUniform:
      v = std::exp(std::log(dim.lo) + (std::log(dim.hi) - std::log(dim.lo)) * Uniform01(rng));
      break;
  }
  v = std::min(std::max(v, dim.lo), dim.hi);  // rounding must not leave [lo, hi]
  if (entry.type == SchemaEntry::kInt) return Value(static_cast<int64_t>(std::llround(v)));
  return Value(v);
}

}  // namespace

std::string UnknownTrialKey(const std::string& key) {
  std::string hint = Suggestion(key, AllTrialKeys());
  if (hint.empty()) {
    for (const auto& k : AllTrialKeys()) {
      if (k.substr(k.find('.') + 1) == key) hint = "; did you mean \"" + k + "\"?";
    }
  }
  return "unknown key \"" + key + "\"" + hint;
}

void ParseSearch(const Reporter& reporter, const YAML::Node& key, const YAML::Node& node,
                 const std::string& dir, SearchSpec* spec, std::map<std::string, Origin>* used) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    reporter.Fail(KeyOrValue(reporter, key, node, "search"),
                  "expected a map with grid, zip or random, got " + Describe(node));
  }
  for (const auto& [k, v] : MapEntries(reporter, node, "search")) {
    const std::string path = "search." + k.Scalar();
    if (k.Scalar() == "grid") {
      spec->grid = ParseAxes(reporter, k, v, path, dir, used);
    } else if (k.Scalar() == "zip") {
      spec->zip = ParseAxes(reporter, k, v, path, dir, used);
      for (const auto& axis : spec->zip) {
        if (axis.values.size() != spec->zip[0].values.size()) {
          reporter.Fail(axis.origin,
                        "zip lists must have equal length: " + spec->zip[0].origin.path + " has " +
                            std::to_string(spec->zip[0].values.size()) + ", " + axis.origin.path +
                            " has " + std::to_string(axis.values.size()));
        }
      }
    } else if (k.Scalar() == "random") {
      spec->has_random = true;
      ParseRandom(reporter, k, v, dir, &spec->random, used);
    } else {
      reporter.Fail(
          k, path,
          "unknown key \"" + k.Scalar() + "\"" + Suggestion(k.Scalar(), {"grid", "zip", "random"}));
    }
  }
}

std::vector<Row> SampleRandom(const RandomSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::vector<Row> rows;
  rows.reserve(static_cast<size_t>(spec.samples));
  // Samples in order, keys in file order within a sample: adding a sample keeps the others.
  for (int64_t s = 0; s < spec.samples; ++s) {
    Row row;
    for (const auto& dim : spec.dims) {
      const SchemaEntry& entry = *FindSchemaEntry(dim.key);
      row.push_back(Assignment{dim.key, Draw(rng, dim, entry), dim.origin, s});
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace sweep_internal
}  // namespace revsweep
