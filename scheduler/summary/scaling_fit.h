// Scaling fits across model sizes: final loss as a power law in parameters, and accuracy as
// a straight line in log10(parameters).
//
// The loss fit follows Hoffmann et al. (2022, "Chinchilla", approach 3) restricted to one
// variable: L(N) = E + A / N^alpha, with E = exp(e) and A = exp(a) so both stay positive,
// minimising sum_i Huber_delta(log L_pred(N_i) - log L_i) by L-BFGS from every point of a
// grid of starts and keeping the best. Intervals come from a percentile bootstrap over the
// points. Deterministic: fixed grid, fixed seed, portable resampling (see stats.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/stats/stats.h"

namespace revsweep {

struct PowerLawOptions {
  double huber_delta = 1e-3;  // in log-loss units, as Hoffmann et al.
  // Start grid (Hoffmann et al.'s, with e extended down for the near-zero training losses
  // small models reach on memorisation tasks).
  std::vector<double> alpha_grid = {0, 0.5, 1, 1.5, 2};
  std::vector<double> e_grid = {-3, -2, -1, -0.5, 0, 0.5, 1};
  std::vector<double> a_grid = {0, 5, 10, 15, 20, 25};
  int max_iterations = 300;  // L-BFGS iterations per start
  // Bootstrap resamples of the points for the intervals (0 = no intervals). Each resample
  // is refitted from the full-data optimum plus a coarse grid (every other grid value).
  int bootstrap = 200;
  uint64_t seed = kBootstrapSeed;
  double level = 0.95;
};

struct PowerLawFit {
  // False when there are fewer than 3 distinct N among the usable points (three parameters
  // need three sizes) or no start converged; `message` says which.
  bool ok = false;
  std::string message;
  int n_points = 0;                // usable points: N > 0 and L > 0, both finite
  int n_sizes = 0;                 // distinct N among them
  double E = 0, A = 0, alpha = 0;  // NaN when !ok
  double objective = 0;            // sum of Huber(delta) residuals at the optimum
  // Bootstrap percentile intervals (NaN when bootstrap == 0 or too few resamples fitted).
  Interval E_ci, A_ci, alpha_ci;
  int bootstrap_fitted = 0;   // resamples that had >= 3 distinct N and converged
  int bootstrap_skipped = 0;  // resamples with < 3 distinct N (not refitted)

  // E + A / N^alpha (NaN when !ok).
  double Predict(double n) const;
};

// Fits L(N) = E + A / N^alpha. Points with non-finite or non-positive N or L are dropped.
// REQUIRES: params.size() == loss.size().
PowerLawFit FitPowerLaw(const std::vector<double>& params, const std::vector<double>& loss,
                        const PowerLawOptions& options = {});

// Accuracy (or any metric) against log10(params): y ~ a + b * log10(N). The slope is the
// change per decade of parameters. Points with N <= 0 or a non-finite y are dropped.
LinearFit FitVsLogParams(const std::vector<double>& params, const std::vector<double>& y,
                         double level = 0.95);

}  // namespace revsweep
