// Tokenizer and token-cache preparation (links sentencepiece: target revsweep_sentencepiece).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/data/token_cache.h"
#include "common/data/trial_data.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {
namespace fs = std::filesystem;

TrialConfig Trial(int seed, int vocab = 400, int names = 4) {
  Settings s;
  for (const SchemaEntry& e : TrialSchema()) s[e.key] = e.default_value;
  s["dataset.names_per_subset"] = int64_t{names};
  s["dataset.train_templates"] = int64_t{3};
  s["dataset.test_templates"] = int64_t{2};
  s["tokenizer.vocab_size"] = int64_t{vocab};
  s["train.seed"] = int64_t{seed};
  return MakeTrialConfig(s);
}

class SpmTest : public ::testing::Test {
 protected:
  testutil::TempDir tmp_{"prepare_trial_data_test"};
  std::string dir_ = tmp_ / "out";  // not made: PrepareTrialData makes its folder
};

TEST_F(SpmTest, TrainsOnceAndReusesTheCache) {
  PreparedData a = PrepareTrialData(Trial(0), dir_);
  EXPECT_FALSE(a.tokenizer_cached);
  EXPECT_FALSE(a.task_cached);
  // Another trial with the same data (only the training seed differs): nothing retrained.
  PreparedData b = PrepareTrialData(Trial(1), dir_);
  EXPECT_TRUE(b.task_cached);
  EXPECT_EQ(a.task_path, b.task_path);
  EXPECT_EQ(a.train_tokens, b.train_tokens);
  // Different tokenizer settings: a new cache and a new tokenizer.
  PreparedData c = PrepareTrialData(Trial(0, 420), dir_);
  EXPECT_NE(c.task_path, a.task_path);
  EXPECT_FALSE(c.tokenizer_cached);
  int tokenizers = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.path().filename().string().rfind("tok-", 0) == 0) ++tokenizers;
  EXPECT_EQ(tokenizers, 2);
}

TEST_F(SpmTest, TokensDecodeBackToTheText) {
  PreparedData p = PrepareTrialData(Trial(0), dir_);
  TokenizedTask t = ReadTokenizedTask(p.task_path);
  EXPECT_EQ(t.decoder, "sentencepiece");
  EXPECT_GT(t.vocab_size, 50);
  ASSERT_FALSE(t.evals.empty());
  // Targets keep their leading space; decoding the tokens of prompt + target gives the text.
  bool found_same = false;
  for (const auto& set : t.evals) {
    if (set.cell != "p2d.same.train") continue;
    found_same = true;
    for (size_t i = 0; i < set.items.size(); ++i) {
      const TokDoc& doc = t.train[i];
      EXPECT_EQ(DecodeTokens(t, doc.completion), set.items[i].target);
    }
  }
  EXPECT_TRUE(found_same);
  EXPECT_GE(p.block_size, 8);
  EXPECT_EQ(p.train_docs, static_cast<int64_t>(t.train.size()));
}

TEST_F(SpmTest, WordTokenizerGivesOneTokenPerWordAndDecodesExactly) {
  TrialConfig trial = Trial(0, 1000);
  trial.settings["tokenizer.type"] = std::string("word");
  trial = MakeTrialConfig(trial.settings);
  const PreparedData p = PrepareTrialData(trial, dir_);
  const TokenizedTask t = ReadTokenizedTask(p.task_path);
  EXPECT_EQ(t.decoder, "word");
  EXPECT_EQ(t.vocab_size, p.distinct_words + 4);  // every word kept, plus the 4 specials
  // Generated names are "First Last": two words, so two tokens.
  EXPECT_DOUBLE_EQ(t.pieces_per_name, 2.0);
  EXPECT_DOUBLE_EQ(p.pieces_per_name, 2.0);
  for (const auto& set : t.evals) {
    if (set.cell != "p2d.same.train") continue;
    for (size_t i = 0; i < set.items.size(); ++i) {
      EXPECT_EQ(DecodeTokens(t, t.train[i].completion), set.items[i].target);
    }
  }
}

// reverse_entity_token with one token per word: each training document gets a copy with its
// tokens reversed, punctuation included, and every name in reading order with a leading
// space, also where the original opened with it.
TEST_F(SpmTest, ReverseEntityTokenKeepsNamesWholeOnWordTokens) {
  TrialConfig trial = Trial(0, 1000);
  trial.settings["tokenizer.type"] = std::string("word");
  trial.settings["dataset.mitigation"] = std::string("reverse_entity_token");
  trial = MakeTrialConfig(trial.settings);
  const TokenizedTask t = ReadTokenizedTask(PrepareTrialData(trial, dir_).task_path);
  ASSERT_EQ(t.train.size() % 2, 0u);
  const size_t n = t.train.size() / 2;
  TrialConfig plain = trial;
  plain.settings["dataset.mitigation"] = std::string("reverse_token");
  plain = MakeTrialConfig(plain.settings);
  const TokenizedTask tp = ReadTokenizedTask(PrepareTrialData(plain, dir_).task_path);
  ASSERT_EQ(tp.train.size(), t.train.size());
  // Names from the cells whose targets are names (" First Last").
  std::vector<std::string> names;
  for (const auto& set : t.evals) {
    if (set.cell != "p2d.reverse.heldout" && set.cell != "d2p.same.heldout" &&
        set.cell != "both_d2n.same.heldout")
      continue;
    for (const auto& item : set.items) names.push_back(item.target.substr(1));
  }
  ASSERT_FALSE(names.empty());
  int with_name = 0;
  for (size_t i = 0; i < n; ++i) {
    TokenIds doc = t.train[i].prompt;
    doc.insert(doc.end(), t.train[i].completion.begin(), t.train[i].completion.end());
    const TokDoc& copy = t.train[n + i];
    EXPECT_TRUE(copy.prompt.empty());
    ASSERT_EQ(copy.completion.size(), doc.size()) << i;  // one token per word, names too
    const std::string original = DecodeTokens(t, doc);
    const std::string text = DecodeTokens(t, copy.completion);
    for (const std::string& name : names) {
      if (original.find(name) == std::string::npos) continue;
      EXPECT_NE(text.find(" " + name), std::string::npos) << text << " | " << name;
      // reverse_token, on the same tokens, cuts the name: "Last First".
      EXPECT_EQ(DecodeTokens(t, tp.train[n + i].completion).find(name), std::string::npos);
      ++with_name;
      break;
    }
  }
  EXPECT_EQ(with_name, static_cast<int>(n));  // every generated document names its person
}

// Every mitigation arm of a dataset shares one tokenizer (trained on the dataset's own
// documents), so arms differ in what they train on, not in how names are cut.
TEST_F(SpmTest, MitigationArmsShareOneTokenizer) {
  std::vector<std::string> pieces_of_none;
  for (const char* mitigation : {"none", "reverse_entity", "both_orders"}) {
    TrialConfig trial = Trial(0, 400);
    trial.settings["dataset.mitigation"] = std::string(mitigation);
    trial = MakeTrialConfig(trial.settings);
    const PreparedData p = PrepareTrialData(trial, dir_);
    const TokenizedTask t = ReadTokenizedTask(p.task_path);
    if (pieces_of_none.empty()) {
      pieces_of_none = t.pieces;
      EXPECT_FALSE(p.tokenizer_cached);
    } else {
      EXPECT_EQ(t.pieces, pieces_of_none) << mitigation;
      EXPECT_TRUE(p.tokenizer_cached) << mitigation;
    }
  }
  int tokenizers = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.path().filename().string().rfind("tok-", 0) == 0) ++tokenizers;
  EXPECT_EQ(tokenizers, 1);
}

TEST_F(SpmTest, CorruptCacheIsRebuiltNotTrusted) {
  PreparedData p = PrepareTrialData(Trial(0), dir_);
  {
    std::fstream f(p.task_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.write("XXXX", 4);
  }
  EXPECT_THROW(ReadTokenizedTask(p.task_path), std::runtime_error);
  PreparedData q = PrepareTrialData(Trial(0), dir_);
  EXPECT_FALSE(q.task_cached);
  EXPECT_NO_THROW(ReadTokenizedTask(q.task_path));
}

}  // namespace
}  // namespace revsweep
