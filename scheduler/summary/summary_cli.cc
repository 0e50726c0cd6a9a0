#include "scheduler/summary/summary_cli.h"

#include <cstdio>
#include <vector>

#include "scheduler/summary/plots.h"
#include "scheduler/summary/summary.h"
#include "scheduler/summary/summary_render.h"

namespace revsweep {
namespace {

// What one summary command built. `revsweep summary` exits right after printing, and handing
// a 100k-trial sweep's ~2M small heap blocks back one by one takes ~0.25 s (a fifth of the
// command), so these are deliberately never freed: they stay reachable from a static (leak
// checkers stay quiet) and the OS reclaims the pages at exit, as compilers do with their ASTs.
struct Built {
  SweepData data;
  Summary summary;
};
Built* KeepUntilExit() {
  static auto* kept = new std::vector<Built*>;
  kept->push_back(new Built);
  return kept->back();
}

}  // namespace

int RunSummaryCommand(ResultsStore& store, const std::string& sweep, const std::string& format,
                      bool per_trial, const std::string& plots_dir) {
  SummaryFormat f = ParseSummaryFormat(format);
  if (per_trial) {
    fputs(RenderPerTrial(BuildPerTrialTable(store.Trials(sweep), store.SweepResults(sweep)), f)
              .c_str(),
          stdout);
    if (plots_dir.empty()) return 0;
  }
  Built* b = KeepUntilExit();
  b->data = store.LoadSweepData(sweep);
  b->summary = SummarizeSweep(b->data);
  if (!per_trial) fputs(RenderSummary(b->summary, f).c_str(), stdout);
  if (!plots_dir.empty()) {
    LossCurves curves;
    for (const SweepData::Trial& t : b->data.trials) {
      auto c = store.LossCurve(t.id);
      if (!c.empty()) curves[t.id] = c;
    }
    PlotOptions o;
    o.out_dir = plots_dir;
    PlotFiles files = WritePlots(b->summary, curves, o);
    for (const auto& img : files.images) fprintf(stderr, "wrote %s\n", img.c_str());
  }
  return 0;
}

}  // namespace revsweep
