// Small-sample statistics for the evaluator and sweep summaries (one module for both: the
// worker and the scheduler once each had a PairedTTest): descriptive statistics over seeds, a
// percentile bootstrap of the mean, t-tests and simple linear regression.
//
// Everything here is deterministic and portable: the bootstrap draws from std::mt19937_64
// (whose output sequence the C++ standard fixes) through its own index mapping, never
// through std::uniform_int_distribution (whose mapping differs between standard libraries),
// so the same inputs give the same interval on every platform.
//
// Undefined quantities are NaN (never an exception): the mean of nothing, a t-test on one
// pair, a regression on fewer than three points or on a constant x.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace revsweep {

// Default bootstrap settings used by summaries. Changing them changes every reported CI.
constexpr int kBootstrapResamples = 2000;
constexpr uint64_t kBootstrapSeed = 20230921;  // the reversal-curse paper's arXiv date

struct Describe {
  int n = 0;
  double mean = 0;  // NaN when n == 0
  double sd = 0;    // sample SD (n - 1 denominator); 0 when n == 1, NaN when n == 0
  double se = 0;    // sd / sqrt(n); 0 when n == 1 (see se_defined), NaN when n == 0
  // False when n < 2: SE is then reported as 0 but means "unknown" (one seed), and
  // renderers flag it.
  bool se_defined = false;
};
Describe DescribeValues(const std::vector<double>& x);

struct Interval {
  double lo = 0, hi = 0;  // NaN when undefined
};

// Quantile of *sorted* values, linear interpolation between order statistics at position
// q * (n - 1) (Hyndman-Fan type 7, the numpy/R default). REQUIRES: sorted ascending,
// 0 <= q <= 1. NaN when empty.
double SortedQuantile(const std::vector<double>& sorted, double q);

// Uniform integer in [0, n) from one or more draws of `g`: Lemire's multiply-shift with
// rejection, so unbiased and the same on every platform. REQUIRES: n > 0.
template <typename Engine>
uint64_t BoundedIndex(Engine& g, uint64_t n) {
  uint64_t x = g();
  unsigned __int128 m = static_cast<unsigned __int128>(x) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      x = g();
      m = static_cast<unsigned __int128>(x) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

// Percentile bootstrap of the mean for samples of a fixed size n, precomputed once and
// applied to any number of samples of that size.
//
// Resample b (b = 0..B-1) draws n indices with BoundedIndex from one std::mt19937_64 seeded
// with `seed`, in order. Its mean is sum_i count_i * x_i / n summed over i ascending, so two
// resamples with the same index multiset give bit-identical means; the plan stores each
// distinct multiset once with its multiplicity. For the 2-5 seeds of a typical sweep that
// is at most 126 distinct resamples however large B is, which is what makes a 25k-setting
// summary fast. The interval is exactly what sorting all B resample means and taking
// SortedQuantile at (1 -+ level) / 2 would give.
class MeanBootstrap {
 public:
  MeanBootstrap(int n, int resamples = kBootstrapResamples, uint64_t seed = kBootstrapSeed);
  int n() const { return n_; }
  int resamples() const { return resamples_; }
  size_t distinct() const { return multiplicity_.size(); }
  // REQUIRES: x.size() == n(). A constant sample (n == 1 included) gives exactly [x0, x0];
  // n == 0 gives NaN bounds.
  Interval Ci(const std::vector<double>& x, double level = 0.95) const;

 private:
  int n_;
  int resamples_;
  uint64_t seed_;
  std::vector<uint16_t> counts_;   // distinct() rows of n counts each
  std::vector<int> multiplicity_;  // how many of the B resamples each row stands for
};

// One-off form of MeanBootstrap (same result for the same n, B, seed).
Interval BootstrapMeanCi(const std::vector<double>& x, int resamples = kBootstrapResamples,
                         uint64_t seed = kBootstrapSeed, double level = 0.95);

struct TTest {
  int n = 0;        // pairs (paired) or values (one-sample)
  double mean = 0;  // mean difference (paired) or mean - mu0 (one-sample)
  double t = 0;     // NaN when n < 2; +-inf for a constant nonzero difference
  double df = 0;    // n - 1
  double p = 0;     // two-sided; NaN when n < 2
  double se = 0;    // standard error of `mean` (sd / sqrt(n)); NaN when n < 2
};

// Paired two-sided t-test of x against y (differences d = x - y, df = n - 1).
// Zero variance of d: all differences 0 -> t = 0, p = 1; a constant nonzero difference
// -> t = +-inf, p = 0. "Zero" variance means sd <= 1e-12 * max|d|, so a constant
// difference that rounding makes not quite constant is still treated as constant.
// REQUIRES: x.size() == y.size().
TTest PairedTTest(const std::vector<double>& x, const std::vector<double>& y);
// One-sided p of a t-test for the alternative "mean > 0": half the two-sided p when t > 0,
// 1 - half when t < 0; t = +inf -> 0, -inf -> 1; t = 0 -> 1 for a zero mean, else 0.5.
double OneSidedPGreater(const TTest& t);
// One-sample two-sided t-test of mean(x) against mu0; same zero-variance rules.
TTest OneSampleTTest(const std::vector<double>& x, double mu0 = 0);

// Two-sided p-value of a t statistic with df degrees of freedom (Boost.Math students_t).
// t = +-inf -> 0. REQUIRES: df > 0.
double TwoSidedP(double t, double df);
// Quantile of Student's t: P(T <= result) = prob. REQUIRES: df > 0, 0 < prob < 1.
double StudentTQuantile(double prob, double df);

// y ~ a + b * x by ordinary least squares.
struct LinearFit {
  int n = 0;
  double intercept = 0, slope = 0;    // NaN when n < 2 or x is constant
  double slope_se = 0;                // NaN when n < 3
  double slope_lo = 0, slope_hi = 0;  // slope +- t(0.975, n - 2) * slope_se; NaN when n < 3
  double t = 0, p = 0;                // slope / slope_se, two-sided; NaN when n < 3
  double r2 = 0;                      // NaN when y is constant
  double df = 0;                      // n - 2
  bool ok() const;                    // slope, CI and p are all defined
};
// Exact fits: a constant y gives slope 0, SE 0, CI [0, 0], p = 1; points exactly on a
// sloped line give SE ~ 0 and p ~ 0. `level` is the CI coverage.
// REQUIRES: x.size() == y.size().
LinearFit FitLine(const std::vector<double>& x, const std::vector<double>& y, double level = 0.95);

}  // namespace revsweep
