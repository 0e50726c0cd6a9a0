// Reference values were computed with mpmath 1.2 at 30 digits (scipy is not installed):
// Student's t two-sided p = I_{df/(df+t^2)}(df/2, 1/2) (regularised incomplete beta), the
// quantile by root finding on it; means, SDs and least squares by the textbook formulas on
// the same double inputs. The script is reproduced in the comment at the end of this file.
#include "common/stats/stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace revsweep {
namespace {

TEST(DescribeTest, MeanSdSe) {
  const Describe d = DescribeValues({2.1, 2.5, 1.9, 2.8, 2.2, 2.6});
  EXPECT_EQ(d.n, 6);
  EXPECT_NEAR(d.mean, 2.35, 1e-12);
  EXPECT_NEAR(d.sd, 0.339116499156263367666798731786, 1e-12);
  EXPECT_NEAR(d.se, 0.138443731048634564837786866886, 1e-12);
  EXPECT_TRUE(d.se_defined);
}

TEST(DescribeTest, OneValueHasZeroSeFlagged) {
  const Describe d = DescribeValues({0.5});
  EXPECT_EQ(d.mean, 0.5);
  EXPECT_EQ(d.se, 0);
  EXPECT_EQ(d.sd, 0);
  EXPECT_FALSE(d.se_defined);
}

TEST(DescribeTest, EmptyIsNaN) {
  const Describe d = DescribeValues({});
  EXPECT_TRUE(std::isnan(d.mean));
  EXPECT_TRUE(std::isnan(d.se));
  EXPECT_FALSE(d.se_defined);
}

TEST(QuantileTest, Type7Interpolation) {
  // numpy.percentile([1,2,3,4], 25) = 1.75 (position 0.25 * 3 = 0.75).
  EXPECT_DOUBLE_EQ(SortedQuantile({1, 2, 3, 4}, 0.25), 1.75);
  EXPECT_DOUBLE_EQ(SortedQuantile({1, 2, 3, 4}, 1.0), 4);
  EXPECT_DOUBLE_EQ(SortedQuantile({1, 2, 3, 4}, 0.0), 1);
  EXPECT_DOUBLE_EQ(SortedQuantile({7}, 0.3), 7);
  EXPECT_TRUE(std::isnan(SortedQuantile({}, 0.5)));
}

TEST(TTestTest, PairedMatchesReference) {
  // d = x - y = [0.2, 0.3, -0.4, 0.8, 0.9]: mean 0.36, sd 0.5224940191, t = 1.5406577730.
  const TTest r = PairedTTest({1.2, 2.3, 3.1, 4.8, 5.0}, {1.0, 2.0, 3.5, 4.0, 4.1});
  EXPECT_EQ(r.n, 5);
  EXPECT_EQ(r.df, 4);
  EXPECT_NEAR(r.mean, 0.36, 1e-12);
  EXPECT_NEAR(r.t, 1.54065777303928644589703620391, 1e-10);
  EXPECT_NEAR(r.p, 0.198248360718703872924527134539, 1e-10);
}

TEST(TTestTest, PairedIsAntisymmetric) {
  const TTest a = PairedTTest({1, 2, 4}, {0.5, 2.5, 3});
  const TTest b = PairedTTest({0.5, 2.5, 3}, {1, 2, 4});
  EXPECT_DOUBLE_EQ(a.t, -b.t);
  EXPECT_DOUBLE_EQ(a.p, b.p);
}

TEST(TTestTest, OneSampleMatchesReference) {
  const TTest r = OneSampleTTest({2.1, 2.5, 1.9, 2.8, 2.2, 2.6}, 2.0);
  EXPECT_NEAR(r.t, 2.52810291480115361580712519738, 1e-10);
  EXPECT_NEAR(r.p, 0.0526516152625550006123684052421, 1e-10);
  EXPECT_EQ(r.df, 5);
}

TEST(TTestTest, IdenticalPairsGiveTZeroPOne) {
  const TTest r = PairedTTest({0.1, 0.2, 0.3}, {0.1, 0.2, 0.3});
  EXPECT_EQ(r.t, 0);
  EXPECT_EQ(r.p, 1);
}

TEST(TTestTest, ConstantNonzeroDifferenceGivesPZero) {
  // 0.3 - 0.1 and 0.5 - 0.3 differ in the last bit: still "constant".
  const TTest r = PairedTTest({0.3, 0.5, 0.7}, {0.1, 0.3, 0.5});
  EXPECT_EQ(r.p, 0);
  EXPECT_TRUE(std::isinf(r.t));
  EXPECT_GT(r.t, 0);
  const TTest neg = OneSampleTTest({-1, -1, -1}, 0);
  EXPECT_EQ(neg.p, 0);
  EXPECT_LT(neg.t, 0);
}

TEST(TTestTest, TooFewPairsIsNaN) {
  const TTest r = PairedTTest({1}, {2});
  EXPECT_TRUE(std::isnan(r.t));
  EXPECT_TRUE(std::isnan(r.p));
  EXPECT_THROW(PairedTTest({1, 2}, {1}), std::invalid_argument);
}

TEST(TDistributionTest, QuantileAndP) {
  EXPECT_NEAR(StudentTQuantile(0.975, 10), 2.2281388519862747483954906632, 1e-10);
  EXPECT_NEAR(StudentTQuantile(0.975, 3), 3.18244630528370959272322542578, 1e-10);
  EXPECT_NEAR(TwoSidedP(2.5, 7), 0.0409922185857528968894248611274, 1e-12);
  EXPECT_NEAR(TwoSidedP(-2.5, 7), 0.0409922185857528968894248611274, 1e-12);
  EXPECT_EQ(TwoSidedP(0, 7), 1);
  EXPECT_EQ(TwoSidedP(INFINITY, 7), 0);
}

TEST(FitLineTest, MatchesReference) {
  const LinearFit f = FitLine({1, 2, 3, 4, 5}, {2.1, 3.9, 6.2, 7.8, 10.1});
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f.slope, 1.99, 1e-12);
  EXPECT_NEAR(f.intercept, 0.05, 1e-12);
  EXPECT_NEAR(f.slope_se, 0.0597215762238964188722602962062, 1e-12);
  EXPECT_NEAR(f.slope_lo, 1.79993929040054130729034607029, 1e-10);
  EXPECT_NEAR(f.slope_hi, 2.18006070959945849731040159569, 1e-10);
  EXPECT_NEAR(f.t, 33.3212906595010528763740522539, 1e-8);
  EXPECT_NEAR(f.p, 0.0000594153911175536155239028839038, 1e-12);
  EXPECT_NEAR(f.r2, 0.997305328900977130264491317094, 1e-12);
  EXPECT_EQ(f.df, 3);
}

TEST(FitLineTest, ConstantYIsExactlyFlat) {
  // The reversal curse: reverse accuracy 0 at every size.
  const LinearFit f = FitLine({6, 7, 8, 6, 7, 8}, {0, 0, 0, 0, 0, 0});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.slope, 0);
  EXPECT_EQ(f.slope_lo, 0);
  EXPECT_EQ(f.slope_hi, 0);
  EXPECT_EQ(f.p, 1);
  // Constant but not representable exactly: rounding must not create a trend.
  const LinearFit g = FitLine({6, 7, 8}, {0.1, 0.1, 0.1});
  EXPECT_EQ(g.slope, 0);
  EXPECT_EQ(g.p, 1);
}

TEST(FitLineTest, DegenerateInputs) {
  EXPECT_FALSE(FitLine({1, 2}, {1, 3}).ok());  // n = 2: slope but no SE
  EXPECT_NEAR(FitLine({1, 2}, {1, 3}).slope, 2, 1e-12);
  EXPECT_TRUE(std::isnan(FitLine({3, 3, 3}, {1, 2, 3}).slope));  // constant x
  EXPECT_FALSE(FitLine({}, {}).ok());
  const LinearFit exact = FitLine({1, 2, 3, 4}, {1, 3, 5, 7});
  EXPECT_NEAR(exact.slope, 2, 1e-12);
  EXPECT_LT(exact.p, 1e-10);
}

// The naive definition the plan must reproduce bit for bit: B resample means, sorted.
Interval NaiveBootstrap(const std::vector<double>& x, int resamples, uint64_t seed) {
  std::mt19937_64 g(seed);
  const size_t n = x.size();
  std::vector<double> means;
  std::vector<int> counts(n);
  for (int b = 0; b < resamples; ++b) {
    std::fill(counts.begin(), counts.end(), 0);
    for (size_t j = 0; j < n; ++j) ++counts[BoundedIndex(g, n)];
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += counts[i] * x[i];
    means.push_back(sum / n);
  }
  std::sort(means.begin(), means.end());
  return {SortedQuantile(means, (1 - 0.95) / 2), SortedQuantile(means, (1 + 0.95) / 2)};
}

TEST(BootstrapTest, ReproducibleWithFixedSeed) {
  const std::vector<double> x = {0.31, 0.33, 0.30, 0.36};
  const Interval a = BootstrapMeanCi(x);
  const Interval b = BootstrapMeanCi(x);
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  EXPECT_LE(a.lo, 0.325);
  EXPECT_GE(a.hi, 0.325);
  EXPECT_GE(a.lo, 0.30);
  EXPECT_LE(a.hi, 0.36);
  // Another seed gives another interval (with 10 values the 2.5th percentile is not pinned
  // to one of few distinct resamples).
  const std::vector<double> y = {0.1, 0.5, 0.2, 0.9, 0.3, 0.35, 0.6, 0.05, 0.7, 0.4};
  const Interval c = BootstrapMeanCi(y, kBootstrapResamples, kBootstrapSeed);
  const Interval d = BootstrapMeanCi(y, kBootstrapResamples, kBootstrapSeed + 1);
  EXPECT_TRUE(c.lo != d.lo || c.hi != d.hi);
}

TEST(BootstrapTest, PlanEqualsNaiveDefinition) {
  for (int n : {2, 3, 4, 5, 10, 70}) {
    std::vector<double> x;
    for (int i = 0; i < n; ++i) x.push_back(std::sin(1.0 + i) * 0.4 + 0.5);
    for (int b : {1, 7, 1000, 2000}) {
      const Interval want = NaiveBootstrap(x, b, 99);
      const Interval got = BootstrapMeanCi(x, b, 99);
      EXPECT_EQ(got.lo, want.lo) << "n=" << n << " B=" << b;
      EXPECT_EQ(got.hi, want.hi) << "n=" << n << " B=" << b;
    }
  }
}

TEST(BootstrapTest, PlanReusableAndCompact) {
  const MeanBootstrap plan(4);
  EXPECT_LE(plan.distinct(), 35u);  // C(7, 4) multisets of 4 indices
  const Interval a = plan.Ci({1, 2, 3, 4});
  const Interval b = plan.Ci({1, 2, 3, 4});
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_THROW(plan.Ci({1, 2}), std::invalid_argument);
}

TEST(BootstrapTest, EdgeCases) {
  const Interval one = BootstrapMeanCi({0.7});
  EXPECT_EQ(one.lo, 0.7);
  EXPECT_EQ(one.hi, 0.7);
  const Interval none = BootstrapMeanCi({});
  EXPECT_TRUE(std::isnan(none.lo));
  const Interval same = BootstrapMeanCi({0, 0, 0});
  EXPECT_EQ(same.lo, 0);
  EXPECT_EQ(same.hi, 0);
}

TEST(BootstrapTest, IndexMappingIsFixed) {
  // Golden values of this implementation (std::mt19937_64 is fixed by the standard, the
  // mapping is ours). If they change, every CI revsweep has reported changes.
  std::mt19937_64 g(kBootstrapSeed);
  std::vector<uint64_t> got;
  for (int i = 0; i < 8; ++i) got.push_back(BoundedIndex(g, 10));
  const std::vector<uint64_t> want = {5, 0, 8, 8, 8, 0, 6, 0};
  EXPECT_EQ(got, want);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(BoundedIndex(g, 3), 3u);
}

}  // namespace
}  // namespace revsweep

// Reference script (mpmath):
//   from mpmath import mp, mpf, betainc, sqrt, findroot; mp.dps = 30
//   p2 = lambda t, df: betainc(df/2, mpf(1)/2, 0, df/(df+t*t), regularized=True)
//   tq = lambda p, df: findroot(lambda t: 1 - p2(t, df)/2 - p, 2)
//   paired: d = x - y; t = mean(d) / (sd(d) / sqrt(n)); p = p2(t, n - 1)
//   regression: b = Sxy/Sxx; se = sqrt(SSE/(n-2)/Sxx); CI = b -+ tq(0.975, n-2) * se
