#include "common/store/results_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/store/store_raw_access.h"
#include "common/user_error.h"
#include "tests/lib/store_fixture.h"

namespace revsweep {
namespace {
namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  testutil::TempDir tmp_{"store_test"};
  fs::path dir_ = tmp_.path();
  std::string path_ = tmp_ / "s.db";
  testutil::TrialRows Rows(int n) {
    std::vector<Settings> settings;
    for (int i = 0; i < n; ++i) {
      settings.push_back({{"train.seed", int64_t{i}}, {"model.size", std::string("tiny")}});
    }
    return testutil::RowsOf(settings);
  }
};

TEST_F(StoreTest, CreatesCurrentSchemaInWalMode) {
  ResultsStore s(path_);
  EXPECT_EQ(s.SchemaVersion(), kStoreSchemaVersion);
  EXPECT_EQ(s.JournalMode(), "wal");
}

TEST_F(StoreTest, UpsertKeepsStateOfExistingTrials) {
  ResultsStore s(path_);
  auto rows = Rows(3);
  EXPECT_EQ(s.UpsertSweep("a", "name: a", "/tmp/a", rows, {1, 2, 3}), 3);
  int64_t att = s.StartAttempt(rows[0].first, "job1", 0, 1, 0);
  ASSERT_GT(att, 0);
  EXPECT_TRUE(s.FinishTrial(rows[0].first, att, {{"acc.x", 0.5}}, 100, 10));
  // A larger sweep containing the same trials: only the new one is added, done stays done.
  auto more = Rows(4);
  EXPECT_EQ(s.UpsertSweep("b", "name: b", "/tmp/b", more, {}), 1);
  EXPECT_EQ(s.Trial(rows[0].first)->state, TrialState::kDone);
  EXPECT_EQ(s.CountByState("b")["done"], 1);
  EXPECT_EQ(s.CountByState("b")["pending"], 3);
  EXPECT_EQ(s.Trials("a").size(), 3u);
}

TEST_F(StoreTest, ClaimIsExclusiveAndFinishIsIdempotent) {
  ResultsStore s(path_);
  auto rows = Rows(1);
  s.UpsertSweep("a", "y", "/tmp/a", rows, {});
  const std::string id = rows[0].first;
  int64_t a1 = s.StartAttempt(id, "job1", 0, 1, 0);
  EXPECT_GT(a1, 0);
  // A second coordinator sharing the store cannot claim a running trial.
  ResultsStore other(path_);
  EXPECT_EQ(other.StartAttempt(id, "job2", 0, 1, 0), 0);
  EXPECT_TRUE(s.FinishTrial(id, a1, {{"acc.p2d.same.heldout", 1.0}}, 7, 5));
  EXPECT_FALSE(other.FinishTrial(id, a1, {{"acc.p2d.same.heldout", 0.0}}, 7, 5));
  EXPECT_DOUBLE_EQ(s.Results(id).at("acc.p2d.same.heldout"), 1.0);
  sqlite3_stmt* st;
  sqlite3_prepare_v2(StoreRawAccess::Db(s), "SELECT count(*) FROM results", -1, &st, nullptr);
  sqlite3_step(st);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  EXPECT_EQ(s.Trial(id)->params, 7);
}

TEST_F(StoreTest, RecoverLostSendsDeadJobsTrialsBackToPending) {
  ResultsStore s(path_);
  auto rows = Rows(2);
  s.UpsertSweep("a", "y", "/tmp/a", rows, {});
  s.StartAttempt(rows[0].first, "dead", 0, 1, 0);
  s.StartAttempt(rows[1].first, "alive", 0, 1, 0);
  int n = s.RecoverLost([](const std::string& j) { return j == "alive"; });
  EXPECT_EQ(n, 1);
  EXPECT_EQ(s.Trial(rows[0].first)->state, TrialState::kPending);
  EXPECT_EQ(s.Trial(rows[1].first)->state, TrialState::kRunning);
  auto att = s.Attempts(rows[0].first);
  ASSERT_EQ(att.size(), 1u);
  EXPECT_EQ(att[0].outcome, Outcome::kLost);
}

TEST_F(StoreTest, EndAttemptRecordsMessageAndNextState) {
  ResultsStore s(path_);
  auto rows = Rows(1);
  s.UpsertSweep("a", "y", "/tmp/a", rows, {});
  int64_t a = s.StartAttempt(rows[0].first, "j", 0, 1, 0);
  s.EndAttempt(a, Outcome::kCrash, "loss is nan at step 3", TrialState::kFailed, 3);
  auto t = s.Trial(rows[0].first);
  EXPECT_EQ(t->state, TrialState::kFailed);
  EXPECT_EQ(t->last_error, "loss is nan at step 3");
  EXPECT_EQ(s.AttemptOutcomes(rows[0].first)[Outcome::kCrash], 1);
  EXPECT_EQ(s.ResetFailed("a"), 1);
  EXPECT_EQ(s.Trial(rows[0].first)->state, TrialState::kPending);
}

TEST_F(StoreTest, ProgressAndLossCurve) {
  ResultsStore s(path_);
  auto rows = Rows(1);
  s.UpsertSweep("a", "y", "/tmp/a", rows, {});
  ProgressRow p;
  p.trial_id = rows[0].first;
  p.step = 5;
  p.total_steps = 10;
  p.loss = 1.5;
  s.WriteProgress({p}, {{rows[0].first, 5, 1.5}, {rows[0].first, 3, 2.0}});
  auto pr = s.Progress("a");
  ASSERT_EQ(pr.size(), 1u);
  EXPECT_EQ(pr[0].step, 5);
  auto c = s.LossCurve(rows[0].first);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].first, 3);
}

TEST_F(StoreTest, MigratesVersionOneStore) {
  {
    sqlite3* db;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    StoreRawAccess::MigrateTo(db, 1);
    sqlite3_exec(db,
                 "INSERT INTO trials(id, settings, created_at, updated_at) "
                 "VALUES('t1', '{\"train.seed\":1}', 0, 0)",
                 nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  ResultsStore s(path_);
  EXPECT_EQ(s.SchemaVersion(), kStoreSchemaVersion);
  EXPECT_TRUE(s.Trial("t1").has_value());
  JobRow j;
  j.job_id = "42";
  j.sweep = "a";
  j.kind = "slurm";
  s.UpsertJob(j);  // table added by migration 1 -> 2
  EXPECT_EQ(s.Jobs("a").size(), 1u);
}

TEST_F(StoreTest, RejectsNewerSchemaDirectoryAndGarbage) {
  {
    sqlite3* db;
    sqlite3_open(path_.c_str(), &db);
    StoreRawAccess::MigrateTo(db, kStoreSchemaVersion);
    sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema_version'", nullptr, nullptr,
                 nullptr);
    sqlite3_close(db);
  }
  EXPECT_THROW(ResultsStore s(path_), UserError);
  EXPECT_THROW(ResultsStore s(dir_.string()), UserError);
  std::string junk = (dir_ / "junk.db").string();
  std::ofstream(junk) << "this is not a database, just text that is long enough to matter......";
  try {
    ResultsStore s(junk);
    FAIL() << "opened garbage";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("not a revsweep store"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ResultsStore s((dir_ / "missing.db").string(), /*readonly=*/true), UserError);
}

// The narrow rows (trigger-maintained copies in sweep_trials) must equal what the full rows
// and progress rows say, after every kind of state change.
void ExpectStatesMatch(ResultsStore& s, const std::string& sweep) {
  std::vector<TrialRow> full = s.Trials(sweep);
  std::map<std::string, ProgressRow> prog;
  for (const ProgressRow& p : s.Progress(sweep)) prog[p.trial_id] = p;
  std::vector<TrialStateRow> narrow = s.TrialStates(sweep);
  ASSERT_EQ(narrow.size(), full.size());
  std::sort(narrow.begin(), narrow.end(),
            [](const TrialStateRow& a, const TrialStateRow& b) { return a.ord < b.ord; });
  for (size_t i = 0; i < full.size(); ++i) {
    SCOPED_TRACE(sweep + " trial " + full[i].id);
    EXPECT_EQ(narrow[i].id, full[i].id);  // ord gives store order
    EXPECT_EQ(narrow[i].state, full[i].state);
    EXPECT_EQ(narrow[i].cost, full[i].cost);
    EXPECT_EQ(narrow[i].attempts, full[i].attempts);
    EXPECT_EQ(narrow[i].updated_at, full[i].updated_at);
    auto it = prog.find(full[i].id);
    EXPECT_EQ(narrow[i].has_progress, it != prog.end());
    if (it != prog.end()) {
      EXPECT_EQ(narrow[i].step, it->second.step);
      EXPECT_EQ(narrow[i].total_steps, it->second.total_steps);
      EXPECT_EQ(narrow[i].elapsed_s, it->second.elapsed_s);
    }
  }
  std::map<std::string, int> counts{{"pending", 0}, {"running", 0}, {"done", 0}, {"failed", 0}};
  for (const TrialRow& t : full) ++counts[TrialStateName(t.state)];
  EXPECT_EQ(s.CountByState(sweep), counts);
}

TEST_F(StoreTest, TrialStatesFollowEveryStateChange) {
  ResultsStore s(path_);
  auto rows = Rows(4);
  s.UpsertSweep("a", "y", "/tmp/a", rows, {1, 2, 3, 4});
  ExpectStatesMatch(s, "a");
  int64_t a0 = s.StartAttempt(rows[0].first, "j", 0, 1, 0);
  int64_t a1 = s.StartAttempt(rows[1].first, "j", 0, 1, 0);
  int64_t a2 = s.StartAttempt(rows[2].first, "j", 0, 1, 0);
  ExpectStatesMatch(s, "a");
  ProgressRow p;
  p.trial_id = rows[0].first;
  p.step = 5;
  p.total_steps = 20;
  p.elapsed_s = 1.5;
  s.WriteProgress({p}, {});
  p.step = 7;
  p.elapsed_s = 2.5;
  s.WriteProgress({p}, {});  // second write: the upsert path
  ExpectStatesMatch(s, "a");
  EXPECT_TRUE(s.FinishTrial(rows[0].first, a0, {{"m", 1}}, 10, 20));
  s.EndAttempt(a1, Outcome::kCrash, "boom", TrialState::kFailed, 3);
  s.EndAttempt(a2, Outcome::kPreempted, "", TrialState::kPending, 3);
  ExpectStatesMatch(s, "a");
  EXPECT_EQ(s.ResetFailed("a"), 1);
  ExpectStatesMatch(s, "a");
  // A second sweep sharing trials: the link copies the shared trials' current state and
  // progress; later changes reach both sweeps.
  auto more = Rows(6);
  s.UpsertSweep("b", "y", "/tmp/b", more, {});
  ExpectStatesMatch(s, "b");
  int64_t a3 = s.StartAttempt(rows[3].first, "j", 0, 1, 0);
  ASSERT_GT(a3, 0);
  ExpectStatesMatch(s, "a");
  ExpectStatesMatch(s, "b");
  // Upserting the same sweep again keeps the copies (no reset to pending).
  s.UpsertSweep("a", "y", "/tmp/a", rows, {1, 2, 3, 4});
  ExpectStatesMatch(s, "a");
  EXPECT_EQ(s.CountByState("a")["done"], 1);
  EXPECT_EQ(s.CountByState("a")["running"], 1);
}

TEST_F(StoreTest, VaryingKeysAreRecordedAndMerged) {
  ResultsStore s(path_);
  auto rows = Rows(3);  // vary train.seed only
  s.UpsertSweep("a", "y", "/tmp/a", rows, {});
  EXPECT_EQ(s.VaryingKeys("a"), std::vector<std::string>{"train.seed"});
  // One trial alone varies nothing; adding a trial with another size makes model.size vary.
  s.UpsertSweep("c", "y", "/tmp/c", {rows[0]}, {});
  EXPECT_TRUE(s.VaryingKeys("c").empty());
  Settings other = rows[0].second;
  other["model.size"] = std::string("small");
  s.UpsertSweep("c", "y", "/tmp/c", {{TrialId(other), other}}, {});
  EXPECT_EQ(s.VaryingKeys("c"), std::vector<std::string>{"model.size"});
  EXPECT_TRUE(s.VaryingKeys("no-such-sweep").empty());
}

TEST_F(StoreTest, MigratesVersionThreeStoreWithStatusCopies) {
  {
    sqlite3* db;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    StoreRawAccess::MigrateTo(db, 3);
    const char* sql =
        "INSERT INTO sweeps(name, yaml, run_dir, created_at, updated_at) VALUES('a','y','/r',0,0);"
        "INSERT INTO trials(id, settings, state, cost, attempts, created_at, updated_at) VALUES"
        " ('t1', '{\"train.seed\":1}', 'done', 5, 1, 0, 7),"
        " ('t2', '{\"train.seed\":2}', 'running', 6, 2, 0, 8),"
        " ('t3', '{\"train.seed\":3}', 'pending', 7, 0, 0, 9);"
        "INSERT INTO sweep_trials(sweep, trial_id, ord) "
        "VALUES('a','t1',0),('a','t2',1),('a','t3',2);"
        "INSERT INTO progress(trial_id, step, total_steps, loss, tokens_per_s, elapsed_s, "
        " updated_at) VALUES('t2', 4, 10, 1.0, 100, 3.5, 8);";
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  ResultsStore s(path_);
  EXPECT_EQ(s.SchemaVersion(), kStoreSchemaVersion);
  ExpectStatesMatch(s, "a");
  EXPECT_EQ(s.CountByState("a")["running"], 1);
  // Not recorded by the old version: computed from the trials.
  EXPECT_EQ(s.VaryingKeys("a"), std::vector<std::string>{"train.seed"});
}

TEST_F(StoreTest, ReaderDoesNotBlockWriter) {
  ResultsStore w(path_);
  auto rows = Rows(2);
  w.UpsertSweep("a", "y", "/tmp/a", rows, {});
  ResultsStore r(path_, /*readonly=*/true);
  // Hold a read transaction open while the writer commits.
  sqlite3_exec(StoreRawAccess::Db(r), "BEGIN", nullptr, nullptr, nullptr);
  EXPECT_EQ(r.Trials("a").size(), 2u);
  int64_t a = w.StartAttempt(rows[0].first, "j", 0, 1, 0);
  EXPECT_GT(a, 0);
  EXPECT_TRUE(w.FinishTrial(rows[0].first, a, {{"m", 1}}, 1, 1));
  sqlite3_exec(StoreRawAccess::Db(r), "COMMIT", nullptr, nullptr, nullptr);
  EXPECT_EQ(r.CountByState("a")["done"], 1);
}

}  // namespace
}  // namespace revsweep

namespace revsweep {
namespace {

TEST(ResultsStoreStates, NamesRoundTripAndUnknownOnesAreErrors) {
  for (TrialState s :
       {TrialState::kPending, TrialState::kRunning, TrialState::kDone, TrialState::kFailed})
    EXPECT_EQ(TrialStateFromName(TrialStateName(s)), s);
  for (Outcome o : {Outcome::kRunning, Outcome::kDone, Outcome::kFailed, Outcome::kCrash,
                    Outcome::kTimeout, Outcome::kPreempted, Outcome::kLost, Outcome::kFatal})
    EXPECT_EQ(OutcomeFromName(OutcomeName(o)), o);
  // Before, an unknown state read back as pending: a trial would have been trained again.
  EXPECT_THROW(TrialStateFromName("paused"), std::runtime_error);
  EXPECT_THROW(TrialStateFromName(""), std::runtime_error);
  EXPECT_THROW(OutcomeFromName("oom"), std::runtime_error);
}

}  // namespace
}  // namespace revsweep
