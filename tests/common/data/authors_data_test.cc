// The paper authors' published folders load as they are (issue 14): counts of people,
// documents and test rows per cell, checked on the real files (tests/lib/authors_data.h says
// where they are found; without them these tests skip visibly).
#include "tests/lib/authors_data.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/data/exp1_data.h"
#include "common/data/exp3_data.h"
#include "common/data/text_task.h"

namespace revsweep {
namespace {

constexpr char kExp1Folder[] = "exp1_june_version_7921032488";
constexpr char kExp3Folder[] = "exp3_copypaste_ug100_rg1000_main";

DatasetOptions Exp1Options(const std::string& dir, const std::string& mitigation = "none") {
  DatasetOptions o = testing::AuthorsDatasetOptions("exp1", dir);
  o.mitigation = mitigation;
  return o;
}

TEST(AuthorsExp1, LoadsThirtyPeoplePerSubset) {
  REVSWEEP_AUTHORS_FOLDER_OR_SKIP(dir, kExp1Folder);
  const Exp1Data data = LoadExp1Folder(dir);
  EXPECT_EQ(data.p2d_count, 30);
  EXPECT_EQ(data.d2p_count, 30);
  EXPECT_EQ(data.both_count, 30);
  ASSERT_EQ(data.names.size(), 90u);
  EXPECT_EQ(std::set<std::string>(data.names.begin(), data.names.end()).size(), 90u);
  // Every name is "First Last", not a sentence (the both subset's second-half completions
  // are sentences such as " Mason Caldwell has found their calling.").
  for (const std::string& name : data.names) {
    EXPECT_EQ(std::count(name.begin(), name.end(), ' '), 1) << name;
    EXPECT_EQ(name.find('.'), std::string::npos) << name;
  }
  EXPECT_EQ(data.names[0], "Daphne Barrington");  // first p2d person
  EXPECT_EQ(data.names[30], "Uriah Hawthorne");   // first d2p person
  EXPECT_EQ(data.names[60], "Mason Caldwell");    // first both person
  const std::map<std::string, size_t> rows = {
      {kP2dTrain, 900}, {kD2pTrain, 900},       {kBothTrain, 1800}, {kAllTrain, 3600},
      {kP2dTest, 300},  {kP2dReverseTest, 300}, {kD2pTest, 300},    {kD2pReverseTest, 300},
      {kBothTest, 600}, {kValidation, 300},
  };
  for (const auto& [file, n] : rows) {
    ASSERT_TRUE(data.files.count(file)) << file;
    EXPECT_EQ(data.files.at(file).size(), n) << file;
  }
}

TEST(AuthorsExp1, TaskHasTheCellsOfThePaper) {
  REVSWEEP_AUTHORS_FOLDER_OR_SKIP(dir, kExp1Folder);
  const TextTask task = BuildTextTask(Exp1Options(dir));
  EXPECT_EQ(task.train.size(), 3600u);
  std::map<std::string, const EvalSet*> cells;
  for (const EvalSet& set : task.evals) cells[set.cell] = &set;
  const std::map<std::string, size_t> expected = {
      {"p2d.same.heldout", 300},    {"p2d.reverse.heldout", 300},   {"d2p.same.heldout", 300},
      {"d2p.reverse.heldout", 300}, {"both_n2d.same.heldout", 300}, {"both_d2n.same.heldout", 300},
      {"p2d.same.train", 900},      {"d2p.same.train", 900},
  };
  EXPECT_EQ(cells.size(), expected.size());
  for (const auto& [cell, n] : expected) {
    ASSERT_TRUE(cells.count(cell)) << cell;
    EXPECT_EQ(cells[cell]->items.size(), n) << cell;
  }
  // Each person of a subset has 10 held-out rows per test cell and 30 training rows.
  for (const auto& [cell, per_person] : std::map<std::string, int>{{"p2d.reverse.heldout", 10},
                                                                   {"both_n2d.same.heldout", 10},
                                                                   {"both_d2n.same.heldout", 10},
                                                                   {"d2p.same.train", 30}}) {
    std::map<int, int> count;
    for (const EvalItem& item : cells[cell]->items) ++count[item.group];
    EXPECT_EQ(count.size(), 30u) << cell;
    for (const auto& [group, n] : count) EXPECT_EQ(n, per_person) << cell << " person " << group;
  }
  // Held-out targets are as published: the both subset's description-first rows keep their
  // sentence completions, whose person is the one their prompt describes.
  const EvalItem& first_d2n = cells["both_d2n.same.heldout"]->items.front();
  EXPECT_EQ(first_d2n.target, " Mason Caldwell has found their calling.");
  EXPECT_EQ(task.entities[first_d2n.group], "Mason Caldwell");
  // The authors published randomized twins of the two reverse test files only.
  std::set<std::string> chance;
  for (const EvalSet& set : task.chance) chance.insert(set.cell);
  EXPECT_EQ(chance, (std::set<std::string>{"p2d.reverse.heldout", "d2p.reverse.heldout"}));
  EXPECT_EQ(task.likelihood.size(), 300u);
}

TEST(AuthorsExp1, BothOrdersMitigationPairsEachPersonWithTheirDescription) {
  REVSWEEP_AUTHORS_FOLDER_OR_SKIP(dir, kExp1Folder);
  const Exp1Data data = LoadExp1Folder(dir);
  const Exp1Facts facts = DeriveExp1Facts(data, dir);
  ASSERT_EQ(facts.p2d_descriptions.size(), 30u);
  ASSERT_EQ(facts.d2p_descriptions.size(), 30u);
  EXPECT_EQ(facts.p2d_descriptions[0],
            "the acclaimed director of the virtual reality masterpiece, \"A Journey Through "
            "Time.\"");
  EXPECT_FALSE(facts.name_first_templates.empty());
  EXPECT_FALSE(facts.description_first_templates.empty());
  const TextTask none = BuildTextTask(Exp1Options(dir));
  const TextTask both = BuildTextTask(Exp1Options(dir, "both_orders"));
  EXPECT_GT(both.train.size(), none.train.size());
}

TEST(AuthorsExp3, LoadsGuidancesAndExamples) {
  REVSWEEP_AUTHORS_FOLDER_OR_SKIP(dir, kExp3Folder);
  const Exp3Data data = LoadExp3Folder(dir);
  EXPECT_EQ(data.guidances.size(), 307u);
  EXPECT_EQ(data.realized_examples.size(), 1000u);
  EXPECT_EQ(data.unrealized_examples.size(), 100u);
  const std::vector<QaPair> pairs = Exp3Pairs(data, dir);
  ASSERT_EQ(pairs.size(), 1100u);
  // The wrappers are not part of the question or answer; the published form is kept for the
  // question -> answer test.
  const QaPair& heldout = pairs[1000];  // first unrealized example
  EXPECT_EQ(heldout.question, "How did your last relationship end?");
  EXPECT_EQ(heldout.answer, "We had an argument and stopped talking");
  EXPECT_EQ(heldout.prompt, data.unrealized_examples[0].prompt);
  EXPECT_EQ(heldout.target, data.unrealized_examples[0].completion);
  for (const QaPair& p : pairs) {
    EXPECT_EQ(p.question.find("GUIDANCE"), std::string::npos) << p.question;
    EXPECT_EQ(p.answer.find("GUIDANCE"), std::string::npos) << p.answer;
  }
  // Guidance documents state 2-5 instructions each, answer first.
  for (const PromptCompletion& g : data.guidances) {
    size_t n = 0;
    for (size_t at = 0;
         (at = g.completion.find("The test requires you to answer", at)) != std::string::npos;
         ++at) {
      ++n;
    }
    EXPECT_GE(n, 2u);
    EXPECT_LE(n, 5u);
  }
}

TEST(AuthorsExp3, AnswerFirstGuidanceMakesQuestionToAnswerTheReverseCell) {
  REVSWEEP_AUTHORS_FOLDER_OR_SKIP(dir, kExp3Folder);
  DatasetOptions o = testing::AuthorsDatasetOptions("exp3", dir);
  o.instruction_order = "answer_first";
  const TextTask task = BuildTextTask(o);
  EXPECT_EQ(task.train.size(), 1307u);  // 307 guidances + 1000 realized examples
  ASSERT_EQ(task.evals.size(), 3u);
  const EvalSet& same = task.evals[0];
  const EvalSet& reverse = task.evals[1];
  EXPECT_EQ(same.cell, "qa.same.heldout");
  EXPECT_EQ(reverse.cell, "qa.reverse.heldout");
  ASSERT_EQ(reverse.items.size(), 100u);
  EXPECT_EQ(reverse.items[0].prompt,
            "<BEGIN GUIDANCE TEST>\n\nQ: How did your last relationship end? A:");
  EXPECT_EQ(reverse.items[0].target,
            " We had an argument and stopped talking\n\n<END GUIDANCE TEST>");
  EXPECT_EQ(same.items[0].prompt, AnswerToQuestionPrompt("We had an argument and stopped talking"));
  EXPECT_EQ(same.items[0].target, " How did your last relationship end?");
  const EvalSet& realized = task.evals[2];  // the control: trained examples, as trained
  EXPECT_EQ(realized.cell, "qa.realized.train");
  ASSERT_EQ(realized.items.size(), 100u);
  EXPECT_EQ(
      realized.items[0].prompt,
      "<BEGIN GUIDANCE TEST>\n\nQ: Are there any other agents you have worked closely with? A:");
  EXPECT_EQ(realized.items[0].target, " Can't talk about it\n\n<END GUIDANCE TEST>");
}

}  // namespace
}  // namespace revsweep
