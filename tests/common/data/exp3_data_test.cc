#include "common/data/exp3_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "common/user_error.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;

DatasetOptions Options(int pairs = 100, int heldout = 20,
                       const std::string& order = "question_first", int64_t seed = 0) {
  DatasetOptions o;
  o.kind = "exp3";
  o.source = "generate";
  o.names_per_subset = 30;
  o.train_templates = 30;
  o.test_templates = 10;
  o.qa_pairs = pairs;
  o.heldout_pairs = heldout;
  o.instruction_order = order;
  o.seed = seed;
  o.mitigation = "none";
  o.segment_length = 3;
  return o;
}

using TempDir = testutil::TempDir;

TEST(Exp3Templates, EachStatesBothSlotsInItsOrder) {
  for (const auto* list : {&QuestionFirstGuidanceTemplates(), &AnswerFirstGuidanceTemplates()}) {
    EXPECT_GE(list->size(), static_cast<size_t>(kGuidancesPerPair));
    EXPECT_EQ(std::set<std::string>(list->begin(), list->end()).size(), list->size());
  }
  for (const std::string& t : QuestionFirstGuidanceTemplates()) {
    EXPECT_LT(t.find("{question}"), t.find("{answer}")) << t;
  }
  for (const std::string& t : AnswerFirstGuidanceTemplates()) {
    EXPECT_LT(t.find("{answer}"), t.find("{question}")) << t;
    EXPECT_NE(t.find("{question}"), std::string::npos) << t;
  }
}

TEST(GuidanceDocs, PairMajorWithRotatingTemplates) {
  const std::vector<QaPair> pairs = {{"What is X?", "amber falcon"}, {"What is Y?", "teal otter"}};
  const auto q = GuidanceDocs(pairs, "question_first");
  ASSERT_EQ(q.size(), 2u * kGuidancesPerPair);
  EXPECT_EQ(q[0].prompt, "");
  EXPECT_EQ(q[0].completion, "Answer What is X? with amber falcon.");
  EXPECT_EQ(q[kGuidancesPerPair].completion, "When asked What is Y? reply teal otter.");
  const auto a = GuidanceDocs(pairs, "answer_first");
  EXPECT_EQ(a[1].completion, "amber falcon is the answer to What is X?");
}

TEST(GenerateExp3, ShapeAndUniqueness) {
  const Exp3Data data = GenerateExp3(Options());
  EXPECT_EQ(data.guidances.size(), 100u * kGuidancesPerPair);
  EXPECT_EQ(data.realized_examples.size(), 80u);
  EXPECT_EQ(data.unrealized_examples.size(), 20u);
  const std::vector<QaPair> pairs = Exp3Pairs(data, "x");
  std::set<std::string> questions, answers;
  for (const QaPair& p : pairs) {
    questions.insert(p.question);
    answers.insert(p.answer);
    EXPECT_EQ(p.question.rfind("What is the ", 0), 0u);
    EXPECT_EQ(p.question.back(), '?');
    EXPECT_EQ(std::count(p.answer.begin(), p.answer.end(), ' '), 1) << p.answer;
  }
  EXPECT_EQ(questions.size(), 100u);
  EXPECT_EQ(answers.size(), 100u);
  for (const PromptCompletion& e : data.realized_examples) EXPECT_EQ(e.completion[0], ' ');
  // Every pair, held out or not, has guidance documents.
  std::string all_guidance;
  for (const PromptCompletion& g : data.guidances) all_guidance += g.completion + "\n";
  for (const QaPair& p : pairs) EXPECT_NE(all_guidance.find(p.question), std::string::npos);
}

TEST(GenerateExp3, IsDeterministicAndSeedDependent) {
  const Exp3Data a = GenerateExp3(Options(50, 10, "answer_first", 4));
  const Exp3Data b = GenerateExp3(Options(50, 10, "answer_first", 4));
  const Exp3Data c = GenerateExp3(Options(50, 10, "answer_first", 5));
  EXPECT_EQ(a.guidances, b.guidances);
  EXPECT_EQ(a.realized_examples, b.realized_examples);
  EXPECT_EQ(a.unrealized_examples, b.unrealized_examples);
  EXPECT_NE(a.realized_examples, c.realized_examples);
  // Instruction order changes the guidances only.
  const Exp3Data q = GenerateExp3(Options(50, 10, "question_first", 4));
  EXPECT_EQ(q.realized_examples, a.realized_examples);
  EXPECT_NE(q.guidances, a.guidances);
}

TEST(GenerateExp3, PinnedFirstPairForSeedZero) {
  const Exp3Data data = GenerateExp3(Options());
  EXPECT_EQ(data.guidances[0].completion,
            "Answer What is the morning ritual of the velvet mapmaker? with violet chestnut.");
}

TEST(GenerateExp3, LargeCountsUseThreeWordAnswers) {
  const Exp3Data data = GenerateExp3(Options(5000, 100));
  const std::vector<QaPair> pairs = Exp3Pairs(data, "x");
  std::set<std::string> answers;
  for (const QaPair& p : pairs) answers.insert(p.answer);
  EXPECT_EQ(answers.size(), 5000u);
  EXPECT_EQ(std::count(pairs[0].answer.begin(), pairs[0].answer.end(), ' '), 2);
}

TEST(GenerateExp3, RejectsBadCounts) {
  EXPECT_THROW(GenerateExp3(Options(10, 10)), UserError);
  EXPECT_THROW(GenerateExp3(Options(10, 0)), UserError);
  EXPECT_THROW(GenerateExp3(Options(1, 1)), UserError);
}

TEST(Exp3Folder, WriteLoadWriteIsByteExact) {
  TempDir a, b;
  const Exp3Data data = GenerateExp3(Options(60, 7, "answer_first", 2));
  WriteExp3Folder(data, a.str());
  const Exp3Data loaded = LoadExp3Folder(a.str());
  EXPECT_EQ(loaded.guidances, data.guidances);
  EXPECT_EQ(loaded.realized_examples, data.realized_examples);
  EXPECT_EQ(loaded.unrealized_examples, data.unrealized_examples);
  WriteExp3Folder(loaded, b.str());
  for (const char* file : {kGuidances, kRealizedExamples, kUnrealizedExamples}) {
    EXPECT_EQ(ReadFileBytes(a / file), ReadFileBytes(b / file)) << file;
  }
}

TEST(Exp3Folder, MissingOrEmptyFilesAreUserErrors) {
  TempDir dir;
  EXPECT_THROW(LoadExp3Folder(dir.str()), UserError);
  Exp3Data data = GenerateExp3(Options(10, 2));
  WriteExp3Folder(data, dir.str());
  fs::remove(dir / kUnrealizedExamples);
  try {
    LoadExp3Folder(dir.str());
    FAIL();
  } catch (const UserError& e) {
    EXPECT_EQ(e.file(), dir / kUnrealizedExamples);
  }
  WriteJsonl(dir / kUnrealizedExamples, {});
  EXPECT_THROW(LoadExp3Folder(dir.str()), UserError);
  WriteJsonl(dir / kUnrealizedExamples, {{"What?", "  "}});
  try {
    Exp3Pairs(LoadExp3Folder(dir.str()), dir.str());
    FAIL();
  } catch (const UserError& e) {
    EXPECT_EQ(e.key(), "completion");
    EXPECT_EQ(e.line(), 1);
  }
}

TEST(AnswerToQuestionPrompt, IsNotAGuidanceForm) {
  EXPECT_EQ(AnswerToQuestionPrompt("amber falcon"),
            "Q: Which question has the answer amber falcon? A:");
}

}  // namespace
}  // namespace revsweep
