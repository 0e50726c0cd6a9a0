// Figures for a sweep, drawn by gnuplot: for each figure a data file, a gnuplot script and
// the images (PNG and SVG) go into one output folder, so a figure can be restyled by editing
// its script and running `gnuplot NAME.gp` there.
//
//   accuracy_vs_params   accuracy against parameters (log x) at the best setting per size,
//                        mean +- SE over seeds, one line per subset; same direction and reverse
//                        side by side (two panels) like the paper's figures; chance dashed.
//   loss_vs_params       final training loss against parameters (log-log), mean +- SE, with
//                        the fitted E + A / N^alpha when the summary has one.
//   loss_curves          training loss against step, one line per trial.
//
// gnuplot runs as a child process in the output folder; PNG uses the pngcairo terminal when
// gnuplot has it, else png. Nothing here needs a display.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "scheduler/summary/summary.h"

namespace revsweep {

struct PlotOptions {
  std::string out_dir;  // created when missing
  std::string gnuplot;  // executable name or path; empty: "gnuplot" searched on PATH
  bool png = true;
  bool svg = true;
  // Which split the accuracy figure shows ("heldout": the test templates); cells of other
  // splits are left out. When no cell has this split, "train" is used instead.
  std::string split = "heldout";
};

struct PlotFiles {
  std::vector<std::string> images;   // paths of the PNG/SVG files written
  std::vector<std::string> scripts;  // .gp files
  std::vector<std::string> data;     // .dat files
};

using LossCurves = std::map<std::string, std::vector<std::pair<int64_t, double>>>;

// Full path of the gnuplot executable: `name` itself when it contains '/', else the first
// executable match on PATH; "" when there is none.
std::string FindGnuplot(const std::string& name = "gnuplot");

// Each writes its files and runs gnuplot. Throw UserError when gnuplot is missing (saying
// how to install it), when it fails (with the end of its output), or when there is nothing to
// plot (no setting with params and accuracy; no loss; no curve points).
PlotFiles PlotAccuracyVsParams(const Summary& s, const PlotOptions& options);
PlotFiles PlotLossVsParams(const Summary& s, const PlotOptions& options);
PlotFiles PlotLossCurves(const LossCurves& curves, const PlotOptions& options);

// All three; the loss curves only when `curves` has points. Files of every figure made.
PlotFiles WritePlots(const Summary& s, const LossCurves& curves, const PlotOptions& options);

}  // namespace revsweep
