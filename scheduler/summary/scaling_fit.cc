#include "scheduler/summary/scaling_fit.h"

#include <LBFGS.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>

#include "common/parallel.h"

namespace revsweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Weighted Huber objective over (log N, log L) points in the parameters x = (e, a, alpha).
// Divided by delta so its gradient is O(1) whatever delta is (the argmin is unchanged),
// which keeps L-BFGS's absolute gradient tolerance meaningful. Remembers the best point it
// was ever evaluated at: a line search that gives up (LBFGSpp throws) still leaves a usable
// answer.
class HuberObjective {
 public:
  HuberObjective(const std::vector<double>& log_n, const std::vector<double>& log_l,
                 const std::vector<double>& weight, double delta)
      : log_n_(log_n), log_l_(log_l), weight_(weight), delta_(delta) {}

  double operator()(const Eigen::VectorXd& x, Eigen::VectorXd& grad) {
    const double e = x[0], a = x[1], alpha = x[2];
    double f = 0;
    grad.setZero();
    for (size_t i = 0; i < log_n_.size(); ++i) {
      if (weight_[i] == 0) continue;
      const double u = a - alpha * log_n_[i];
      const double m = std::max(e, u);
      const double pred = m + std::log(std::exp(e - m) + std::exp(u - m));
      const double r = pred - log_l_[i];
      double h, dh;
      if (std::fabs(r) <= delta_) {
        h = r * r / (2 * delta_);
        dh = r / delta_;
      } else {
        h = std::fabs(r) - delta_ / 2;
        dh = r > 0 ? 1 : -1;
      }
      const double w = weight_[i];
      f += w * h;
      const double we = std::exp(e - pred), wu = std::exp(u - pred);
      grad[0] += w * dh * we;
      grad[1] += w * dh * wu;
      grad[2] -= w * dh * wu * log_n_[i];
    }
    if (std::isfinite(f) && f < best_f_) {
      best_f_ = f;
      best_x_ = x;
    }
    return f;
  }

  double best_f() const { return best_f_; }
  const Eigen::VectorXd& best_x() const { return best_x_; }
  void ResetBest() { best_f_ = std::numeric_limits<double>::infinity(); }

 private:
  const std::vector<double>& log_n_;
  const std::vector<double>& log_l_;
  const std::vector<double>& weight_;
  double delta_;
  double best_f_ = std::numeric_limits<double>::infinity();
  Eigen::VectorXd best_x_;
};

struct Optimum {
  bool ok = false;
  double f = std::numeric_limits<double>::infinity();
  Eigen::Vector3d x = Eigen::Vector3d::Zero();
};

// Runs L-BFGS from each start and keeps the lowest objective (first wins ties, so the
// result depends only on the inputs and the order of `starts`).
Optimum MinimizeFromStarts(HuberObjective& objective, const std::vector<Eigen::Vector3d>& starts,
                           int max_iterations) {
  LBFGSpp::LBFGSParam<double> param;
  param.epsilon = 1e-9;
  param.epsilon_rel = 1e-12;
  param.past = 3;
  param.delta = 1e-12;
  param.max_iterations = max_iterations;
  param.max_linesearch = 40;
  LBFGSpp::LBFGSSolver<double> solver(param);
  Optimum best;
  for (const Eigen::Vector3d& s : starts) {
    objective.ResetBest();
    Eigen::VectorXd x = s;
    double fx = 0;
    try {
      solver.minimize(objective, x, fx);
    } catch (const std::exception&) {
      // Line search failure or a non-finite step: fall back to the best point seen.
    }
    if (objective.best_f() < best.f) {
      best.f = objective.best_f();
      best.x = objective.best_x();
      best.ok = true;
    }
  }
  return best;
}

std::vector<Eigen::Vector3d> GridStarts(const PowerLawOptions& o, int stride) {
  std::vector<Eigen::Vector3d> starts;
  for (size_t i = 0; i < o.alpha_grid.size(); i += stride) {
    for (size_t j = 0; j < o.e_grid.size(); j += stride) {
      for (size_t k = 0; k < o.a_grid.size(); k += stride) {
        starts.emplace_back(o.e_grid[j], o.a_grid[k], o.alpha_grid[i]);
      }
    }
  }
  return starts;
}

int DistinctCount(const std::vector<double>& v, const std::vector<double>& weight) {
  std::set<double> s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (weight[i] > 0) s.insert(v[i]);
  }
  return static_cast<int>(s.size());
}

}  // namespace

double PowerLawFit::Predict(double n) const {
  if (!ok) return kNaN;
  return E + A / std::pow(n, alpha);
}

PowerLawFit FitPowerLaw(const std::vector<double>& params, const std::vector<double>& loss,
                        const PowerLawOptions& options) {
  if (params.size() != loss.size()) throw std::invalid_argument("FitPowerLaw: sizes differ");
  PowerLawFit fit;
  fit.E = fit.A = fit.alpha = fit.objective = kNaN;
  fit.E_ci = fit.A_ci = fit.alpha_ci = {kNaN, kNaN};
  std::vector<double> log_n, log_l;
  for (size_t i = 0; i < params.size(); ++i) {
    if (std::isfinite(params[i]) && params[i] > 0 && std::isfinite(loss[i]) && loss[i] > 0) {
      log_n.push_back(std::log(params[i]));
      log_l.push_back(std::log(loss[i]));
    }
  }
  std::vector<double> weight(log_n.size(), 1.0);
  fit.n_points = static_cast<int>(log_n.size());
  fit.n_sizes = DistinctCount(log_n, weight);
  if (fit.n_sizes < 3) {
    fit.message = "fewer than 3 model sizes (" + std::to_string(fit.n_sizes) +
                  "): E + A/N^alpha has three parameters";
    return fit;
  }
  HuberObjective objective(log_n, log_l, weight, options.huber_delta);
  const Optimum best =
      MinimizeFromStarts(objective, GridStarts(options, 1), options.max_iterations);
  if (!best.ok) {
    fit.message = "no start of the L-BFGS grid reached a finite objective";
    return fit;
  }
  fit.ok = true;
  fit.E = std::exp(best.x[0]);
  fit.A = std::exp(best.x[1]);
  fit.alpha = best.x[2];
  fit.objective = best.f * options.huber_delta;  // undo the 1/delta scaling

  if (options.bootstrap <= 0) return fit;
  // Bootstrap: resample points with replacement (as counts, so the objective just weights
  // them); refit from the full-data optimum plus a coarse grid.
  std::vector<Eigen::Vector3d> starts = {best.x};
  for (const Eigen::Vector3d& s : GridStarts(options, 2)) starts.push_back(s);
  // The resamples are drawn in order from one seeded generator, then fitted on two threads
  // (each fit is independent and deterministic, so the result does not depend on threading).
  std::mt19937_64 g(options.seed);
  const uint64_t n = log_n.size();
  std::vector<std::vector<double>> weights;
  for (int b = 0; b < options.bootstrap; ++b) {
    std::vector<double> w(n, 0.0);
    for (uint64_t j = 0; j < n; ++j) w[BoundedIndex(g, n)] += 1;
    if (DistinctCount(log_n, w) < 3) {
      ++fit.bootstrap_skipped;
      continue;
    }
    weights.push_back(std::move(w));
  }
  std::vector<Optimum> fits(weights.size());
  auto refit = [&](size_t lo, size_t hi) {
    for (size_t b = lo; b < hi; ++b) {
      HuberObjective resampled(log_n, log_l, weights[b], options.huber_delta);
      fits[b] = MinimizeFromStarts(resampled, starts, options.max_iterations);
    }
  };
  ParallelFor(weights.size(), 8, refit);
  std::vector<double> es, as, alphas;
  for (const Optimum& o : fits) {
    if (!o.ok) continue;
    ++fit.bootstrap_fitted;
    es.push_back(std::exp(o.x[0]));
    as.push_back(std::exp(o.x[1]));
    alphas.push_back(o.x[2]);
  }
  // Fewer than 20 fitted resamples cannot place a 2.5th percentile meaningfully.
  if (fit.bootstrap_fitted >= 20) {
    const double lo = (1 - options.level) / 2, hi = (1 + options.level) / 2;
    auto ci = [&](std::vector<double>& v) {
      std::sort(v.begin(), v.end());
      return Interval{SortedQuantile(v, lo), SortedQuantile(v, hi)};
    };
    fit.E_ci = ci(es);
    fit.A_ci = ci(as);
    fit.alpha_ci = ci(alphas);
  }
  return fit;
}

LinearFit FitVsLogParams(const std::vector<double>& params, const std::vector<double>& y,
                         double level) {
  if (params.size() != y.size()) throw std::invalid_argument("FitVsLogParams: sizes differ");
  std::vector<double> lx, ly;
  for (size_t i = 0; i < params.size(); ++i) {
    if (std::isfinite(params[i]) && params[i] > 0 && std::isfinite(y[i])) {
      lx.push_back(std::log10(params[i]));
      ly.push_back(y[i]);
    }
  }
  return FitLine(lx, ly, level);
}

}  // namespace revsweep
