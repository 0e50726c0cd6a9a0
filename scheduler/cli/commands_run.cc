// run, prepare, resume, validate, dataset.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/data/exp1_data.h"
#include "common/data/exp1_stats.h"
#include "common/store/results_store.h"
#include "common/user_error.h"
#include "scheduler/cli/commands.h"
#include "scheduler/cli/prepare.h"
#include "scheduler/cli/progress_line.h"
#include "scheduler/slurm/launcher.h"

namespace revsweep {
namespace fs = std::filesystem;

std::string DefaultStore() { return "runs/revsweep.db"; }

namespace {

std::string TrainBin() {
  std::string p = SelfDir() + "/revsweep-train";
  if (!fs::exists(p))
    throw UserError("revsweep-train", 0, 0, "",
                    "not found beside revsweep (" + p +
                        "); build the libtorch worker "
                        "(-DREVSWEEP_WITH_TORCH=ON)");
  return p;
}

void CheckRanks(const CommandArgs& a) {
  // Checked before anything touches the store: bad flags leave it as it was.
  if (a.ranks < 1) throw UserError("--ranks", 0, 0, "", "must be at least 1");
}

int Launch(const CommandArgs& a, const std::string& store, const std::string& sweep) {
  if (a.retry_failed) {
    ResultsStore s(store);
    int n = s.ResetFailed(sweep);
    if (n && !a.quiet) fprintf(stderr, "retrying %d failed trial(s)\n", n);
  }
  LaunchOptions lo;
  lo.ranks = a.ranks;
  lo.train_bin = TrainBin();
  lo.store = store;
  lo.sweep = sweep;
  lo.policy = a.policy;
  lo.quiet = a.quiet;
  std::vector<std::string> argv =
      a.in_allocation ? std::vector<std::string>{lo.train_bin, "--store",  store,   "--sweep",
                                                 sweep,        "--policy", a.policy}
                      : MpirunCommand(lo);
  ProgressLine progress(store, sweep, a.quiet);
  const auto t0 = std::chrono::steady_clock::now();
  int code = RunWorld(argv, [&] { progress.Update(); });
  progress.Finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (code == 75) {
    fprintf(stderr,
            "revsweep: stopped after %.0fs (preempted, or a rank failed or fell silent inside a "
            "group); checkpoints written. Continue with:\n"
            "  revsweep resume %s --store %s\n",
            secs, sweep.c_str(), store.c_str());
    return code;
  }
  if (code > 128 || code == 127) {
    // A rank died (killed, out of memory, crashed): Open MPI took the world down. Completed
    // results are in the store; the dead job's trials resume from their checkpoints.
    fprintf(stderr,
            "revsweep: the MPI job died (status %d). Nothing completed is lost; continue with:\n"
            "  revsweep resume %s --store %s\n",
            code, sweep.c_str(), store.c_str());
    return kExitFailure;
  }
  PrintRunTable(store, sweep);
  fprintf(stderr, "revsweep: %s in %.0fs (exit %d). Summary: revsweep summary %s --store %s\n",
          code == 0 ? "sweep complete" : "sweep ended", secs, code, sweep.c_str(), store.c_str());
  return code;
}

}  // namespace

int CmdPrepare(const CommandArgs& a) {
  PrepareReport r = PrepareSweep(a.config, a.store, a.quiet);
  printf("prepared sweep '%s': %d trials (%d new), %d dataset(s), store %s, run dir %s\n",
         r.config.name.c_str(), r.trials, r.new_trials, r.datasets, r.store.c_str(),
         r.run_dir.c_str());
  return kExitOk;
}

int CmdRun(const CommandArgs& a) {
  CheckRanks(a);
  PrepareReport r = PrepareSweep(a.config, a.store, a.quiet);
  if (!a.quiet)
    fprintf(stderr, "sweep '%s': %d trials (%d new) -> %s\n", r.config.name.c_str(), r.trials,
            r.new_trials, r.store.c_str());
  return Launch(a, r.store, r.config.name);
}

int CmdResume(const CommandArgs& a) {
  CheckRanks(a);
  const std::string store = a.store.empty() ? DefaultStore() : a.store;
  std::string yaml;
  std::vector<TrialConfig> trials;  // as stored: see ResultsStore::TrialConfigs
  {
    ResultsStore s(store);
    if (!s.HasSweep(a.sweep)) throw UserError(store, 0, 0, "", "no sweep named '" + a.sweep + "'");
    yaml = s.SweepYaml(a.sweep);
    trials = s.TrialConfigs(a.sweep);
  }
  // Re-prepare from the frozen config: caches are reused, nothing is retrained.
  SweepConfig cfg = ParseSweepConfig(yaml, a.sweep + " (frozen in " + store + ")");
  cfg.trials = std::move(trials);
  PrepareReport r = PrepareParsedSweep(cfg, store, a.quiet);
  return Launch(a, r.store, r.config.name);
}

int CmdValidate(const CommandArgs& a) {
  SweepConfig cfg = LoadSweepConfig(a.config);
  printf("%s: sweep '%s' is valid: %zu trials\n", a.config.c_str(), cfg.name.c_str(),
         cfg.trials.size());
  for (const TrialConfig& t : cfg.trials)
    printf("  %s  %s %dL/%dH/%dd lr=%g bs=%d seed=%lld mitigation=%s\n", t.id.c_str(),
           t.model.size.c_str(), t.model.n_layer, t.model.n_head, t.model.d_model, t.train.lr,
           t.train.batch_size, static_cast<long long>(t.train.seed), t.dataset.mitigation.c_str());
  return kExitOk;
}

int CmdDataset(const CommandArgs& a) {
  SweepConfig cfg = LoadSweepConfig(a.config);
  const DatasetOptions& d = cfg.trials.front().dataset;
  if (d.kind != "exp1")
    throw UserError(a.config, 0, 0, "dataset.kind", "`revsweep dataset` writes exp1 data");
  if (a.out.empty() && !a.stats) {
    throw UserError(a.config, 0, 0, "", "`revsweep dataset` needs --out DIR, --stats or both");
  }
  Exp1Data data = d.source == "generate" ? GenerateExp1(d) : LoadExp1Folder(d.source);
  if (!a.out.empty()) {
    WriteExp1Folder(data, a.out);
    size_t rows = 0;
    for (const auto& [name, v] : data.files) rows += v.size();
    printf("wrote %zu files (%zu rows) to %s\n", data.files.size(), rows, a.out.c_str());
  }
  if (a.stats) {
    printf("%s data (%s):\n%s", d.source == "generate" ? "generated" : "loaded",
           d.source == "generate" ? a.config.c_str() : d.source.c_str(),
           FormatExp1Stats(ComputeExp1Stats(data)).c_str());
  }
  return kExitOk;
}

}  // namespace revsweep
