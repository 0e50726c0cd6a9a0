#include "common/stats/stats.h"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <utility>

namespace revsweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Relative size below which a spread counts as zero (see PairedTTest and FitLine).
constexpr double kZeroSpread = 1e-12;
// Above this sample size the bootstrap does not store its resamples (they are nearly all
// distinct, and n x B counts would be large): Ci() regenerates them from the seed instead.
constexpr int kMaxPlannedN = 64;

double MaxAbs(const std::vector<double>& x) {
  double m = 0;
  for (double v : x) m = std::max(m, std::fabs(v));
  return m;
}

// Value at 0-based order position `pos` of a weighted list whose first `k` entries are in
// order (ascending for the bottom of the distribution, descending with `pos` counted from the
// top for the top). False when those k entries weigh too little to reach `pos`.
bool AtPosition(const std::pair<double, int>* ordered, size_t k, int64_t pos, double* value) {
  int64_t seen = 0;
  for (size_t i = 0; i < k; ++i) {
    seen += ordered[i].second;
    if (pos < seen) {
      *value = ordered[i].first;
      return true;
    }
  }
  return false;
}

// Quantile q of weighted values (total weight `total`) as SortedQuantile would give on the
// expanded list: interpolation between order statistics lo = floor(q * (total - 1)) and lo + 1.
// `bottom` holds the k_bottom smallest values ascending, `top` the k_top largest descending
// (they may be the same fully sorted list read from either end). False when the needed order
// statistics are not within them.
bool WeightedQuantile(const std::pair<double, int>* bottom, size_t k_bottom,
                      const std::pair<double, int>* top, size_t k_top, int64_t total, double q,
                      double* out) {
  const double h = q * static_cast<double>(total - 1);
  const int64_t lo = static_cast<int64_t>(std::floor(h));
  const double frac = h - static_cast<double>(lo);
  const bool upper = 2 * lo >= total - 1;  // read from the nearer end
  auto at = [&](int64_t pos, double* v) {
    return upper ? AtPosition(top, k_top, total - 1 - pos, v)
                 : AtPosition(bottom, k_bottom, pos, v);
  };
  double v_lo = 0, v_hi = 0;
  if (!at(lo, &v_lo)) return false;
  if (frac == 0 || lo + 1 >= total) {
    *out = v_lo;
    return true;
  }
  if (!at(lo + 1, &v_hi)) return false;
  *out = v_lo + frac * (v_hi - v_lo);
  return true;
}

TTest TTestOnDifferences(const std::vector<double>& d) {
  TTest r;
  r.n = static_cast<int>(d.size());
  const Describe desc = DescribeValues(d);
  r.mean = desc.mean;
  r.se = desc.se;
  if (r.n < 2) {
    r.t = r.p = r.se = kNaN;
    r.df = r.n > 0 ? r.n - 1 : 0;
    return r;
  }
  r.df = r.n - 1;
  if (desc.sd <= kZeroSpread * MaxAbs(d)) {
    if (MaxAbs(d) == 0) {
      r.t = 0;
      r.p = 1;
    } else {
      r.t = r.mean > 0 ? kInf : -kInf;
      r.p = 0;
    }
    return r;
  }
  r.t = r.mean / desc.se;
  r.p = TwoSidedP(r.t, r.df);
  return r;
}

}  // namespace

Describe DescribeValues(const std::vector<double>& x) {
  Describe d;
  d.n = static_cast<int>(x.size());
  if (d.n == 0) {
    d.mean = d.sd = d.se = kNaN;
    return d;
  }
  double sum = 0;
  for (double v : x) sum += v;
  d.mean = sum / d.n;
  if (d.n == 1) return d;  // sd = se = 0, se_defined = false
  double ss = 0;
  for (double v : x) ss += (v - d.mean) * (v - d.mean);
  d.sd = std::sqrt(ss / (d.n - 1));
  d.se = d.sd / std::sqrt(static_cast<double>(d.n));
  d.se_defined = true;
  return d;
}

double SortedQuantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return kNaN;
  const double h = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const double frac = h - static_cast<double>(lo);
  if (lo + 1 >= sorted.size() || frac == 0) return sorted[std::min(lo, sorted.size() - 1)];
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

MeanBootstrap::MeanBootstrap(int n, int resamples, uint64_t seed)
    : n_(n), resamples_(resamples), seed_(seed) {
  if (n < 0 || resamples < 1) throw std::invalid_argument("MeanBootstrap: bad n or resamples");
  if (n > kMaxPlannedN || n <= 1) return;
  std::mt19937_64 g(seed);
  std::map<std::vector<uint16_t>, int> seen;
  std::vector<uint16_t> counts(n);
  for (int b = 0; b < resamples; ++b) {
    std::fill(counts.begin(), counts.end(), 0);
    for (int j = 0; j < n; ++j) ++counts[BoundedIndex(g, static_cast<uint64_t>(n))];
    ++seen[counts];
  }
  counts_.reserve(seen.size() * n);
  multiplicity_.reserve(seen.size());
  for (const auto& [c, m] : seen) {
    counts_.insert(counts_.end(), c.begin(), c.end());
    multiplicity_.push_back(m);
  }
}

Interval MeanBootstrap::Ci(const std::vector<double>& x, double level) const {
  if (static_cast<int>(x.size()) != n_) {
    throw std::invalid_argument("MeanBootstrap::Ci: sample size differs from the plan");
  }
  if (n_ == 0) return {kNaN, kNaN};
  // A constant sample (one value; every seed scoring 0 on a reverse cell) has every resample
  // mean equal to it; say so exactly instead of up to rounding.
  if (std::all_of(x.begin(), x.end(), [&x](double v) { return v == x[0]; })) return {x[0], x[0]};
  const double lo_q = (1 - level) / 2, hi_q = (1 + level) / 2;
  // Reused across calls: a summary calls this once per (setting, cell).
  thread_local std::vector<std::pair<double, int>> means;
  means.clear();
  if (!multiplicity_.empty()) {
    for (size_t r = 0; r < multiplicity_.size(); ++r) {
      const uint16_t* c = &counts_[r * n_];
      double sum = 0;
      for (int i = 0; i < n_; ++i) sum += c[i] * x[i];
      means.emplace_back(sum / n_, multiplicity_[r]);
    }
  } else {
    // Large n: regenerate the same resamples from the seed (see kMaxPlannedN).
    std::mt19937_64 g(seed_);
    std::vector<uint32_t> counts(n_);
    for (int b = 0; b < resamples_; ++b) {
      std::fill(counts.begin(), counts.end(), 0);
      for (int j = 0; j < n_; ++j) ++counts[BoundedIndex(g, static_cast<uint64_t>(n_))];
      double sum = 0;
      for (int i = 0; i < n_; ++i) sum += counts[i] * x[i];
      means.emplace_back(sum / n_, 1);
    }
  }
  // The interval needs only the two tails (about 2.5% of the weight each): partial sorts of
  // the 8 smallest and 8 largest resample means usually settle it, at a fraction of a full
  // sort; otherwise sort everything. Both give the same numbers.
  constexpr size_t kTail = 8;
  Interval ci;
  const auto* d = means.data();
  if (means.size() >= 3 * kTail) {
    std::partial_sort(means.begin(), means.begin() + kTail, means.end());
    std::partial_sort(means.begin() + kTail, means.begin() + 2 * kTail, means.end(),
                      std::greater<>());
    if (WeightedQuantile(d, kTail, d + kTail, kTail, resamples_, lo_q, &ci.lo) &&
        WeightedQuantile(d, kTail, d + kTail, kTail, resamples_, hi_q, &ci.hi)) {
      return ci;
    }
  }
  std::sort(means.begin(), means.end());
  std::vector<std::pair<double, int>> reversed(means.rbegin(), means.rend());
  WeightedQuantile(d, means.size(), reversed.data(), reversed.size(), resamples_, lo_q, &ci.lo);
  WeightedQuantile(d, means.size(), reversed.data(), reversed.size(), resamples_, hi_q, &ci.hi);
  return ci;
}

Interval BootstrapMeanCi(const std::vector<double>& x, int resamples, uint64_t seed, double level) {
  return MeanBootstrap(static_cast<int>(x.size()), resamples, seed).Ci(x, level);
}

double TwoSidedP(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  if (std::isinf(t)) return 0;
  boost::math::students_t dist(df);
  const double p = 2 * boost::math::cdf(boost::math::complement(dist, std::fabs(t)));
  return std::min(1.0, p);
}

double StudentTQuantile(double prob, double df) {
  if (!(df > 0) || !(prob > 0 && prob < 1)) return kNaN;
  return boost::math::quantile(boost::math::students_t(df), prob);
}

TTest PairedTTest(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("PairedTTest: sizes differ");
  std::vector<double> d(x.size());
  for (size_t i = 0; i < x.size(); ++i) d[i] = x[i] - y[i];
  return TTestOnDifferences(d);
}

double OneSidedPGreater(const TTest& t) {
  if (std::isinf(t.t)) return t.t > 0 ? 0 : 1;
  if (t.t == 0) return t.mean == 0 ? 1 : 0.5;
  return t.t > 0 ? t.p / 2 : 1 - t.p / 2;
}

TTest OneSampleTTest(const std::vector<double>& x, double mu0) {
  std::vector<double> d(x.size());
  for (size_t i = 0; i < x.size(); ++i) d[i] = x[i] - mu0;
  return TTestOnDifferences(d);
}

bool LinearFit::ok() const {
  return !std::isnan(slope) && !std::isnan(slope_lo) && !std::isnan(slope_hi) && !std::isnan(p);
}

LinearFit FitLine(const std::vector<double>& x, const std::vector<double>& y, double level) {
  if (x.size() != y.size()) throw std::invalid_argument("FitLine: sizes differ");
  LinearFit f;
  f.n = static_cast<int>(x.size());
  f.df = std::max(0, f.n - 2);
  f.intercept = f.slope = f.slope_se = f.slope_lo = f.slope_hi = f.t = f.p = f.r2 = kNaN;
  if (f.n < 2) return f;
  const Describe dx = DescribeValues(x), dy = DescribeValues(y);
  double sxx = 0, sxy = 0, syy = 0;
  for (int i = 0; i < f.n; ++i) {
    sxx += (x[i] - dx.mean) * (x[i] - dx.mean);
    sxy += (x[i] - dx.mean) * (y[i] - dy.mean);
    syy += (y[i] - dy.mean) * (y[i] - dy.mean);
  }
  if (dx.sd <= kZeroSpread * MaxAbs(x)) return f;  // constant x: no slope
  const bool constant_y = dy.sd <= kZeroSpread * MaxAbs(y);
  if (constant_y) {
    // Exactly flat, whatever rounding put into sxy.
    f.slope = 0;
    f.intercept = dy.mean;
    if (f.n >= 3) {
      f.slope_se = f.slope_lo = f.slope_hi = f.t = 0;
      f.p = 1;
    }
    return f;
  }
  f.slope = sxy / sxx;
  f.intercept = dy.mean - f.slope * dx.mean;
  double sse = 0;
  for (int i = 0; i < f.n; ++i) {
    const double r = y[i] - (f.intercept + f.slope * x[i]);
    sse += r * r;
  }
  f.r2 = 1 - sse / syy;
  if (f.n < 3) return f;
  f.slope_se = std::sqrt(sse / f.df / sxx);
  const double tq = StudentTQuantile((1 + level) / 2, f.df);
  f.slope_lo = f.slope - tq * f.slope_se;
  f.slope_hi = f.slope + tq * f.slope_se;
  if (f.slope_se == 0) {
    f.t = f.slope > 0 ? kInf : -kInf;
    f.p = 0;
  } else {
    f.t = f.slope / f.slope_se;
    f.p = TwoSidedP(f.t, f.df);
  }
  return f;
}

}  // namespace revsweep
