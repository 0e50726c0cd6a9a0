#include "scheduler/summary_cli.h"

#include <cstdio>

#include "scheduler/plots.h"
#include "scheduler/summary.h"
#include "scheduler/summary_render.h"

namespace revsweep {

int RunSummaryCommand(ResultsStore& store, const std::string& sweep, const std::string& format,
                      bool per_trial, const std::string& plots_dir) {
  SummaryFormat f = ParseSummaryFormat(format);
  if (per_trial) {
    fputs(RenderPerTrial(BuildPerTrialTable(store.Trials(sweep), store.SweepResults(sweep)), f)
              .c_str(),
          stdout);
    if (plots_dir.empty()) return 0;
  }
  const SweepData data = store.LoadSweepData(sweep);
  Summary s = SummarizeSweep(data);
  if (!per_trial) fputs(RenderSummary(s, f).c_str(), stdout);
  if (!plots_dir.empty()) {
    LossCurves curves;
    for (const SweepData::Trial& t : data.trials) {
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
