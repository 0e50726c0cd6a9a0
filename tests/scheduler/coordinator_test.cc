// The coordinator's protocol without MPI: an in-memory transport plays every worker rank, a
// fake clock stands in for time, and the store is a real SQLite file. Each test drives
// Coordinator::Step by hand and checks what it sent and what the store says.
#include "scheduler/coordinator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/config/sweep_config.h"
#include "common/messages.h"
#include "common/user_error.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

// Two trials (seeds 0 and 1) of `group_size` ranks each.
std::string SweepYaml(int group_size, double trial_timeout_s = 0, int retries_crash = 2) {
  return "name: coord\n"
         "dataset: {kind: exp1, names_per_subset: 4, train_templates: 3, test_templates: 2}\n"
         "train: {epochs: 1, batch_size: 4}\n"
         "resources: {group_size: " +
         std::to_string(group_size) +
         "}\n"
         "run: {heartbeat_timeout_s: 10, retries_crash: " +
         std::to_string(retries_crash) + ", trial_timeout_s: " + std::to_string(trial_timeout_s) +
         ", progress_every_s: 1000}\n"
         "seeds: [0, 1]\n";
}

class CoordinatorTest : public ::testing::Test {
 protected:
  void Make(int world, const std::string& yaml,
            std::function<bool(const std::string&)> alive = nullptr) {
    SweepConfig cfg = ParseSweepConfig(yaml, config_path_);
    store_ = std::make_unique<ResultsStore>(dir_ / db_name_);
    std::vector<std::pair<std::string, Settings>> rows;
    std::vector<double> costs;
    for (const auto& t : cfg.trials) {
      rows.emplace_back(t.id, t.settings);
      costs.push_back(1);
      ids_.push_back(t.id);
    }
    store_->UpsertSweep("coord", yaml, dir_ / "runs/coord", rows, costs);
    if (pre_start_) pre_start_();
    net_ = std::make_unique<InMemoryTransport>(world);
    CoordinatorOptions o;
    o.sweep = "coord";
    o.store_path = dir_ / db_name_;
    o.stop = &stop_;
    o.quiet = true;
    CoordinatorDeps d;
    d.transport = net_.get();
    d.store = store_.get();
    d.now_s = [this] { return now_; };
    d.job_alive = alive ? alive : [](const std::string&) { return false; };
    d.job_id = "local-test";
    d.status_server = false;
    c_ = std::make_unique<Coordinator>(o, std::move(d));
    c_->Start();
  }

  // Steps until nothing more happens at this clock reading; returns Step's last answer.
  bool Settle() {
    bool more = true;
    for (int i = 0; i < 20; ++i) {
      bool busy = false;
      more = c_->Step(&busy);
      if (!more || !busy) break;
    }
    return more;
  }

  std::vector<AssignMsg> Assigns() {
    std::map<int64_t, AssignMsg> by_attempt;
    for (const auto& s : net_->Take(kTagAssign)) {
      AssignMsg a = DecodeAssign(s.text);
      by_attempt[a.attempt_id] = a;
    }
    std::vector<AssignMsg> out;
    for (auto& [id, a] : by_attempt) out.push_back(a);
    return out;
  }

  void Result(const AssignMsg& a) {
    ResultMsg m;
    m.trial_id = a.trial_id;
    m.attempt_id = a.attempt_id;
    m.metrics = {{"loss.final", 1.5}};
    m.end_step = 10;
    net_->Deliver(a.ranks.front(), kTagResult, Encode(m));
  }
  void Fail(const AssignMsg& a, int rank, Outcome outcome, const std::string& why) {
    FailedMsg m;
    m.trial_id = a.trial_id;
    m.attempt_id = a.attempt_id;
    m.outcome = outcome;
    m.message = why;
    m.rank = rank;
    net_->Deliver(rank, kTagFailed, Encode(m));
  }
  void Beat(const AssignMsg& a, int rank, bool left = false) {
    net_->Deliver(rank, kTagHeartbeat, Encode(HeartbeatMsg{a.attempt_id, rank, left}));
  }
  void Leave(const AssignMsg& a) {
    for (int r : a.ranks) Beat(a, r, true);
  }

  std::string State(const std::string& id) { return TrialStateName(store_->Trial(id)->state); }
  std::vector<AttemptRow> Attempts(const std::string& id) { return store_->Attempts(id); }

  testutil::TempDir dir_{"coordinator_test"};
  std::unique_ptr<ResultsStore> store_;
  std::unique_ptr<InMemoryTransport> net_;
  std::unique_ptr<Coordinator> c_;
  std::atomic<bool> stop_{false};
  std::function<void()> pre_start_;
  std::string db_name_ = "revsweep.db";
  std::string config_path_ = "coord.yaml";  // where `revsweep prepare` read the config
  double now_ = 1000;
  std::vector<std::string> ids_;
};

TEST_F(CoordinatorTest, ARelativeDatasetFolderRunsWhereverTheConfigWas) {
  // dataset.source is resolved against the config file's folder when the sweep is prepared;
  // the coordinator runs the trials the store holds, whatever the frozen YAML would expand to
  // from its own working directory (it once assigned nothing and reported success).
  config_path_ = "/elsewhere/configs/coord.yaml";
  Make(2, "name: coord\ndataset: {source: ../data/authors/exp1}\nseeds: [0, 1]\n");
  ASSERT_TRUE(Settle());
  auto a = Assigns();
  ASSERT_EQ(a.size(), 2u);
  for (const auto& x : a) {
    EXPECT_EQ(State(x.trial_id), "running");
    EXPECT_NE(std::find(ids_.begin(), ids_.end(), x.trial_id), ids_.end()) << x.trial_id;
  }
}

TEST_F(CoordinatorTest, AssignsEveryFreeRankAndRecordsResults) {
  Make(2, SweepYaml(1));
  ASSERT_TRUE(Settle());
  auto a = Assigns();
  ASSERT_EQ(a.size(), 2u);
  std::set<int> ranks = {a[0].ranks.at(0), a[1].ranks.at(0)};
  EXPECT_EQ(ranks, (std::set<int>{0, 1}));
  EXPECT_GT(a[0].heartbeat_every_s, 0);
  EXPECT_LT(a[0].heartbeat_every_s, 10);  // several beats per timeout
  for (const auto& x : a) EXPECT_EQ(State(x.trial_id), "running");

  Result(a[0]);
  Leave(a[0]);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(State(a[0].trial_id), "done");
  Result(a[1]);
  Leave(a[1]);
  EXPECT_FALSE(Settle());
  EXPECT_EQ(c_->Finish(), kExitOk);
  auto shutdowns = net_->Take(kTagShutdown);
  ASSERT_EQ(shutdowns.size(), 2u);
  EXPECT_EQ(DecodeShutdown(shutdowns[0].text).exit_code, kExitOk);
  EXPECT_EQ(State(a[1].trial_id), "done");
  EXPECT_EQ(Attempts(a[1].trial_id).size(), 1u);
}

TEST_F(CoordinatorTest, ACrashIsRetriedWithinItsBudgetThenFails) {
  Make(1, SweepYaml(1, 0, /*retries_crash=*/1));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 1u);  // one rank: one trial at a time
  const std::string id = a[0].trial_id;
  Fail(a[0], 0, Outcome::kCrash, "out of memory");
  Leave(a[0]);
  Settle();
  auto b = Assigns();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].trial_id, id);  // retried first: it is earlier in store order
  EXPECT_EQ(b[0].attempt_number, 2);
  Fail(b[0], 0, Outcome::kCrash, "out of memory");
  Leave(b[0]);
  Settle();
  EXPECT_EQ(State(id), "failed");
  auto c = Assigns();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_NE(c[0].trial_id, id);  // the next trial runs
  Result(c[0]);
  Leave(c[0]);
  EXPECT_FALSE(Settle());
  EXPECT_EQ(c_->Finish(), kExitFailure);
}

TEST_F(CoordinatorTest, AStaleFailureReportIsIgnored) {
  Make(1, SweepYaml(1));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 1u);
  AssignMsg stale = a[0];
  stale.attempt_id += 100;
  Fail(stale, 0, Outcome::kCrash, "from an attempt that is not running");
  Settle();
  EXPECT_EQ(State(a[0].trial_id), "running");
  Result(a[0]);
  Leave(a[0]);
  Settle();
  EXPECT_EQ(State(a[0].trial_id), "done");
}

TEST_F(CoordinatorTest, RanksAreFreedOnlyWhenTheWholeGroupHasLeft) {
  Make(2, SweepYaml(2));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(a[0].ranks, (std::vector<int>{0, 1}));
  Result(a[0]);
  Beat(a[0], 0, /*left=*/true);
  Settle();
  EXPECT_TRUE(Assigns().empty());  // rank 1 still in the group
  Beat(a[0], 1, /*left=*/true);
  Settle();
  auto b = Assigns();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(b[0].trial_id, a[0].trial_id);
}

TEST_F(CoordinatorTest, AFailureReportedByEveryMemberLeavesTheGroupReusable) {
  Make(2, SweepYaml(2));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 1u);
  // A bad setting fails on every rank before any collective: all report, all leave.
  Fail(a[0], 1, Outcome::kCrash, "bad token cache");
  Fail(a[0], 0, Outcome::kCrash, "bad token cache");
  Leave(a[0]);
  Settle();
  EXPECT_TRUE(c_->broken_ranks().empty());
  auto b = Assigns();
  ASSERT_EQ(b.size(), 1u);  // the ranks are used again
  EXPECT_EQ(b[0].ranks, (std::vector<int>{0, 1}));
  // The failed attempt was recorded once, with the first report's message.
  auto att = Attempts(a[0].trial_id);
  ASSERT_GE(att.size(), 1u);
  EXPECT_EQ(OutcomeName(att[0].outcome), std::string("crash"));
  EXPECT_NE(att[0].message.find("rank 1: bad token cache"), std::string::npos) << att[0].message;
  EXPECT_EQ(store_->AttemptOutcomes(a[0].trial_id)[Outcome::kCrash], 1);
}

// The many-nodes issue's case: a non-leader fails, its leader is left in an all-reduce.
TEST_F(CoordinatorTest, ANonLeaderFailureBreaksTheGroupAndEndsTheJobForRequeue) {
  Make(4, SweepYaml(2));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 2u);
  const AssignMsg& bad = a[0].ranks.front() == 0 ? a[0] : a[1];
  const AssignMsg& good = a[0].ranks.front() == 0 ? a[1] : a[0];
  ASSERT_EQ(bad.ranks, (std::vector<int>{0, 1}));
  // Rank 1 fails and goes back to idle; rank 0 stays blocked, beating.
  Fail(bad, 1, Outcome::kCrash, "CUDA out of memory");
  Beat(bad, 1, /*left=*/true);
  Settle();
  EXPECT_EQ(State(bad.trial_id), "pending");  // recorded at once; crash budget left
  EXPECT_NE(Attempts(bad.trial_id)[0].message.find("rank 1: CUDA out of memory"),
            std::string::npos);
  EXPECT_TRUE(net_->Take(kTagCancel).empty());  // not yet: members may still leave
  EXPECT_TRUE(Assigns().empty());               // and rank 1 is not reused meanwhile

  // Heartbeats continue but rank 0 never leaves: past the heartbeat timeout the group is broken.
  for (int t = 0; t < 6; ++t) {
    now_ += 2.5;
    Beat(bad, 0);
    for (int r : good.ranks) Beat(good, r);
    ASSERT_TRUE(Settle());
  }
  EXPECT_EQ(c_->broken_ranks(), (std::set<int>{0, 1}));
  // The healthy group is told to checkpoint and stop.
  auto cancels = net_->Take(kTagCancel);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].dest, good.ranks.front());
  EXPECT_EQ(DecodeCancel(cancels[0].text).trial_id, good.trial_id);
  EXPECT_EQ(DecodeCancel(cancels[0].text).reason, "preempted");
  Fail(good, good.ranks.front(), Outcome::kPreempted, "preempted: checkpoint at step 7");
  Leave(good);
  EXPECT_FALSE(Settle());
  EXPECT_TRUE(Assigns().empty());  // nothing new started while stopping
  // Rank 0 cannot take a Shutdown: the world ends with 75 so the job is requeued.
  try {
    c_->Finish();
    FAIL() << "Finish returned with a broken group";
  } catch (const WorldAborted& e) {
    EXPECT_EQ(e.code(), kExitRequeue);
  }
  EXPECT_EQ(State(good.trial_id), "pending");
  EXPECT_EQ(OutcomeName(Attempts(good.trial_id)[0].outcome), std::string("preempted"));
}

TEST_F(CoordinatorTest, ASilentMemberFailsTheAttemptAndEndsTheJob) {
  Make(2, SweepYaml(2));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 1u);
  // Rank 1 stops (SIGSTOP, a dead node): only rank 0 beats.
  for (int t = 0; t < 2; ++t) {
    now_ += 4;
    Beat(a[0], 0);
    ASSERT_TRUE(Settle());
  }
  EXPECT_TRUE(c_->broken_ranks().empty());  // 8 s of silence: within the 10 s timeout
  now_ += 4;
  Beat(a[0], 0);
  EXPECT_FALSE(Settle());
  EXPECT_EQ(c_->broken_ranks(), (std::set<int>{0, 1}));
  auto att = Attempts(a[0].trial_id);
  ASSERT_EQ(att.size(), 1u);
  EXPECT_EQ(OutcomeName(att[0].outcome), std::string("crash"));
  EXPECT_NE(att[0].message.find("rank 1 silent"), std::string::npos) << att[0].message;
  EXPECT_EQ(State(a[0].trial_id), "pending");
  EXPECT_THROW(c_->Finish(), WorldAborted);
}

TEST_F(CoordinatorTest, ATimeoutCancelsAndAGroupThatIgnoresItIsBroken) {
  Make(2, SweepYaml(1, /*trial_timeout_s=*/30));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 2u);
  now_ += 31;
  for (const auto& x : a) Beat(x, x.ranks[0]);
  Settle();
  auto cancels = net_->Take(kTagCancel);
  ASSERT_EQ(cancels.size(), 2u);
  EXPECT_EQ(DecodeCancel(cancels[0].text).reason, "timeout");
  // One group obeys: checkpoint, report, leave; its trial is retried (timeout budget 1).
  Fail(a[0], a[0].ranks[0], Outcome::kTimeout, "timed out: checkpoint at step 3");
  Leave(a[0]);
  ASSERT_TRUE(Settle());
  auto retry = Assigns();
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].trial_id, a[0].trial_id);
  // The other keeps beating but never stops (a hung step): escalated after the heartbeat
  // timeout, not left waiting for the job's time limit.
  now_ += 11;
  Beat(a[1], a[1].ranks[0]);
  Beat(retry[0], retry[0].ranks[0]);
  Settle();
  auto att = Attempts(a[1].trial_id);
  EXPECT_EQ(OutcomeName(att.back().outcome), std::string("timeout"));
  EXPECT_EQ(c_->broken_ranks(), (std::set<int>{a[1].ranks[0]}));
  // The retry is asked to stop because the job is ending.
  auto stop = net_->Take(kTagCancel);
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_EQ(DecodeCancel(stop[0].text).reason, "preempted");
}

TEST_F(CoordinatorTest, ASignalStopsEveryGroupAndExitsForRequeue) {
  Make(2, SweepYaml(1));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 2u);
  stop_ = true;
  Settle();
  auto cancels = net_->Take(kTagCancel);
  ASSERT_EQ(cancels.size(), 2u);
  for (const auto& x : a) {
    Fail(x, x.ranks[0], Outcome::kPreempted, "preempted: checkpoint at step 5");
    Leave(x);
  }
  EXPECT_FALSE(Settle());
  EXPECT_EQ(c_->Finish(), kExitRequeue);
  EXPECT_EQ(net_->Take(kTagShutdown).size(), 2u);
  for (const auto& x : a) EXPECT_EQ(State(x.trial_id), "pending");
}

TEST_F(CoordinatorTest, AGroupThatIgnoresAPreemptionIsRecordedPreemptedNotTimedOut) {
  Make(1, SweepYaml(1));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 1u);
  stop_ = true;
  Settle();
  ASSERT_EQ(net_->Take(kTagCancel).size(), 1u);
  // The group keeps beating but never stops (say, a long evaluation): after the heartbeat
  // timeout it is broken, and the attempt counts as a preemption, not against retries_timeout.
  now_ += 11;
  Beat(a[0], 0);
  EXPECT_FALSE(Settle());
  auto att = Attempts(a[0].trial_id);
  EXPECT_EQ(OutcomeName(att.at(0).outcome), std::string("preempted"));
  EXPECT_NE(att[0].message.find("(preempted)"), std::string::npos) << att[0].message;
  EXPECT_EQ(State(a[0].trial_id), "pending");
  EXPECT_THROW(c_->Finish(), WorldAborted);
}

// Two moldable trials (seeds 0 and 1, up to 2 ranks each), regrouping after 30 s left.
std::string MoldableYaml(int seeds) {
  std::string y =
      "name: coord\n"
      "dataset: {kind: exp1, names_per_subset: 4, train_templates: 3, test_templates: 2}\n"
      "train: {epochs: 1, batch_size: 4}\n"
      "resources: {group_size: 1, group_size_max: 2}\n"
      "run: {heartbeat_timeout_s: 10, progress_every_s: 1000, regroup_min_remaining_s: 30}\n"
      "seeds: [0";
  for (int i = 1; i < seeds; ++i) y += ", " + std::to_string(i);
  return y + "]\n";
}

TEST_F(CoordinatorTest, AMoldableTrialAloneTakesEveryRank) {
  Make(2, MoldableYaml(1));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ranks, (std::vector<int>{0, 1}));
}

TEST_F(CoordinatorTest, AMoldableTrialMovesToIdleRanksAtACheckpoint) {
  Make(2, MoldableYaml(2));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 2u);  // one rank each
  auto progress = [&](const AssignMsg& x, int64_t step, double elapsed) {
    ProgressMsg m;
    m.attempt_id = x.attempt_id;
    m.row.trial_id = x.trial_id;
    m.row.step = step;
    m.row.total_steps = 100;
    m.row.elapsed_s = elapsed;
    net_->Deliver(x.ranks.front(), kTagProgress, Encode(m));
  };
  // a[1] is 10% done after 10 s: ~90 s left. a[0] finishes; its rank idles.
  progress(a[1], 10, 10);
  Result(a[0]);
  Leave(a[0]);
  now_ += 2;
  ASSERT_TRUE(Settle());
  auto cancels = net_->Take(kTagCancel);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].dest, a[1].ranks.front());
  EXPECT_EQ(DecodeCancel(cancels[0].text).reason, "regroup");
  EXPECT_EQ(DecodeCancel(cancels[0].text).trial_id, a[1].trial_id);
  // Nothing more while that regroup is under way.
  now_ += 2;
  Settle();
  EXPECT_TRUE(net_->Take(kTagCancel).empty());
  // It checkpoints and reports preempted: not a job preemption (the job goes on, no retry
  // budget spent), and it starts again at once on both ranks.
  Fail(a[1], a[1].ranks.front(), Outcome::kPreempted, "regrouped onto more ranks: step 10");
  Leave(a[1]);
  ASSERT_TRUE(Settle());
  auto b = Assigns();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].trial_id, a[1].trial_id);
  EXPECT_EQ(b[0].ranks, (std::vector<int>{0, 1}));
  EXPECT_EQ(b[0].attempt_number, 2);
  EXPECT_EQ(OutcomeName(Attempts(a[1].trial_id).at(0).outcome), std::string("preempted"));
  // Nothing is left to regroup onto: no further Cancel, and it finishes normally.
  now_ += 5;
  Settle();
  EXPECT_TRUE(net_->Take(kTagCancel).empty());
  Result(b[0]);
  Leave(b[0]);
  EXPECT_FALSE(Settle());
  EXPECT_EQ(c_->Finish(), kExitOk);
}

TEST_F(CoordinatorTest, ATrialCloseToDoneIsNotRegrouped) {
  Make(2, MoldableYaml(2));
  Settle();
  auto a = Assigns();
  ASSERT_EQ(a.size(), 2u);
  ProgressMsg m;
  m.attempt_id = a[1].attempt_id;
  m.row.trial_id = a[1].trial_id;
  m.row.step = 90;
  m.row.total_steps = 100;
  m.row.elapsed_s = 90;  // ~10 s left, below regroup_min_remaining_s
  net_->Deliver(a[1].ranks.front(), kTagProgress, Encode(m));
  Result(a[0]);
  Leave(a[0]);
  for (int i = 0; i < 5; ++i) {
    now_ += 2;
    Settle();
  }
  EXPECT_TRUE(net_->Take(kTagCancel).empty());
}

TEST_F(CoordinatorTest, LostAttemptsOfADeadJobAreRecoveredAndALiveJobsAreLeftAlone) {
  for (bool alive : {false, true}) {
    SCOPED_TRACE(alive ? "owner alive" : "owner gone");
    ids_.clear();
    db_name_ = alive ? "alive.db" : "gone.db";
    pre_start_ = [this] {
      // Another job (Slurm job 77) holds the first trial.
      store_->StartAttempt(ids_[0], "77", 0, 1, 0);
    };
    Make(2, SweepYaml(1), [alive](const std::string& j) { return alive && j == "77"; });
    Settle();
    auto a = Assigns();
    if (alive) {
      ASSERT_EQ(a.size(), 1u);  // the other trial only: the first is still job 77's
      EXPECT_NE(a[0].trial_id, ids_[0]);
      EXPECT_EQ(State(ids_[0]), "running");
    } else {
      ASSERT_EQ(a.size(), 2u);
      const AssignMsg& first = a[0].trial_id == ids_[0] ? a[0] : a[1];
      ASSERT_EQ(first.trial_id, ids_[0]);
      EXPECT_EQ(first.attempt_number, 2);
      EXPECT_EQ(OutcomeName(Attempts(ids_[0])[0].outcome), std::string("lost"));
    }
    c_.reset();
    store_.reset();
  }
}

TEST_F(CoordinatorTest, AGroupLargerThanTheWorldFailsWithAMessage) {
  Make(1, SweepYaml(2));
  EXPECT_FALSE(Settle());
  for (const auto& id : ids_) {
    EXPECT_EQ(State(id), "failed");
    EXPECT_NE(Attempts(id)[0].message.find("exceeds the 1 ranks"), std::string::npos);
  }
  EXPECT_EQ(c_->Finish(), kExitFailure);
}

TEST_F(CoordinatorTest, AnUnknownSweepIsAUserError) {
  Make(1, SweepYaml(1));
  CoordinatorOptions o;
  o.sweep = "nope";
  o.quiet = true;
  CoordinatorDeps d;
  d.transport = net_.get();
  d.store = store_.get();
  d.job_id = "x";
  d.status_server = false;
  Coordinator other(o, std::move(d));
  EXPECT_THROW(other.Start(), UserError);
}

}  // namespace
}  // namespace revsweep
