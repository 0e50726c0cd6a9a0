// Store, status and summary at 100k trials: does the results store stay fast when a sweep is
// large? Times, each against a goal and against a baseline measured in the same run:
//   (a) expand 100k trials into settings maps + ids and insert them with one UpsertSweep
//       (goal 2 s; baseline: one transaction per trial, measured on the first 2k and
//       extrapolated);
//   (b) the status query, CountByState + Progress (goal 100 ms; baseline: load every trial
//       with Trials() and count states in C++);
//   (c) BuildSummary over 100k done trials with results, 25k settings x 4 seeds with 13
//       metrics each (goal 1 s; baseline: just iterating the results map).
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
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/results_store.h"
#include "common/settings.h"
#include "common/sweep_config.h"
#include "scheduler/summary.h"
#include "scheduler/summary_render.h"

namespace revsweep {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Median of `reps` runs of f (for the short queries).
double MedianSeconds(int reps, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(Seconds(t0));
  }
  std::sort(t.begin(), t.end());
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

// "0.84 s (goal 2 s, 2.4x under goal; 31x faster than per-row transactions)"
void Report(const char* what, double s, double goal, const char* goal_text, double baseline,
            const char* baseline_text) {
  const double g = goal / s;
  const double b = baseline / s;
  printf("%-28s %10s (goal %s, %.1fx %s goal; %s %.1fx %s)\n", what, Time(s).c_str(), goal_text,
         g >= 1 ? g : 1 / g, g >= 1 ? "under" : "OVER", Time(baseline).c_str(),
         b >= 1 ? b : 1 / b, baseline_text);
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

// 5 sizes x 10 lr x 5 batch x 5 mitigations x 4 warmups x 5 weight decays = 25k settings,
// x 4 seeds = 100k trials (fewer when n < 100k: the first n in grid order). Every schema
// key is present, as after LoadSweepConfig.
Expanded Expand(int n) {
  Settings base;
  for (const SchemaEntry& e : TrialSchema()) base[e.key] = e.default_value;
  const char* sizes[] = {"nano", "micro", "tiny", "small", "medium"};
  const char* mitigations[] = {"none", "both_orders", "reverse_word", "reverse_entity",
                               "reverse_segment"};
  Expanded out;
  out.trials.reserve(n);
  for (int i = 0; i < n; ++i) {
    int r = i;
    const int seed = r % 4;
    r /= 4;
    const int wd = r % 5;
    r /= 5;
    const int warm = r % 4;
    r /= 4;
    const int mit = r % 5;
    r /= 5;
    const int batch = r % 5;
    r /= 5;
    const int lr = r % 10;
    r /= 10;
    const int size = r % 5;
    Settings s = base;
    const ModelPreset* preset = nullptr;
    for (const auto& p : ModelPresets()) {
      if (p.name == sizes[size]) preset = &p;
    }
    s["model.size"] = std::string(sizes[size]);
    s["model.n_layer"] = static_cast<int64_t>(preset->n_layer);
    s["model.n_head"] = static_cast<int64_t>(preset->n_head);
    s["model.d_model"] = static_cast<int64_t>(preset->d_model);
    s["train.lr"] = 1e-4 * std::pow(10.0, lr / 5.0);
    s["train.batch_size"] = static_cast<int64_t>(1) << (batch + 2);
    s["dataset.mitigation"] = std::string(mitigations[mit]);
    s["train.warmup_steps"] = static_cast<int64_t>(warm * 50);
    s["train.weight_decay"] = 0.05 * wd;
    s["train.seed"] = static_cast<int64_t>(seed);
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
  m["loss.final"] = (0.02 + 300 / std::pow(static_cast<double>(params), 0.6)) *
                    (1 + 0.05 * Unit(id, 102));
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
void MarkAllDone(ResultsStore& store, const Expanded& e) {
  sqlite3* db = store.db();
  Exec(db, "BEGIN IMMEDIATE");
  sqlite3_stmt *tr = nullptr, *res = nullptr;
  sqlite3_prepare_v2(db, "UPDATE trials SET state='done', params=? WHERE id=?", -1, &tr, nullptr);
  sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO results(trial_id, key, value) VALUES(?,?,?)",
                     -1, &res, nullptr);
  for (size_t i = 0; i < e.trials.size(); ++i) {
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
}

int Main(int argc, char** argv) {
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
  printf("bench_store_scale: %d trials, stores in %s\n", n, dir.c_str());

  // (a) expand + insert.
  auto t0 = Clock::now();
  const Expanded e = Expand(n);
  const double expand_s = Seconds(t0);
  ResultsStore store(dir + "/bench.db");
  t0 = Clock::now();
  const int added = store.UpsertSweep("bench", "name: bench\n", dir, e.trials, e.costs);
  const double insert_s = Seconds(t0);
  if (added != n) fprintf(stderr, "warning: %d of %d trials were new\n", added, n);
  // Baseline: one UpsertSweep (one transaction) per trial, first 2k, into another store.
  const int naive_n = std::min(n, 2000);
  double naive_s;
  {
    ResultsStore naive(dir + "/naive.db");
    t0 = Clock::now();
    for (int i = 0; i < naive_n; ++i) {
      naive.UpsertSweep("bench", "name: bench\n", dir, {e.trials[i]}, {e.costs[i]});
    }
    naive_s = Seconds(t0) * n / naive_n;
  }
  printf("  expand %s: %s; insert (one UpsertSweep): %s; per-trial transactions: %s for %d, "
         "so %s for %s\n",
         label.c_str(), Time(expand_s).c_str(), Time(insert_s).c_str(),
         Time(naive_s * naive_n / n).c_str(), naive_n, Time(naive_s).c_str(), label.c_str());
  Report(("expand+insert " + label + ":").c_str(), expand_s + insert_s, 2.0, "2 s",
         expand_s + naive_s, "faster than per-row transactions,");

  // Setup for (b) and (c).
  t0 = Clock::now();
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
  printf("  setup (results for %s trials, progress rows): %s\n", label.c_str(),
         Time(Seconds(t0)).c_str());

  // (b) status.
  size_t rows = 0;
  int done = 0;
  const double status_s = MedianSeconds(5, [&] {
    done = store.CountByState("bench")["done"];
    rows = store.Progress("bench").size();
  });
  const double count_s = MedianSeconds(5, [&] { store.CountByState("bench"); });
  const double naive_status_s = MedianSeconds(3, [&] {
    int d = 0;
    for (const TrialRow& t : store.Trials("bench")) d += t.state == TrialState::kDone;
    done = d;
  });
  printf("  status: CountByState %s, Progress (%zu rows) %s; %d done\n", Time(count_s).c_str(),
         rows, Time(status_s - count_s).c_str(), done);
  Report(("status " + label + ":").c_str(), status_s, 0.1, "100 ms", naive_status_s,
         "faster than loading all trials,");

  // (c) summary.
  t0 = Clock::now();
  const std::vector<TrialRow> trials = store.Trials("bench");
  const double trials_s = Seconds(t0);
  t0 = Clock::now();
  const ResultsMap results = store.SweepResults("bench");
  const double results_s = Seconds(t0);
  printf("  load: Trials %s, SweepResults %s (%zu trials with results)\n", Time(trials_s).c_str(),
         Time(results_s).c_str(), results.size());
  double checksum = 0;
  const double iterate_s = MedianSeconds(3, [&] {
    for (const auto& [id, m] : results) {
      for (const auto& kv : m) checksum += kv.second;
    }
  });
  Summary summary;
  t0 = Clock::now();
  summary = BuildSummary(trials, results);
  const double summary_s = Seconds(t0);
  SummaryOptions no_loss_bootstrap;
  no_loss_bootstrap.loss_fit.bootstrap = 0;
  t0 = Clock::now();
  BuildSummary(trials, results, no_loss_bootstrap);
  const double summary_nb_s = Seconds(t0);
  t0 = Clock::now();
  const std::string table = RenderSummary(summary, SummaryFormat::kTable);
  const double render_s = Seconds(t0);
  printf("  summary: %zu settings, %zu sizes; without the loss-fit bootstrap %s; table render "
         "%s (%zu bytes)\n",
         summary.settings.size(), summary.best.size(), Time(summary_nb_s).c_str(),
         Time(render_s).c_str(), table.size());
  const double slower = summary_s / iterate_s;
  printf("%-28s %10s (goal 1 s, %.1fx %s goal; iterating the results map takes %s, %.0fx "
         "less)\n",
         ("summary " + label + ":").c_str(), Time(summary_s).c_str(),
         summary_s <= 1 ? 1 / summary_s : summary_s, summary_s <= 1 ? "under" : "OVER",
         Time(iterate_s).c_str(), slower);
  if (checksum == 42) printf(" ");  // keep the iteration observable
  for (const std::string& v : summary.verdicts) printf("  verdict: %s\n", v.c_str());

  if (remove_dir) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace revsweep

int main(int argc, char** argv) { return revsweep::Main(argc, argv); }
