// Internals of the sweep config loader, shared by sweep_schema.cc, sweep_yaml.cc,
// sweep_config.cc, sweep_search.cc and sweep_expand.cc. Not a public API.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config/settings.h"
#include "common/config/sweep_config.h"

namespace revsweep {
namespace sweep_internal {

// Where a value came from, for error messages. line 0 = schema default (no place in the file).
struct Origin {
  std::string path;  // "train.lr", "search.grid.train.lr[2]"
  int line = 0;      // 1-based
  int column = 0;    // 1-based
};

// Carries the file name so every error names it.
class Reporter {
 public:
  explicit Reporter(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }
  // yaml-cpp marks are 0-based; -1 (no mark) becomes line 0 ("whole file").
  Origin At(const YAML::Node& node, std::string path) const;
  Origin At(const YAML::Mark& mark, std::string path) const;
  [[noreturn]] void Fail(const Origin& origin, const std::string& message) const;
  [[noreturn]] void Fail(const YAML::Node& node, const std::string& path,
                         const std::string& message) const {
    Fail(At(node, path), message);
  }

 private:
  std::string file_;
};

// Schema lookups. FindSchemaEntry returns nullptr for unknown keys.
const SchemaEntry* FindSchemaEntry(const std::string& key);
const ModelPreset* FindModelPreset(const std::string& name);
// Sweep-level `run:` keys, with the same entry type (keys without the "run." prefix).
const std::vector<SchemaEntry>& RunSchema();
// The keys under `section` (e.g. "train"), without the prefix, in schema order.
std::vector<std::string> SectionKeys(const std::string& section);
std::vector<std::string> AllTrialKeys();

// Closest candidate by edit distance, or "" when none is close enough to be a useful hint.
std::string ClosestKey(const std::string& key, const std::vector<std::string>& candidates);
// ` (did you mean "x"?)`-style suffix, or "" when there is no close key.
std::string Suggestion(const std::string& key, const std::vector<std::string>& candidates);

// A value for people: like ValueToString, but doubles in their shortest round-trip form
// ("10", not the canonical "1e+01").
std::string Display(const Value& value);
// What a node holds, for "got ..." in messages: "fast" in quotes, a map, a list, nothing.
std::string Describe(const YAML::Node& node);
// "expected an integer in [1, 100]" / "expected one of a, b" / ... for an entry.
std::string Expected(const SchemaEntry& entry);

// Converts a scalar node to the entry's type and checks range and choices. `dir` is the
// config file's directory, used to resolve a relative dataset.source.
// `origin` is where to point on error (for a null value, the key: yaml-cpp marks a null at
// the next token).
Value ConvertValue(const Reporter& reporter, const SchemaEntry& entry, const YAML::Node& node,
                   const Origin& origin, const std::string& dir);
// Range and choice checks for a value that is already typed (random sampling bounds).
void CheckValue(const Reporter& reporter, const SchemaEntry& entry, const Value& value,
                const Origin& origin);
// Strict literal parsers: integers are [+-]digits, numbers add a fraction and exponent.
bool ParseInt64(const std::string& text, int64_t* out, bool* overflow);
bool ParseNumber(const std::string& text, double* out);
// True for quoted or !!str scalars, which a numeric key rejects ("0.1" is a string).
bool IsQuoted(const YAML::Node& node);
// Iterates a map, rejecting duplicate keys and keys that are not plain scalars.
std::vector<std::pair<YAML::Node, YAML::Node>> MapEntries(const Reporter& reporter,
                                                          const YAML::Node& map,
                                                          const std::string& path);
// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string JoinPath(const std::string& prefix, const std::string& key);

// One axis value given to one trial.
struct Assignment {
  std::string key;  // schema key, "train.lr"
  Value value;
  Origin origin;  // path "search.grid.train.lr[1]" and its place
  int64_t index;  // position in its list, or the random sample number
};
using Row = std::vector<Assignment>;

// A list axis: one key and its values (grid entry, zip entry, or seeds).
struct ListAxis {
  std::string key;
  Origin origin;  // the axis key in the file
  std::vector<std::pair<Value, Origin>> values;
};

struct RandomDim {
  enum Kind { kChoice, kUniform, kLogUniform, kIntUniform } kind;
  std::string key;
  Origin origin;                                  // search.random.space.<key>
  std::vector<std::pair<Value, Origin>> choices;  // kChoice
  double lo = 0, hi = 0;                          // the others
};

struct RandomSpec {
  Origin origin;  // search.random
  int64_t samples = 0;
  uint64_t seed = 0;
  std::vector<RandomDim> dims;
};

// The parsed axes; a missing block is empty and contributes one empty assignment.
struct SearchSpec {
  Origin origin;  // the search: key, when there is one
  std::vector<ListAxis> grid;
  std::vector<ListAxis> zip;
  bool has_random = false;
  RandomSpec random;
  bool has_seeds = false;
  ListAxis seeds;
};

// Parses `search:`; `used` collects axis keys so one key cannot be two axes.
void ParseSearch(const Reporter& reporter, const YAML::Node& key, const YAML::Node& node,
                 const std::string& dir, SearchSpec* spec, std::map<std::string, Origin>* used);
// The message for a search key that is not a schema key, with the closest one as a hint.
std::string UnknownTrialKey(const std::string& key);
// The random block's rows, deterministic in its seed.
std::vector<Row> SampleRandom(const RandomSpec& spec);

// A value from a fixed section (dataset:, train:, ...).
struct FixedValue {
  Value value;
  Origin origin;
};

// Expands, fills presets, runs cross-field checks and rejects duplicate trials.
std::vector<TrialConfig> ExpandTrials(const Reporter& reporter,
                                      const std::map<std::string, FixedValue>& fixed,
                                      const SearchSpec& search);

}  // namespace sweep_internal
}  // namespace revsweep
