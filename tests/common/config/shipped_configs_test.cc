// Every sweep shipped in configs/ must load: a config that a user copies from the README and that
// fails with a validation error is a bug. Loads each configs/*.yaml with LoadSweepConfig (from
// the source tree, so relative dataset folders resolve as for a user) and checks it expands to
// at least one trial. A few shipped configs also get checks of what their header promises.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/config/settings.h"
#include "common/config/sweep_config.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;

class ShippedConfigsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_ = fs::current_path();
    fs::current_path(REVSWEEP_SRC_DIR);
  }
  void TearDown() override { fs::current_path(old_); }

  static std::vector<fs::path> ShippedConfigs() {
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator("configs")) {
      if (f.is_regular_file() && f.path().extension() == ".yaml") files.push_back(f.path());
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  // Loads one shipped config; a UserError becomes a test failure naming file:line:column.
  static SweepConfig Load(const std::string& path) {
    try {
      return LoadSweepConfig(path);
    } catch (const UserError& e) {
      ADD_FAILURE() << e.what();
      return {};
    }
  }

  fs::path old_;
};

std::set<std::string> Values(const SweepConfig& c, const std::string& key) {
  std::set<std::string> out;
  for (const TrialConfig& t : c.trials) out.insert(ValueToString(t.settings.at(key)));
  return out;
}

TEST_F(ShippedConfigsTest, EveryConfigLoadsAndHasTrials) {
  const std::vector<fs::path> files = ShippedConfigs();
  // The configs the README and docs/RESULTS.md point at; a rename must update them too.
  std::set<std::string> names;
  for (const fs::path& f : files) names.insert(f.filename().string());
  for (const char* expected :
       {"quickstart.yaml", "example_commented.yaml", "exp1_paper.yaml", "exp1_paper_subset.yaml",
        "exp1_scaling.yaml", "exp1_mitigations.yaml", "exp3_instructions.yaml",
        "cluster_exp1_scaling.yaml", "cluster_gpt2_sizes.yaml"}) {
    EXPECT_EQ(names.count(expected), 1u) << "configs/" << expected << " is missing";
  }
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    const SweepConfig c = Load(f.string());
    EXPECT_FALSE(c.name.empty());
    EXPECT_GT(c.trials.size(), 0u);
    EXPECT_LE(static_cast<int64_t>(c.trials.size()), kMaxSweepTrials);
  }
}

// The trial counts the headers of the experiment configs state (and docs/RESULTS.md quotes).
TEST_F(ShippedConfigsTest, ExperimentConfigsHaveTheStatedShape) {
  const SweepConfig paper = Load("configs/exp1_paper.yaml");
  EXPECT_EQ(paper.trials.size(), 60u);  // 4 lr x 5 batch x 3 seeds
  EXPECT_EQ(Values(paper, "train.lr").size(), 4u);
  EXPECT_EQ(Values(paper, "train.batch_size").size(), 5u);
  EXPECT_EQ(Values(paper, "train.seed").size(), 3u);
  EXPECT_EQ(Values(paper, "dataset.names_per_subset"), std::set<std::string>{"30"});
  EXPECT_EQ(Values(paper, "dataset.train_templates"), std::set<std::string>{"30"});
  EXPECT_EQ(Values(paper, "dataset.test_templates"), std::set<std::string>{"10"});
  EXPECT_EQ(Values(paper, "train.epochs"), std::set<std::string>{"10"});

  const SweepConfig scaling = Load("configs/exp1_scaling.yaml");
  EXPECT_GE(Values(scaling, "model.size").size(), 4u);
  EXPECT_EQ(Values(scaling, "train.seed").size(), 3u);

  const SweepConfig mit = Load("configs/exp1_mitigations.yaml");
  EXPECT_EQ(Values(mit, "dataset.mitigation"),
            (std::set<std::string>{"both_orders", "none", "reverse_entity", "reverse_segment",
                                   "reverse_token", "reverse_word"}));
  EXPECT_EQ(Values(mit, "model.size").size(), 1u);

  const SweepConfig exp3 = Load("configs/exp3_instructions.yaml");
  EXPECT_EQ(Values(exp3, "dataset.kind"), std::set<std::string>{"exp3"});
  EXPECT_EQ(Values(exp3, "dataset.instruction_order"),
            (std::set<std::string>{"answer_first", "question_first"}));
}

// exp1_paper_subset.yaml is the part of exp1_paper.yaml that ran on the development machine:
// same sweep name and trial ids, so running the full config later in the same store only
// trains the rest. Its fixed settings must stay identical to exp1_paper.yaml's.
TEST_F(ShippedConfigsTest, PaperSubsetIsASubsetOfThePaperSweep) {
  const SweepConfig paper = Load("configs/exp1_paper.yaml");
  const SweepConfig subset = Load("configs/exp1_paper_subset.yaml");
  EXPECT_EQ(subset.name, paper.name);
  std::set<std::string> paper_ids;
  for (const TrialConfig& t : paper.trials) paper_ids.insert(t.id);
  ASSERT_FALSE(subset.trials.empty());
  EXPECT_LT(subset.trials.size(), paper.trials.size());
  for (const TrialConfig& t : subset.trials) {
    EXPECT_EQ(paper_ids.count(t.id), 1u) << "subset trial " << t.id << " is not in exp1_paper.yaml";
  }
}

// cluster_gpt2_sizes.yaml names placeholder checkpoint folders that users edit. Loading (and
// so `revsweep validate`) must not need them: only training opens model.init_from.
TEST_F(ShippedConfigsTest, Gpt2SizesLoadsWithoutTheCheckpoints) {
  const SweepConfig c = Load("configs/cluster_gpt2_sizes.yaml");
  ASSERT_FALSE(c.trials.empty());
  std::map<std::string, std::set<std::string>> init_by_size;
  for (const TrialConfig& t : c.trials) {
    EXPECT_FALSE(t.model.init_from.empty());
    EXPECT_FALSE(fs::exists(t.model.init_from)) << "placeholder path exists: " << t.model.init_from;
    EXPECT_EQ(t.tokenizer.type, "gpt2");
    EXPECT_FALSE(t.tokenizer.gpt2_dir.empty());
    EXPECT_EQ(t.train.precision, "bf16");
    // The zip pairs each size with its own checkpoint: the folder is named after the size.
    EXPECT_EQ(fs::path(t.model.init_from).filename().string(), t.model.size);
    init_by_size[t.model.size].insert(t.model.init_from);
  }
  EXPECT_EQ(init_by_size.size(), 4u);  // gpt2, gpt2-medium, gpt2-large, gpt2-xl
  for (const auto& [size, inits] : init_by_size) EXPECT_EQ(inits.size(), 1u) << size;
  EXPECT_EQ(Values(c, "train.seed").size(), 3u);
}

// cluster_exp1_scaling.yaml trains the bigger sizes data-parallel over 4 ranks.
TEST_F(ShippedConfigsTest, ClusterScalingGroupsBigSizes) {
  const SweepConfig c = Load("configs/cluster_exp1_scaling.yaml");
  ASSERT_FALSE(c.trials.empty());
  std::set<int> groups;
  for (const TrialConfig& t : c.trials) {
    groups.insert(t.resources.group_size);
    EXPECT_EQ(t.train.batch_size % t.resources.group_size, 0);
  }
  EXPECT_EQ(groups.count(4), 1u);
  EXPECT_EQ(Values(c, "dataset.names_per_subset"), std::set<std::string>{"100"});
  EXPECT_EQ(Values(c, "dataset.train_templates"), std::set<std::string>{"100"});
}

}  // namespace
}  // namespace revsweep
