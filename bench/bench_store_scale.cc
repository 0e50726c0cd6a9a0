// Store, status and summary at 100k trials: does the results store stay fast when a sweep is
// large? Times, each against a goal and against a baseline measured in the same run:
//   (a) expand 100k trials into settings maps + ids and insert them with one UpsertSweep
//       (goal 2 s; baseline: one transaction per trial, measured on the first 2k and
//       extrapolated);
//   (b) `revsweep status` as it runs: TakeSnapshot(kActive) + the text and Prometheus
//       renderers, with 8 running and 20 failed trials among 100k (goal 100 ms; baseline: the
//       full snapshot of every trial with its settings, what status read before schema v4);
//   (c) the `revsweep summary` path over 100k done trials with results, 25k settings x 4 seeds
//       with 13 metrics each: LoadSweepData + SummarizeSweep + table render + freeing it
//       (goal 1 s; baseline: the row form it replaced, Trials + SweepResults + BuildSummary +
//       render + free).
// Usage: bench_store_scale [--trials N] [--dir DIR]   (DIR: where the store files go;
// default a fresh folder under $TMPDIR or /tmp, removed at the end).
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_grid.h"
#include "common/config/settings.h"
#include "common/config/sweep_config.h"
#include "common/store/results_store.h"
#include "common/store/store_raw_access.h"
#include "scheduler/status/status_report.h"
#include "scheduler/summary/summary.h"
#include "scheduler/summary/summary_render.h"

namespace revsweep {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Wall and CPU seconds of one step. CPU time is printed too because shared build machines
// are often oversubscribed: wall time then measures the queue, CPU time the work (except for
// steps that wait on fsync, where wall time is the real cost).
struct Timing {
  double wall = 0, cpu = 0;
};
Timing Measure(const std::function<void()>& f) {
  const double c0 = CpuNow();
  const auto t0 = Clock::now();
  f();
  return {Seconds(t0), CpuNow() - c0};
}
// Median (by wall time) of `reps` runs, for the short queries.
Timing MedianOf(int reps, const std::function<void()>& f) {
  std::vector<Timing> t;
  for (int i = 0; i < reps; ++i) t.push_back(Measure(f));
  std::sort(t.begin(), t.end(), [](const Timing& a, const Timing& b) { return a.wall < b.wall; });
  return t[t.size() / 2];
}

std::string Time(double s) {
  char b[32];
  if (s < 1) {
    snprintf(b, sizeof(b), "%.1f ms", s * 1e3);
  } else {
    snprintf(b, sizeof(b), "%.2f s", s);
  }
  return b;
}

// "insert 100k: 0.84 s (cpu 0.80 s; goal 2 s, 2.4x under goal; 31x faster than per-row
// transactions: 26 s)". Ratios use wall time.
void Report(const std::string& what, const Timing& t, double goal, const char* goal_text,
            double baseline, const char* faster_than) {
  const double g = goal / t.wall;
  const double b = baseline / t.wall;
  char ratio[64];
  if (b >= 1) {
    snprintf(ratio, sizeof(ratio), "%.1fx faster than", b);
  } else {
    snprintf(ratio, sizeof(ratio), "%.1fx slower than", 1 / b);
  }
  printf("%-22s %9s (cpu %s; goal %s, %.1fx %s goal; %s %s: %s)\n", (what + ":").c_str(),
         Time(t.wall).c_str(), Time(t.cpu).c_str(), goal_text, g >= 1 ? g : 1 / g,
         g >= 1 ? "under" : "OVER", ratio, faster_than, Time(baseline).c_str());
}

// Deterministic value in [0, 1) from a trial id and a salt.
double Unit(const std::string& id, uint64_t salt) {
  const uint64_t h = Fnv1a64(id.data(), id.size(), 0xcbf29ce484222325ULL ^ (salt * 0x9e37));
  return static_cast<double>(h >> 11) / 9007199254740992.0;
}

struct Expanded {
  std::vector<std::pair<std::string, Settings>> trials;
  std::vector<double> costs;
  std::vector<int64_t> params;
};

// The bench grid (bench/bench_grid.h): the first n trials in grid order. Every schema key is
// present, as after LoadSweepConfig.
Expanded Expand(int n) {
  Settings base;
  for (const SchemaEntry& e : TrialSchema()) base[e.key] = e.default_value;
  Expanded out;
  out.trials.reserve(n);
  for (int i = 0; i < n; ++i) {
    const bench_grid::Point p = bench_grid::At(i);
    Settings s = base;
    bench_grid::Apply(p, &s);
    const ModelPreset* preset = nullptr;
    for (const auto& m : ModelPresets()) {
      if (m.name == bench_grid::kSizes[p.size]) preset = &m;
    }
    s["model.n_layer"] = static_cast<int64_t>(preset->n_layer);
    s["model.n_head"] = static_cast<int64_t>(preset->n_head);
    s["model.d_model"] = static_cast<int64_t>(preset->d_model);
    const int64_t d = preset->d_model;
    const int64_t params = 12 * preset->n_layer * d * d + 1000 * d;
    out.trials.emplace_back(TrialId(s), std::move(s));
    out.costs.push_back(static_cast<double>(params) * 3600 * 20);
    out.params.push_back(params);
  }
  return out;
}

std::map<std::string, double> FakeMetrics(const std::string& id, int64_t params) {
  std::map<std::string, double> m;
  int salt = 0;
  for (const char* subset : {"p2d", "d2p"}) {
    for (const char* dir : {"same", "reverse"}) {
      for (const char* split : {"train", "heldout"}) {
        const std::string cell = std::string(subset) + "." + dir + "." + split;
        const double base = std::string(dir) == "same" ? 0.3 + 0.6 * (split[0] == 't') : 0.0;
        m["acc." + cell] = std::round((base + 0.05 * Unit(id, ++salt)) * 300) / 300;
      }
    }
  }
  m["chance.p2d.reverse.heldout"] = 0.033;
  m["chance.d2p.reverse.heldout"] = 0.033;
  m["likelihood.p"] = Unit(id, 100);
  m["likelihood.t"] = Unit(id, 101) * 2 - 1;
  m["loss.final"] =
      (0.02 + 300 / std::pow(static_cast<double>(params), 0.6)) * (1 + 0.05 * Unit(id, 102));
  return m;
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s\n", err ? err : "?");
    std::exit(1);
  }
}

// Setup, not timed against a goal: marks every trial done with its metrics in one
// transaction, straight through the store's SQLite handle (FinishTrial is one durable
// transaction per trial; 100k of them would measure the disk, not the queries).
constexpr int kRunning = 8, kFailed = 20;  // trials left active for the status step

void MarkAllDone(ResultsStore& store, const Expanded& e) {
  sqlite3* db = StoreRawAccess::Db(store);
  Exec(db, "BEGIN IMMEDIATE");
  sqlite3_stmt *tr = nullptr, *res = nullptr;
  sqlite3_prepare_v2(db, "UPDATE trials SET state='done', params=? WHERE id=?", -1, &tr, nullptr);
  sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO results(trial_id, key, value) VALUES(?,?,?)", -1,
                     &res, nullptr);
  const size_t n_done =
      e.trials.size() > kRunning + kFailed ? e.trials.size() - kRunning - kFailed : 0;
  for (size_t i = 0; i < n_done; ++i) {
    const std::string& id = e.trials[i].first;
    sqlite3_bind_int64(tr, 1, e.params[i]);
    sqlite3_bind_text(tr, 2, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(tr);
    sqlite3_reset(tr);
    auto m = FakeMetrics(id, e.params[i]);
    m["params"] = static_cast<double>(e.params[i]);
    for (const auto& [k, v] : m) {
      sqlite3_bind_text(res, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(res, 2, k.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_double(res, 3, v);
      if (sqlite3_step(res) != SQLITE_DONE) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
        std::exit(1);
      }
      sqlite3_reset(res);
    }
  }
  sqlite3_finalize(tr);
  sqlite3_finalize(res);
  Exec(db, "COMMIT");
  for (size_t i = n_done; i < e.trials.size(); ++i) {
    int64_t a = store.StartAttempt(e.trials[i].first, "bench", 0, 1, 0);
    if (i >= n_done + kRunning) {
      store.EndAttempt(a, Outcome::kCrash, "RuntimeError: synthetic failure for the benchmark",
                       TrialState::kFailed, 0);
    }
  }
}

int Main(int argc, char** argv) {
  const char* self = argv[0];
  int n = 100000;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--trials") && i + 1 < argc) {
      n = std::atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
    } else {
      fprintf(stderr, "usage: bench_store_scale [--trials N] [--dir DIR]\n");
      return 2;
    }
  }
  bool remove_dir = false;
  if (dir.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/revsweep-bench-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
    remove_dir = true;
  }
  std::filesystem::create_directories(dir);
  const std::string label = n % 1000 == 0 ? std::to_string(n / 1000) + "k" : std::to_string(n);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 1) load[0] = -1;
  printf("bench_store_scale: %d trials, stores in %s, %ld CPUs, load average %.1f\n", n,
         dir.c_str(), sysconf(_SC_NPROCESSORS_ONLN), load[0]);

  // (a) expand + insert.
  Expanded e;
  const Timing expand = Measure([&] { e = Expand(n); });
  ResultsStore store(dir + "/bench.db");
  int added = 0;
  const Timing insert =
      Measure([&] { added = store.UpsertSweep("bench", "name: bench\n", dir, e.trials, e.costs); });
  if (added != n) fprintf(stderr, "warning: %d of %d trials were new\n", added, n);
  // Baseline: one UpsertSweep (one durable transaction) per trial, the first 2k, into another
  // store, extrapolated to n.
  const int naive_n = std::min(n, 2000);
  Timing naive;
  {
    ResultsStore naive_store(dir + "/naive.db");
    naive = Measure([&] {
      for (int i = 0; i < naive_n; ++i) {
        naive_store.UpsertSweep("bench", "name: bench\n", dir, {e.trials[i]}, {e.costs[i]});
      }
    });
  }
  const double naive_s = naive.wall * n / naive_n;
  printf(
      "  expand: %s (cpu %s); one UpsertSweep: %s (cpu %s); per-trial transactions: %s for "
      "%d, so %s for %s\n",
      Time(expand.wall).c_str(), Time(expand.cpu).c_str(), Time(insert.wall).c_str(),
      Time(insert.cpu).c_str(), Time(naive.wall).c_str(), naive_n, Time(naive_s).c_str(),
      label.c_str());
  Report("expand+insert " + label, {expand.wall + insert.wall, expand.cpu + insert.cpu}, 2.0, "2 s",
         expand.wall + naive_s, "per-row transactions");

  // Setup for (b) and (c), not against a goal.
  const Timing setup = Measure([&] {
    MarkAllDone(store, e);
    std::vector<ProgressRow> progress;
    for (int i = 0; i < n; ++i) {
      ProgressRow p;
      p.trial_id = e.trials[i].first;
      p.step = p.total_steps = 2000;
      p.loss = 0.05;
      p.tokens_per_s = 20000;
      p.elapsed_s = 300;
      progress.push_back(p);
    }
    store.WriteProgress(progress, {});
  });
  printf("  setup: results for %s trials (one transaction) and progress rows: %s\n", label.c_str(),
         Time(setup.wall).c_str());

  // (b) status.
  StatusSnapshot snap;
  std::string text, metrics;
  const Timing status = MedianOf(5, [&] {
    snap = TakeSnapshot(store, "bench", 1e9, SnapshotDetail::kActive);
    text = StatusText(snap, 120);
    metrics = PrometheusMetrics(snap);
  });
  const Timing count = MedianOf(5, [&] { store.CountByState("bench"); });
  const Timing naive_status = MedianOf(3, [&] {
    StatusSnapshot all = TakeSnapshot(store, "bench", 1e9, SnapshotDetail::kAll);
    text = StatusText(all, 120);
  });
  printf(
      "  status: %d done, %d running, %d failed; CountByState alone %s; text %zu bytes, "
      "metrics %zu bytes\n",
      snap.counts.done, snap.counts.running, snap.counts.failed, Time(count.wall).c_str(),
      text.size(), metrics.size());
  Report("status " + label, status, 0.1, "100 ms", naive_status.wall,
         "the full snapshot of every trial");

  // (c) summary. The path `revsweep summary` runs: LoadSweepData (compact rows) +
  // SummarizeSweep + render; the baseline is the row form it replaced (Trials + SweepResults +
  // BuildSummary + render), measured right after.
  // The setup above wrote 1.4M result rows in one transaction, leaving a WAL far larger than a
  // running sweep's (it commits per trial and auto-checkpoints every 1000 pages); checkpoint
  // it so the reads below see the usual state.
  sqlite3_wal_checkpoint_v2(StoreRawAccess::Db(store), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                            nullptr);
  SweepData data;
  const Timing load_data = Measure([&] { data = store.LoadSweepData("bench"); });
  Summary summary;
  // Median of three; the previous summary is freed outside the timed call.
  std::vector<Timing> builds;
  for (int i = 0; i < 3; ++i) {
    summary = Summary();
    builds.push_back(Measure([&] { summary = SummarizeSweep(data); }));
  }
  std::sort(builds.begin(), builds.end(),
            [](const Timing& a, const Timing& b) { return a.wall < b.wall; });
  const Timing build = builds[1];
  std::string table;
  const Timing render = Measure([&] { table = RenderSummary(summary, SummaryFormat::kTable); });
  const std::vector<std::string> verdicts = summary.verdicts;
  const size_t n_settings = summary.settings.size(), n_sizes = summary.best.size();
  const Timing free_data = Measure([&] {
    data = SweepData();
    summary = Summary();
  });
  printf(
      "  summary: load %s (cpu %s), SummarizeSweep %s (cpu %s), %zu settings, %zu sizes; "
      "table render %s (%zu bytes); freeing it all %s (the command skips that)\n",
      Time(load_data.wall).c_str(), Time(load_data.cpu).c_str(), Time(build.wall).c_str(),
      Time(build.cpu).c_str(), n_settings, n_sizes, Time(render.wall).c_str(), table.size(),
      Time(free_data.wall).c_str());

  std::vector<TrialRow> trials;
  ResultsMap results;
  const Timing load_trials = Measure([&] { trials = store.Trials("bench"); });
  const Timing load_results = Measure([&] { results = store.SweepResults("bench"); });
  Summary row_summary;
  const Timing row_build = Measure([&] { row_summary = BuildSummary(trials, results); });
  const Timing row_render =
      Measure([&] { table = RenderSummary(row_summary, SummaryFormat::kTable); });
  const Timing row_free = Measure([&] {
    trials.clear();
    trials.shrink_to_fit();
    results.clear();
    row_summary = Summary();
  });
  const double row_path =
      load_trials.wall + load_results.wall + row_build.wall + row_render.wall + row_free.wall;
  printf("  row form: Trials %s + SweepResults %s + BuildSummary %s + render %s + free %s = %s\n",
         Time(load_trials.wall).c_str(), Time(load_results.wall).c_str(),
         Time(row_build.wall).c_str(), Time(row_render.wall).c_str(), Time(row_free.wall).c_str(),
         Time(row_path).c_str());
  // The goal's measure: the real command, start to exit (median of five), when the revsweep
  // binary sits next to this one; else the in-process steps it runs (it does not free).
  const std::string cli = (std::filesystem::path(self).parent_path() / "revsweep").string();
  double path = load_data.wall + build.wall + render.wall;
  std::string what = "in process: load + summarize + render";
  if (access(cli.c_str(), X_OK) == 0) {
    const std::string cmd =
        "'" + cli + "' summary bench --store '" + store.path() + "' > /dev/null";
    std::vector<double> runs;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = Clock::now();
      if (std::system(cmd.c_str()) != 0) {
        fprintf(stderr, "bench_store_scale: %s failed\n", cmd.c_str());
        return 1;
      }
      runs.push_back(Seconds(t0));
    }
    std::sort(runs.begin(), runs.end());
    printf(
        "  `revsweep summary bench` > /dev/null, 5 runs: min %s, median %s, max %s; in process "
        "the same steps take %s\n",
        Time(runs[0]).c_str(), Time(runs[2]).c_str(), Time(runs[4]).c_str(), Time(path).c_str());
    path = runs[2];
    what = "the whole command";
  }
  const double g = 1.0 / path;
  printf("%-22s %9s (%s; goal 1 s, %.1fx %s goal; %.2fx faster than the row form: %s)\n",
         ("summary " + label + ":").c_str(), Time(path).c_str(), what.c_str(), g >= 1 ? g : 1 / g,
         g >= 1 ? "under" : "OVER", row_path / path, Time(row_path).c_str());
  for (const std::string& v : verdicts) printf("  verdict: %s\n", v.c_str());

  if (remove_dir) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) { return revsweep::Main(argc, argv); }
