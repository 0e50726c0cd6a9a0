// ResultsStore::LoadSweepData: a sweep's trials and results in the compact form summaries
// of large sweeps read (see SweepData in results_store.h).
#include <sqlite3.h>

#include <algorithm>
#include <future>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/store/results_store.h"
#include "common/store/store_sql.h"

namespace revsweep {

using store_sql::Stmt;

Settings SweepData::FullSettings(size_t i) const {
  const Trial& t = trials[i];
  return t.base < 0 ? t.own : Overlay(bases[t.base], t.own);
}

namespace {

// A sweep's result rows as read, in runs of one trial each (the results table's key is
// (trial_id, key), so each trial's rows normally form one run, in trial id order).
struct ResultRuns {
  std::vector<std::string> id;     // per run
  std::vector<uint32_t> begin;     // per run: first row
  std::vector<std::string> names;  // interned metric names
  std::vector<uint32_t> key;       // per row
  std::vector<double> value;       // per row
  bool one_run_per_trial = true;   // false if run ids are not strictly increasing
};

ResultRuns ReadResultRuns(sqlite3* db, const std::string& sweep) {
  ResultRuns out;
  Stmt s(db,
         "SELECT r.trial_id, r.key, r.value FROM sweep_trials st JOIN results r "
         "ON r.trial_id = st.trial_id WHERE st.sweep=?");
  s.Bind(1, sweep);
  std::unordered_map<std::string, uint32_t> name_index;
  std::string key;
  while (s.Step()) {
    const char* id = s.TextPtr(0);
    if (out.id.empty() || out.id.back() != id) {
      if (!out.id.empty() && !(out.id.back() < id)) out.one_run_per_trial = false;
      out.id.emplace_back(id);
      out.begin.push_back(static_cast<uint32_t>(out.key.size()));
    }
    key = s.TextPtr(1);
    auto [n, added] = name_index.try_emplace(key, static_cast<uint32_t>(out.names.size()));
    if (added) out.names.push_back(key);
    out.key.push_back(n->second);
    out.value.push_back(s.Double(2));
  }
  return out;
}

}  // namespace

SweepData ResultsStore::LoadSweepData(const std::string& sweep) {
  SweepData out;
  // In the sweep's key order (trial id), which also walks `trials` in its key order; store
  // order (ord) is restored below. SQLite's ORDER BY st.ord sorted the whole rows in a temp
  // B-tree instead (~0.08 s at 100k trials).
  Stmt s(db_,
         "SELECT t.id, t.settings, t.state, t.params, t.base_id, st.ord FROM sweep_trials st "
         "JOIN trials t ON t.id = st.trial_id WHERE st.sweep=?");
  s.Bind(1, sweep);
  // Results are read on a second connection in a thread while this one parses the trials
  // (the two halves take about as long). Consistency: the results read starts after the
  // trials statement has its snapshot, so it sees the same or a later state; results are
  // written in the transaction that marks a trial done and never removed, so every trial read
  // as done has all its results. (A trial that finishes in between is read as not done.)
  // A store without a file (in memory) is read on this connection only.
  bool more = s.Step();
  sqlite3* second = nullptr;
  const char* file = sqlite3_db_filename(db_, "main");
  if (file && *file &&
      sqlite3_open_v2(file, &second, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
          SQLITE_OK) {
    sqlite3_close(second);
    second = nullptr;
  }
  std::future<ResultRuns> runs_future;
  if (second) {
    sqlite3_busy_timeout(second, 30000);
    runs_future = std::async(std::launch::async, [second, &sweep] {
      struct Close {
        sqlite3* db;
        ~Close() { sqlite3_close(db); }
      } close{second};
      return ReadResultRuns(second, sweep);
    });
  }
  std::map<int64_t, int> base_index;  // settings_base.id -> index into out.bases
  std::vector<int64_t> ord;
  for (; more; more = s.Step()) {
    ord.push_back(s.Int(5));
    SweepData::Trial t;
    t.id = s.Text(0);
    t.own = SettingsFromJson(s.Text(1));
    t.state = TrialStateFromName(s.TextPtr(2));
    t.params = s.Int(3);
    if (!s.IsNull(4)) {
      auto [it, added] = base_index.try_emplace(s.Int(4), static_cast<int>(out.bases.size()));
      if (added) out.bases.push_back(store_sql::ReadSettingsBase(db_, it->first));
      t.base = it->second;
    }
    out.trials.push_back(std::move(t));
  }
  s.Reset();  // ends this connection's read
  if (!std::is_sorted(ord.begin(), ord.end())) {
    std::vector<uint32_t> by_ord(ord.size());
    for (uint32_t i = 0; i < by_ord.size(); ++i) by_ord[i] = i;
    std::sort(by_ord.begin(), by_ord.end(), [&ord](uint32_t a, uint32_t b) {
      return ord[a] != ord[b] ? ord[a] < ord[b] : a < b;
    });
    std::vector<SweepData::Trial> sorted;
    sorted.reserve(by_ord.size());
    for (uint32_t i : by_ord) sorted.push_back(std::move(out.trials[i]));
    out.trials = std::move(sorted);
  }
  ResultRuns runs;
  bool have_runs = false;
  if (second) {
    try {
      runs = runs_future.get();
      have_runs = true;
    } catch (const std::exception&) {
      // e.g. a second reader refused by the file's permissions: read here instead (still a
      // later snapshot than the trials').
    }
  }
  if (!have_runs) runs = ReadResultRuns(db_, sweep);

  std::unordered_map<std::string_view, uint32_t> trial_index;
  trial_index.reserve(out.trials.size());
  for (size_t i = 0; i < out.trials.size(); ++i) trial_index.emplace(out.trials[i].id, i);
  out.metric_names = std::move(runs.names);
  const size_t n_runs = runs.id.size();
  runs.begin.push_back(static_cast<uint32_t>(runs.key.size()));
  if (runs.one_run_per_trial) {
    out.metric_key = std::move(runs.key);
    out.metric_value = std::move(runs.value);
    for (size_t r = 0; r < n_runs; ++r) {
      auto it = trial_index.find(runs.id[r]);
      if (it == trial_index.end()) continue;  // joined the sweep after the trials were read
      out.trials[it->second].metrics_begin = runs.begin[r];
      out.trials[it->second].metrics_end = runs.begin[r + 1];
    }
    return out;
  }
  // A planner that interleaves trials: regroup the rows by trial.
  std::vector<std::vector<uint32_t>> rows_of(out.trials.size());
  for (size_t r = 0; r < n_runs; ++r) {
    auto it = trial_index.find(runs.id[r]);
    if (it == trial_index.end()) continue;
    for (uint32_t row = runs.begin[r]; row < runs.begin[r + 1]; ++row) {
      rows_of[it->second].push_back(row);
    }
  }
  for (size_t i = 0; i < out.trials.size(); ++i) {
    std::sort(rows_of[i].begin(), rows_of[i].end(), [&](uint32_t a, uint32_t b) {
      return out.metric_names[runs.key[a]] < out.metric_names[runs.key[b]];
    });
    out.trials[i].metrics_begin = static_cast<uint32_t>(out.metric_key.size());
    for (uint32_t row : rows_of[i]) {
      out.metric_key.push_back(runs.key[row]);
      out.metric_value.push_back(runs.value[row]);
    }
    out.trials[i].metrics_end = static_cast<uint32_t>(out.metric_key.size());
  }
  return out;
}

}  // namespace revsweep
