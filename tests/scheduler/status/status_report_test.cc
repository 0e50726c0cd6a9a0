// Status snapshot, ETA estimator and renderers: JSON schema, Prometheus syntax, text layout,
// and counts read back from a real temporary results store.
#include "scheduler/status/status_report.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "common/config/settings.h"
#include "common/store/results_store.h"
#include "tests/lib/store_fixture.h"

namespace revsweep {
namespace {

using nlohmann::json;

TrialRow Trial(const std::string& id, TrialState state, double cost, Settings settings = {}) {
  TrialRow r;
  r.id = id;
  r.state = state;
  r.cost = cost;
  r.settings = std::move(settings);
  r.attempts = state == TrialState::kPending ? 0 : 1;
  return r;
}

ProgressRow Progress(const std::string& id, int64_t step, int64_t total, double elapsed,
                     double loss = 2.5, double tps = 1000) {
  ProgressRow p;
  p.trial_id = id;
  p.step = step;
  p.total_steps = total;
  p.elapsed_s = elapsed;
  p.loss = loss;
  p.tokens_per_s = tps;
  p.updated_at = 1000;
  return p;
}

// A sweep with one trial in each state, progress for the done and running ones, a job.
StatusSnapshot SampleSnapshot() {
  std::vector<TrialRow> trials = {
      Trial("aaaaaaaaaaaaaaaa", TrialState::kDone, 100,
            {{"train.lr", 0.001}, {"seed", int64_t{1}}}),
      Trial("bbbbbbbbbbbbbbbb", TrialState::kRunning, 100,
            {{"train.lr", 0.01}, {"seed", int64_t{1}}}),
      Trial("cccccccccccccccc", TrialState::kPending, 100,
            {{"train.lr", 0.1}, {"seed", int64_t{1}}}),
      Trial("dddddddddddddddd", TrialState::kFailed, 100,
            {{"train.lr", 1.0}, {"seed", int64_t{1}}}),
  };
  trials[3].last_error = "loss diverged (nan) at step 12\nsecond line";
  trials[3].attempts = 3;
  std::vector<ProgressRow> progress = {Progress("aaaaaaaaaaaaaaaa", 1000, 1000, 50),
                                       Progress("bbbbbbbbbbbbbbbb", 500, 1000, 25, 3.25, 12345)};
  JobRow job;
  job.job_id = "12345";
  job.sweep = "lr-scan";
  job.kind = "slurm";
  job.state = "RUNNING";
  job.submitted_at = 900;
  job.info = "node[01-02]";
  return BuildSnapshot("lr-scan", trials, progress, {job}, 2000);
}

// ---- durations and bars

TEST(FormatDuration, Units) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(45.4), "45s");
  EXPECT_EQ(FormatDuration(59.6), "1m00s");
  EXPECT_EQ(FormatDuration(192), "3m12s");
  EXPECT_EQ(FormatDuration(3599), "59m59s");
  EXPECT_EQ(FormatDuration(3600 * 2 + 5 * 60), "2h05m");
  EXPECT_EQ(FormatDuration(86400 * 3 + 4 * 3600), "3d04h");
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatDuration(NAN), "?");
  EXPECT_EQ(FormatDuration(INFINITY), "?");
}

TEST(ProgressBar, WidthAndFill) {
  EXPECT_EQ(ProgressBar(0, 12), "[----------]");
  EXPECT_EQ(ProgressBar(0.5, 12), "[#####-----]");
  EXPECT_EQ(ProgressBar(0.999, 12), "[#########-]");  // full only when really done
  EXPECT_EQ(ProgressBar(1, 12), "[##########]");
  EXPECT_EQ(ProgressBar(7, 5), "[###]");
  EXPECT_EQ(ProgressBar(-3, 5), "[---]");
  EXPECT_EQ(ProgressBar(NAN, 5), "[---]");
  EXPECT_EQ(ProgressBar(0.5, 2), "");
  for (int w = 3; w < 80; ++w) EXPECT_EQ(ProgressBar(0.37, w).size(), static_cast<size_t>(w));
}

// ---- descriptions

TEST(DescribeTrials, OnlyVaryingKeysWithShortNames) {
  std::vector<Settings> all = {
      {{"train.lr", 0.001}, {"model.size", std::string("tiny")}, {"dataset.seed", int64_t{1}}},
      {{"train.lr", 0.01}, {"model.size", std::string("tiny")}, {"dataset.seed", int64_t{2}}},
  };
  std::vector<std::string> d = DescribeTrials(all);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], "seed=1 lr=0.001");
  EXPECT_EQ(d[1], "seed=2 lr=0.01");
}

TEST(DescribeTrials, CollidingTailsUseFullKeys) {
  std::vector<Settings> all = {
      {{"dataset.seed", int64_t{1}}, {"train.seed", int64_t{5}}},
      {{"dataset.seed", int64_t{2}}, {"train.seed", int64_t{6}}},
  };
  std::vector<std::string> d = DescribeTrials(all);
  EXPECT_EQ(d[0], "dataset.seed=1 train.seed=5");
}

TEST(DescribeTrials, SingleTrialOrNothingVaries) {
  EXPECT_EQ(DescribeTrials({{{"a", int64_t{1}}}}), std::vector<std::string>{""});
  EXPECT_EQ(DescribeTrials({{{"a", int64_t{1}}}, {{"a", int64_t{1}}}}),
            (std::vector<std::string>{"", ""}));
}

// ---- ETA arithmetic on hand-made numbers

TEST(EstimateEta, CostWeightedSingleSlot) {
  // 4 trials of cost 100: one done in 50 s, one running at 50% after 25 s, two pending.
  // Measured: 150 work units in 75 s of training = 2 units/s per slot. Remaining: 50 + 200.
  // One running trial = 1 slot. ETA = 250 / 2 = 125 s.
  StatusSnapshot s =
      BuildSnapshot("s",
                    {Trial("a", TrialState::kDone, 100), Trial("b", TrialState::kRunning, 100),
                     Trial("c", TrialState::kPending, 100), Trial("d", TrialState::kPending, 100)},
                    {Progress("a", 1000, 1000, 50), Progress("b", 500, 1000, 25)}, {}, 0);
  const EtaEstimate& e = s.eta;
  EXPECT_TRUE(e.work_in_cost);
  EXPECT_DOUBLE_EQ(e.work_total, 400);
  EXPECT_DOUBLE_EQ(e.work_done, 150);
  EXPECT_DOUBLE_EQ(e.work_remaining, 250);
  EXPECT_DOUBLE_EQ(e.fraction, 0.375);
  EXPECT_DOUBLE_EQ(e.work_per_slot_s, 2);
  EXPECT_EQ(e.slots, 1);
  ASSERT_TRUE(e.eta_known);
  EXPECT_DOUBLE_EQ(e.eta_s, 125);
}

// `revsweep run` on a sweep half done by an earlier run (the store's narrow rows, what its
// progress line reads): 6 trials done in 600 s each, 2 just started, 4 pending. About 6 trials'
// work is left on 2 slots, ~1,800 s; a rate taken from trials done per second of this run
// (6 done in its first seconds) said "ETA 11s".
TEST(EstimateEta, TrialsFinishedByAnEarlierRunDoNotShortenIt) {
  std::vector<TrialStateRow> rows;
  for (int i = 0; i < 12; ++i) {
    TrialStateRow r;
    r.id = "t" + std::to_string(i);
    r.cost = 100;
    if (i < 6) {
      r.state = TrialState::kDone;
      r.has_progress = true;
      r.step = r.total_steps = 1000;
      r.elapsed_s = 600;
    } else if (i < 8) {
      r.state = TrialState::kRunning;
      r.has_progress = true;
      r.step = 10;
      r.total_steps = 1000;
      r.elapsed_s = 6;
    }
    rows.push_back(r);
  }
  const EtaEstimate e = EstimateEta(rows);
  EXPECT_DOUBLE_EQ(e.fraction, 602.0 / 1200.0);
  EXPECT_EQ(e.slots, 2);
  ASSERT_TRUE(e.eta_known);
  // (1200 - 602) units at (602 / 3612) units/s per slot, 2 slots: 1794 s.
  EXPECT_NEAR(e.eta_s, 598.0 / (602.0 / 3612.0) / 2, 1e-6);
}

TEST(EstimateEta, SlotsScaleWithRunningTrials) {
  // Costs 100 and 300 running concurrently, each 25% done after 10 s:
  // rate = (25 + 75) / 20 = 5 units/s per slot; 2 slots; remaining 300 -> 30 s.
  StatusSnapshot s = BuildSnapshot(
      "s", {Trial("a", TrialState::kRunning, 100), Trial("b", TrialState::kRunning, 300)},
      {Progress("a", 25, 100, 10), Progress("b", 250, 1000, 10)}, {}, 0);
  EXPECT_EQ(s.eta.slots, 2);
  EXPECT_DOUBLE_EQ(s.eta.work_per_slot_s, 5);
  ASSERT_TRUE(s.eta.eta_known);
  EXPECT_DOUBLE_EQ(s.eta.eta_s, 30);
}

TEST(EstimateEta, UnknownCostsWeighTrialsEqually) {
  // One cost unknown -> every trial weighs 1. Done trial: 1 unit in 40 s -> 0.025/s.
  // Remaining: 2 pending trials -> 2 / 0.025 = 80 s with 1 slot (nothing running).
  StatusSnapshot s =
      BuildSnapshot("s",
                    {Trial("a", TrialState::kDone, 100), Trial("b", TrialState::kPending, 0),
                     Trial("c", TrialState::kPending, 100)},
                    {Progress("a", 10, 10, 40)}, {}, 0);
  EXPECT_FALSE(s.eta.work_in_cost);
  EXPECT_DOUBLE_EQ(s.eta.work_total, 3);
  ASSERT_TRUE(s.eta.eta_known);
  EXPECT_DOUBLE_EQ(s.eta.eta_s, 80);
}

TEST(EstimateEta, FailedTrialsAreNotRemainingWork) {
  StatusSnapshot s =
      BuildSnapshot("s",
                    {Trial("a", TrialState::kDone, 10), Trial("b", TrialState::kFailed, 1000),
                     Trial("c", TrialState::kPending, 10)},
                    {Progress("a", 5, 5, 10)}, {}, 0);
  EXPECT_DOUBLE_EQ(s.eta.work_total, 20);
  EXPECT_DOUBLE_EQ(s.eta.work_remaining, 10);
  EXPECT_DOUBLE_EQ(s.eta.eta_s, 10);  // 10 units at 1 unit/s
}

TEST(EstimateEta, PreemptedPendingTrialKeepsItsProgress) {
  // A pending trial resumed later from step 60 of 100 has 40% left.
  StatusSnapshot s = BuildSnapshot("s", {Trial("a", TrialState::kPending, 100)},
                                   {Progress("a", 60, 100, 30)}, {}, 0);
  EXPECT_DOUBLE_EQ(s.eta.work_done, 60);
  EXPECT_DOUBLE_EQ(s.eta.work_per_slot_s, 2);
  EXPECT_DOUBLE_EQ(s.eta.eta_s, 20);
}

TEST(EstimateEta, UnknownWhenNothingMeasured) {
  StatusSnapshot s = BuildSnapshot(
      "s", {Trial("a", TrialState::kRunning, 100), Trial("b", TrialState::kPending, 100)},
      {Progress("a", 0, 100, 0)}, {}, 0);
  EXPECT_FALSE(s.eta.eta_known);
  EXPECT_NE(StatusText(s, 80).find("ETA unknown"), std::string::npos);
  EXPECT_TRUE(json::parse(StatusJson(s))["eta_seconds"].is_null());
}

TEST(EstimateEta, ZeroWhenAllSettledAndUnknownForEmptySweep) {
  StatusSnapshot done = BuildSnapshot(
      "s", {Trial("a", TrialState::kDone, 1), Trial("b", TrialState::kFailed, 1)}, {}, {}, 0);
  EXPECT_TRUE(done.eta.eta_known);
  EXPECT_EQ(done.eta.eta_s, 0);
  EXPECT_EQ(done.eta.fraction, 1);
  StatusSnapshot empty = BuildSnapshot("s", {}, {}, {}, 0);
  EXPECT_FALSE(empty.eta.eta_known);
  EXPECT_EQ(empty.eta.fraction, 0);
}

// ---- JSON schema

void ExpectTrialFields(const json& t, bool with_settings) {
  ASSERT_TRUE(t.is_object());
  EXPECT_TRUE(t.at("id").is_string());
  EXPECT_TRUE(t.at("description").is_string());
  EXPECT_EQ(t.contains("settings"), with_settings);
  if (with_settings) EXPECT_TRUE(t.at("settings").is_object());
  EXPECT_TRUE(t.at("state").is_string());
  EXPECT_TRUE(std::set<std::string>({"pending", "running", "done", "failed"})
                  .count(t.at("state").get<std::string>()));
  EXPECT_TRUE(t.at("attempts").is_number_integer());
  EXPECT_TRUE(t.at("cost").is_number());
  EXPECT_TRUE(t.at("step").is_number_integer());
  EXPECT_TRUE(t.at("total_steps").is_number_integer());
  for (const char* k :
       {"fraction", "loss", "tokens_per_second", "elapsed_seconds", "progress_updated_at"}) {
    EXPECT_TRUE(t.at(k).is_number() || t.at(k).is_null()) << k;
  }
  EXPECT_TRUE(t.at("updated_at").is_number());
  EXPECT_TRUE(t.at("last_error").is_string());
}

TEST(StatusJson, SchemaFieldsAndTypes) {
  StatusSnapshot s = SampleSnapshot();
  json j = json::parse(StatusJson(s));
  EXPECT_EQ(j.at("schema_version"), 2);
  EXPECT_EQ(j.at("sweep"), "lr-scan");
  EXPECT_TRUE(j.at("generated_at").is_number());
  const json& c = j.at("counts");
  for (const char* k : {"pending", "running", "done", "failed", "total"}) {
    EXPECT_TRUE(c.at(k).is_number_integer()) << k;
  }
  EXPECT_EQ(c["pending"], 1);
  EXPECT_EQ(c["running"], 1);
  EXPECT_EQ(c["done"], 1);
  EXPECT_EQ(c["failed"], 1);
  EXPECT_EQ(c["total"], 4);
  const json& p = j.at("progress");
  for (const char* k : {"fraction", "work_total", "work_done", "work_remaining"}) {
    EXPECT_TRUE(p.at(k).is_number()) << k;
  }
  EXPECT_TRUE(p.at("work_unit") == "cost" || p.at("work_unit") == "trials");
  EXPECT_TRUE(p.at("work_per_second_per_slot").is_number());
  EXPECT_TRUE(p.at("slots").is_number_integer());
  // 150 of 300 units done (failed excluded), 2 units/s, 1 slot: 150 / 2 = 75 s.
  EXPECT_DOUBLE_EQ(p["fraction"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j.at("eta_seconds").get<double>(), 75);
  EXPECT_DOUBLE_EQ(j.at("tokens_per_second").get<double>(), 12345);
  ASSERT_TRUE(j.at("trials").is_array());
  ASSERT_EQ(j["trials"].size(), 4u);
  for (const json& t : j["trials"]) ExpectTrialFields(t, false);
  EXPECT_EQ(j["trials"][1]["description"], "lr=0.01");
  EXPECT_DOUBLE_EQ(j["trials"][1]["fraction"].get<double>(), 0.5);
  EXPECT_TRUE(j["trials"][2]["loss"].is_null());  // pending, never reported
  ASSERT_EQ(j.at("failures").size(), 1u);
  const json& f = j["failures"][0];
  EXPECT_EQ(f.at("id"), "dddddddddddddddd");
  EXPECT_TRUE(f.at("description").is_string());
  EXPECT_EQ(f.at("attempts"), 3);
  EXPECT_TRUE(f.at("updated_at").is_number());
  EXPECT_EQ(f.at("last_error"), "loss diverged (nan) at step 12\nsecond line");
  ASSERT_EQ(j.at("jobs").size(), 1u);
  const json& job = j["jobs"][0];
  EXPECT_EQ(job.at("job_id"), "12345");
  EXPECT_EQ(job.at("kind"), "slurm");
  EXPECT_EQ(job.at("state"), "RUNNING");
  EXPECT_TRUE(job.at("submitted_at").is_number());
  EXPECT_EQ(job.at("info"), "node[01-02]");
}

TEST(StatusJson, NonFiniteAndInvalidUtf8StayParseable) {
  StatusSnapshot s = SampleSnapshot();
  s.trials[1].loss = NAN;
  s.trials[1].tokens_per_s = INFINITY;
  s.failures[0].last_error = "bad byte \xff here";
  json j = json::parse(StatusJson(s));  // throws on invalid output
  EXPECT_TRUE(j["trials"][1]["loss"].is_null());
  EXPECT_NE(PrometheusMetrics(s).find("revsweep_trial_loss{"), std::string::npos);
}

TEST(TrialsJson, SchemaWithSettings) {
  json j = json::parse(TrialsJson(SampleSnapshot()));
  EXPECT_EQ(j.at("schema_version"), 2);
  EXPECT_EQ(j.at("sweep"), "lr-scan");
  EXPECT_TRUE(j.at("generated_at").is_number());
  ASSERT_EQ(j.at("trials").size(), 4u);
  for (const json& t : j["trials"]) ExpectTrialFields(t, true);
  const json& settings = j["trials"][0]["settings"];
  EXPECT_DOUBLE_EQ(settings.at("train.lr").get<double>(), 0.001);
  EXPECT_TRUE(settings.at("seed").is_number_integer());
}

// ---- Prometheus text format

TEST(PrometheusMetrics, EveryLineParses) {
  StatusSnapshot s = SampleSnapshot();
  s.trials[1].description = "quote\" back\\slash\nnewline";  // label escaping
  std::string text = PrometheusMetrics(s);
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  const std::string name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const std::string label = "[a-zA-Z_][a-zA-Z0-9_]*=\"(\\\\[\\\\\"n]|[^\"\\\\\\n])*\"";
  const std::regex sample("^(" + name + ")(\\{" + label + "(," + label +
                          ")*\\})? (NaN|[+-]Inf|[-+]?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?)$");
  const std::regex help("^# HELP (" + name + ") .+$");
  const std::regex type("^# TYPE (" + name + ") (gauge|counter|untyped)$");
  std::set<std::string> helped, typed;
  std::map<std::string, double> values;
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "duplicate HELP " << line;
    } else if (std::regex_match(line, m, type)) {
      EXPECT_TRUE(helped.count(m[1])) << "TYPE before HELP " << line;
      EXPECT_TRUE(typed.insert(m[1]).second) << "duplicate TYPE " << line;
    } else if (std::regex_match(line, m, sample)) {
      EXPECT_TRUE(typed.count(m[1])) << "sample before TYPE: " << line;
      values[line.substr(0, line.rfind(' '))] = std::stod(line.substr(line.rfind(' ') + 1));
      ++samples;
    } else {
      ADD_FAILURE() << "unparseable line: " << line;
    }
  }
  EXPECT_GT(samples, 8);
  EXPECT_EQ(values["revsweep_trials{sweep=\"lr-scan\",state=\"done\"}"], 1);
  EXPECT_EQ(values["revsweep_trials{sweep=\"lr-scan\",state=\"pending\"}"], 1);
  EXPECT_EQ(values["revsweep_eta_seconds{sweep=\"lr-scan\"}"], 75);
  const std::string tl =
      "{sweep=\"lr-scan\",trial=\"bbbbbbbbbbbbbbbb\",desc=\"quote\\\" back\\\\slash\\nnewline\"}";
  EXPECT_EQ(values["revsweep_tokens_per_second" + tl], 12345);
  EXPECT_EQ(values["revsweep_step_seconds" + tl], 0.05);  // 25 s / 500 steps
  EXPECT_EQ(values["revsweep_trial_loss" + tl], 3.25);
  EXPECT_EQ(values["revsweep_jobs{sweep=\"lr-scan\",state=\"RUNNING\"}"], 1);
  for (const char* family : {"revsweep_trials", "revsweep_tokens_per_second",
                             "revsweep_step_seconds", "revsweep_eta_seconds"}) {
    EXPECT_TRUE(typed.count(family)) << family;
  }
}

TEST(PrometheusMetrics, UnknownEtaHasNoSample) {
  StatusSnapshot s = BuildSnapshot("s", {Trial("a", TrialState::kPending, 1)}, {}, {}, 0);
  std::string text = PrometheusMetrics(s);
  EXPECT_NE(text.find("# TYPE revsweep_eta_seconds gauge"), std::string::npos);
  EXPECT_EQ(text.find("revsweep_eta_seconds{"), std::string::npos);
}

// ---- text

TEST(StatusText, HeaderTableAndFailures) {
  StatusSnapshot s = SampleSnapshot();
  std::string text = StatusText(s, 100);
  std::istringstream in(text);
  std::string header;
  std::getline(in, header);
  EXPECT_NE(header.find("lr-scan: 4 trials, 1 done, 1 running, 1 pending, 1 failed"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find("[#"), std::string::npos) << header;
  EXPECT_NE(header.find("ETA 1m15s"), std::string::npos) << header;
  EXPECT_LE(header.size(), 100u);
  EXPECT_NE(text.find("RUNNING 1"), std::string::npos);
  EXPECT_NE(text.find("bbbbbbbbbbbbbbbb"), std::string::npos);
  EXPECT_NE(text.find("500/1000"), std::string::npos);
  EXPECT_NE(text.find("3.2500"), std::string::npos);
  EXPECT_NE(text.find("12.3k"), std::string::npos);
  EXPECT_NE(text.find("FAILED 1"), std::string::npos);
  EXPECT_NE(text.find("loss diverged (nan) at step 12"), std::string::npos);
  EXPECT_EQ(text.find("second line"), std::string::npos);  // first line of the error only
  EXPECT_NE(text.find("JOBS 1"), std::string::npos);
  std::string line;
  std::istringstream all(text);
  while (std::getline(all, line)) EXPECT_LE(line.size(), 100u) << line;
}

TEST(StatusText, LastTenFailuresMostRecentFirst) {
  std::vector<TrialRow> trials;
  for (int i = 0; i < 15; ++i) {
    TrialRow r = Trial("f" + std::to_string(100 + i), TrialState::kFailed, 1);
    r.updated_at = i;
    r.last_error = "error number " + std::to_string(i);
    trials.push_back(r);
  }
  std::string text = StatusText(BuildSnapshot("s", trials, {}, {}, 0), 80);
  EXPECT_NE(text.find("FAILED 15 (last 10)"), std::string::npos);
  EXPECT_NE(text.find("error number 14"), std::string::npos);
  EXPECT_NE(text.find("error number 5"), std::string::npos);
  EXPECT_EQ(text.find("error number 4\n"), std::string::npos);
  EXPECT_LT(text.find("error number 14"), text.find("error number 13"));
}

TEST(StatusText, NarrowTerminalStillRenders) {
  std::string text = StatusText(SampleSnapshot(), 10);  // clamped to 40
  EXPECT_NE(text.find("ETA"), std::string::npos);
  EXPECT_NE(text.find("[#"), std::string::npos);
}

// ---- a real temporary store

TEST(TakeSnapshot, CountsFromRealStore) {
  testutil::TempStore tmp;
  ResultsStore& store = tmp.store();
  std::vector<Settings> settings;
  for (int i = 0; i < 5; ++i) {
    settings.push_back({{"train.lr", 0.001 * (i + 1)}, {"model.size", std::string("tiny")}});
  }
  const std::vector<std::string> ids = tmp.AddSweep("scan", settings, std::vector<double>(5, 100));
  ASSERT_EQ(store.CountByState("scan")["pending"], 5);
  const std::string& a = ids[0];
  const std::string& b = ids[1];
  const std::string& c = ids[2];
  int64_t att_a = store.StartAttempt(a, "local-1@host", 0, 1, 0);
  int64_t att_b = store.StartAttempt(b, "local-1@host", 0, 1, 0);
  int64_t att_c = store.StartAttempt(c, "local-1@host", 0, 1, 0);
  ASSERT_GT(att_a, 0);
  store.WriteProgress({Progress(a, 100, 100, 50), Progress(b, 50, 100, 25)}, {});
  ASSERT_TRUE(store.FinishTrial(a, att_a, {{"loss", 1.0}}, 1234, 100));
  store.EndAttempt(att_c, Outcome::kFatal, "out of memory", TrialState::kFailed, 0);
  (void)att_b;
  JobRow job;
  job.job_id = "local-1@host";
  job.sweep = "scan";
  job.kind = "local";
  job.state = "running";
  store.UpsertJob(job);

  StatusSnapshot s = TakeSnapshot(store, "scan", 5000);
  EXPECT_EQ(s.sweep, "scan");
  EXPECT_EQ(s.now, 5000);
  EXPECT_EQ(s.counts.done, 1);
  EXPECT_EQ(s.counts.running, 1);
  EXPECT_EQ(s.counts.failed, 1);
  EXPECT_EQ(s.counts.pending, 2);
  std::map<std::string, int> by_state = store.CountByState("scan");
  EXPECT_EQ(by_state["pending"], s.counts.pending);
  EXPECT_EQ(by_state["done"], s.counts.done);
  ASSERT_EQ(s.trials.size(), 5u);
  EXPECT_EQ(s.trials[0].id, a);  // store order
  EXPECT_EQ(s.trials[1].description, "lr=0.002");
  EXPECT_TRUE(s.trials[1].has_progress);
  EXPECT_EQ(s.trials[1].step, 50);
  EXPECT_EQ(s.trials[1].attempts, 1);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].id, c);
  EXPECT_EQ(s.failures[0].last_error, "out of memory");
  ASSERT_EQ(s.jobs.size(), 1u);
  EXPECT_EQ(s.jobs[0].kind, "local");
  // 150 of 400 units measured in 75 s: 2/s, one slot, 250 left.
  ASSERT_TRUE(s.eta.eta_known);
  EXPECT_DOUBLE_EQ(s.eta.eta_s, 125);

  json j = json::parse(StatusJson(s));
  EXPECT_EQ(j["counts"]["total"], 5);
  EXPECT_EQ(j["trials_listed"], "all");
  EXPECT_TRUE(TakeSnapshot(store, "no-such-sweep", 0).trials.empty());

  // The active snapshot (narrow rows + full rows of running and failed trials only) agrees
  // with the full one on everything it shows.
  StatusSnapshot act = TakeSnapshot(store, "scan", 5000, SnapshotDetail::kActive);
  EXPECT_FALSE(act.all_trials);
  EXPECT_EQ(act.counts.done, s.counts.done);
  EXPECT_EQ(act.counts.running, s.counts.running);
  EXPECT_EQ(act.counts.failed, s.counts.failed);
  EXPECT_EQ(act.counts.pending, s.counts.pending);
  EXPECT_EQ(act.eta.eta_known, s.eta.eta_known);
  EXPECT_DOUBLE_EQ(act.eta.eta_s, s.eta.eta_s);
  EXPECT_DOUBLE_EQ(act.eta.fraction, s.eta.fraction);
  ASSERT_EQ(act.trials.size(), 2u);  // b running, c failed, in store order
  EXPECT_EQ(act.trials[0].id, b);
  EXPECT_EQ(act.trials[0].description, "lr=0.002");
  EXPECT_EQ(act.trials[0].step, 50);
  EXPECT_EQ(act.trials[1].id, c);
  ASSERT_EQ(act.failures.size(), 1u);
  EXPECT_EQ(act.failures[0].description, "lr=0.003");
  EXPECT_EQ(act.failures[0].last_error, "out of memory");
  EXPECT_EQ(StatusText(act, 100), StatusText(s, 100));
  EXPECT_EQ(PrometheusMetrics(act), PrometheusMetrics(s));
  EXPECT_EQ(json::parse(StatusJson(act))["trials_listed"], "active");
  EXPECT_TRUE(TakeSnapshot(store, "no-such-sweep", 0, SnapshotDetail::kActive).trials.empty());
}

}  // namespace
}  // namespace revsweep
