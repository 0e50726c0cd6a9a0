#include "common/config/sweep_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace revsweep {
namespace {

namespace fs = std::filesystem;

// ---- Bad inputs: each must fail with exactly this place, key and message. ----

struct BadCase {
  const char* name;
  const char* yaml;
  int line, column;
  const char* key;
  const char* message;  // substring of UserError::message()
};

const BadCase kBadCases[] = {
    {"syntax_error", "name: a\ntrain: {lr: [1, 2\n", 3, 1, "", "YAML syntax error"},
    {"top_level_list", "- a\n- b\n", 1, 1, "", "expected a map of sections at the top level"},
    // yaml-cpp 0.7's LoadAll loops forever on this (found by fuzz_config).
    {"leading_comma", ",name: a\n", 1, 1, "", "YAML syntax error: unexpected \",\""},
    {"text_after_list", "- a\nname: b\n", 2, 1, "", "expected one YAML document"},
    {"two_documents", "name: a\n---\nname: b\n", 2, 1, "", "expected one YAML document"},
    {"missing_name", "description: x\n", 1, 1, "name", "missing required key"},
    {"invalid_name", "name: a b\n", 1, 7, "name", "got \"a b\""},
    {"name_dotdot", "name: ..\n", 1, 7, "name", "expected 1-64 characters"},
    {"name_is_map", "name: {a: 1}\n", 1, 7, "name", "expected a string, got a map"},
    {"duplicate_key", "name: a\nname: b\n", 2, 1, "name", "duplicate key (first given on line 1)"},
    {"unknown_top_key", "name: a\ntrian: {lr: 1}\n", 2, 1, "trian",
     "unknown key \"trian\"; did you mean \"train\"?"},
    {"flat_trial_key", "name: a\ntrain.lr: 1\n", 2, 1, "train.lr", "write it under train:"},
    {"unknown_section_key", "name: a\ntrain:\n  lr: 0.001\n  lrr: 2\n", 4, 3, "train.lrr",
     "unknown key \"lrr\"; did you mean \"lr\"?"},
    {"key_in_wrong_section", "name: a\ntrain: {kind: exp3}\n", 2, 9, "train.kind",
     "belongs under dataset: (dataset.kind)"},
    {"double_not_number", "name: a\ntrain: {lr: fast}\n", 2, 13, "train.lr",
     "expected a number in [1e-12, 10], got \"fast\""},
    {"int_given_float", "name: a\ntrain:\n  epochs: 1.5\n", 3, 11, "train.epochs",
     "expected an integer in [0, 100000], got 1.5"},
    {"int_given_quoted", "name: a\ntrain:\n  epochs: \"3\"\n", 3, 11, "train.epochs",
     "got \"3\" (a quoted string)"},
    {"int_given_list", "name: a\ntrain:\n  epochs: [1]\n", 3, 11, "train.epochs", "got a list"},
    {"int_overflow", "name: a\ntrain: {epochs: 99999999999999999999}\n", 2, 17, "train.epochs",
     "expected an integer in [0, 100000]"},
    {"value_missing", "name: a\ntrain:\n  lr:\n", 3, 3, "train.lr", "got nothing"},
    {"string_given_map", "name: a\ndataset: {source: {a: 1}}\n", 2, 19, "dataset.source",
     "expected a string, got a map"},
    {"out_of_range", "name: a\nmodel: {dropout: 0.95}\n", 2, 18, "model.dropout",
     "expected a number in [0, 0.9], got 0.95"},
    {"not_in_choices", "name: a\ndataset:\n  kind: exp4\n", 3, 9, "dataset.kind",
     "expected one of exp1, exp2, exp3, got \"exp4\""},
    {"unknown_preset", "name: a\nmodel:\n  size: huge\n", 3, 9, "model.size",
     "unknown model preset \"huge\""},
    {"preset_with_dims", "name: a\nmodel:\n  size: tiny\n  n_layer: 3\n", 4, 12, "model.n_layer",
     "set model.size: custom"},
    {"custom_missing_dims", "name: a\nmodel:\n  size: custom\n  n_layer: 3\n", 3, 9, "model.size",
     "missing model.n_head, model.d_model"},
    {"d_model_not_multiple", "name: a\nmodel: {size: custom, n_layer: 2, n_head: 3, d_model: 64}\n",
     2, 43, "model.n_head", "model.d_model 64 is not a multiple of model.n_head 3"},
    {"min_lr_above_lr", "name: a\ntrain: {min_lr: 0.01}\n", 2, 17, "train.min_lr",
     "train.min_lr 0.01 must be <= train.lr 0.001"},
    {"paraphrased_folder", "name: a\ndataset:\n  source: data\n  descriptions: paraphrased\n", 4,
     17, "dataset.descriptions", "needs dataset.kind exp1 and dataset.source generate"},
    {"gpt2_without_dir", "name: a\ntokenizer: {type: gpt2}\n", 2, 19, "tokenizer.type",
     "needs tokenizer.gpt2_dir"},
    {"batch_not_multiple", "name: a\ntrain: {batch_size: 30}\nresources: {group_size: 4}\n", 3, 25,
     "resources.group_size", "train.batch_size 30 is not a multiple of"},
    {"heldout_not_below_qa", "name: a\ndataset: {heldout_pairs: 100}\n", 2, 26,
     "dataset.heldout_pairs", "must be < dataset.qa_pairs 100"},
    {"run_out_of_range", "name: a\nrun: {status_port: 70000}\n", 2, 20, "run.status_port",
     "expected an integer in [0, 65535], got 70000"},
    {"run_unknown_key", "name: a\nrun: {stor: x}\n", 2, 7, "run.stor", "did you mean \"store\"?"},
    {"seeds_empty", "name: a\nseeds: []\n", 2, 8, "seeds", "got an empty list"},
    {"seeds_not_int", "name: a\nseeds: [1, x]\n", 2, 12, "seeds[1]", "expected an integer"},
    {"grid_bad_element", "name: a\nsearch:\n  grid:\n    train.lr: [0.1, 0.01, fast]\n", 4, 27,
     "search.grid.train.lr[2]", "expected a number in [1e-12, 10], got \"fast\""},
    {"grid_empty_axis", "name: a\nsearch:\n  grid:\n    train.lr: []\n", 4, 15,
     "search.grid.train.lr", "empty axis"},
    {"grid_not_list", "name: a\nsearch:\n  grid:\n    train.lr: 0.1\n", 4, 15,
     "search.grid.train.lr", "expected a non-empty list of values, got 0.1"},
    {"grid_unknown_key", "name: a\nsearch:\n  grid:\n    lr: [1]\n", 4, 5, "search.grid.lr",
     "did you mean \"train.lr\"?"},
    {"zip_unequal",
     "name: a\nsearch:\n  zip:\n    train.lr: [0.1, 0.01]\n    train.seed: [1, 2, 3]\n", 5, 5,
     "search.zip.train.seed", "zip lists must have equal length"},
    {"axis_twice", "name: a\nseeds: [1, 2]\nsearch:\n  grid:\n    train.seed: [3]\n", 5, 5,
     "search.grid.train.seed", "train.seed is already an axis (seeds, line 2)"},
    {"duplicate_trial_value", "name: a\nsearch:\n  grid:\n    train.lr: [0.001, 1e-3]\n", 4, 23,
     "search.grid.train.lr[1]", "duplicate trial: {train.lr=0.001} is the same trial as"},
    {"duplicate_trial_resources", "name: a\nsearch:\n  grid:\n    resources.group_size: [1, 2]\n",
     4, 31, "search.grid.resources.group_size[1]", "is not part of the trial id"},
    {"duplicate_random_sample",
     "name: a\nsearch:\n  random:\n    samples: 20\n    space:\n"
     "      train.batch_size: {choice: [16, 32]}\n",
     6, 7, "search.random.space.train.batch_size", "random sample 2"},
    {"random_log_uniform_zero",
     "name: a\nsearch:\n  random:\n    samples: 5\n    space:\n"
     "      train.lr: {log_uniform: [0, 1]}\n",
     6, 32, "search.random.space.train.lr.log_uniform[0]", "expected a number in [1e-12, 10]"},
    {"random_unknown_distribution",
     "name: a\nsearch:\n  random:\n    samples: 5\n    space:\n      train.lr: {normal: [0, 1]}\n",
     6, 18, "search.random.space.train.lr.normal", "unknown distribution \"normal\""},
    {"random_uniform_on_string",
     "name: a\nsearch:\n  random:\n    samples: 5\n    space:\n"
     "      train.loss_on: {uniform: [0, 1]}\n",
     6, 23, "search.random.space.train.loss_on.uniform", "is not numeric"},
    {"random_int_key_float_bound",
     "name: a\nsearch:\n  random:\n    samples: 2\n    space:\n"
     "      train.epochs: {uniform: [1, 2.5]}\n",
     6, 35, "search.random.space.train.epochs.uniform[1]", "expected an integer"},
    {"random_missing_samples",
     "name: a\nsearch:\n  random:\n    space: {train.lr: {choice: [0.1]}}\n", 3, 3, "search.random",
     "missing samples"},
    {"too_many_trials",
     "name: a\nsearch:\n  grid:\n    train.epochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n"
     "    train.seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
     "    dataset.seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
     "    train.warmup_steps: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n",
     2, 1, "search", "more than the limit of 10000"},
    {"empty_file", "", 0, 0, "", "the file is empty"},
};

TEST(SweepConfigTest, BadInputsNameFileLineColumnKeyAndProblem) {
  for (const BadCase& c : kBadCases) {
    SCOPED_TRACE(c.name);
    try {
      ParseSweepConfig(c.yaml, "dir/c.yaml");
      ADD_FAILURE() << "no error";
    } catch (const UserError& e) {
      EXPECT_EQ(e.file(), "dir/c.yaml");
      EXPECT_EQ(e.line(), c.line) << e.what();
      if (c.line > 0) EXPECT_EQ(e.column(), c.column) << e.what();
      EXPECT_EQ(e.key(), c.key) << e.what();
      EXPECT_NE(e.message().find(c.message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
  }
}

TEST(SweepConfigTest, ErrorTextHasFileLineColumnKeyMessage) {
  try {
    ParseSweepConfig("name: a\ntrain: {lr: fast}\n", "x.yaml");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "x.yaml:2:13: train.lr: expected a number in [1e-12, 10], got \"fast\"");
  }
}

TEST(SweepConfigTest, UnreadableFileIsLineZero) {
  try {
    LoadSweepConfig("/nonexistent/dir/c.yaml");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_EQ(e.line(), 0);
    EXPECT_EQ(e.file(), "/nonexistent/dir/c.yaml");
    EXPECT_NE(e.message().find("cannot read"), std::string::npos);
  }
  EXPECT_THROW(LoadSweepConfig(REVSWEEP_SRC_DIR), UserError);  // a directory
}

// ---- The corpus: tests/bad_inputs/config/NN_name.yaml + NN_name.expected (exact text). ----

class SweepConfigFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_ = fs::current_path();
    fs::current_path(REVSWEEP_SRC_DIR);
  }
  void TearDown() override { fs::current_path(old_); }
  fs::path old_;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(SweepConfigFilesTest, BadInputCorpusGivesExactMessages) {
  const fs::path dir = "tests/bad_inputs/config";
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() == ".yaml") files.push_back(f.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 20u);
  for (const fs::path& yaml : files) {
    SCOPED_TRACE(yaml.string());
    fs::path expected_file = yaml;
    expected_file.replace_extension(".expected");
    ASSERT_TRUE(fs::exists(expected_file));
    std::string expected = ReadFile(expected_file);
    while (!expected.empty() && expected.back() == '\n') expected.pop_back();
    try {
      LoadSweepConfig(yaml.string());
      ADD_FAILURE() << "no error";
    } catch (const UserError& e) {
      EXPECT_EQ(e.what(), expected);
    }
  }
}

TEST_F(SweepConfigFilesTest, CommentedExampleLoads) {
  const SweepConfig c = LoadSweepConfig("configs/example_commented.yaml");
  EXPECT_EQ(c.name, "example_commented");
  EXPECT_FALSE(c.trials.empty());
  EXPECT_EQ(c.yaml, ReadFile("configs/example_commented.yaml"));
}

TEST_F(SweepConfigFilesTest, ConfigDocMentionsEveryKey) {
  const std::string doc = ReadFile("docs/CONFIG.md");
  for (const SchemaEntry& e : TrialSchema()) {
    EXPECT_NE(doc.find("| `" + e.key + "` |"), std::string::npos) << e.key;
  }
  for (const char* key : {"run.store", "run.run_root", "run.retries_crash", "run.retries_timeout",
                          "run.trial_timeout_s", "run.status_bind", "run.status_port",
                          "run.progress_every_s", "run.bucket_mb"}) {
    EXPECT_NE(doc.find(std::string("| `") + key + "` |"), std::string::npos) << key;
  }
  for (const ModelPreset& p : ModelPresets()) {
    EXPECT_NE(doc.find("| `" + p.name + "`"), std::string::npos) << p.name;
  }
}

// ---- Good inputs: expansion, presets, sampling, ids. ----

SweepConfig Parse(const std::string& yaml) { return ParseSweepConfig(yaml, "/cfg/dir/c.yaml"); }

TEST(SweepConfigTest, DescriptionsIsPartOfTheIdOnlyWhenNotPlain) {
  const SweepConfig none = Parse("name: d\n");
  const SweepConfig plain = Parse("name: d\ndataset: {descriptions: plain}\n");
  const SweepConfig para = Parse("name: d\ndataset: {descriptions: paraphrased}\n");
  EXPECT_EQ(plain.trials[0].id, none.trials[0].id);
  EXPECT_EQ(plain.trials[0].settings, none.trials[0].settings);
  EXPECT_NE(para.trials[0].id, none.trials[0].id);
  EXPECT_EQ(para.trials[0].settings.at("dataset.descriptions"), Value(std::string("paraphrased")));
  EXPECT_EQ(para.trials[0].dataset.descriptions, "paraphrased");
  // Both values on one axis: two trials, the plain one with the id of a sweep without the key.
  const SweepConfig both =
      Parse("name: d\nsearch:\n  grid:\n    dataset.descriptions: [plain, paraphrased]\n");
  ASSERT_EQ(both.trials.size(), 2u);
  EXPECT_EQ(both.trials[0].id, none.trials[0].id);
  EXPECT_EQ(both.trials[1].id, para.trials[0].id);
  // The typed view of stored settings that lack the key (older stores) reads the default.
  EXPECT_EQ(MakeTrialConfig(none.trials[0].settings).dataset.descriptions, "plain");
}

TEST(SweepConfigTest, MinimalConfigFillsEverySchemaKey) {
  const SweepConfig c = Parse("name: m\n");
  EXPECT_EQ(c.name, "m");
  EXPECT_EQ(c.file, "/cfg/dir/c.yaml");
  EXPECT_EQ(c.yaml, "name: m\n");
  ASSERT_EQ(c.trials.size(), 1u);
  const TrialConfig& t = c.trials[0];
  size_t omitted = 0;
  for (const SchemaEntry& e : TrialSchema()) {
    // A key added after stores existed is left out at its default (its trial keeps its id).
    EXPECT_EQ(t.settings.count(e.key), e.omit_at_default ? 0u : 1u) << e.key;
    omitted += e.omit_at_default ? 1 : 0;
  }
  EXPECT_EQ(t.settings.size(), TrialSchema().size() - omitted);
  EXPECT_EQ(t.id, TrialId(t.settings));
  // The id this minimal sweep had before dataset.descriptions existed (revsweep validate of
  // HEAD da2e975): stores made then keep their trials.
  EXPECT_EQ(t.id, "3ddf1c49c39c23ca");
  EXPECT_EQ(t.dataset.descriptions, "plain");
  EXPECT_EQ(t.model.size, "tiny");
  EXPECT_EQ(t.model.n_layer, 4);
  EXPECT_EQ(t.model.n_head, 4);
  EXPECT_EQ(t.model.d_model, 128);
  EXPECT_EQ(t.dataset.kind, "exp1");
  EXPECT_EQ(t.dataset.source, "generate");
  EXPECT_DOUBLE_EQ(t.train.lr, 1e-3);
  EXPECT_EQ(t.train.epochs, 20);
  EXPECT_EQ(t.resources.group_size, 1);
  EXPECT_EQ(c.run.store, "runs/revsweep.db");
  EXPECT_EQ(c.run.run_root, "runs");
  EXPECT_EQ(c.run.retries_crash, 2);
  EXPECT_DOUBLE_EQ(c.run.bucket_mb, 4);
}

TEST(SweepConfigTest, SchemaDefaultsAreValid) {
  std::set<std::string> keys;
  for (const SchemaEntry& e : TrialSchema()) {
    EXPECT_TRUE(keys.insert(e.key).second) << "duplicate " << e.key;
    EXPECT_FALSE(e.doc.empty()) << e.key;
    if (e.min < e.max) {
      const double d = e.type == SchemaEntry::kInt ? double(std::get<int64_t>(e.default_value))
                                                   : std::get<double>(e.default_value);
      EXPECT_TRUE(d >= e.min && d <= e.max) << e.key;
    }
    if (!e.choices.empty()) {
      const auto& s = std::get<std::string>(e.default_value);
      EXPECT_NE(std::find(e.choices.begin(), e.choices.end(), s), e.choices.end()) << e.key;
    }
  }
  for (const ModelPreset& p : ModelPresets()) EXPECT_EQ(p.d_model % p.n_head, 0) << p.name;
}

TEST(SweepConfigTest, FixedSectionsAndRun) {
  const SweepConfig c = Parse(
      "name: f\ndescription: hello\n"
      "dataset: {kind: exp3, qa_pairs: 50, heldout_pairs: 5, mitigation: reverse_word}\n"
      "train: {lr: 1e-3, min_lr: 0, epochs: 3, batch_size: 8}\n"
      "resources: {group_size: 2, threads: 4}\n"
      "run: {store: s.db, status_port: 8080, progress_every_s: 0.5}\n");
  ASSERT_EQ(c.trials.size(), 1u);
  const TrialConfig& t = c.trials[0];
  EXPECT_EQ(c.description, "hello");
  EXPECT_EQ(t.dataset.kind, "exp3");
  EXPECT_EQ(t.dataset.qa_pairs, 50);
  EXPECT_EQ(t.dataset.mitigation, "reverse_word");
  EXPECT_DOUBLE_EQ(t.train.min_lr, 0);
  EXPECT_TRUE(std::holds_alternative<double>(t.settings.at("train.min_lr")));  // "0" -> 0.0
  EXPECT_EQ(t.train.batch_size, 8);
  EXPECT_EQ(t.resources.threads, 4);
  EXPECT_EQ(c.run.store, "s.db");
  EXPECT_EQ(c.run.status_port, 8080);
  EXPECT_DOUBLE_EQ(c.run.progress_every_s, 0.5);
}

TEST(SweepConfigTest, GridIsCartesianWithLastKeyFastest) {
  const SweepConfig c = Parse(
      "name: g\ntrain: {lr: 0.5}\n"
      "search:\n  grid:\n    train.lr: [0.1, 0.2]\n    model.size: [nano, micro, small]\n");
  ASSERT_EQ(c.trials.size(), 6u);
  const double lrs[] = {0.1, 0.1, 0.1, 0.2, 0.2, 0.2};
  const char* sizes[] = {"nano", "micro", "small", "nano", "micro", "small"};
  const int d_models[] = {32, 64, 256, 32, 64, 256};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_DOUBLE_EQ(c.trials[i].train.lr, lrs[i]);  // the axis overrides train.lr: 0.5
    EXPECT_EQ(c.trials[i].model.size, sizes[i]);
    EXPECT_EQ(c.trials[i].model.d_model, d_models[i]);  // preset filled per trial
  }
}

TEST(SweepConfigTest, ZipAdvancesTogether) {
  const SweepConfig c = Parse(
      "name: z\nsearch:\n  zip:\n    train.epochs: [1, 2, 3]\n"
      "    dataset.mitigation: [none, both_orders, reverse_token]\n");
  ASSERT_EQ(c.trials.size(), 3u);
  EXPECT_EQ(c.trials[1].train.epochs, 2);
  EXPECT_EQ(c.trials[1].dataset.mitigation, "both_orders");
  EXPECT_EQ(c.trials[2].train.epochs, 3);
  EXPECT_EQ(c.trials[2].dataset.mitigation, "reverse_token");
}

TEST(SweepConfigTest, BlocksMultiplyWithSeedsInnermost) {
  const SweepConfig c = Parse(
      "name: all\nseeds: [7, 8]\nsearch:\n"
      "  grid: {train.epochs: [1, 2]}\n"
      "  zip: {dataset.seed: [1, 2, 3], dataset.names_per_subset: [10, 20, 30]}\n"
      "  random: {samples: 2, seed: 1, space: {train.lr: {uniform: [0.001, 0.01]}}}\n");
  ASSERT_EQ(c.trials.size(), 2u * 3u * 2u * 2u);
  for (size_t i = 0; i < c.trials.size(); ++i) {
    const TrialConfig& t = c.trials[i];
    EXPECT_EQ(t.train.seed, i % 2 == 0 ? 7 : 8) << i;                     // seeds fastest
    EXPECT_EQ(t.dataset.seed, static_cast<int64_t>(i / 4 % 3 + 1)) << i;  // then random, zip
    EXPECT_EQ(t.train.epochs, static_cast<int>(i / 12 + 1)) << i;         // grid outermost
    EXPECT_EQ(t.dataset.names_per_subset, 10 * static_cast<int>(i / 4 % 3 + 1)) << i;
  }
  // The random sample index is the second-fastest digit: same lr for both seeds.
  EXPECT_EQ(c.trials[0].train.lr, c.trials[1].train.lr);
  EXPECT_NE(c.trials[0].train.lr, c.trials[2].train.lr);
  EXPECT_EQ(c.trials[0].train.lr, c.trials[4].train.lr);  // same sample, next zip row
}

TEST(SweepConfigTest, RandomSamplingIsDeterministicTypedAndInRange) {
  auto load = [](int seed) {
    return Parse("name: r\nsearch:\n  random:\n    samples: 40\n    seed: " + std::to_string(seed) +
                 "\n    space:\n"
                 "      train.lr: {log_uniform: [1e-4, 1e-2]}\n"
                 "      train.warmup_steps: {int_uniform: [0, 1000]}\n"
                 "      train.epochs: {uniform: [5, 9]}\n"
                 "      model.dropout: {uniform: [0, 0.2]}\n"
                 "      model.size: {choice: [nano, micro]}\n");
  };
  const SweepConfig a = load(3), b = load(3), other = load(4);
  ASSERT_EQ(a.trials.size(), 40u);
  for (size_t i = 0; i < a.trials.size(); ++i) {
    EXPECT_EQ(a.trials[i].id, b.trials[i].id);
    const TrialConfig& t = a.trials[i];
    EXPECT_GE(t.train.lr, 1e-4);
    EXPECT_LE(t.train.lr, 1e-2);
    EXPECT_GE(t.train.warmup_steps, 0);
    EXPECT_LE(t.train.warmup_steps, 1000);
    EXPECT_TRUE(std::holds_alternative<int64_t>(t.settings.at("train.epochs")));
    EXPECT_GE(t.train.epochs, 5);
    EXPECT_LE(t.train.epochs, 9);
    EXPECT_LE(t.model.dropout, 0.2);
    EXPECT_TRUE(t.model.size == "nano" || t.model.size == "micro");
  }
  size_t same = 0;
  for (size_t i = 0; i < a.trials.size(); ++i) same += a.trials[i].id == other.trials[i].id;
  EXPECT_EQ(same, 0u);
  // Regression guard against a change of sampler: the first draw of seed 3, computed once.
  EXPECT_EQ(a.trials[0].id, "267aa21cc2bb9b37");
}

TEST(SweepConfigTest, TrialIdsIgnoreYamlKeyOrder) {
  const SweepConfig a = Parse(
      "name: a\ntrain: {lr: 0.002, epochs: 3}\nmodel: {size: nano}\n"
      "search: {grid: {train.seed: [1, 2]}}\n");
  const SweepConfig b = Parse(
      "search: {grid: {train.seed: [1, 2]}}\nmodel: {size: nano}\n"
      "train: {epochs: 3, lr: 2e-3}\nname: b\n");
  ASSERT_EQ(a.trials.size(), 2u);
  ASSERT_EQ(b.trials.size(), 2u);
  EXPECT_EQ(a.trials[0].id, b.trials[0].id);
  EXPECT_EQ(a.trials[1].id, b.trials[1].id);
  EXPECT_NE(a.trials[0].id, a.trials[1].id);
}

TEST(SweepConfigTest, TrialIdsChangeWithIdentityValuesOnly) {
  const std::string base = Parse("name: a\ntrain: {batch_size: 32}\n").trials[0].id;
  EXPECT_NE(Parse("name: a\ntrain: {batch_size: 16}\n").trials[0].id, base);
  EXPECT_NE(Parse("name: a\ndataset: {seed: 1}\n").trials[0].id, base);
  EXPECT_EQ(Parse("name: a\nresources: {group_size: 4}\n").trials[0].id, base);
  EXPECT_EQ(Parse("name: a\nresources: {threads: 8}\n").trials[0].id, base);
  EXPECT_EQ(Parse("name: a\ntrain: {checkpoint_every_steps: 5}\n").trials[0].id, base);
  EXPECT_EQ(Parse("name: a\ntrain: {fault_nan_at_step: 5}\n").trials[0].id, base);
  // The sweep's name is not part of a trial: the same settings are the same trial anywhere.
  EXPECT_EQ(Parse("name: other\ntrain: {batch_size: 32}\n").trials[0].id, base);
}

TEST(SweepConfigTest, CustomModel) {
  const SweepConfig c = Parse(
      "name: c\nmodel: {size: custom, n_layer: 3, n_head: 4, d_model: 96}\n"
      "search: {grid: {model.n_head: [2, 4]}}\n");
  ASSERT_EQ(c.trials.size(), 2u);
  EXPECT_EQ(c.trials[0].model.n_head, 2);
  EXPECT_EQ(c.trials[1].model.n_layer, 3);
  EXPECT_EQ(c.trials[1].model.d_model, 96);
}

TEST(SweepConfigTest, RelativeSourceResolvesAgainstConfigDir) {
  auto source = [](const std::string& s, const std::string& file) {
    return ParseSweepConfig("name: s\ndataset: {source: " + s + "}\n", file)
        .trials[0]
        .dataset.source;
  };
  EXPECT_EQ(source("data/exp1", "/cfg/dir/c.yaml"), "/cfg/dir/data/exp1");
  EXPECT_EQ(source("../d", "/cfg/dir/c.yaml"), "/cfg/d");
  EXPECT_EQ(source("/abs/d", "/cfg/dir/c.yaml"), "/abs/d");
  EXPECT_EQ(source("generate", "/cfg/dir/c.yaml"), "generate");
  EXPECT_EQ(source("d", "c.yaml"), (fs::current_path() / "d").string());
}

}  // namespace
}  // namespace revsweep
