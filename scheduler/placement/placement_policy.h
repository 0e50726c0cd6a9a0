// Trial placement policy: which pending trials start now, and on which ranks.
//
// Policy is separated from mechanism (as in Flux or Ray's raylet): Place() is a pure function
// of a snapshot (pending trials + free ranks) and returns assignments; the coordinator owns
// the mechanism (tracking running trials, launching, retrying) and calls Place() whenever
// ranks free up or trials arrive. Being pure, the same policy drives the event simulator in
// placement_sim.h, so what the benchmark measures is exactly what the coordinator runs.
//
// Policies (PlacementPolicyNames()):
//   "largest_first" (default)  Largest estimated cost first (list scheduling), with EASY
//       backfilling: when a trial does not fit, the ranks it will start on are reserved and
//       smaller trials backfill around them (below).
//   "longest_first"            Same mechanism, ordered by estimated duration cost/group_size
//       (LPT for rigid parallel jobs).
//   "largest_first_greedy"     largest_first with unlimited backfill (no reservation): the
//       comparison point for the starvation argument below; not recommended.
//   "fifo"                     Pending order; stops at the first trial that does not fit
//       (head-of-line blocking, no backfill): the classic queue and the benchmark baseline.
// Every policy orders by priority (higher first) before its own key, and breaks the
// remaining ties by trial id, so the result never depends on sort stability.
//
// Moldable trials (group_size_max > group_size). When every placeable pending trial has its
// ranks and free ranks are left over (the tail of a sweep, or fewer trials than ranks), those
// ranks go to this call's assignments, one at a time to the one with the longest estimated
// duration (cost / ranks) still below its group_size_max; a group smaller than a node grows
// inside its node, a group of a node or more anywhere. Data-parallel training gives the same result
// at any group size (the global batch is fixed; docs/ARCHITECTURE.md), so this changes when a trial
// ends, not what it computes. While some trial waits for ranks nothing is widened: the free ranks
// are kept for it and for backfill.
//
// Where a trial goes: inside one node whenever its group fits in a node (a data-parallel
// group split across nodes syncs gradients over the network instead of NVLink, which can be
// many times slower, so such a trial waits instead of splitting); the node chosen is the best
// fit (fewest free ranks that still hold the group), so whole nodes stay free for whole-node
// groups; inside the node, a contiguous block of ranks taken from the shortest free run that
// holds it, or failing that the k free ranks with the smallest span. A group larger than a node
// takes whole nodes first (most free ranks first, lowest node id on ties) and the remainder from
// the best-fitting node.
//
// Why backfill is bounded. With unlimited backfill a group of k ranks starts only when k
// ranks of one node are free at the moment Place() runs, but every rank that frees up is
// handed straight to a smaller trial, so on a busy cluster that moment does not come until the
// smaller trials run out: the big trial then runs last, mostly alone, and the makespan grows
// by its whole duration (and an online queue that keeps receiving small trials starves it
// forever). Reserving without knowing when ranks free up is no better: a reserved node idles
// until its longest running trial ends, which can cost more than the starvation. So the
// default uses EASY backfilling over the estimates in the snapshot: for the first trial in
// policy order that does not fit, it finds the node (the whole cluster for groups wider than
// a node) where k ranks free up earliest, by each running trial's estimated remaining time,
// and reserves those k ranks from that "shadow" time on. A smaller trial may still use a
// reserved free rank if its estimated duration (cost / group_size) ends by the shadow time
// (such trials fill the reserved ranks first, keeping the others for longer trials); any
// trial may use the other free ranks. The blocked trial therefore starts no later than
// its shadow time, up to estimate errors, and ranks idle only when nothing short enough is
// waiting. Durations and remaining times share one unit: cost per rank (ideal scaling).
// A rank whose release time is unknown (not free, no running estimate) counts as never
// freeing; with no estimates at all no reservation is possible and the default degrades to
// largest_first_greedy, so the coordinator should always fill ClusterSnapshot::running.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace revsweep {

// Name of the policy the coordinator uses unless configured otherwise.
inline constexpr char kDefaultPlacementPolicy[] = "largest_first";

struct PendingTrial {
  std::string id;      // unique among the trials passed to one Place() call
  double cost = 0;     // estimated work (EstimateCost), arbitrary units; finite and >= 0
  int group_size = 1;  // ranks it needs (k); >= 1
  int priority = 0;    // higher goes first under every policy
  // Moldable trials: up to this many ranks when ranks would otherwise sit idle (see Place);
  // 0 = group_size (rigid). REQUIRES: 0 or >= group_size.
  int group_size_max = 0;
};

struct Assignment {
  std::string trial_id;
  std::vector<int> ranks;  // ascending; group_size ranks, up to group_size_max when moldable
};

// A trial that holds ranks now, for the backfill reservation.
struct RunningTrial {
  std::vector<int> ranks;
  // Estimated remaining time in cost-per-rank units: cost / group_size * (1 - fraction done).
  // Negative or not finite = unknown (the ranks count as never freeing).
  double remaining = -1;
};

struct ClusterSnapshot {
  std::vector<int> free_ranks;  // distinct ranks >= 0, any order
  int ranks_per_node = 0;       // ranks r / ranks_per_node share a node; 0 = unknown/one node
  // Extensions of the basic snapshot; the coordinator should always set both.
  // Ranks 0..world_size-1 exist. 0 = unknown: no trial can then be recognised as larger than
  // the cluster and no reservation is made (largest_first behaves like largest_first_greedy).
  int world_size = 0;
  std::vector<RunningTrial> running;  // trials holding ranks; may be empty
};

// Decides which pending trials start now and on which ranks.
// Guarantees: deterministic (same inputs -> same output, ties broken by trial id); every
// returned rank is in cluster.free_ranks and appears once in the whole result; each
// assignment has the trial's group_size ranks (up to group_size_max, see above), ascending;
// a trial whose group_size
// exceeds world_size (when known) is never placed (see UnplaceableTrials for reporting it).
// Assignments come back in the order the policy chose them.
// REQUIRES: pending ids unique, group_size >= 1, cost finite and >= 0; free and running ranks
// all distinct, >= 0 and < world_size when world_size > 0; ranks_per_node >= 0;
// world_size >= 0.
// Throws std::invalid_argument on a violated requirement or an unknown policy name (the
// message lists the known names).
std::vector<Assignment> Place(const std::string& policy_name,
                              const std::vector<PendingTrial>& pending,
                              const ClusterSnapshot& cluster);

// The policy names Place() accepts, default first.
std::vector<std::string> PlacementPolicyNames();

// Whether a moldable group of `group_ranks` may grow only inside its own node (it is smaller
// than a node); a group of a node or more may take ranks anywhere. ranks_per_node 0 = one node.
inline bool GrowsInsideNode(int group_ranks, int ranks_per_node) {
  return ranks_per_node > 0 && group_ranks < ranks_per_node;
}

// Ids of the trials that can never be placed on this cluster (group_size > world_size), in
// pending order, so the caller can fail them with a clear message instead of waiting forever.
// Empty when world_size is 0 (unknown).
std::vector<std::string> UnplaceableTrials(const std::vector<PendingTrial>& pending,
                                           const ClusterSnapshot& cluster);

// Estimated work of a training trial: params * tokens_per_epoch * epochs. Training costs about
// 6 * N * D FLOPs for N parameters and D tokens (forward 2ND + backward 4ND), so this is the
// FLOP count up to the constant 6, which no policy needs (only ratios of costs matter).
// Computed in double, so products beyond 2^63 do not overflow (they lose precision instead).
// REQUIRES: all arguments >= 0 (throws std::invalid_argument otherwise).
double EstimateCost(int64_t params, int64_t tokens_per_epoch, int epochs);

}  // namespace revsweep
