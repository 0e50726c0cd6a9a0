// Experiment 1 folders in the authors' format: writing, loading as published, and deriving the
// facts (people, descriptions, templates) from the rows. The generator is exp1_generate.cc.
#include "common/data/exp1_data.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <unordered_map>
#include <unordered_set>

#include "common/data/mitigation.h"  // EntityMatcher
#include "common/text_util.h"
#include "common/user_error.h"

namespace revsweep {
namespace fs = std::filesystem;
namespace {

std::string PathIn(const std::string& dir, const std::string& file) {
  return (fs::path(dir) / file).string();
}

// Distinct trimmed completions of rows [begin, end) of `file`, in order of first appearance.
std::vector<std::string> NamesFromCompletions(const Exp1Data& data, const std::string& dir,
                                              const std::string& file, size_t begin, size_t end) {
  std::vector<std::string> names;
  std::unordered_set<std::string> seen;
  const auto& rows = data.files.at(file);
  for (size_t r = begin; r < end; ++r) {
    const std::string name = Trim(rows[r].completion);
    if (name.empty()) {
      throw UserError(PathIn(dir, file), Exp1RowLine(data, file, r), 1, "completion",
                      "empty completion; this file's completions must be names");
    }
    if (seen.insert(name).second) names.push_back(name);
  }
  return names;
}

// The both subset's people, recovered from the data itself. In the authors' folders the
// description-first half of both_prompts_test has whole sentences as completions (" Mason
// Caldwell has found their calling."), so its completions are not names. Its name-first half
// uses the same templates as the p2d subset's name-first rows, whose people are known: each
// such p2d row, with its person's name cut out, is a (prefix, suffix) pattern, and a both row
// matching one names its person in the middle (the shortest middle when several match).
// Returns the names in order of first appearance, or nothing when any row of
// [0, end) matches no pattern (a folder written otherwise: the caller falls back).
std::vector<std::string> BothNamesFromTemplates(const Exp1Data& data,
                                                const std::vector<std::string>& p2d_names,
                                                size_t end) {
  std::vector<std::pair<std::string, std::string>> patterns;
  std::unordered_set<std::string> seen_pattern;
  for (const char* file : {kP2dTest, kP2dTrain}) {
    for (const PromptCompletion& row : data.files.at(file)) {
      for (const std::string& name : p2d_names) {
        const size_t at = row.prompt.find(name);
        if (at == std::string::npos) continue;
        std::string prefix = row.prompt.substr(0, at);
        std::string suffix = row.prompt.substr(at + name.size());
        if (seen_pattern.insert(prefix + '\n' + suffix).second) {
          patterns.emplace_back(std::move(prefix), std::move(suffix));
        }
        break;
      }
    }
  }
  const auto& rows = data.files.at(kBothTest);
  std::vector<std::string> names;
  std::unordered_set<std::string> seen;
  for (size_t r = 0; r < end; ++r) {
    const std::string& prompt = rows[r].prompt;
    std::string best;
    for (const auto& [prefix, suffix] : patterns) {
      if (prompt.size() <= prefix.size() + suffix.size()) continue;
      if (prompt.compare(0, prefix.size(), prefix) != 0) continue;
      if (prompt.compare(prompt.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
      std::string middle =
          Trim(prompt.substr(prefix.size(), prompt.size() - prefix.size() - suffix.size()));
      if (!middle.empty() && (best.empty() || middle.size() < best.size())) best = middle;
    }
    if (best.empty()) return {};
    if (seen.insert(best).second) names.push_back(best);
  }
  return names;
}

// Counts and replaces every occurrence of `what` in *s by `with`.
int ReplaceAll(std::string* s, const std::string& what, const std::string& with) {
  if (what.empty()) return 0;
  int n = 0;
  size_t pos = 0;
  while ((pos = s->find(what, pos)) != std::string::npos) {
    s->replace(pos, what.size(), with);
    pos += with.size();
    ++n;
  }
  return n;
}

// A description as a completion states it: without the leading space and one final '.'.
std::string DescriptionFromCompletion(const std::string& completion) {
  std::string d = Trim(completion);
  if (!d.empty() && d.back() == '.') d.pop_back();
  return d;
}

// For each person of `names`, the most common description among the rows of `file` that
// name them (first seen wins ties).
std::vector<std::string> ModalDescriptions(const Exp1Data& data, const std::string& dir,
                                           const std::string& file,
                                           const std::vector<std::string>& names) {
  const EntityMatcher matcher(names);
  std::vector<std::vector<std::string>> seen(names.size());
  auto it = data.files.find(file);
  if (it != data.files.end()) {
    for (const PromptCompletion& row : it->second) {
      const int p = matcher.FindFirst(row.prompt);
      if (p >= 0) seen[p].push_back(DescriptionFromCompletion(row.completion));
    }
  }
  std::vector<std::string> out;
  for (size_t p = 0; p < names.size(); ++p) {
    if (seen[p].empty()) {
      throw UserError(PathIn(dir, file), 0, 0, "",
                      "both_orders: no row names \"" + names[p] +
                          "\", so their description cannot be paired with their name");
    }
    std::unordered_map<std::string, int> counts;
    std::string best;
    int best_count = 0;
    for (const std::string& d : seen[p]) {
      const int c = ++counts[d];
      if (c > best_count) best = d, best_count = c;
    }
    out.push_back(best);
  }
  return out;
}

// Templates from the training rows of `file`: each row with its person's name and
// description replaced by slots, kept when each slot occurs exactly once. Unique, in order.
std::vector<Exp1Template> DeriveTemplates(const Exp1Data& data, const std::string& dir,
                                          const std::string& file,
                                          const std::vector<std::string>& names,
                                          const std::vector<std::string>& descriptions) {
  const EntityMatcher matcher(names);
  std::vector<Exp1Template> out;
  std::unordered_set<std::string> seen;
  for (const PromptCompletion& row : data.files.at(file)) {
    const int p = matcher.FindFirst(row.prompt + " " + row.completion);
    if (p < 0) continue;
    Exp1Template t{row.prompt, row.completion};
    const int d = ReplaceAll(&t.prompt, descriptions[p], kDescriptionSlot) +
                  ReplaceAll(&t.completion, descriptions[p], kDescriptionSlot);
    const int n =
        ReplaceAll(&t.prompt, names[p], kNameSlot) + ReplaceAll(&t.completion, names[p], kNameSlot);
    if (d != 1 || n != 1) continue;
    if (seen.insert(t.prompt + '\n' + t.completion).second) out.push_back(std::move(t));
  }
  if (out.empty()) {
    throw UserError(PathIn(dir, file), 0, 0, "",
                    "both_orders: no row states its person's name and description verbatim, so "
                    "no template for the other order can be derived");
  }
  return out;
}

}  // namespace

std::string RandomizedFileName(const std::string& file_name) {
  const std::string ext = ".jsonl";
  if (file_name.size() >= ext.size() &&
      file_name.compare(file_name.size() - ext.size(), ext.size(), ext) == 0) {
    return file_name.substr(0, file_name.size() - ext.size()) + "_randomized" + ext;
  }
  return file_name + "_randomized";
}

const std::vector<std::string>& Exp1RequiredFiles() {
  static const std::vector<std::string> kFiles = {
      kP2dTrain,       kD2pTrain, kBothTrain,      kP2dTest,
      kP2dReverseTest, kD2pTest,  kD2pReverseTest, kBothTest,
  };
  return kFiles;
}

const std::vector<std::string>& Exp1OptionalFiles() {
  static const std::vector<std::string> kFiles = {
      kAllTrain,
      RandomizedFileName(kP2dTest),
      RandomizedFileName(kP2dReverseTest),
      RandomizedFileName(kD2pTest),
      RandomizedFileName(kD2pReverseTest),
      kValidation,
      kP2dReverseTrain,
      kD2pReverseTrain,
  };
  return kFiles;
}

int Exp1RowLine(const Exp1Data& data, const std::string& file, size_t row) {
  auto it = data.lines.find(file);
  if (it != data.lines.end() && row < it->second.size()) return it->second[row];
  return static_cast<int>(row) + 1;
}

void WriteExp1Folder(const Exp1Data& data, const std::string& dir) {
  fs::create_directories(dir);
  for (const auto& [file, rows] : data.files) WriteJsonl(PathIn(dir, file), rows);
}

Exp1Data LoadExp1Folder(const std::string& dir) {
  if (!fs::is_directory(dir)) {
    throw UserError(dir, 0, 0, "",
                    "not a folder (dataset.source must be \"generate\" or a folder of "
                    "Experiment 1 JSONL files)");
  }
  Exp1Data data;
  const auto load = [&](const std::string& file) {
    std::vector<int> lines;
    data.files[file] = ReadJsonl(PathIn(dir, file), &lines);
    data.lines[file] = std::move(lines);
  };
  for (const std::string& file : Exp1RequiredFiles()) {
    if (!fs::exists(PathIn(dir, file))) {
      throw UserError(PathIn(dir, file), 0, 0, "", "missing required Experiment 1 file");
    }
    load(file);
    if (data.files[file].empty()) {
      throw UserError(PathIn(dir, file), 0, 0, "", "no rows (a required file must not be empty)");
    }
  }
  for (const std::string& file : Exp1OptionalFiles()) {
    if (fs::exists(PathIn(dir, file))) load(file);
  }

  const size_t both_rows = data.files[kBothTest].size();
  if (both_rows % 2 != 0) {
    throw UserError(PathIn(dir, kBothTest), 0, 0, "",
                    "has " + std::to_string(both_rows) +
                        " rows; expected name-first rows then as many description-first rows");
  }
  const std::vector<std::string> p2d =
      NamesFromCompletions(data, dir, kP2dReverseTest, 0, data.files[kP2dReverseTest].size());
  const std::vector<std::string> d2p =
      NamesFromCompletions(data, dir, kD2pTest, 0, data.files[kD2pTest].size());
  // The both subset: from its name-first rows when they follow the p2d subset's templates
  // (the authors' folders and ours), else from bare-name completions of the second half.
  std::vector<std::string> both = BothNamesFromTemplates(data, p2d, both_rows / 2);
  data.both_names_source = std::string("the name-first half of ") + kBothTest +
                           " matched against the name-first templates of " + kP2dTest + " and " +
                           kP2dTrain;
  if (both.empty()) {
    both = NamesFromCompletions(data, dir, kBothTest, both_rows / 2, both_rows);
    data.both_names_source = std::string("the second half of ") + kBothTest;
  }

  std::unordered_map<std::string, std::string> subset_of;
  const auto add = [&](const std::vector<std::string>& names, const char* subset,
                       const char* file) {
    for (const std::string& name : names) {
      auto [it, inserted] = subset_of.emplace(name, subset);
      if (!inserted) {
        throw UserError(PathIn(dir, file), 0, 0, "",
                        "\"" + name + "\" is in both the " + it->second + " and the " + subset +
                            " subsets; each person belongs to one subset");
      }
      data.names.push_back(name);
    }
  };
  add(p2d, "p2d", kP2dReverseTest);
  add(d2p, "d2p", kD2pTest);
  add(both, "both", kBothTest);
  data.p2d_count = static_cast<int>(p2d.size());
  data.d2p_count = static_cast<int>(d2p.size());
  data.both_count = static_cast<int>(both.size());
  return data;
}

Exp1Facts DeriveExp1Facts(const Exp1Data& data, const std::string& dir) {
  if (data.facts) return *data.facts;
  Exp1Facts facts;
  const auto p2d_begin = data.names.begin();
  const auto d2p_begin = p2d_begin + data.p2d_count;
  facts.p2d_names.assign(p2d_begin, d2p_begin);
  facts.d2p_names.assign(d2p_begin, d2p_begin + data.d2p_count);
  facts.p2d_descriptions = ModalDescriptions(data, dir, kP2dTrain, facts.p2d_names);
  facts.d2p_descriptions = ModalDescriptions(data, dir, kD2pReverseTest, facts.d2p_names);
  facts.name_first_templates =
      DeriveTemplates(data, dir, kP2dTrain, facts.p2d_names, facts.p2d_descriptions);
  facts.description_first_templates =
      DeriveTemplates(data, dir, kD2pTrain, facts.d2p_names, facts.d2p_descriptions);
  return facts;
}

}  // namespace revsweep
