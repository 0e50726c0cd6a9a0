// BuildTextTask: Experiment 1 or 3 data (generated or loaded) -> training documents,
// evaluation cells, chance baselines and likelihood pairs, then the mitigation.
// Cell names and groups are listed in docs/DATA.md.
#include "common/data/text_task.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>

#include "common/data/exp1_data.h"
#include "common/data/exp2_data.h"
#include "common/data/exp3_data.h"
#include "common/data/mitigation.h"
#include "common/user_error.h"

namespace revsweep {
namespace {

constexpr char kGenerated[] = "(generated)";

std::string PathIn(const std::string& dir, const std::string& file) {
  return (std::filesystem::path(dir) / file).string();
}

// ---- Experiment 1

// One subset's people: their slice of Exp1Data.names and a matcher over it.
struct Subset {
  const char* label;  // "p2d", "d2p", "both"
  int offset;         // index of the first person in Exp1Data.names
  std::vector<std::string> names;
};

class Exp1TaskBuilder {
 public:
  Exp1TaskBuilder(const Exp1Data& data, std::string dir, int64_t seed)
      : data_(data), dir_(std::move(dir)), seed_(seed) {
    const auto slice = [&](const char* label, int offset, int count) {
      return Subset{label, offset,
                    std::vector<std::string>(data.names.begin() + offset,
                                             data.names.begin() + offset + count)};
    };
    p2d_ = slice("p2d", 0, data.p2d_count);
    d2p_ = slice("d2p", data.p2d_count, data.d2p_count);
    both_ = slice("both", data.p2d_count + data.d2p_count, data.both_count);
  }

  TextTask Build() {
    TextTask task;
    const auto all = data_.files.find(kAllTrain);
    if (all != data_.files.end() && !all->second.empty()) {
      AddDocs(all->second, &task.train);
    } else {
      for (const char* file : {kP2dTrain, kD2pTrain, kBothTrain}) {
        AddDocs(data_.files.at(file), &task.train);
      }
    }

    AddCell("p2d.same.heldout", kP2dTest, p2d_, 0, SIZE_MAX, &task);
    AddCell("p2d.reverse.heldout", kP2dReverseTest, p2d_, 0, SIZE_MAX, &task);
    AddCell("d2p.same.heldout", kD2pTest, d2p_, 0, SIZE_MAX, &task);
    AddCell("d2p.reverse.heldout", kD2pReverseTest, d2p_, 0, SIZE_MAX, &task);
    const size_t half = data_.files.at(kBothTest).size() / 2;
    AddCell("both_n2d.same.heldout", kBothTest, both_, 0, half, &task);
    AddCell("both_d2n.same.heldout", kBothTest, both_, half, SIZE_MAX, &task);
    AddCell("p2d.same.train", kP2dTrain, p2d_, 0, SIZE_MAX, &task);
    AddCell("d2p.same.train", kD2pTrain, d2p_, 0, SIZE_MAX, &task);
    AddCell("p2d.reverse.train", kP2dReverseTrain, p2d_, 0, SIZE_MAX, &task);
    AddCell("d2p.reverse.train", kD2pReverseTrain, d2p_, 0, SIZE_MAX, &task);

    AddChance("p2d.same.heldout", kP2dTest, &task);
    AddChance("p2d.reverse.heldout", kP2dReverseTest, &task);
    AddChance("d2p.same.heldout", kD2pTest, &task);
    AddChance("d2p.reverse.heldout", kD2pReverseTest, &task);

    AddLikelihood(&task);
    task.entities = data_.names;
    return task;
  }

 private:
  static void AddDocs(const std::vector<PromptCompletion>& rows, std::vector<TextDoc>* docs) {
    for (const PromptCompletion& row : rows) docs->push_back({row.prompt, row.completion});
  }

  // The person each row of `file` is about: the first of the subset's names found in its
  // prompt or completion. Cached per file.
  const std::vector<int>& Groups(const std::string& file, const Subset& subset) {
    auto cached = groups_.find(file);
    if (cached != groups_.end()) return cached->second;
    const EntityMatcher matcher(subset.names);
    const std::vector<PromptCompletion>& rows = data_.files.at(file);
    std::vector<int> groups;
    groups.reserve(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      const int person = matcher.FindFirst(rows[r].prompt + "\n" + rows[r].completion);
      if (person < 0) {
        throw UserError(PathIn(dir_, file), Exp1RowLine(data_, file, r), 1, "",
                        std::string("the row names none of the ") + subset.label +
                            " subset's people (taken from " + SourceOf(subset) + ")");
      }
      groups.push_back(subset.offset + person);
    }
    return groups_[file] = std::move(groups);
  }

  std::string SourceOf(const Subset& subset) const {
    if (std::string(subset.label) == "p2d") return kP2dReverseTest;
    if (std::string(subset.label) == "d2p") return kD2pTest;
    return data_.both_names_source.empty() ? "the generator" : data_.both_names_source;
  }

  void AddCell(const std::string& cell, const std::string& file, const Subset& subset, size_t begin,
               size_t end, TextTask* task) {
    const auto it = data_.files.find(file);
    if (it == data_.files.end()) return;
    const std::vector<int>& groups = Groups(file, subset);
    EvalSet set{cell, {}};
    for (size_t r = begin; r < std::min(end, it->second.size()); ++r) {
      set.items.push_back({it->second[r].prompt, it->second[r].completion, groups[r]});
    }
    task->evals.push_back(std::move(set));
  }

  // Rows of `file`'s randomized twin, checked against `file` row by row.
  const std::vector<PromptCompletion>* Randomized(const std::string& file) {
    const std::string twin = RandomizedFileName(file);
    const auto it = data_.files.find(twin);
    if (it == data_.files.end()) return nullptr;
    const std::vector<PromptCompletion>& original = data_.files.at(file);
    if (it->second.size() != original.size()) {
      throw UserError(PathIn(dir_, twin), 0, 0, "",
                      "has " + std::to_string(it->second.size()) + " rows but " + file + " has " +
                          std::to_string(original.size()) + "; it must repeat its prompts");
    }
    for (size_t r = 0; r < original.size(); ++r) {
      if (it->second[r].prompt != original[r].prompt) {
        throw UserError(PathIn(dir_, twin), Exp1RowLine(data_, twin, r), 1, "prompt",
                        "differs from the prompt on line " +
                            std::to_string(Exp1RowLine(data_, file, r)) + " of " + file);
      }
    }
    return &it->second;
  }

  // The chance set: the cell's prompts and groups with the randomized completions.
  void AddChance(const std::string& cell, const std::string& file, TextTask* task) {
    const std::vector<PromptCompletion>* random = Randomized(file);
    if (random == nullptr) return;
    const EvalSet* scored = nullptr;
    for (const EvalSet& set : task->evals) {
      if (set.cell == cell) scored = &set;
    }
    EvalSet set{cell, {}};
    for (size_t r = 0; r < random->size(); ++r) {
      set.items.push_back({(*random)[r].prompt, (*random)[r].completion, scored->items[r].group});
    }
    task->chance.push_back(std::move(set));
  }

  // p2d reverse rows: the correct name against the randomized file's name for the row, or,
  // without that file, one other p2d person per person picked with the dataset seed.
  void AddLikelihood(TextTask* task) {
    const std::vector<PromptCompletion>& rows = data_.files.at(kP2dReverseTest);
    const std::vector<int>& groups = Groups(kP2dReverseTest, p2d_);
    const std::vector<PromptCompletion>* random = Randomized(kP2dReverseTest);
    const size_t n = p2d_.names.size();
    if (n < 2) return;  // no other person to compare with
    // Another person than i, uniformly: a draw over the n - 1 others.
    const auto other_than = [n](std::mt19937_64& rng, size_t i) {
      const size_t j = UniformBelow(rng, n - 1);
      return j >= i ? j + 1 : j;
    };
    // The paper's test: one other name per person, fixed by the dataset seed.
    std::mt19937_64 person_rng(static_cast<uint64_t>(seed_) ^ 0x6c696b656c69686fULL);
    std::vector<size_t> other(n);
    for (size_t i = 0; i < n; ++i) other[i] = other_than(person_rng, i);
    // Per prompt without a randomized file: a new draw per row, from its own stream.
    std::mt19937_64 prompt_rng(static_cast<uint64_t>(seed_) ^ 0x70726f6d70747273ULL);
    for (size_t r = 0; r < rows.size(); ++r) {
      const int person = groups[r] - p2d_.offset;
      const std::string per_prompt =
          random != nullptr ? (*random)[r].completion
                            : " " + p2d_.names[other_than(prompt_rng, static_cast<size_t>(person))];
      task->likelihood.push_back({rows[r].prompt, rows[r].completion, per_prompt, person,
                                  " " + p2d_.names[other[person]]});
    }
  }

  const Exp1Data& data_;
  const std::string dir_;
  const int64_t seed_;
  Subset p2d_, d2p_, both_;
  std::map<std::string, std::vector<int>> groups_;
};

// ---- Experiment 3

// Pairs [first, last) asked question -> answer (as the examples state them) or answer -> question.
EvalSet QaCell(const std::string& cell, const std::vector<QaPair>& pairs, size_t first, size_t last,
               bool question_to_answer) {
  EvalSet set{cell, {}};
  for (size_t i = first; i < last; ++i) {
    const QaPair& p = pairs[i];
    set.items.push_back(question_to_answer ? EvalItem{p.prompt, p.target, static_cast<int>(i)}
                                           : EvalItem{AnswerToQuestionPrompt(p.answer),
                                                      " " + p.question, static_cast<int>(i)});
  }
  return set;
}

// Chance baseline of a qa cell: each target replaced by that of another random held-out pair.
EvalSet QaChance(const EvalSet& cell, int64_t seed, uint64_t stream) {
  EvalSet set{cell.cell, {}};
  const size_t n = cell.items.size();
  if (n < 2) return set;
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL + stream);
  for (size_t i = 0; i < n; ++i) {
    size_t j = UniformBelow(rng, n - 1);
    if (j >= i) ++j;
    set.items.push_back({cell.items[i].prompt, cell.items[i].target, cell.items[i].group});
    set.items.back().target = cell.items[j].target;
  }
  return set;
}

TextTask BuildExp3Task(const Exp3Data& data, const std::string& dir,
                       const DatasetOptions& options) {
  const std::vector<QaPair> pairs = Exp3Pairs(data, dir);
  const size_t heldout_begin = data.realized_examples.size();
  TextTask task;
  for (const PromptCompletion& g : data.guidances) task.train.push_back({g.prompt, g.completion});
  for (const PromptCompletion& e : data.realized_examples) {
    task.train.push_back({e.prompt, e.completion});
  }
  task.base_train_docs = task.train.size();
  // "same" is the direction the instructions state: question -> answer for question_first.
  const bool question_first = options.instruction_order != "answer_first";
  task.evals.push_back(
      QaCell("qa.same.heldout", pairs, heldout_begin, pairs.size(), question_first));
  task.evals.push_back(
      QaCell("qa.reverse.heldout", pairs, heldout_begin, pairs.size(), !question_first));
  // The trained examples themselves, asked as they were trained (question -> answer), as many
  // as there are held-out pairs: whether the model learned what it read, the control that makes
  // a held-out cell at chance the curse and not a model that learned nothing.
  const size_t realized_n = std::min(heldout_begin, pairs.size() - heldout_begin);
  task.evals.push_back(QaCell("qa.realized.train", pairs, 0, realized_n, true));
  for (uint64_t k = 0; k < task.evals.size(); ++k) {
    EvalSet chance = QaChance(task.evals[k], options.seed, 0x7161 + k);
    if (!chance.items.empty()) task.chance.push_back(std::move(chance));
  }
  std::vector<QaPair> answered;  // pairs with an answer (a realized one may have none)
  for (const QaPair& p : pairs) {
    if (p.answer.empty()) continue;
    task.entities.push_back(p.answer);
    answered.push_back(p);
  }
  if (options.mitigation == "both_orders") {
    const std::string other = question_first ? "answer_first" : "question_first";
    for (const PromptCompletion& g : GuidanceDocs(answered, other)) {
      task.train.push_back({g.prompt, g.completion});
    }
  }
  return task;
}

// ---- Experiment 2: no training documents; both directions of every pair, and a chance
// baseline per cell (each prompt scored against another row's answer).
TextTask BuildExp2Task(const std::vector<ParentChildPair>& pairs, int64_t seed) {
  TextTask task;
  EvalSet c2p{"c2p.same.heldout", {}}, p2c{"p2c.reverse.heldout", {}};
  std::vector<std::string> names;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const ParentChildPair& p = pairs[i];
    const int group = static_cast<int>(i);
    c2p.items.push_back({ChildToParentPrompt(p), " " + p.parent, group});
    p2c.items.push_back({ParentToChildPrompt(p), " " + p.child, group});
    names.push_back(p.child);
    names.push_back(p.parent);
  }
  task.evals = {std::move(c2p), std::move(p2c)};
  for (uint64_t k = 0; k < task.evals.size(); ++k) {
    EvalSet chance = QaChance(task.evals[k], seed, 0x6578703200ULL + k);
    if (!chance.items.empty()) task.chance.push_back(std::move(chance));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  task.entities = std::move(names);
  return task;
}

}  // namespace

TextTask BuildTextTask(const DatasetOptions& options) {
  if (!IsKnownMitigation(options.mitigation)) {
    throw UserError("", 0, 0, "dataset.mitigation",
                    "unknown mitigation \"" + options.mitigation + "\"");
  }
  const bool generate = options.source == "generate";
  const std::string dir = generate ? kGenerated : options.source;
  TextTask task;
  if (options.kind == "exp1") {
    const Exp1Data data = generate ? GenerateExp1(options) : LoadExp1Folder(options.source);
    task = Exp1TaskBuilder(data, dir, options.seed).Build();
    task.base_train_docs = task.train.size();
    if (options.mitigation == "both_orders") {
      const std::vector<TextDoc> extra = BothOrdersDocs(DeriveExp1Facts(data, dir));
      task.train.insert(task.train.end(), extra.begin(), extra.end());
    }
  } else if (options.kind == "exp2") {
    if (generate) {
      throw UserError("", 0, 0, "dataset.source",
                      "exp2 has no generator: set it to the authors' parent_child_pairs.csv");
    }
    task = BuildExp2Task(LoadParentChildCsv(options.source), options.seed);
  } else if (options.kind == "exp3") {
    const Exp3Data data = generate ? GenerateExp3(options) : LoadExp3Folder(options.source);
    task = BuildExp3Task(data, dir, options);
  } else {
    throw UserError("", 0, 0, "dataset.kind", "unknown kind \"" + options.kind + "\"");
  }
  task.token_reverse_keeps_entities = options.mitigation == "reverse_entity_token";
  task.token_reverse = options.mitigation == "reverse_token" || task.token_reverse_keeps_entities;
  AppendReversedCopies(options.mitigation, task.entities, options.segment_length, options.seed,
                       &task.train);
  return task;
}

}  // namespace revsweep
