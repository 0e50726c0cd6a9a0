// Event-driven placement simulator: replays a list of trials on a synthetic cluster, calling
// Place() (placement_policy.h) at time 0 and whenever running trials finish, exactly as the
// coordinator does, and reports the makespan against a lower bound. Used by the placement
// benchmark (bench/bench_placement_sim.cc) and by the tests that pin its figures.
//
// Model: every trial is submitted at time 0 (a sweep's trials are all known up front) unless
// SimOptions::submit_times says otherwise; Place() runs after every batch of events (trials
// ending, trials arriving) while something is pending, with trials in arrival order. A trial
// of cost c on k ranks runs for c / (speed_per_rank * k * e^log2(k)) seconds, e being
// scaling_efficiency per doubling of k (1 = ideal data-parallel scaling), times
// split_slowdown when its ranks span more nodes than ceil(k / ranks_per_node). Trials never
// fail and durations are known exactly to the simulator, never to the policy (which only sees
// costs, as in production).
//
// Lower bound on any schedule's makespan: max(total rank-seconds / world_size, longest single
// duration), where a trial's rank-seconds are duration * k (k > 1 trials occupy k ranks for
// their whole duration); with submit times the second term is the latest submit + duration.
// A moldable trial counts its rank-seconds at group_size (the fewest: efficiency <= 1) and its
// duration at its widest group (the shortest), so the bound holds for every group choice.
// Durations in the bound use no split_slowdown, which a schedule could avoid.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scheduler/placement/placement_policy.h"

namespace revsweep {

struct SimOptions {
  std::string policy = kDefaultPlacementPolicy;
  int world_size = 0;             // ranks 0..world_size-1; >= 1
  int ranks_per_node = 0;         // 0 = one node
  double speed_per_rank = 1;      // cost units per second per rank; > 0
  double scaling_efficiency = 1;  // per doubling of the group; in (0, 1]
  double split_slowdown = 1;      // duration factor for a needlessly split group; >= 1
  // Pass running trials with estimated remaining times (cost / group_size times the fraction
  // left, as the coordinator estimates them) in the snapshot; false replays a coordinator that
  // passes none.
  bool share_running = true;
  // Per trial, when it enters the pending list (seconds, >= 0); empty = all at time 0. A
  // coordinator's queue is not always static: retries, added trials, promoted trials.
  std::vector<double> submit_times;
  // Moldable trials (group_size_max) are widened by Place(); with `regroup`, as the
  // coordinator does, a running moldable trial with at least regroup_min_remaining seconds
  // left moves onto idle ranks when nothing is pending, paying regroup_overhead seconds
  // (checkpoint, restart, restore) on its next piece.
  bool regroup = false;
  double regroup_min_remaining = 30;
  double regroup_overhead = 2;
};

struct SimResult {
  double makespan = 0;     // end of the last trial (0 when none ran)
  double lower_bound = 0;  // see the header comment; over placeable trials
  double utilisation = 0;  // busy rank-seconds / (world_size * makespan); 0 when none ran
  double ratio() const { return lower_bound > 0 ? makespan / lower_bound : 1; }
  int placed = 0;
  int split = 0;                         // trials that ran spread over more nodes than needed
  int widened = 0;                       // pieces that ran on more ranks than group_size
  int regroups = 0;                      // running trials moved onto more ranks
  std::vector<double> start;             // per input trial; -1 when it never started
  std::vector<std::string> unplaceable;  // group_size > world_size (never offered to Place)
  std::vector<std::string> stalled;      // left pending with the whole cluster idle (a policy bug)
  int place_calls() const { return static_cast<int>(place_seconds.size()); }
  // Wall-clock seconds of each Place() call; the only field that varies between runs.
  std::vector<double> place_seconds;
};

// Duration of `trial` under `options` without split_slowdown, on its group_size ranks or on
// `ranks`. REQUIRES: group_size (ranks) >= 1.
double SimDuration(const PendingTrial& trial, const SimOptions& options);
double SimDurationOn(const PendingTrial& trial, int ranks, const SimOptions& options);

// max(sum of SimDuration * group_size / world_size, max (submit time + SimDuration)) over
// trials that fit the world. 0 for no such trials. REQUIRES: submit_times empty or one per
// trial.
double SimLowerBound(const std::vector<PendingTrial>& trials, const SimOptions& options);

// Replays `trials` (pending order = list order) and returns the schedule's figures.
// Deterministic apart from the place_seconds fields. Throws std::invalid_argument for invalid
// options or trials (as Place() would), std::logic_error if the policy breaks Place()'s
// guarantees (assigns a busy or unknown rank, or a wrong number of ranks).
SimResult Simulate(const std::vector<PendingTrial>& trials, const SimOptions& options);

// The benchmark's synthetic sweep, kept here so the benchmark and the test replay the same
// trials. A sweep over four model sizes whose costs are 1, 100^(1/3), 100^(2/3) and 100
// (a 100x span), trained data-parallel on 1, 2, 4 and 8 ranks respectively; each trial draws
// its size uniformly and multiplies the cost by lognormal noise (median 1, sigma
// `noise_sigma`: different token budgets, epochs, early stops), so costs of neighbouring sizes
// overlap. `uniform_k1` puts every trial on one rank (same costs). Trials are listed in draw
// order (no sorting by size) with ids "t0000", "t0001", ... Random numbers come from
// std::mt19937_64 through explicit transforms (not std:: distributions), so the trials are the
// same with every standard library.
struct SyntheticSweepOptions {
  int trials = 1000;
  uint64_t seed = 20230921;
  double noise_sigma = 0.5;
  bool uniform_k1 = false;
};
std::vector<PendingTrial> SyntheticSweep(const SyntheticSweepOptions& options);

}  // namespace revsweep
