// Top level of a sweep config: YAML syntax, the fixed sections, run:, seeds:, name and
// description. search: lives in sweep_search.cc and expansion in sweep_expand.cc.
#include "common/config/sweep_config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/config/sweep_internal.h"
#include "common/file_io.h"

namespace revsweep {
namespace {

using sweep_internal::FixedValue;
using sweep_internal::Origin;
using sweep_internal::Reporter;

const std::vector<std::string>& TrialSections() {
  static const std::vector<std::string> sections = {"dataset", "tokenizer", "model", "train",
                                                    "resources"};
  return sections;
}

std::vector<std::string> TopLevelKeys() {
  std::vector<std::string> keys = {"name", "description", "run", "seeds", "search"};
  for (const auto& s : TrialSections()) keys.push_back(s);
  return keys;
}

// A null value has no useful mark of its own (yaml-cpp puts it at the next token), so errors
// about it point at its key.
Origin ValueOrigin(const Reporter& reporter, const YAML::Node& key, const YAML::Node& value,
                   const std::string& path) {
  return reporter.At(value.IsNull() ? key : value, path);
}

// For a key that is unknown in its section but exists elsewhere ("train: {kind: exp3}").
std::string ElsewhereHint(const std::string& leaf) {
  for (const auto& key : sweep_internal::AllTrialKeys()) {
    size_t dot = key.find('.');
    if (key.substr(dot + 1) == leaf) {
      return "; \"" + leaf + "\" belongs under " + key.substr(0, dot) + ": (" + key + ")";
    }
  }
  return "";
}

std::string PlainString(const Reporter& reporter, const YAML::Node& key, const YAML::Node& value,
                        const std::string& path) {
  if (!value.IsScalar()) {
    reporter.Fail(ValueOrigin(reporter, key, value, path),
                  "expected a string, got " + sweep_internal::Describe(value));
  }
  return value.Scalar();
}

void ParseSection(const Reporter& reporter, const std::string& section, const YAML::Node& key,
                  const YAML::Node& node, const std::string& dir,
                  std::map<std::string, FixedValue>* fixed) {
  // An empty section ("train:" with every key commented out) is harmless.
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    reporter.Fail(
        ValueOrigin(reporter, key, node, section),
        "expected a map of " + section + " settings, got " + sweep_internal::Describe(node));
  }
  for (const auto& [k, v] : sweep_internal::MapEntries(reporter, node, section)) {
    const std::string full = section + "." + k.Scalar();
    const SchemaEntry* entry = sweep_internal::FindSchemaEntry(full);
    if (entry == nullptr) {
      std::string hint =
          sweep_internal::Suggestion(k.Scalar(), sweep_internal::SectionKeys(section));
      if (hint.empty()) hint = ElsewhereHint(k.Scalar());
      reporter.Fail(k, full, "unknown key \"" + k.Scalar() + "\"" + hint);
    }
    Origin origin = ValueOrigin(reporter, k, v, full);
    (*fixed)[full] =
        FixedValue{sweep_internal::ConvertValue(reporter, *entry, v, origin, dir), origin};
  }
}

RunOptions ParseRun(const Reporter& reporter, const YAML::Node& key, const YAML::Node& node) {
  Settings values;
  for (const auto& e : sweep_internal::RunSchema()) values[e.key] = e.default_value;
  if (!node.IsNull() && !node.IsMap()) {
    reporter.Fail(ValueOrigin(reporter, key, node, "run"),
                  "expected a map of run settings, got " + sweep_internal::Describe(node));
  }
  if (node.IsMap()) {
    std::vector<std::string> known;
    for (const auto& e : sweep_internal::RunSchema()) known.push_back(e.key);
    for (const auto& [k, v] : sweep_internal::MapEntries(reporter, node, "run")) {
      const std::string path = "run." + k.Scalar();
      const SchemaEntry* entry = nullptr;
      for (const auto& e : sweep_internal::RunSchema()) {
        if (e.key == k.Scalar()) entry = &e;
      }
      if (entry == nullptr) {
        reporter.Fail(
            k, path,
            "unknown key \"" + k.Scalar() + "\"" + sweep_internal::Suggestion(k.Scalar(), known));
      }
      Origin origin = ValueOrigin(reporter, k, v, path);
      values[entry->key] = sweep_internal::ConvertValue(reporter, *entry, v, origin, "");
    }
  }
  RunOptions run;
  run.store = GetString(values, "store");
  run.run_root = GetString(values, "run_root");
  run.retries_crash = static_cast<int>(GetInt(values, "retries_crash"));
  run.retries_timeout = static_cast<int>(GetInt(values, "retries_timeout"));
  run.trial_timeout_s = GetDouble(values, "trial_timeout_s");
  run.heartbeat_timeout_s = GetDouble(values, "heartbeat_timeout_s");
  run.status_bind = GetString(values, "status_bind");
  run.status_port = static_cast<int>(GetInt(values, "status_port"));
  run.progress_every_s = GetDouble(values, "progress_every_s");
  run.bucket_mb = GetDouble(values, "bucket_mb");
  run.regroup_min_remaining_s = GetDouble(values, "regroup_min_remaining_s");
  return run;
}

void ParseSeeds(const Reporter& reporter, const YAML::Node& key, const YAML::Node& node,
                sweep_internal::SearchSpec* search, std::map<std::string, Origin>* used) {
  Origin origin = ValueOrigin(reporter, key, node, "seeds");
  if (!node.IsSequence()) {
    reporter.Fail(origin, "expected a non-empty list of integer seeds, got " +
                              sweep_internal::Describe(node));
  }
  if (node.size() == 0) {
    reporter.Fail(origin, "expected a non-empty list of integer seeds, got an empty list");
  }
  Origin key_origin = reporter.At(key, "seeds");
  auto [it, inserted] = used->emplace("train.seed", key_origin);
  if (!inserted) {
    reporter.Fail(key_origin, "train.seed is already an axis (" + it->second.path + ", line " +
                                  std::to_string(it->second.line) +
                                  "); a key can be only one axis");
  }
  const SchemaEntry& entry = *sweep_internal::FindSchemaEntry("train.seed");
  search->has_seeds = true;
  search->seeds.key = "train.seed";
  search->seeds.origin = key_origin;
  for (size_t i = 0; i < node.size(); ++i) {
    Origin o = reporter.At(node[i], "seeds[" + std::to_string(i) + "]");
    search->seeds.values.emplace_back(sweep_internal::ConvertValue(reporter, entry, node[i], o, ""),
                                      o);
  }
}

// Records where each document starts; the events themselves are not needed.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

YAML::Node LoadYaml(const Reporter& reporter, const std::string& text) {
  YAML::Node root;
  try {
    // Count documents with the event parser rather than YAML::LoadAll: yaml-cpp 0.7 leaves a
    // token it cannot start a node with (a leading ",") unconsumed and reports an empty
    // document at the same place forever, so LoadAll never returns (yaml-cpp issue #1040).
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStarts docs;
    while (docs.starts.size() < 2 && parser.HandleNextDocument(docs)) {
    }
    if (docs.starts.size() == 2) {
      const YAML::Mark& second = docs.starts[1];
      if (second.pos == docs.starts[0].pos) {
        const std::string bad = second.pos >= 0 && static_cast<size_t>(second.pos) < text.size()
                                    ? text.substr(static_cast<size_t>(second.pos), 1)
                                    : "";
        reporter.Fail(reporter.At(second, ""),
                      "YAML syntax error: unexpected \"" + bad + "\" where a value should start");
      }
      reporter.Fail(reporter.At(second, ""),
                    "expected one YAML document, found another here (a \"---\" line, or text "
                    "after the end of the top-level map or list)");
    }
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // ParserException and its DeepRecursion subclass carry the place of the problem.
    reporter.Fail(reporter.At(e.mark, ""), "YAML syntax error: " + e.msg);
  }
  if (root.IsNull()) {
    reporter.Fail(Origin{}, "the file is empty; expected a map with at least a name");
  }
  if (!root.IsMap()) {
    reporter.Fail(
        root, "",
        "expected a map of sections at the top level, got " + sweep_internal::Describe(root));
  }
  return root;
}

}  // namespace

SweepConfig ParseSweepConfig(const std::string& yaml_text, const std::string& file_name) {
  const Reporter reporter(file_name);
  const std::string dir = std::filesystem::path(file_name).parent_path().string();
  const YAML::Node root = LoadYaml(reporter, yaml_text);

  SweepConfig config;
  config.file = file_name;
  config.yaml = yaml_text;
  config.run = ParseRun(reporter, YAML::Node(), YAML::Node());  // defaults
  bool has_name = false;
  std::map<std::string, FixedValue> fixed;
  sweep_internal::SearchSpec search;
  std::map<std::string, Origin> used;  // axis key -> where it became an axis

  for (const auto& [k, v] : sweep_internal::MapEntries(reporter, root, "")) {
    const std::string& key = k.Scalar();
    if (key == "name") {
      config.name = PlainString(reporter, k, v, "name");
      if (!IsValidSweepName(config.name)) {
        reporter.Fail(ValueOrigin(reporter, k, v, "name"),
                      "expected 1-64 characters from A-Z a-z 0-9 _ . - (not \".\" or \"..\"), "
                      "got " +
                          sweep_internal::Describe(v));
      }
      has_name = true;
    } else if (key == "description") {
      config.description = PlainString(reporter, k, v, "description");
    } else if (key == "run") {
      config.run = ParseRun(reporter, k, v);
    } else if (key == "seeds") {
      ParseSeeds(reporter, k, v, &search, &used);
    } else if (key == "search") {
      search.origin = reporter.At(k, "search");
      sweep_internal::ParseSearch(reporter, k, v, dir, &search, &used);
    } else if (std::find(TrialSections().begin(), TrialSections().end(), key) !=
               TrialSections().end()) {
      ParseSection(reporter, key, k, v, dir, &fixed);
    } else {
      std::string hint = sweep_internal::Suggestion(key, TopLevelKeys());
      if (hint.empty() && sweep_internal::FindSchemaEntry(key) != nullptr) {
        hint = "; write it under " + key.substr(0, key.find('.')) + ":";
      }
      if (hint.empty()) hint = ElsewhereHint(key);
      reporter.Fail(k, key, "unknown key \"" + key + "\"" + hint);
    }
  }
  if (!has_name) {
    reporter.Fail(root, "name", "missing required key (the sweep's name, e.g. name: lr_sweep)");
  }
  config.trials = sweep_internal::ExpandTrials(reporter, fixed, search);
  return config;
}

SweepConfig LoadSweepConfig(const std::string& path) {
  std::string text, error;
  if (!TryReadFile(path, &text, &error)) {
    if (error == "is a directory") error = "it is a directory";
    throw UserError(path, 0, 0, "", "cannot read the config: " + error);
  }
  return ParseSweepConfig(text, path);
}

}  // namespace revsweep
