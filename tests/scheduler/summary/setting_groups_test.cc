#include "scheduler/summary/setting_groups.h"

#include <gtest/gtest.h>

namespace revsweep {
namespace {

// A trial in the store's compact form; a result row makes it "has_results".
void AddTrial(SweepData& d, const std::string& id, int base, Settings own,
              TrialState state = TrialState::kDone, bool with_results = true) {
  SweepData::Trial t;
  t.id = id;
  t.state = state;
  t.base = base;
  t.own = std::move(own);
  t.metrics_begin = t.metrics_end = static_cast<uint32_t>(d.metric_key.size());
  if (with_results) {
    if (d.metric_names.empty()) d.metric_names.push_back("acc.p2d.same.train");
    d.metric_key.push_back(0);
    d.metric_value.push_back(1.0);
    t.metrics_end = static_cast<uint32_t>(d.metric_key.size());
  }
  d.trials.push_back(std::move(t));
}

Settings Own(double lr, int64_t seed, int64_t threads = 1) {
  return {{"train.lr", lr}, {"train.seed", seed}, {"resources.threads", threads}};
}

TEST(GroupBySetting, SeedsAndNonSettingKeysAreReplicatesOfOneSetting) {
  SweepData d;
  d.bases.push_back({{"model.size", std::string("tiny")}, {"train.epochs", int64_t{10}}});
  AddTrial(d, "a", 0, Own(1e-3, 0, 1));
  AddTrial(d, "b", 0, Own(2e-3, 0, 1));
  AddTrial(d, "c", 0, Own(1e-3, 1, 2));  // another seed and thread count: same setting as "a"
  AddTrial(d, "d", 0, Own(2e-3, 1), TrialState::kRunning, /*with_results=*/false);
  AddTrial(d, "e", 0, Own(2e-3, 2), TrialState::kDone, /*with_results=*/false);

  const SettingGroups g = GroupBySetting(d);
  EXPECT_EQ(g.done, 3);
  EXPECT_EQ(g.excluded, 2);  // running, and done without results
  ASSERT_EQ(g.groups.size(), 2u);
  EXPECT_EQ(g.groups[0].own, (Settings{{"train.lr", 1e-3}}));  // first appearance first
  ASSERT_EQ(g.groups[0].members.size(), 2u);
  EXPECT_EQ(g.groups[0].members[0].seed, 0);
  EXPECT_EQ(g.groups[0].members[1].seed, 1);
  EXPECT_EQ(g.groups[0].members[1].trial, 2u);
  EXPECT_EQ(g.groups[1].members.size(), 1u);
  // One base: its setting keys are every group's common part; nothing merged whole.
  ASSERT_TRUE(g.common);
  EXPECT_EQ(*g.common, d.bases[0]);
  EXPECT_TRUE(g.whole.empty());
}

TEST(GroupBySetting, EqualSettingsUnderDifferentBasesMerge) {
  // Two batches of one sweep stored with different bases; a key one batch keeps in its base
  // the other keeps per trial. Equal whole settings are one group.
  SweepData d;
  d.bases.push_back({{"model.size", std::string("tiny")}, {"train.seed", int64_t{7}}});
  d.bases.push_back({{"model.size", std::string("tiny")}});
  AddTrial(d, "a", 0, {{"train.lr", 1e-3}});
  AddTrial(d, "b", 1, Own(1e-3, 8));
  AddTrial(d, "c", 1, Own(4e-3, 8));

  const SettingGroups g = GroupBySetting(d);
  EXPECT_EQ(g.done, 3);
  ASSERT_EQ(g.groups.size(), 2u);
  ASSERT_EQ(g.whole.size(), 2u);
  EXPECT_FALSE(g.common);
  EXPECT_EQ(g.whole[0], (Settings{{"model.size", std::string("tiny")}, {"train.lr", 1e-3}}));
  ASSERT_EQ(g.groups[0].members.size(), 2u);
  EXPECT_EQ(g.groups[0].members[0].seed, 7);  // the seed the base holds
  EXPECT_EQ(g.groups[0].members[1].seed, 8);
  EXPECT_EQ(g.whole[1].at("train.lr"), Value(4e-3));
}

TEST(GroupBySetting, NegativeZeroAndZeroAreOneSetting) {
  SweepData d;
  d.bases.push_back({});
  AddTrial(d, "a", 0, {{"train.weight_decay", 0.0}, {"train.seed", int64_t{0}}});
  AddTrial(d, "b", 0, {{"train.weight_decay", 1.0}, {"train.seed", int64_t{0}}});
  AddTrial(d, "c", 0, {{"train.weight_decay", -0.0}, {"train.seed", int64_t{1}}});
  const SettingGroups g = GroupBySetting(d);
  ASSERT_EQ(g.groups.size(), 2u);
  EXPECT_EQ(g.groups[0].members.size(), 2u);
}

TEST(VaryingKeys, AKeyMissingFromOneMapVaries) {
  const std::vector<Settings> maps = {
      {{"a", int64_t{1}}, {"b", int64_t{2}}, {"c", int64_t{3}}},
      {{"a", int64_t{1}}, {"b", int64_t{5}}},
  };
  auto all = [](const std::string&) { return true; };
  const auto keys = VaryingKeys(
      maps, [](const Settings& s) -> const Settings& { return s; }, +all);
  EXPECT_EQ(keys, (std::vector<std::string>{"b", "c"}));
}

}  // namespace
}  // namespace revsweep
