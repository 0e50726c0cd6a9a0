// summary, status, export: readers of the store. They open it read-only and never block the
// coordinator (WAL readers do not take the write lock).
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/store/results_store.h"
#include "common/user_error.h"
#include "scheduler/cli/commands.h"
#include "scheduler/cli/progress_line.h"
#include "scheduler/slurm/slurm.h"
#include "scheduler/status/status_report.h"
#include "scheduler/summary/export.h"
#include "scheduler/summary/summary_cli.h"

namespace revsweep {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int TerminalWidth() {
  struct winsize w {};
  if (ioctl(1, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) return w.ws_col;
  if (const char* c = getenv("COLUMNS")) return std::max(40, atoi(c));
  return 100;
}

std::string ResolveSweep(ResultsStore& s, const std::string& sweep) {
  if (!sweep.empty()) {
    if (!s.HasSweep(sweep)) throw UserError(s.path(), 0, 0, "", "no sweep named '" + sweep + "'");
    return sweep;
  }
  auto names = s.SweepNames();
  if (names.empty()) throw UserError(s.path(), 0, 0, "", "the store holds no sweep yet");
  return names.front();
}

// Live Slurm state (squeue/scontrol) laid over the store's job rows, when Slurm answers.
void OverlaySlurm(StatusSnapshot* snap) {
  std::vector<std::string> ids;
  for (const auto& j : snap->jobs)
    if (j.kind == "slurm") ids.push_back(j.job_id);
  if (ids.empty()) return;
  try {
    auto infos = QueryJobs(ids);
    for (auto& j : snap->jobs)
      for (const auto& i : infos)
        if (i.id == j.job_id) {
          j.state =
              i.found ? i.state : (j.state.empty() ? "GONE" : j.state + " (gone from squeue)");
          if (i.found)
            j.info = "reason=" + i.reason + " restarts=" + std::to_string(i.restarts) +
                     " time=" + i.time_used + "/" + i.time_limit +
                     (i.nodes.empty() ? "" : " nodes=" + i.nodes);
        }
  } catch (const std::exception& e) {
    for (auto& j : snap->jobs) j.info += " (squeue unavailable)";
  }
}

}  // namespace

int CmdStatus(const CommandArgs& a) {
  const std::string store_path = a.store.empty() ? DefaultStore() : a.store;
  for (;;) {
    std::string out;
    bool finished = false;
    {
      ResultsStore store(store_path, /*readonly=*/true);
      std::string sweep = ResolveSweep(store, a.sweep);
      StatusSnapshot snap = TakeSnapshot(
          store, sweep, Now(), a.json && a.all ? SnapshotDetail::kAll : SnapshotDetail::kActive);
      OverlaySlurm(&snap);
      out = a.json ? StatusJson(snap) + "\n" : StatusText(snap, TerminalWidth());
      finished = snap.counts.pending == 0 && snap.counts.running == 0;
    }
    if (a.watch && !a.json) fputs("\033[H\033[2J", stdout);
    fputs(out.c_str(), stdout);
    fflush(stdout);
    if (!a.watch || finished) return kExitOk;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

int CmdExport(const CommandArgs& a) {
  ResultsStore store(a.store.empty() ? DefaultStore() : a.store, /*readonly=*/true);
  std::string sweep = ResolveSweep(store, a.sweep);
  ExportFormat f = ParseExportFormat(a.format == "table" ? "csv" : a.format);
  ExportGranularity g = ParseExportGranularity(a.per);
  if (a.out.empty() || a.out == "-") {
    ExportSweep(store, sweep, f, g, std::cout);
  } else {
    std::ofstream out(a.out);
    if (!out) throw UserError(a.out, 0, 0, "", "cannot write the export file");
    ExportSweep(store, sweep, f, g, out);
    fprintf(stderr, "wrote %s\n", a.out.c_str());
  }
  return kExitOk;
}

int CmdSummary(const CommandArgs& a) {
  ResultsStore store(a.store.empty() ? DefaultStore() : a.store, /*readonly=*/true);
  std::string sweep = ResolveSweep(store, a.sweep);
  return RunSummaryCommand(store, sweep, a.format, a.per_trial, a.out);
}

}  // namespace revsweep
