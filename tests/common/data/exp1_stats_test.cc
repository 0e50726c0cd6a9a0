#include "common/data/exp1_stats.h"

#include <gtest/gtest.h>

#include "common/config/sweep_config.h"
#include "tests/lib/authors_data.h"

namespace revsweep {
namespace {

const Exp1Stats::Heldout* Find(const Exp1Stats& s, const std::string& file) {
  for (const auto& h : s.heldout) {
    if (h.file == file) return &h;
  }
  return nullptr;
}

// Two people, counted by hand.
TEST(Exp1Stats, CountsWordsCompletionsAndVerbatimTargets) {
  Exp1Data d;
  d.names = {"Ada Stone", "Bo Reed"};
  d.p2d_count = 2;
  d.files["p2d_prompts_train.jsonl"] = {
      {"Ada Stone is", " the painter of red skies."},      // words: is the painter of red skies
      {"Known as Ada Stone, she was", " a red painter."},  // + known as she was a
      {"Bo Reed is", " the painter of blue seas."},        // is the painter of blue seas
  };
  // The union file is not counted twice.
  d.files["all_prompts_train.jsonl"] = d.files["p2d_prompts_train.jsonl"];
  d.files["p2d_prompts_test.jsonl"] = {
      {"Q: Ada Stone?", " the painter of red skies."},  // seen verbatim
      {"Q: Bo Reed?", " the sculptor of blue seas."},   // a paraphrase: not seen
  };
  const Exp1Stats s = ComputeExp1Stats(d);
  EXPECT_EQ(s.people, 2);
  EXPECT_EQ(s.train_docs, 3);
  EXPECT_DOUBLE_EQ(s.docs_per_person, 1.5);
  // Ada: is the painter of red skies known as she was a = 11; Bo: is the painter of blue seas = 6.
  EXPECT_DOUBLE_EQ(s.words_per_person, 8.5);
  // Only Ada's: red skies known as she was a (7); only Bo's: blue seas (2).
  EXPECT_DOUBLE_EQ(s.distinctive_words, 4.5);
  // Ada has two distinct completions, Bo one.
  EXPECT_DOUBLE_EQ(s.distinct_completions, 1.5);
  const auto* h = Find(s, "p2d_prompts_test.jsonl");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->rows, 2);
  EXPECT_EQ(h->seen_verbatim, 1);
  EXPECT_EQ(Find(s, "d2p_prompts_test.jsonl"), nullptr);  // absent files are not listed
  EXPECT_NE(FormatExp1Stats(s).find("1 of 2 (50%)"), std::string::npos);
}

// The authors' Experiment 1 folder: its descriptions are paraphrased, so held-out targets are
// not all in the training text, and each person's documents carry words nobody else's do.
TEST(Exp1Stats, AuthorsFolderHasParaphrasedTargets) {
  REVSWEEP_AUTHORS_FOLDER_OR_SKIP(dir, "exp1_june_version_7921032488");
  const Exp1Stats s = ComputeExp1Stats(LoadExp1Folder(dir));
  EXPECT_EQ(s.people, 90);
  EXPECT_EQ(s.train_docs, 3600);
  EXPECT_GT(s.distinct_completions, 2.0);
  EXPECT_GT(s.distinctive_words, 2.0);
  const auto* p2d = Find(s, "p2d_prompts_test.jsonl");
  ASSERT_NE(p2d, nullptr);
  EXPECT_EQ(p2d->rows, 300);
  EXPECT_LT(p2d->seen_verbatim, p2d->rows);
}

}  // namespace
}  // namespace revsweep
