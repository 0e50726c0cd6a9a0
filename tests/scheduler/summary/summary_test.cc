#include "scheduler/summary/summary.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "common/store/results_store.h"
#include "common/user_error.h"
#include "scheduler/summary/summary_render.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

struct Sweep {
  std::vector<TrialRow> trials;
  ResultsMap results;

  // Adds a done trial (or a trial in `state`, without results unless done).
  TrialRow& Add(const std::string& size, int64_t params, double lr, int64_t seed,
                std::map<std::string, double> metrics, TrialState state = TrialState::kDone) {
    TrialRow t;
    t.settings = {{"model.size", std::string(size)},
                  {"train.lr", lr},
                  {"train.seed", seed},
                  {"dataset.mitigation", std::string("none")},
                  // Varies per trial but is not part of a setting.
                  {"resources.threads", static_cast<int64_t>(1 + seed % 2)}};
    t.id = TrialId(t.settings);
    t.state = state;
    t.params = params;
    if (state == TrialState::kDone) results[t.id] = std::move(metrics);
    trials.push_back(t);
    return trials.back();
  }
};

std::map<std::string, double> Metrics(double same, double reverse, double loss, double p) {
  return {{"acc.p2d.same.heldout", same},
          {"acc.p2d.reverse.heldout", reverse},
          {"chance.p2d.reverse.heldout", 0.033},
          {"acc.p2d.same.train", 1.0},
          {"likelihood.p", p},
          {"likelihood.t", 0.5},
          {"loss.final", loss},
          {"steps", 100}};
}

TEST(CellNamesTest, ParseAndOrder) {
  CellName c;
  ASSERT_TRUE(ParseCell("both_n2d.reverse.heldout", &c));
  EXPECT_EQ(c.subset, "both_n2d");
  EXPECT_EQ(c.direction, "reverse");
  EXPECT_EQ(c.split, "heldout");
  EXPECT_FALSE(ParseCell("p2d.same", nullptr));
  EXPECT_FALSE(ParseCell("p2d..train", nullptr));
  EXPECT_FALSE(ParseCell("a.b.c.d", nullptr));
  std::vector<std::string> cells = {
      "qa.reverse.heldout", "d2p.same.train",      "p2d.reverse.train", "p2d.same.heldout",
      "p2d.same.train",     "both_d2n.same.train", "zzz.same.train",    "both_n2d.same.train"};
  std::sort(cells.begin(), cells.end(), CellLess);
  EXPECT_EQ(cells, (std::vector<std::string>{"p2d.same.train", "p2d.same.heldout",
                                             "p2d.reverse.train", "d2p.same.train",
                                             "both_n2d.same.train", "both_d2n.same.train",
                                             "qa.reverse.heldout", "zzz.same.train"}));
  std::vector<std::string> metrics = {"steps",
                                      "loss.final",
                                      "likelihood.p",
                                      "chance.p2d.same.train",
                                      "acc.d2p.same.train",
                                      "acc.p2d.same.train"};
  std::sort(metrics.begin(), metrics.end(), MetricLess);
  EXPECT_EQ(metrics, (std::vector<std::string>{"acc.p2d.same.train", "acc.d2p.same.train",
                                               "chance.p2d.same.train", "likelihood.p",
                                               "loss.final", "steps"}));
}

TEST(CellNamesTest, SettingKeysAndLabels) {
  EXPECT_TRUE(IsSettingKey("train.lr"));
  EXPECT_FALSE(IsSettingKey("train.seed"));
  EXPECT_FALSE(IsSettingKey("resources.threads"));
  EXPECT_FALSE(IsSettingKey("train.checkpoint_every_steps"));
  EXPECT_EQ(ModelSizeLabel({{"model.size", std::string("tiny")}}), "tiny");
  EXPECT_EQ(ModelSizeLabel({{"model.size", std::string("custom")},
                            {"model.n_layer", int64_t{4}},
                            {"model.n_head", int64_t{4}},
                            {"model.d_model", int64_t{128}}}),
            "L4-H4-D128");
}

TEST(SummaryTest, GroupsSeedsIntoSettings) {
  Sweep w;
  for (int64_t seed : {3, 1, 2}) {
    w.Add("tiny", 1000000, 1e-3, seed, Metrics(0.30 + 0.01 * seed, 0.0, 0.05, 0.4));
    w.Add("tiny", 1000000, 1e-4, seed, Metrics(0.10, 0.0, 0.20, 0.5));
  }
  w.Add("tiny", 1000000, 1e-3, 4, {}, TrialState::kRunning);
  w.Add("tiny", 1000000, 1e-3, 5, {}, TrialState::kFailed);
  const Summary s = BuildSummary(w.trials, w.results);
  EXPECT_EQ(s.trials_total, 8);
  EXPECT_EQ(s.trials_done, 6);
  EXPECT_EQ(s.trials_excluded, 2);
  ASSERT_EQ(s.settings.size(), 2u);
  EXPECT_EQ(s.varying_keys, std::vector<std::string>{"train.lr"});
  EXPECT_EQ(s.cells, (std::vector<std::string>{"p2d.same.train", "p2d.same.heldout",
                                               "p2d.reverse.heldout"}));
  // Same params and size: settings in key order; lr 0.0001 sorts before 0.001.
  const SettingSummary* a = nullptr;
  for (const auto& g : s.settings) {
    if (std::get<double>(g.setting.at("train.lr")) == 1e-3) a = &g;
  }
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->n_seeds, 3);
  EXPECT_EQ(a->seeds, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(a->size, "tiny");
  EXPECT_EQ(a->params, 1000000);
  EXPECT_EQ(a->setting.count("train.seed"), 0u);
  EXPECT_EQ(a->setting.count("resources.threads"), 0u);
  const CellSummary* c = a->Cell("p2d.same.heldout");
  ASSERT_NE(c, nullptr);
  // Values 0.31, 0.32, 0.33 (seed order): mean 0.32, sd 0.01, SE 0.01 / sqrt(3).
  EXPECT_NEAR(c->acc.mean, 0.32, 1e-12);
  EXPECT_NEAR(c->acc.se, 0.01 / std::sqrt(3.0), 1e-12);
  const Interval want = BootstrapMeanCi({0.30 + 0.01 * 1, 0.30 + 0.01 * 2, 0.30 + 0.01 * 3});
  EXPECT_EQ(c->ci.lo, want.lo);
  EXPECT_EQ(c->ci.hi, want.hi);
  EXPECT_NEAR(a->Cell("p2d.reverse.heldout")->chance.mean, 0.033, 1e-12);
  EXPECT_EQ(a->Cell("p2d.same.heldout")->chance.n, 0);
  EXPECT_EQ(a->likelihood_p, (std::vector<double>{0.4, 0.4, 0.4}));
  EXPECT_NEAR(a->loss.mean, 0.05, 1e-12);
  EXPECT_NEAR(a->score, 0.32, 1e-12);
  EXPECT_TRUE(a->best_for_size);
  ASSERT_EQ(s.best.size(), 1u);
  EXPECT_EQ(&s.settings[s.best[0]], a);
}

TEST(SummaryTest, BestIsChosenBySameDirectionNotReverse) {
  Sweep w;
  for (int64_t seed : {1, 2}) {
    w.Add("tiny", 1000, 1e-3, seed, Metrics(0.50, 0.00, 0.1, 0.5));
    w.Add("tiny", 1000, 1e-2, seed, Metrics(0.40, 0.30, 0.1, 0.5));  // better reverse
  }
  const Summary s = BuildSummary(w.trials, w.results);
  ASSERT_EQ(s.best.size(), 1u);
  EXPECT_EQ(std::get<double>(s.settings[s.best[0]].setting.at("train.lr")), 1e-3);
}

TEST(SummaryTest, OneSeedIsFlagged) {
  Sweep w;
  w.Add("tiny", 1000, 1e-3, 1, Metrics(0.5, 0, 0.1, 0.5));
  const Summary s = BuildSummary(w.trials, w.results);
  const CellSummary* c = s.settings[0].Cell("p2d.same.heldout");
  EXPECT_EQ(c->acc.se, 0);
  EXPECT_FALSE(c->acc.se_defined);
  EXPECT_EQ(c->ci.lo, 0.5);
  EXPECT_NE(RenderSummary(s, SummaryFormat::kTable).find("0.500 (n=1)"), std::string::npos);
}

// Three sizes; reverse accuracy from `reverse(size index, seed)`.
template <typename F>
Sweep ScalingSweep(int sizes, F reverse) {
  Sweep w;
  const char* names[] = {"tiny", "small", "medium", "large"};
  for (int i = 0; i < sizes; ++i) {
    const int64_t params = static_cast<int64_t>(std::pow(10.0, 5 + i));
    for (int64_t seed : {1, 2, 3}) {
      const double loss = 0.02 + 300 / std::pow(static_cast<double>(params), 0.6);
      w.Add(names[i], params, 1e-3, seed,
            Metrics(0.3 + 0.05 * i + 0.01 * seed, reverse(i, seed), loss, 0.3 + 0.1 * seed));
      w.Add(names[i], params, 1e-4, seed, Metrics(0.1, 0.9, loss * 2, 0.01));
    }
  }
  return w;
}

TEST(SummaryTest, FlatReverseAccuracyDoesNotRise) {
  const Sweep w = ScalingSweep(3, [](int, int64_t) { return 0.0; });
  const Summary s = BuildSummary(w.trials, w.results);
  ASSERT_EQ(s.best.size(), 3u);
  const CellTrend* t = nullptr;
  for (const auto& x : s.trends) {
    if (x.cell == "p2d.reverse.heldout") t = &x;
  }
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->fitted);
  EXPECT_EQ(t->n_sizes, 3);
  EXPECT_EQ(t->n_points, 9);
  EXPECT_EQ(t->fit.slope, 0);
  EXPECT_EQ(t->verdict,
            "Reverse accuracy (p2d.reverse.heldout) does not rise with model size: slope +0.000 "
            "per decade, 95% CI [0.000, 0.000] (p = 1, 3 sizes).");
  ASSERT_GE(s.verdicts.size(), 2u);
  EXPECT_EQ(s.verdicts[0], t->verdict);
  EXPECT_NE(s.verdicts.back().find("not significantly more likely"), std::string::npos);
  EXPECT_TRUE(s.loss_fit.ok) << s.loss_fit.message;
  EXPECT_NEAR(s.loss_fit.alpha, 0.6, 0.05);
  // Same-direction trend: rises by 0.05 per decade, not given a verdict sentence.
  for (const auto& x : s.trends) {
    if (x.cell == "p2d.same.heldout") {
      EXPECT_NEAR(x.fit.slope, 0.05, 1e-9);
      EXPECT_TRUE(x.verdict.empty());
    }
  }
}

TEST(SummaryTest, RisingReverseAccuracyRises) {
  const Sweep w = ScalingSweep(4, [](int i, int64_t seed) { return 0.1 * i + 0.01 * seed; });
  const Summary s = BuildSummary(w.trials, w.results);
  EXPECT_EQ(s.verdicts[0].rfind("Reverse accuracy (p2d.reverse.heldout) rises with model size: "
                                "slope +0.100 per decade",
                                0),
            0u)
      << s.verdicts[0];
}

TEST(SummaryTest, FewerThanThreeSizesSaysSo) {
  const Sweep w = ScalingSweep(2, [](int, int64_t) { return 0.0; });
  const Summary s = BuildSummary(w.trials, w.results);
  EXPECT_EQ(s.verdicts[0],
            "Reverse accuracy (p2d.reverse.heldout): 2 model sizes, fewer than the 3 a trend "
            "across size needs; no fit.");
  EXPECT_FALSE(s.loss_fit.ok);
  EXPECT_NE(s.loss_fit.message.find("fewer than 3 model sizes"), std::string::npos);
  EXPECT_NE(RenderSummary(s, SummaryFormat::kTable).find("no fit (<3 sizes)"), std::string::npos);
}

TEST(SummaryTest, DeterministicAndOrderIndependent) {
  Sweep w = ScalingSweep(3, [](int i, int64_t seed) { return 0.01 * i * seed; });
  const Summary a = BuildSummary(w.trials, w.results);
  std::mt19937 g(5);
  std::shuffle(w.trials.begin(), w.trials.end(), g);
  const Summary b = BuildSummary(w.trials, w.results);
  for (SummaryFormat f : {SummaryFormat::kTable, SummaryFormat::kCsv, SummaryFormat::kJson,
                          SummaryFormat::kMarkdown}) {
    EXPECT_EQ(RenderSummary(a, f), RenderSummary(b, f));
  }
}

// The store's compact form (LoadSweepData + SummarizeSweep, what `revsweep summary` runs)
// gives the same summary as the row form. The trials go in as two batches with different
// shared keys, so the store holds them under two settings bases: seeds 1-2 under one, seed 3
// (shared by its whole batch, so stored in the base) under the other. A setting's seeds span
// both bases and must still form one setting. A failed and a pending trial are excluded.
TEST(SummaryTest, StoreFormMatchesRowForm) {
  namespace fs = std::filesystem;
  testutil::TempDir tmp("summary_store");
  const fs::path dir = tmp.path();
  Sweep w = ScalingSweep(3, [](int i, int64_t seed) { return 0.02 * i + 0.01 * seed; });
  w.Add("tiny", 100000, 3e-3, 1, {}, TrialState::kFailed);
  w.Add("tiny", 100000, 3e-3, 2, {}, TrialState::kPending);
  {
    ResultsStore store((dir / "s.db").string());
    std::vector<std::pair<std::string, Settings>> batch[2];
    for (const TrialRow& t : w.trials) {
      batch[std::get<int64_t>(t.settings.at("train.seed")) == 3].emplace_back(t.id, t.settings);
    }
    for (const auto& b : batch) store.UpsertSweep("s", "y", "/tmp/s", b, {});
    for (const TrialRow& t : w.trials) {
      if (t.state == TrialState::kPending) continue;
      const int64_t a = store.StartAttempt(t.id, "j", 0, 1, 0);
      ASSERT_GT(a, 0);
      if (t.state == TrialState::kDone) {
        ASSERT_TRUE(store.FinishTrial(t.id, a, w.results.at(t.id), t.params, 10));
      } else {
        store.EndAttempt(a, Outcome::kCrash, "boom", TrialState::kFailed, 3);
      }
    }
    const SweepData data = store.LoadSweepData("s");
    ASSERT_EQ(data.bases.size(), 2u);
    const std::vector<TrialRow> rows = store.Trials("s");
    ASSERT_EQ(data.trials.size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(data.trials[i].id, rows[i].id);
      EXPECT_EQ(data.FullSettings(i), rows[i].settings) << rows[i].id;
      EXPECT_EQ(data.trials[i].state, rows[i].state);
    }
    const Summary from_store = SummarizeSweep(data);
    const Summary from_rows = BuildSummary(rows, store.SweepResults("s"));
    const Summary in_memory = BuildSummary(w.trials, w.results);
    EXPECT_EQ(from_store.trials_done, 18);
    EXPECT_EQ(from_store.trials_excluded, 2);
    ASSERT_EQ(from_store.settings.size(), 6u);
    for (const SettingSummary& g : from_store.settings) {
      EXPECT_EQ(g.seeds, (std::vector<int64_t>{1, 2, 3}));
    }
    for (SummaryFormat f : {SummaryFormat::kTable, SummaryFormat::kCsv, SummaryFormat::kJson,
                            SummaryFormat::kMarkdown}) {
      EXPECT_EQ(RenderSummary(from_store, f), RenderSummary(from_rows, f));
      EXPECT_EQ(RenderSummary(from_store, f), RenderSummary(in_memory, f));
    }
  }
  fs::remove_all(dir);
}

TEST(RenderTest, AllFormats) {
  const Sweep w = ScalingSweep(3, [](int, int64_t) { return 0.0; });
  const Summary s = BuildSummary(w.trials, w.results);

  const std::string table = RenderSummary(s, SummaryFormat::kTable);
  EXPECT_NE(table.find("18 done trials in 6 settings over 3 model sizes"), std::string::npos);
  EXPECT_NE(table.find("p2d.reverse.heldout"), std::string::npos);
  EXPECT_NE(table.find("Verdicts"), std::string::npos);
  EXPECT_NE(table.find("loss.final = E + A / N^alpha"), std::string::npos);

  const std::string md = RenderSummary(s, SummaryFormat::kMarkdown);
  EXPECT_NE(md.find("## Settings"), std::string::npos);
  EXPECT_NE(md.find("|---|"), std::string::npos);

  const std::string csv = RenderSummary(s, SummaryFormat::kCsv);
  const size_t lines = std::count(csv.begin(), csv.end(), '\n');
  EXPECT_EQ(lines, 7u);  // header + 6 settings
  EXPECT_EQ(csv.rfind("setting,size,params,seeds,best,score,model.size,train.lr,", 0), 0u);
  EXPECT_NE(csv.find("acc.p2d.reverse.heldout.ci_hi"), std::string::npos);

  const nlohmann::json j = nlohmann::json::parse(RenderSummary(s, SummaryFormat::kJson));
  EXPECT_EQ(j["trials_done"], 18);
  EXPECT_EQ(j["settings"].size(), 6u);
  EXPECT_EQ(j["best_per_size"].size(), 3u);
  EXPECT_EQ(j["scaling"]["cells"].size(), 3u);
  EXPECT_TRUE(j["scaling"]["loss_final"]["ok"].get<bool>());
  EXPECT_EQ(j["verdicts"].size(), 2u);
}

TEST(RenderTest, EmptySweep) {
  const Summary s = BuildSummary({}, {});
  EXPECT_NE(RenderSummary(s, SummaryFormat::kTable).find("0 done trials"), std::string::npos);
  EXPECT_NO_THROW(nlohmann::json::parse(RenderSummary(s, SummaryFormat::kJson)));
  const std::string csv = RenderSummary(s, SummaryFormat::kCsv);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1);
}

TEST(RenderTest, ParseFormat) {
  EXPECT_EQ(ParseSummaryFormat("md"), SummaryFormat::kMarkdown);
  EXPECT_EQ(ParseSummaryFormat("json"), SummaryFormat::kJson);
  EXPECT_THROW(ParseSummaryFormat("xml"), UserError);
  EXPECT_EQ(HumanParams(0), "?");
  EXPECT_EQ(HumanParams(950), "950");
  EXPECT_EQ(HumanParams(900000), "900K");
  EXPECT_EQ(HumanParams(124439808), "124M");
  EXPECT_EQ(HumanParams(1300000000), "1.3B");
}

TEST(PerTrialTest, RowsAndColumns) {
  Sweep w;
  w.Add("tiny", 1000, 1e-3, 1, Metrics(0.5, 0.0, 0.1, 0.25));
  w.Add("tiny", 1000, 1e-3, 2, {}, TrialState::kPending);
  const PerTrialTable t = BuildPerTrialTable(w.trials, w.results);
  EXPECT_EQ(t.varying_keys, std::vector<std::string>{"train.seed"});
  EXPECT_EQ(t.cells, (std::vector<std::string>{"p2d.same.train", "p2d.same.heldout",
                                               "p2d.reverse.heldout"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].likelihood_p, 0.25);
  EXPECT_TRUE(std::isnan(t.rows[1].likelihood_p));
  const std::string csv = RenderPerTrial(t, SummaryFormat::kCsv);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "trial_id,state,train.seed,params,acc.p2d.same.train,acc.p2d.same.heldout,"
            "acc.p2d.reverse.heldout,likelihood.p");
  EXPECT_NE(csv.find(w.trials[0].id + ",done,1,1000,1,0.5,0,0.25\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(w.trials[1].id + ",pending,2,1000,,,,\n"), std::string::npos) << csv;
  const std::string table = RenderPerTrial(t, SummaryFormat::kTable);
  EXPECT_NE(table.find("pending"), std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(RenderPerTrial(t, SummaryFormat::kJson));
  EXPECT_EQ(j["trials"].size(), 2u);
  EXPECT_TRUE(j["trials"][1]["likelihood.p"].is_null());
  EXPECT_NE(RenderPerTrial(t, SummaryFormat::kMarkdown).find("| trial_id |"), std::string::npos);
}

}  // namespace
}  // namespace revsweep
