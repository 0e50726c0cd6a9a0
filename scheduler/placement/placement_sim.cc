#include "scheduler/placement/placement_sim.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <queue>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/stats/stats.h"

namespace revsweep {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void ValidateOptions(const SimOptions& o) {
  if (o.world_size < 1) throw std::invalid_argument("Simulate: world_size < 1");
  if (o.ranks_per_node < 0) throw std::invalid_argument("Simulate: ranks_per_node < 0");
  if (!(o.speed_per_rank > 0)) throw std::invalid_argument("Simulate: speed_per_rank <= 0");
  if (!(o.scaling_efficiency > 0 && o.scaling_efficiency <= 1)) {
    throw std::invalid_argument("Simulate: scaling_efficiency outside (0, 1]");
  }
  if (!(o.split_slowdown >= 1)) throw std::invalid_argument("Simulate: split_slowdown < 1");
}

// Uniform double in [0, 1) from the top 53 bits of one draw (fixed mapping, unlike
// std::uniform_real_distribution).
double Uniform01(std::mt19937_64& g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; }

// Standard normal by Box-Muller (one value per call; the partner is discarded for simplicity).
double Normal(std::mt19937_64& g) {
  const double u1 = 1.0 - Uniform01(g);  // (0, 1], so log is finite
  const double u2 = Uniform01(g);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace

double SimDuration(const PendingTrial& trial, const SimOptions& options) {
  return SimDurationOn(trial, trial.group_size, options);
}

double SimDurationOn(const PendingTrial& trial, int ranks, const SimOptions& options) {
  if (ranks < 1) throw std::invalid_argument("SimDuration: group_size < 1");
  const double k = ranks;
  return trial.cost /
         (options.speed_per_rank * k * std::pow(options.scaling_efficiency, std::log2(k)));
}

double SimLowerBound(const std::vector<PendingTrial>& trials, const SimOptions& options) {
  if (!options.submit_times.empty() && options.submit_times.size() != trials.size()) {
    throw std::invalid_argument("SimLowerBound: submit_times.size() != trials.size()");
  }
  if (options.world_size < 1) throw std::invalid_argument("SimLowerBound: world_size < 1");
  double rank_seconds = 0, longest = 0;
  for (size_t i = 0; i < trials.size(); ++i) {
    const PendingTrial& t = trials[i];
    if (t.group_size > options.world_size) continue;
    // Rank-seconds are fewest at the smallest group (efficiency <= 1); a moldable trial's
    // shortest duration is at its widest group that fits the world.
    rank_seconds += SimDuration(t, options) * t.group_size;
    const int widest = std::min(options.world_size, std::max(t.group_size, t.group_size_max));
    const double submitted = options.submit_times.empty() ? 0.0 : options.submit_times[i];
    longest = std::max(longest, submitted + SimDurationOn(t, widest, options));
  }
  return std::max(rank_seconds / options.world_size, longest);
}

SimResult Simulate(const std::vector<PendingTrial>& trials, const SimOptions& options) {
  ValidateOptions(options);
  if (!options.submit_times.empty() && options.submit_times.size() != trials.size()) {
    throw std::invalid_argument("Simulate: submit_times.size() != trials.size()");
  }
  for (double s : options.submit_times) {
    if (!(s >= 0) || !std::isfinite(s)) throw std::invalid_argument("Simulate: bad submit time");
  }
  auto submit = [&](size_t i) {
    return options.submit_times.empty() ? 0.0 : options.submit_times[i];
  };
  SimResult result;
  result.start.assign(trials.size(), -1);
  result.lower_bound = SimLowerBound(trials, options);

  std::unordered_map<std::string, size_t> index_of;
  std::vector<size_t> arrivals;  // placeable trials by (submit time, list position)
  for (size_t i = 0; i < trials.size(); ++i) {
    if (!index_of.emplace(trials[i].id, i).second) {
      throw std::invalid_argument("Simulate: duplicate trial id " + trials[i].id);
    }
    if (trials[i].group_size > options.world_size) {
      result.unplaceable.push_back(trials[i].id);
    } else {
      arrivals.push_back(i);
    }
  }
  std::stable_sort(arrivals.begin(), arrivals.end(),
                   [&](size_t a, size_t b) { return submit(a) < submit(b); });
  size_t next_arrival = 0;
  std::vector<PendingTrial> pending;  // arrival order

  ClusterSnapshot cluster;
  cluster.ranks_per_node = options.ranks_per_node;
  cluster.world_size = options.world_size;
  std::vector<bool> busy(options.world_size, false);
  // (end time, input index), earliest first; ties by index so frees happen in a fixed order.
  // (end time, input index, generation); an event whose generation is stale was cut short.
  using Event = std::tuple<double, size_t, int>;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> running;
  std::vector<std::vector<int>> ranks_of(trials.size());
  std::vector<double> duration_of(trials.size(), 0);
  std::vector<double> piece_start(trials.size(), 0);   // start of the running piece
  std::vector<double> left_of(trials.size(), 1);       // fraction of the work not yet done
  std::vector<int> generation(trials.size(), 0);       // bumped when a piece is cut short
  std::vector<bool> regrouping(trials.size(), false);  // back in pending after a regroup
  std::set<size_t> running_now;  // input indices, for the snapshot's running list
  double now = 0, busy_rank_seconds = 0;

  while (true) {
    // Everything that happens at `now` happens before the decision: frees, then arrivals.
    while (!running.empty() && std::get<0>(running.top()) <= now) {
      const auto [end, i, gen] = running.top();
      running.pop();
      if (gen != generation[i]) continue;
      result.makespan = std::max(result.makespan, end);  // only pieces that ran to the end
      for (int r : ranks_of[i]) busy[r] = false;
      running_now.erase(i);
      left_of[i] = 0;
    }
    while (next_arrival < arrivals.size() && submit(arrivals[next_arrival]) <= now) {
      pending.push_back(trials[arrivals[next_arrival++]]);
    }
    if (pending.empty() && options.regroup) {
      // As the coordinator: nothing pending and ranks idle, so the running moldable trial with
      // the most time left (at least regroup_min_remaining) stops at a checkpoint and is
      // pending again for what it has left (plus the restart cost).
      int free_count = 0;
      for (int r = 0; r < options.world_size; ++r) free_count += !busy[r];
      size_t best = trials.size();
      double best_left = 0;
      for (size_t i : running_now) {
        const PendingTrial& t = trials[i];
        const int k = static_cast<int>(ranks_of[i].size());
        if (free_count == 0 || std::min(options.world_size, t.group_size_max) <= k) continue;
        const int rpn = options.ranks_per_node;
        if (rpn > 0 && k < rpn) {
          int usable = 0;
          for (int r = 0; r < options.world_size; ++r)
            usable += !busy[r] && r / rpn == ranks_of[i].front() / rpn;
          if (usable == 0) continue;
        }
        const double left = piece_start[i] + duration_of[i] - now;
        if (left >= options.regroup_min_remaining && left > best_left) {
          best = i;
          best_left = left;
        }
      }
      if (best < trials.size()) {
        const size_t i = best;
        const double done_frac = (now - piece_start[i]) / duration_of[i];
        busy_rank_seconds -= (1 - done_frac) * duration_of[i] * ranks_of[i].size();
        left_of[i] *= 1 - done_frac;
        for (int r : ranks_of[i]) busy[r] = false;
        running_now.erase(i);
        ++generation[i];
        regrouping[i] = true;
        ++result.regroups;
        PendingTrial rest = trials[i];
        rest.cost = trials[i].cost * left_of[i];
        pending.push_back(rest);
      }
    }
    if (!pending.empty()) {
      cluster.free_ranks.clear();
      for (int r = 0; r < options.world_size; ++r) {
        if (!busy[r]) cluster.free_ranks.push_back(r);
      }
      cluster.running.clear();
      if (options.share_running) {
        // What the coordinator would estimate: the trial's ideal per-rank duration times the
        // fraction left (it knows progress, not the true speed).
        for (size_t i : running_now) {
          const PendingTrial& t = trials[i];
          const double left =
              duration_of[i] > 0 ? (piece_start[i] + duration_of[i] - now) / duration_of[i] : 0;
          cluster.running.push_back(
              RunningTrial{ranks_of[i], t.cost * left_of[i] / ranks_of[i].size() * left});
        }
      }
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<Assignment> placed = Place(options.policy, pending, cluster);
      result.place_seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

      std::set<std::string> started;
      for (Assignment& a : placed) {
        auto it = index_of.find(a.trial_id);
        if (it == index_of.end() || (result.start[it->second] >= 0 && !regrouping[it->second]) ||
            trials[it->second].group_size > options.world_size || submit(it->second) > now) {
          throw std::logic_error(
              "Simulate: policy placed an unknown, unsubmitted or started trial " + a.trial_id);
        }
        const size_t i = it->second;
        const PendingTrial& t = trials[i];
        const int k = static_cast<int>(a.ranks.size());
        if (k < t.group_size || k > std::max(t.group_size, t.group_size_max) ||
            !std::is_sorted(a.ranks.begin(), a.ranks.end())) {
          throw std::logic_error("Simulate: wrong rank list for trial " + t.id);
        }
        std::set<int> nodes;
        for (int r : a.ranks) {
          if (r < 0 || r >= options.world_size || busy[r]) {
            throw std::logic_error("Simulate: rank " + std::to_string(r) + " given to " + t.id +
                                   " is busy or unknown");
          }
          busy[r] = true;
          nodes.insert(options.ranks_per_node > 0 ? r / options.ranks_per_node : 0);
        }
        double duration = SimDurationOn(t, k, options) * left_of[i];
        if (regrouping[i]) duration += options.regroup_overhead;
        if (options.ranks_per_node > 0) {
          const size_t needed = (k + options.ranks_per_node - 1) / options.ranks_per_node;
          if (nodes.size() > needed) {
            duration *= options.split_slowdown;
            ++result.split;
          }
        }
        if (!regrouping[i]) {
          result.start[i] = now;
          ++result.placed;
        }
        if (k > t.group_size) ++result.widened;
        regrouping[i] = false;
        piece_start[i] = now;
        busy_rank_seconds += duration * k;
        ranks_of[i] = std::move(a.ranks);
        duration_of[i] = duration;
        running_now.insert(i);
        running.emplace(now + duration, i, generation[i]);
        started.insert(t.id);
      }
      if (!started.empty()) {
        pending.erase(
            std::remove_if(pending.begin(), pending.end(),
                           [&](const PendingTrial& p) { return started.count(p.id) > 0; }),
            pending.end());
      }
    }
    const double next_end = running.empty() ? kInf : std::get<0>(running.top());
    const double next_submit =
        next_arrival < arrivals.size() ? submit(arrivals[next_arrival]) : kInf;
    if (next_end == kInf && next_submit == kInf) {
      // Nothing runs and nothing arrives, so every rank was free at the last decision: what
      // is left never starts.
      for (const PendingTrial& p : pending) result.stalled.push_back(p.id);
      break;
    }
    now = std::min(next_end, next_submit);
  }
  if (result.makespan > 0) {
    result.utilisation =
        busy_rank_seconds / (static_cast<double>(options.world_size) * result.makespan);
  }
  return result;
}

std::vector<PendingTrial> SyntheticSweep(const SyntheticSweepOptions& options) {
  static constexpr int kGroup[4] = {1, 2, 4, 8};
  std::mt19937_64 g(options.seed);
  std::vector<PendingTrial> out;
  out.reserve(options.trials);
  for (int i = 0; i < options.trials; ++i) {
    const int size = static_cast<int>(BoundedIndex(g, 4));
    const double base = std::pow(100.0, size / 3.0);
    PendingTrial t;
    char id[32];
    std::snprintf(id, sizeof id, "t%04d", i);
    t.id = id;
    t.cost = base * std::exp(options.noise_sigma * Normal(g));
    t.group_size = options.uniform_k1 ? 1 : kGroup[size];
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace revsweep
