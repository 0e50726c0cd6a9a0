// ResultsStore (results_store.h): attempts, progress, results and jobs: what the coordinator
// writes while a sweep runs. Sweeps and trials are in results_store.cc, the schema and its
// migrations in store_schema.cc, LoadSweepData in sweep_data.cc.
#include <sqlite3.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/store/results_store.h"
#include "common/store/store_sql.h"

namespace revsweep {
namespace {

using store_sql::Now;
using store_sql::Stmt;
using store_sql::Txn;

// Columns: trial_id, step, total_steps, loss, tokens_per_s, elapsed_s, updated_at.
ProgressRow ReadProgress(Stmt& s) {
  ProgressRow r;
  r.trial_id = s.Text(0);
  r.step = s.Int(1);
  r.total_steps = s.Int(2);
  r.loss = s.Double(3);
  r.tokens_per_s = s.Double(4);
  r.elapsed_s = s.Double(5);
  r.updated_at = s.Double(6);
  return r;
}

AttemptRow ReadAttempt(Stmt& s) {
  AttemptRow a;
  a.id = s.Int(0);
  a.trial_id = s.Text(1);
  a.job_id = s.Text(2);
  a.slurm_restart = static_cast<int>(s.Int(3));
  a.ranks = static_cast<int>(s.Int(4));
  a.started_at = s.Double(5);
  a.ended_at = s.Double(6);
  a.outcome = OutcomeFromName(s.Text(7));
  a.message = s.Text(8);
  a.start_step = s.Int(9);
  a.end_step = s.Int(10);
  return a;
}

constexpr const char* kAttemptCols =
    "id, trial_id, job_id, slurm_restart, ranks, started_at, ended_at, outcome, message, "
    "start_step, end_step";

}  // namespace

int64_t ResultsStore::StartAttempt(const std::string& trial_id, const std::string& job_id,
                                   int slurm_restart, int ranks, int64_t start_step) {
  const double now = Now();
  Txn txn(db_);
  Stmt claim(db_,
             "UPDATE trials SET state='running', attempts=attempts+1, updated_at=? "
             "WHERE id=? AND state='pending'");
  claim.Bind(1, now).Bind(2, trial_id).Run();
  if (sqlite3_changes(db_) != 1) return 0;  // rolled back by ~Txn
  Stmt ins(db_,
           "INSERT INTO attempts(trial_id, job_id, slurm_restart, ranks, started_at, outcome, "
           "start_step, end_step) VALUES(?,?,?,?,?,'running',?,?)");
  ins.Bind(1, trial_id).Bind(2, job_id).Bind(3, slurm_restart).Bind(4, ranks).Bind(5, now);
  ins.Bind(6, start_step).Bind(7, start_step).Run();
  int64_t id = sqlite3_last_insert_rowid(db_);
  txn.Commit();
  return id;
}

bool ResultsStore::FinishTrial(const std::string& trial_id, int64_t attempt_id,
                               const std::map<std::string, double>& metrics, int64_t params,
                               int64_t end_step) {
  const double now = Now();
  Txn txn(db_);
  Stmt st(db_, "SELECT state FROM trials WHERE id=?");
  st.Bind(1, trial_id);
  if (!st.Step() || st.Text(0) == "done") return false;
  Stmt res(db_, "INSERT OR REPLACE INTO results(trial_id, key, value) VALUES(?,?,?)");
  for (const auto& [k, v] : metrics) {
    res.Reset();
    res.Bind(1, trial_id).Bind(2, k).Bind(3, v).Run();
  }
  Stmt att(db_, "UPDATE attempts SET outcome='done', ended_at=?, end_step=? WHERE id=?");
  att.Bind(1, now).Bind(2, end_step).Bind(3, attempt_id).Run();
  Stmt tr(db_, "UPDATE trials SET state='done', params=?, last_error='', updated_at=? WHERE id=?");
  tr.Bind(1, params).Bind(2, now).Bind(3, trial_id).Run();
  txn.Commit();
  return true;
}

void ResultsStore::EndAttempt(int64_t attempt_id, Outcome outcome, const std::string& message,
                              TrialState next, int64_t end_step) {
  const double now = Now();
  Txn txn(db_);
  Stmt a(db_, "SELECT trial_id FROM attempts WHERE id=? AND outcome='running'");
  a.Bind(1, attempt_id);
  if (!a.Step()) return;  // already closed: nothing to do (idempotent)
  std::string trial_id = a.Text(0);
  Stmt att(db_, "UPDATE attempts SET outcome=?, message=?, ended_at=?, end_step=? WHERE id=?");
  att.Bind(1, OutcomeName(outcome)).Bind(2, message).Bind(3, now).Bind(4, end_step);
  att.Bind(5, attempt_id).Run();
  Stmt tr(db_,
          "UPDATE trials SET state=?, last_error=CASE WHEN ?='' THEN last_error ELSE ? END, "
          "updated_at=? WHERE id=? AND state='running'");
  tr.Bind(1, TrialStateName(next)).Bind(2, message).Bind(3, message).Bind(4, now);
  tr.Bind(5, trial_id).Run();
  txn.Commit();
}

std::vector<AttemptRow> ResultsStore::Attempts(const std::string& trial_id) {
  Stmt s(db_,
         (std::string("SELECT ") + kAttemptCols + " FROM attempts WHERE trial_id=? ORDER BY id")
             .c_str());
  s.Bind(1, trial_id);
  std::vector<AttemptRow> out;
  while (s.Step()) out.push_back(ReadAttempt(s));
  return out;
}

std::map<Outcome, int> ResultsStore::AttemptOutcomes(const std::string& trial_id) {
  Stmt s(db_, "SELECT outcome, count(*) FROM attempts WHERE trial_id=? GROUP BY outcome");
  s.Bind(1, trial_id);
  std::map<Outcome, int> out;
  while (s.Step()) out[OutcomeFromName(s.Text(0))] = static_cast<int>(s.Int(1));
  return out;
}

std::vector<AttemptRow> ResultsStore::RunningAttempts() {
  Stmt s(db_, (std::string("SELECT ") + kAttemptCols +
               " FROM attempts WHERE outcome='running' ORDER BY id")
                  .c_str());
  std::vector<AttemptRow> out;
  while (s.Step()) out.push_back(ReadAttempt(s));
  return out;
}

void ResultsStore::SetAttemptStartStep(int64_t attempt_id, int64_t step) {
  Stmt s(db_, "UPDATE attempts SET start_step=?, end_step=max(end_step, ?) WHERE id=?");
  s.Bind(1, step).Bind(2, step).Bind(3, attempt_id).Run();
}

void ResultsStore::WriteProgress(
    const std::vector<ProgressRow>& rows,
    const std::vector<std::tuple<std::string, int64_t, double>>& curve_points) {
  if (rows.empty() && curve_points.empty()) return;
  Txn txn(db_);
  Stmt p(db_,
         "INSERT OR REPLACE INTO progress(trial_id, step, total_steps, loss, tokens_per_s, "
         "elapsed_s, updated_at) VALUES(?,?,?,?,?,?,?)");
  for (const ProgressRow& r : rows) {
    p.Reset();
    p.Bind(1, r.trial_id).Bind(2, r.step).Bind(3, r.total_steps).Bind(4, r.loss);
    p.Bind(5, r.tokens_per_s).Bind(6, r.elapsed_s).Bind(7, r.updated_at > 0 ? r.updated_at : Now());
    p.Run();
  }
  Stmt c(db_, "INSERT OR REPLACE INTO loss_curve(trial_id, step, loss) VALUES(?,?,?)");
  for (const auto& [id, step, loss] : curve_points) {
    c.Reset();
    c.Bind(1, id).Bind(2, step).Bind(3, loss).Run();
  }
  txn.Commit();
}

std::optional<ProgressRow> ResultsStore::TrialProgress(const std::string& trial_id) {
  Stmt s(db_,
         "SELECT trial_id, step, total_steps, loss, tokens_per_s, elapsed_s, updated_at "
         "FROM progress WHERE trial_id=?");
  s.Bind(1, trial_id);
  if (!s.Step()) return std::nullopt;
  return ReadProgress(s);
}

std::vector<ProgressRow> ResultsStore::Progress(const std::string& sweep) {
  Stmt s(db_,
         "SELECT p.trial_id, p.step, p.total_steps, p.loss, p.tokens_per_s, p.elapsed_s, "
         "p.updated_at FROM sweep_trials st JOIN progress p ON p.trial_id = st.trial_id "
         "WHERE st.sweep=? ORDER BY st.ord");
  s.Bind(1, sweep);
  std::vector<ProgressRow> out;
  while (s.Step()) out.push_back(ReadProgress(s));
  return out;
}

std::vector<std::pair<int64_t, double>> ResultsStore::LossCurve(const std::string& trial_id) {
  Stmt s(db_, "SELECT step, loss FROM loss_curve WHERE trial_id=? ORDER BY step");
  s.Bind(1, trial_id);
  std::vector<std::pair<int64_t, double>> out;
  while (s.Step()) out.emplace_back(s.Int(0), s.Double(1));
  return out;
}

std::map<std::string, double> ResultsStore::Results(const std::string& trial_id) {
  Stmt s(db_, "SELECT key, value FROM results WHERE trial_id=?");
  s.Bind(1, trial_id);
  std::map<std::string, double> out;
  while (s.Step()) out[s.Text(0)] = s.Double(1);
  return out;
}

std::map<std::string, std::map<std::string, double>> ResultsStore::SweepResults(
    const std::string& sweep) {
  Stmt s(db_,
         "SELECT r.trial_id, r.key, r.value FROM sweep_trials st JOIN results r "
         "ON r.trial_id = st.trial_id WHERE st.sweep=?");
  s.Bind(1, sweep);
  std::map<std::string, std::map<std::string, double>> out;
  // Rows come in (trial id, key) order, the results table's key: append with end hints
  // instead of a tree descent per row (100k trials x ~14 metrics).
  std::map<std::string, double>* cur = nullptr;
  std::string last_id;
  while (s.Step()) {
    const char* id = s.TextPtr(0);
    if (!cur || last_id != id) {
      last_id = id;
      cur = &out.emplace_hint(out.end(), last_id, std::map<std::string, double>())->second;
    }
    cur->emplace_hint(cur->end(), s.TextPtr(1), s.Double(2));
  }
  return out;
}

void ResultsStore::UpsertJob(const JobRow& job) {
  Stmt s(db_,
         "INSERT INTO jobs(job_id, sweep, kind, state, submitted_at, info) VALUES(?,?,?,?,?,?) "
         "ON CONFLICT(job_id) DO UPDATE SET state=excluded.state, info=excluded.info");
  s.Bind(1, job.job_id).Bind(2, job.sweep).Bind(3, job.kind).Bind(4, job.state);
  s.Bind(5, job.submitted_at > 0 ? job.submitted_at : Now()).Bind(6, job.info).Run();
}

std::vector<JobRow> ResultsStore::Jobs(const std::string& sweep) {
  Stmt s(db_,
         "SELECT job_id, sweep, kind, state, submitted_at, info FROM jobs WHERE sweep=? "
         "ORDER BY submitted_at");
  s.Bind(1, sweep);
  std::vector<JobRow> out;
  while (s.Step()) {
    JobRow j;
    j.job_id = s.Text(0);
    j.sweep = s.Text(1);
    j.kind = s.Text(2);
    j.state = s.Text(3);
    j.submitted_at = s.Double(4);
    j.info = s.Text(5);
    out.push_back(j);
  }
  return out;
}

int ResultsStore::ResetFailed(const std::string& sweep) {
  Stmt s(db_,
         "UPDATE trials SET state='pending' WHERE state='failed' AND id IN "
         "(SELECT trial_id FROM sweep_trials WHERE sweep=?)");
  s.Bind(1, sweep).Run();
  return sqlite3_changes(db_);
}

}  // namespace revsweep
