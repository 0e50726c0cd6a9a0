#include "scheduler/summary_cli.h"

#include <cstdio>

#include "scheduler/plots.h"
#include "scheduler/summary.h"
#include "scheduler/summary_render.h"

namespace revsweep {

int RunSummaryCommand(ResultsStore& store, const std::string& sweep, const std::string& format,
                      bool per_trial, const std::string& plots_dir) {
  SummaryFormat f = ParseSummaryFormat(format);
  std::vector<TrialRow> trials = store.Trials(sweep);
  ResultsMap results = store.SweepResults(sweep);
  if (per_trial) {
    fputs(RenderPerTrial(BuildPerTrialTable(trials, results), f).c_str(), stdout);
  }
  Summary s = BuildSummary(trials, results);
  if (!per_trial) fputs(RenderSummary(s, f).c_str(), stdout);
  if (!plots_dir.empty()) {
    LossCurves curves;
    for (const TrialRow& t : trials) {
      auto c = store.LossCurve(t.id);
      if (!c.empty()) curves[t.id] = c;
    }
    PlotOptions o;
    o.out_dir = plots_dir;
    PlotFiles files = WritePlots(s, curves, o);
    for (const auto& img : files.images) fprintf(stderr, "wrote %s\n", img.c_str());
  }
  return 0;
}

}  // namespace revsweep
