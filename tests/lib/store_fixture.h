// A results store in a fresh temporary folder, and trial rows made from settings: the set-up
// the store, status, summary and export tests share instead of a copy in each file.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/config/settings.h"
#include "common/store/results_store.h"
#include "tests/lib/temp_dir.h"

namespace revsweep::testutil {

// (trial id, settings) rows as UpsertSweep takes them; each id is TrialId(settings).
using TrialRows = std::vector<std::pair<std::string, Settings>>;

inline TrialRows RowsOf(const std::vector<Settings>& settings) {
  TrialRows rows;
  for (const Settings& s : settings) rows.emplace_back(TrialId(s), s);
  return rows;
}

class TempStore {
 public:
  explicit TempStore(const std::string& prefix = "revsweep_store")
      : dir_(prefix), path_(dir_ / "store.db"), store_(path_) {}

  ResultsStore& store() { return store_; }
  ResultsStore* operator->() { return &store_; }
  const std::string& path() const { return path_; }  // the SQLite file
  const std::string& dir() const { return dir_.path(); }

  // Records `settings` as sweep `name` (run folder: dir()); costs default to 1 each. Returns
  // the trial ids in the order given.
  std::vector<std::string> AddSweep(const std::string& name, const std::vector<Settings>& settings,
                                    std::vector<double> costs = {}) {
    const TrialRows rows = RowsOf(settings);
    if (costs.empty()) costs.assign(rows.size(), 1);
    store_.UpsertSweep(name, "name: " + name + "\n", dir(), rows, costs);
    std::vector<std::string> ids;
    for (const auto& row : rows) ids.push_back(row.first);
    return ids;
  }

  // One attempt of `id` on a local job that ends done with `metrics`; returns the attempt id.
  int64_t Finish(const std::string& id, const std::map<std::string, double>& metrics,
                 int64_t params = 0, int64_t end_step = 100) {
    const int64_t attempt = store_.StartAttempt(id, "local-1@host", 0, 1, 0);
    store_.FinishTrial(id, attempt, metrics, params, end_step);
    return attempt;
  }

 private:
  TempDir dir_;
  std::string path_;
  ResultsStore store_;
};

}  // namespace revsweep::testutil
