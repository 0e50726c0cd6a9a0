#include "scheduler/summary/scaling_fit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>

namespace revsweep {
namespace {

struct Points {
  std::vector<double> n, loss;
};

// L(N) = E + A / N^alpha at `sizes` log-spaced sizes from 1e5 to 1e9, `seeds` points per
// size, each multiplied by exp(noise * z) with z standard normal from a fixed seed.
Points Synthetic(double e, double a, double alpha, int sizes, int seeds, double noise) {
  std::mt19937_64 g(7);
  std::normal_distribution<double> z;  // only the test's own data depends on this
  Points p;
  for (int i = 0; i < sizes; ++i) {
    const double n = std::pow(10.0, 5 + 4.0 * i / (sizes - 1));
    for (int s = 0; s < seeds; ++s) {
      p.n.push_back(n);
      p.loss.push_back((e + a / std::pow(n, alpha)) * std::exp(noise * z(g)));
    }
  }
  return p;
}

TEST(PowerLawTest, RecoversExactParameters) {
  const Points p = Synthetic(1.69, 406.4, 0.34, 8, 1, 0.0);
  PowerLawOptions o;
  o.bootstrap = 0;
  const PowerLawFit f = FitPowerLaw(p.n, p.loss, o);
  ASSERT_TRUE(f.ok) << f.message;
  EXPECT_NEAR(f.E, 1.69, 1e-3);
  EXPECT_NEAR(f.A / 406.4, 1, 1e-2);
  EXPECT_NEAR(f.alpha, 0.34, 1e-3);
  EXPECT_NEAR(f.Predict(1e7), 1.69 + 406.4 / std::pow(1e7, 0.34), 1e-4);
}

TEST(PowerLawTest, RecoversParametersUnderNoiseWithIntervals) {
  // Small multiplicative noise (0.5%), 8 sizes x 3 seeds.
  const Points p = Synthetic(1.69, 406.4, 0.34, 8, 3, 0.005);
  const PowerLawFit f = FitPowerLaw(p.n, p.loss);
  ASSERT_TRUE(f.ok) << f.message;
  EXPECT_EQ(f.n_points, 24);
  EXPECT_EQ(f.n_sizes, 8);
  EXPECT_NEAR(f.E, 1.69, 0.05);
  EXPECT_NEAR(f.alpha, 0.34, 0.04);
  EXPECT_NEAR(std::log(f.A), std::log(406.4), 0.5);
  EXPECT_GE(f.bootstrap_fitted, 150);
  EXPECT_LE(f.E_ci.lo, f.E);
  EXPECT_GE(f.E_ci.hi, f.E);
  EXPECT_LE(f.alpha_ci.lo, 0.34 + 0.02);
  EXPECT_GE(f.alpha_ci.hi, 0.34 - 0.02);
  EXPECT_LE(f.A_ci.lo, f.A_ci.hi);
}

TEST(PowerLawTest, SmallModelRegime) {
  // Training loss near zero, as on memorisation tasks: E small, steep decay.
  const Points p = Synthetic(0.02, 3000, 0.6, 6, 2, 0.01);
  const PowerLawFit f = FitPowerLaw(p.n, p.loss);
  ASSERT_TRUE(f.ok) << f.message;
  EXPECT_NEAR(f.E, 0.02, 0.005);
  EXPECT_NEAR(f.alpha, 0.6, 0.05);
}

TEST(PowerLawTest, Deterministic) {
  const Points p = Synthetic(1.2, 50, 0.3, 5, 2, 0.01);
  PowerLawOptions o;
  o.bootstrap = 50;
  const PowerLawFit a = FitPowerLaw(p.n, p.loss, o);
  const PowerLawFit b = FitPowerLaw(p.n, p.loss, o);
  EXPECT_EQ(a.E, b.E);
  EXPECT_EQ(a.alpha, b.alpha);
  EXPECT_EQ(a.E_ci.lo, b.E_ci.lo);
  EXPECT_EQ(a.alpha_ci.hi, b.alpha_ci.hi);
}

TEST(PowerLawTest, TooFewSizes) {
  const PowerLawFit f = FitPowerLaw({1e6, 1e6, 1e7, 1e7}, {2, 2.1, 1.5, 1.6});
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.n_sizes, 2);
  EXPECT_NE(f.message.find("fewer than 3 model sizes"), std::string::npos);
  EXPECT_TRUE(std::isnan(f.Predict(1e6)));
}

TEST(PowerLawTest, DropsUnusablePoints) {
  const Points p = Synthetic(1.69, 406.4, 0.34, 5, 1, 0.0);
  std::vector<double> n = p.n, loss = p.loss;
  n.push_back(0);
  loss.push_back(1);
  n.push_back(1e6);
  loss.push_back(NAN);
  n.push_back(1e6);
  loss.push_back(-1);
  PowerLawOptions o;
  o.bootstrap = 0;
  const PowerLawFit f = FitPowerLaw(n, loss, o);
  EXPECT_EQ(f.n_points, 5);
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.alpha, 0.34, 1e-3);
}

TEST(PowerLawTest, BootstrapFitOfASummarySizedGrid) {
  // A summary fits once per call; 5 sizes x 4 seeds with 200 bootstrap refits. The time is
  // recorded, not asserted (a busy machine is no failure; bench/ measures speed as ratios).
  const Points p = Synthetic(0.5, 80, 0.35, 5, 4, 0.02);
  const auto t0 = std::chrono::steady_clock::now();
  const PowerLawFit f = FitPowerLaw(p.n, p.loss);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(f.ok);
  RecordProperty("fit_seconds", std::to_string(s));
}

TEST(VsLogParamsTest, SlopePerDecade) {
  // acc = 0.1 + 0.05 * log10(N) exactly at 1e6, 1e7, 1e8.
  const LinearFit f = FitVsLogParams({1e6, 1e7, 1e8}, {0.4, 0.45, 0.5});
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f.slope, 0.05, 1e-12);
  EXPECT_NEAR(f.intercept, 0.1, 1e-10);
  const LinearFit flat = FitVsLogParams({1e6, 1e7, 1e8, 0}, {0, 0, 0, 0.5});
  EXPECT_EQ(flat.n, 3);  // N = 0 dropped
  EXPECT_EQ(flat.slope, 0);
  EXPECT_EQ(flat.p, 1);
}

}  // namespace
}  // namespace revsweep
