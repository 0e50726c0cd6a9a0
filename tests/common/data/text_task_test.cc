#include "common/data/text_task.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/data/exp1_data.h"
#include "common/data/exp3_data.h"
#include "common/data/mitigation.h"
#include "common/user_error.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {

// Equality for comparing whole tasks (generated vs loaded).
bool operator==(const TextDoc& a, const TextDoc& b) {
  return a.prompt == b.prompt && a.completion == b.completion;
}
bool operator==(const EvalItem& a, const EvalItem& b) {
  return a.prompt == b.prompt && a.target == b.target && a.group == b.group;
}
bool operator==(const EvalSet& a, const EvalSet& b) {
  return a.cell == b.cell && a.items == b.items;
}
bool operator==(const LikelihoodItem& a, const LikelihoodItem& b) {
  return a.prompt == b.prompt && a.correct == b.correct && a.random == b.random &&
         a.group == b.group;
}

namespace {

namespace fs = std::filesystem;

DatasetOptions Options(const std::string& kind = "exp1", const std::string& mitigation = "none",
                       int64_t seed = 0) {
  DatasetOptions o;
  o.kind = kind;
  o.source = "generate";
  o.names_per_subset = 30;
  o.train_templates = 30;
  o.test_templates = 10;
  o.qa_pairs = 100;
  o.heldout_pairs = 20;
  o.instruction_order = "question_first";
  o.seed = seed;
  o.mitigation = mitigation;
  o.segment_length = 3;
  return o;
}

using TempDir = testutil::TempDir;

const EvalSet* Find(const std::vector<EvalSet>& sets, const std::string& cell) {
  for (const EvalSet& s : sets) {
    if (s.cell == cell) return &s;
  }
  return nullptr;
}

void ExpectSameTask(const TextTask& a, const TextTask& b) {
  EXPECT_TRUE(a.train == b.train);
  EXPECT_TRUE(a.evals == b.evals);
  EXPECT_TRUE(a.chance == b.chance);
  EXPECT_TRUE(a.likelihood == b.likelihood);
  EXPECT_EQ(a.entities, b.entities);
  EXPECT_EQ(a.token_reverse, b.token_reverse);
}

TEST(BuildTextTaskExp1, CellsGroupsChanceAndLikelihood) {
  const TextTask task = BuildTextTask(Options());
  const Exp1Data data = GenerateExp1(Options());
  EXPECT_EQ(task.train.size(), 3600u);
  EXPECT_EQ(task.entities, data.names);
  EXPECT_FALSE(task.token_reverse);

  const std::vector<std::pair<std::string, size_t>> cells = {
      {"p2d.same.heldout", 300},    {"p2d.reverse.heldout", 300},   {"d2p.same.heldout", 300},
      {"d2p.reverse.heldout", 300}, {"both_n2d.same.heldout", 300}, {"both_d2n.same.heldout", 300},
      {"p2d.same.train", 900},      {"d2p.same.train", 900},        {"p2d.reverse.train", 900},
      {"d2p.reverse.train", 900},
  };
  ASSERT_EQ(task.evals.size(), cells.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    EXPECT_EQ(task.evals[i].cell, cells[i].first);
    EXPECT_EQ(task.evals[i].items.size(), cells[i].second) << cells[i].first;
  }
  // Each row's group is the person it is about, within the subset's index range.
  const std::map<std::string, std::pair<int, int>> ranges = {
      {"p2d", {0, 30}}, {"d2p", {30, 60}}, {"both_n2d", {60, 90}}, {"both_d2n", {60, 90}}};
  for (const EvalSet& set : task.evals) {
    const auto range = ranges.at(set.cell.substr(0, set.cell.find('.')));
    for (const EvalItem& item : set.items) {
      ASSERT_GE(item.group, range.first) << set.cell;
      ASSERT_LT(item.group, range.second) << set.cell;
      const std::string& name = data.names[item.group];
      EXPECT_NE((item.prompt + item.target).find(name), std::string::npos) << set.cell;
    }
  }
  const EvalSet* reverse = Find(task.evals, "p2d.reverse.heldout");
  EXPECT_EQ(reverse->items[0].target, " " + data.names[0]);
  EXPECT_EQ(reverse->items[0].prompt, data.files.at(kP2dReverseTest)[0].prompt);
  EXPECT_EQ(Find(task.evals, "both_d2n.same.heldout")->items[0].target, " " + data.names[60]);

  ASSERT_EQ(task.chance.size(), 4u);
  for (const EvalSet& chance : task.chance) {
    const EvalSet* scored = Find(task.evals, chance.cell);
    ASSERT_NE(scored, nullptr) << chance.cell;
    ASSERT_EQ(chance.items.size(), scored->items.size());
    for (size_t r = 0; r < chance.items.size(); ++r) {
      EXPECT_EQ(chance.items[r].prompt, scored->items[r].prompt);
      EXPECT_EQ(chance.items[r].group, scored->items[r].group);
      EXPECT_NE(chance.items[r].target, scored->items[r].target);
    }
  }

  ASSERT_EQ(task.likelihood.size(), 300u);
  std::set<int> people;
  std::map<int, std::string> other_of;
  for (const LikelihoodItem& item : task.likelihood) {
    EXPECT_EQ(item.correct, " " + data.names[item.group]);
    EXPECT_NE(item.random, item.correct);
    const auto begin = data.names.begin(), end = begin + 30;
    EXPECT_NE(std::find(begin, end, item.random.substr(1)), end) << "random not in p2d";
    // The paper's test: one other p2d person per person, the same on all their rows.
    EXPECT_NE(item.random_person, item.correct);
    EXPECT_NE(std::find(begin, end, item.random_person.substr(1)), end);
    const auto [it, fresh] = other_of.emplace(item.group, item.random_person);
    EXPECT_EQ(it->second, item.random_person) << "person " << item.group;
    people.insert(item.group);
  }
  EXPECT_EQ(people.size(), 30u);
}

TEST(BuildTextTaskExp1, LoadedFolderGivesTheSameTaskAsGenerating) {
  TempDir dir;
  for (const char* mitigation : {"none", "both_orders", "reverse_entity"}) {
    DatasetOptions options = Options("exp1", mitigation, 5);
    options.names_per_subset = 6;
    options.train_templates = 4;
    options.test_templates = 3;
    WriteExp1Folder(GenerateExp1(options), dir.str());
    const TextTask generated = BuildTextTask(options);
    options.source = dir.str();
    const TextTask loaded = BuildTextTask(options);
    ExpectSameTask(generated, loaded);
  }
}

TEST(BuildTextTaskExp1, OptionalFilesChangeOnlyWhatTheyFeed) {
  TempDir dir;
  DatasetOptions options = Options("exp1", "none", 2);
  options.names_per_subset = 5;
  options.train_templates = 3;
  options.test_templates = 2;
  const TextTask full = BuildTextTask(options);
  Exp1Data data = GenerateExp1(options);
  for (const std::string& file : Exp1OptionalFiles()) data.files.erase(file);
  WriteExp1Folder(data, dir.str());
  options.source = dir.str();
  const TextTask minimal = BuildTextTask(options);
  EXPECT_TRUE(minimal.train == full.train);  // all_prompts_train = the three concatenated
  EXPECT_EQ(minimal.evals.size(), 8u);       // no *.reverse.train cells
  EXPECT_TRUE(minimal.chance.empty());
  ASSERT_EQ(minimal.likelihood.size(), full.likelihood.size());
  std::map<int, std::set<std::string>> per_prompt_names, per_person_names;
  for (const LikelihoodItem& item : minimal.likelihood) {
    EXPECT_NE(item.random, item.correct);
    EXPECT_NE(item.random_person, item.correct);
    EXPECT_EQ(item.random[0], ' ');
    per_prompt_names[item.group].insert(item.random);
    per_person_names[item.group].insert(item.random_person);
  }
  // Without the randomized file the per-prompt name is drawn per row (5 people x 2 rows, 4
  // others each: some person gets two different names unless all 5 draws repeat, 1/1024),
  // while the paper's test keeps one name per person.
  size_t varied = 0;
  for (const auto& [person, names] : per_prompt_names) varied += names.size() > 1;
  EXPECT_GT(varied, 0u);
  for (const auto& [person, names] : per_person_names) EXPECT_EQ(names.size(), 1u);
  // Deterministic without the randomized file too.
  EXPECT_TRUE(BuildTextTask(options).likelihood == minimal.likelihood);
}

TEST(BuildTextTaskExp1, MitigationsTouchTrainingDocumentsOnly) {
  const TextTask base = BuildTextTask(Options());
  for (const char* m : {"reverse_word", "reverse_entity", "reverse_segment"}) {
    const TextTask task = BuildTextTask(Options("exp1", m));
    ASSERT_EQ(task.train.size(), 2 * base.train.size()) << m;
    EXPECT_TRUE(std::equal(base.train.begin(), base.train.end(), task.train.begin())) << m;
    EXPECT_TRUE(task.evals == base.evals) << m;
    EXPECT_TRUE(task.likelihood == base.likelihood) << m;
    const TextDoc& copy = task.train[base.train.size()];
    EXPECT_EQ(copy.prompt, "");
    const std::string original = base.train[0].prompt + base.train[0].completion;
    if (std::string(m) == "reverse_word") {
      EXPECT_EQ(copy.completion, ReverseWords(original));
    }
    if (std::string(m) == "reverse_entity") {
      // "Leander Brackengate, known ..." reversed with the name kept whole.
      EXPECT_EQ(copy.completion.substr(copy.completion.size() - 20), "Leander Brackengate,");
    }
  }
  const TextTask token = BuildTextTask(Options("exp1", "reverse_token"));
  EXPECT_TRUE(token.token_reverse);
  EXPECT_TRUE(token.train == base.train);

  const TextTask both = BuildTextTask(Options("exp1", "both_orders"));
  ASSERT_EQ(both.train.size(), base.train.size() + 2 * 30 * 30);
  const Exp1Data data = GenerateExp1(Options());
  // First added: p2d person 0 stated description-first, as in d2p training rows.
  const TextDoc& added = both.train[base.train.size()];
  EXPECT_EQ(added.prompt,
            FillTemplate(DescriptionFirstBaseTemplates()[0], "", data.facts->p2d_descriptions[0]));
  EXPECT_EQ(added.completion, " " + data.names[0]);
  const TextDoc& last = both.train.back();
  EXPECT_EQ(last.completion, " " + data.facts->d2p_descriptions[29]);
}

TEST(BuildTextTaskExp1, IsDeterministic) {
  ExpectSameTask(BuildTextTask(Options("exp1", "reverse_segment", 3)),
                 BuildTextTask(Options("exp1", "reverse_segment", 3)));
}

TEST(BuildTextTaskExp3, CellsFollowTheInstructionOrder) {
  DatasetOptions options = Options("exp3");
  const TextTask q = BuildTextTask(options);
  EXPECT_EQ(q.train.size(), 100u * kGuidancesPerPair + 80);
  ASSERT_EQ(q.evals.size(), 3u);
  EXPECT_EQ(q.evals[0].cell, "qa.same.heldout");
  EXPECT_EQ(q.evals[1].cell, "qa.reverse.heldout");
  // The control: the first 20 (= held-out pairs) realized examples, as trained.
  const EvalSet& realized = q.evals[2];
  EXPECT_EQ(realized.cell, "qa.realized.train");
  ASSERT_EQ(realized.items.size(), 20u);
  EXPECT_EQ(realized.items[0].group, 0);
  EXPECT_EQ(realized.items[19].group, 19);
  const Exp3Data data = GenerateExp3(options);
  const EvalItem& same = q.evals[0].items[0];
  EXPECT_EQ(same.prompt, data.unrealized_examples[0].prompt);      // the question
  EXPECT_EQ(same.target, data.unrealized_examples[0].completion);  // " answer"
  EXPECT_EQ(same.group, 80);
  const EvalItem& reverse = q.evals[1].items[0];
  EXPECT_EQ(reverse.prompt,
            AnswerToQuestionPrompt(data.unrealized_examples[0].completion.substr(1)));
  EXPECT_EQ(reverse.target, " " + data.unrealized_examples[0].prompt);
  EXPECT_EQ(realized.items[0].prompt, data.realized_examples[0].prompt);
  EXPECT_EQ(realized.items[0].target, data.realized_examples[0].completion);
  EXPECT_EQ(q.chance.size(), 3u);
  EXPECT_EQ(q.entities.size(), 100u);
  EXPECT_TRUE(q.likelihood.empty());

  options.instruction_order = "answer_first";
  const TextTask a = BuildTextTask(options);
  EXPECT_EQ(a.evals[0].items[0].prompt, reverse.prompt);  // same = answer -> question
  EXPECT_EQ(a.evals[1].items[0].prompt, same.prompt);
  EXPECT_EQ(a.evals[2].items[0].prompt, realized.items[0].prompt);  // as trained, either order
  EXPECT_EQ(a.train[0].completion.find("Answer with"), 0u);
}

TEST(BuildTextTaskExp3, LoadedEqualsGeneratedAndBothOrdersAddsTheOtherOrder) {
  TempDir dir;
  DatasetOptions options = Options("exp3", "both_orders", 6);
  options.qa_pairs = 30;
  options.heldout_pairs = 5;
  WriteExp3Folder(GenerateExp3(options), dir.str());
  const TextTask generated = BuildTextTask(options);
  EXPECT_EQ(generated.train.size(), 30u * kGuidancesPerPair * 2 + 25);
  const std::vector<QaPair> pairs = Exp3Pairs(GenerateExp3(options), "");
  EXPECT_EQ(generated.train.back().completion,
            GuidanceDocs(pairs, "answer_first").back().completion);
  const std::string& last = generated.train.back().completion;
  EXPECT_LT(last.find(pairs.back().answer), last.find(pairs.back().question)) << last;
  options.source = dir.str();
  ExpectSameTask(generated, BuildTextTask(options));
}

TEST(BuildTextTask, RejectsUnknownKindAndMitigation) {
  EXPECT_THROW(BuildTextTask(Options("exp2")), UserError);
  EXPECT_THROW(BuildTextTask(Options("exp1", "reverse")), UserError);
}

// ---- tests/bad_inputs/dataset: every case must fail with exactly its .expected message.
//   exp1_<name>    BuildTextTask(kind exp1, source = the case), mitigation none
//   exp1bo_<name>  the same with mitigation both_orders
//   exp3_<name>    BuildTextTask(kind exp3, source = the case)
//   jsonl_<name>.jsonl  ReadJsonl(the case)
// In .expected, $CASE stands for the case's path; a message ending in "..." is a prefix.
std::string ReplaceAll(std::string s, const std::string& what, const std::string& with) {
  for (size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += with.size()) {
    s.replace(pos, what.size(), with);
  }
  return s;
}

TEST(BadInputs, EveryCaseFailsWithItsExpectedMessage) {
  const fs::path root = fs::path(REVSWEEP_SRC_DIR) / "tests" / "bad_inputs" / "dataset";
  ASSERT_TRUE(fs::is_directory(root)) << root;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    const fs::path path = entry.path();
    const std::string name = path.filename().string();
    if (path.extension() == ".expected" || path.extension() == ".md") continue;
    SCOPED_TRACE(name);
    const fs::path expected_path = root / (path.stem().string() + ".expected");
    ASSERT_TRUE(fs::exists(expected_path)) << "no .expected for " << name;
    std::string expected = ReadFileBytes(expected_path.string());
    ASSERT_FALSE(expected.empty());
    ASSERT_EQ(expected.back(), '\n');
    expected.pop_back();
    ASSERT_EQ(expected.find('\n'), std::string::npos) << "one line only";

    std::string message = "(no error)";
    try {
      if (name.rfind("jsonl_", 0) == 0) {
        ReadJsonl(path.string());
      } else {
        DatasetOptions options = Options(name.rfind("exp3_", 0) == 0 ? "exp3" : "exp1",
                                         name.rfind("exp1bo_", 0) == 0 ? "both_orders" : "none");
        options.source = path.string();
        BuildTextTask(options);
      }
    } catch (const UserError& e) {
      message = ReplaceAll(e.what(), path.string(), "$CASE");
    }
    const std::string dots = "...";
    if (expected.size() >= dots.size() &&
        expected.compare(expected.size() - dots.size(), dots.size(), dots) == 0) {
      const std::string prefix = expected.substr(0, expected.size() - dots.size());
      EXPECT_EQ(message.substr(0, prefix.size()), prefix) << "full message: " << message;
    } else {
      EXPECT_EQ(message, expected);
    }
    ++cases;
  }
  EXPECT_GE(cases, 20);
  // Every .expected has its case.
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.path().extension() != ".expected") continue;
    const std::string stem = entry.path().stem().string();
    EXPECT_TRUE(fs::exists(root / stem) || fs::exists(root / (stem + ".jsonl")))
        << "orphan " << entry.path();
  }
}

}  // namespace
}  // namespace revsweep
