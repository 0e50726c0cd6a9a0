#include "scheduler/placement/placement_policy.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace revsweep {
namespace {

enum class OrderKey { kCost, kDuration, kPending };

struct PolicySpec {
  const char* name;
  OrderKey key;
  bool reserve;  // reserve a window for the first blocked trial (bounded backfill)
  bool strict;   // stop at the first blocked trial (no backfill at all)
};

// Default first: PlacementPolicyNames() and the error message list them in this order.
constexpr PolicySpec kPolicies[] = {
    {"largest_first", OrderKey::kCost, /*reserve=*/true, /*strict=*/false},
    {"longest_first", OrderKey::kDuration, /*reserve=*/true, /*strict=*/false},
    {"largest_first_greedy", OrderKey::kCost, /*reserve=*/false, /*strict=*/false},
    {"fifo", OrderKey::kPending, /*reserve=*/false, /*strict=*/true},
};

const PolicySpec& FindPolicy(const std::string& name) {
  for (const PolicySpec& p : kPolicies) {
    if (name == p.name) return p;
  }
  std::string known;
  for (const PolicySpec& p : kPolicies) known += (known.empty() ? "" : ", ") + std::string(p.name);
  throw std::invalid_argument("unknown placement policy '" + name + "' (known: " + known + ")");
}

void Validate(const std::vector<PendingTrial>& pending, const ClusterSnapshot& cluster) {
  if (cluster.ranks_per_node < 0) throw std::invalid_argument("Place: ranks_per_node < 0");
  if (cluster.world_size < 0) throw std::invalid_argument("Place: world_size < 0");
  std::vector<int> ranks = cluster.free_ranks;
  std::sort(ranks.begin(), ranks.end());
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (ranks[i] < 0) throw std::invalid_argument("Place: negative free rank");
    if (cluster.world_size > 0 && ranks[i] >= cluster.world_size) {
      throw std::invalid_argument("Place: free rank " + std::to_string(ranks[i]) +
                                  " >= world_size");
    }
    if (i > 0 && ranks[i] == ranks[i - 1]) {
      throw std::invalid_argument("Place: free rank " + std::to_string(ranks[i]) + " listed twice");
    }
  }
  std::vector<int> busy;
  for (const RunningTrial& rt : cluster.running) {
    for (int r : rt.ranks) {
      if (r < 0 || (cluster.world_size > 0 && r >= cluster.world_size)) {
        throw std::invalid_argument("Place: running rank " + std::to_string(r) + " out of range");
      }
      busy.push_back(r);
    }
  }
  std::sort(busy.begin(), busy.end());
  for (size_t i = 0; i < busy.size(); ++i) {
    if ((i > 0 && busy[i] == busy[i - 1]) ||
        std::binary_search(ranks.begin(), ranks.end(), busy[i])) {
      throw std::invalid_argument("Place: rank " + std::to_string(busy[i]) +
                                  " is running twice, or running and free");
    }
  }
  std::vector<const std::string*> ids;
  ids.reserve(pending.size());
  for (const PendingTrial& t : pending) {
    if (t.group_size < 1) throw std::invalid_argument("Place: trial " + t.id + " group_size < 1");
    if (t.group_size_max != 0 && t.group_size_max < t.group_size) {
      throw std::invalid_argument("Place: trial " + t.id + " group_size_max < group_size");
    }
    if (!std::isfinite(t.cost) || t.cost < 0) {
      throw std::invalid_argument("Place: trial " + t.id + " cost is negative or not finite");
    }
    ids.push_back(&t.id);
  }
  std::sort(ids.begin(), ids.end(),
            [](const std::string* a, const std::string* b) { return *a < *b; });
  for (size_t i = 1; i < ids.size(); ++i) {
    if (*ids[i] == *ids[i - 1]) throw std::invalid_argument("Place: duplicate trial id " + *ids[i]);
  }
}

// Policy order over pending indices. Every comparison ends in the id and then the index, so
// the order is total and std::sort's instability cannot show.
std::vector<size_t> PolicyOrder(const PolicySpec& policy,
                                const std::vector<PendingTrial>& pending) {
  std::vector<size_t> order(pending.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const PendingTrial& x = pending[a];
    const PendingTrial& y = pending[b];
    if (x.priority != y.priority) return x.priority > y.priority;
    switch (policy.key) {
      case OrderKey::kCost:
        if (x.cost != y.cost) return x.cost > y.cost;
        break;
      case OrderKey::kDuration: {
        const double dx = x.cost / x.group_size, dy = y.cost / y.group_size;
        if (dx != dy) return dx > dy;
        if (x.cost != y.cost) return x.cost > y.cost;
        break;
      }
      case OrderKey::kPending:
        return a < b;
    }
    if (x.id != y.id) return x.id < y.id;
    return a < b;
  });
  return order;
}

// The free ranks of one node, ascending.
struct Node {
  int64_t id;
  std::vector<int> free;
};

// The free ranks not yet assigned or reserved in this Place() call, grouped by node.
class FreePool {
 public:
  explicit FreePool(const ClusterSnapshot& cluster) : rpn_(cluster.ranks_per_node) {
    std::vector<int> ranks = cluster.free_ranks;
    std::sort(ranks.begin(), ranks.end());
    for (int r : ranks) {
      const int64_t node = NodeOf(r);
      if (nodes_.empty() || nodes_.back().id != node) nodes_.push_back(Node{node, {}});
      nodes_.back().free.push_back(r);
    }
    total_ = static_cast<int>(ranks.size());
  }

  int total() const { return total_; }
  bool Contains(int rank) const {
    const int64_t node = NodeOf(rank);
    auto n = std::lower_bound(nodes_.begin(), nodes_.end(), node,
                              [](const Node& a, int64_t id) { return a.id < id; });
    return n != nodes_.end() && n->id == node &&
           std::binary_search(n->free.begin(), n->free.end(), rank);
  }
  int64_t NodeOf(int rank) const { return rpn_ > 0 ? rank / rpn_ : 0; }
  const std::vector<Node>& nodes() const { return nodes_; }

  // Returns `ranks` (taken from this pool earlier) to it.
  void Give(const std::vector<int>& ranks) {
    for (int r : ranks) {
      const int64_t node = NodeOf(r);
      auto n = std::lower_bound(nodes_.begin(), nodes_.end(), node,
                                [](const Node& a, int64_t id) { return a.id < id; });
      n->free.insert(std::lower_bound(n->free.begin(), n->free.end(), r), r);
      ++total_;
    }
  }

  // Removes `ranks` (all present in the pool) from it.
  void Take(const std::vector<int>& ranks) {
    for (int r : ranks) {
      const int64_t node = NodeOf(r);
      auto n = std::lower_bound(nodes_.begin(), nodes_.end(), node,
                                [](const Node& a, int64_t id) { return a.id < id; });
      auto it = std::lower_bound(n->free.begin(), n->free.end(), r);
      n->free.erase(it);
      --total_;
    }
  }

 private:
  int rpn_;
  std::vector<Node> nodes_;  // ascending by id; nodes may become empty
  int total_ = 0;
};

// k ranks out of `free` (ascending, size >= k): a contiguous block if there is one, taken from
// the start of the shortest maximal run that holds it, so longer runs stay whole for bigger
// groups; otherwise the k consecutive free ranks with the smallest span. Ties: lowest rank.
std::vector<int> PickInNode(const std::vector<int>& free, int k) {
  size_t best_start = free.size(), best_run = 0;
  for (size_t i = 0; i < free.size();) {
    size_t j = i + 1;
    while (j < free.size() && free[j] == free[j - 1] + 1) ++j;
    const size_t run = j - i;
    if (run >= static_cast<size_t>(k) && (best_start == free.size() || run < best_run)) {
      best_start = i;
      best_run = run;
    }
    i = j;
  }
  if (best_start == free.size()) {
    int64_t best_span = -1;
    for (size_t i = 0; i + k <= free.size(); ++i) {
      const int64_t span = static_cast<int64_t>(free[i + k - 1]) - free[i];
      if (best_span < 0 || span < best_span) {
        best_span = span;
        best_start = i;
      }
    }
  }
  return std::vector<int>(free.begin() + best_start, free.begin() + best_start + k);
}

// Ranks for a group of k, or empty when it cannot be placed now (see the header for the
// rules). A group that fits in a node never spans nodes.
std::vector<int> PickRanks(const FreePool& pool, int k, int ranks_per_node) {
  if (k > pool.total()) return {};
  const std::vector<Node>& nodes = pool.nodes();
  if (ranks_per_node == 0 || k <= ranks_per_node) {
    // Best fit: the node with the fewest free ranks that still holds k; lowest id on ties.
    const Node* best = nullptr;
    for (const Node& n : nodes) {
      if (n.free.size() >= static_cast<size_t>(k) &&
          (best == nullptr || n.free.size() < best->free.size())) {
        best = &n;
      }
    }
    if (best == nullptr) return {};
    return PickInNode(best->free, k);
  }
  // Wider than a node: whole nodes (most free first, lowest id on ties), then the remainder
  // from the best-fitting other node.
  std::vector<size_t> by_free(nodes.size());
  std::iota(by_free.begin(), by_free.end(), size_t{0});
  std::sort(by_free.begin(), by_free.end(), [&](size_t a, size_t b) {
    if (nodes[a].free.size() != nodes[b].free.size()) {
      return nodes[a].free.size() > nodes[b].free.size();
    }
    return a < b;
  });
  std::vector<int> ranks;
  size_t used = 0;
  while (used < by_free.size() &&
         ranks.size() + nodes[by_free[used]].free.size() < static_cast<size_t>(k)) {
    const std::vector<int>& f = nodes[by_free[used]].free;
    ranks.insert(ranks.end(), f.begin(), f.end());
    ++used;
  }
  const size_t need = k - ranks.size();
  const Node* last = nullptr;
  for (size_t i = used; i < by_free.size(); ++i) {
    const Node& n = nodes[by_free[i]];
    if (n.free.size() >= need && (last == nullptr || n.free.size() < last->free.size() ||
                                  (n.free.size() == last->free.size() && n.id < last->id))) {
      last = &n;
    }
  }
  // k <= pool.total() guarantees a node that holds the remainder.
  const std::vector<int> tail = PickInNode(last->free, static_cast<int>(need));
  ranks.insert(ranks.end(), tail.begin(), tail.end());
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

// Estimated duration of a trial in the policy's time unit (cost per rank): ideal scaling.
double Duration(const PendingTrial& t) { return t.cost / t.group_size; }

// EASY-backfilling reservation for the first blocked trial: the k ranks it will start on and
// the shadow time when the last of them frees up, from the estimated release time of every
// rank (0 when free, a running trial's estimated remaining time, or the duration of a trial
// placed earlier in this call; +inf when unknown). Candidates are the nodes when the group
// fits in one (it never splits), otherwise the whole world; the earliest shadow wins, lowest
// node on ties; inside the candidate the k earliest ranks (lowest rank on ties).
// `ranks` is empty (no reservation) when no candidate has a finite shadow.
struct Reservation {
  std::vector<int> ranks;  // ascending
  double shadow = kInf;
};

Reservation Reserve(const std::vector<double>& release, int k, int ranks_per_node) {
  const int world = static_cast<int>(release.size());
  const int node_size = (ranks_per_node > 0 && k <= ranks_per_node) ? ranks_per_node : world;
  Reservation best;
  std::vector<std::pair<double, int>> cand;
  for (int first = 0; first < world; first += node_size) {
    const int last = std::min(world, first + node_size);
    if (last - first < k) continue;
    cand.clear();
    for (int r = first; r < last; ++r) cand.emplace_back(release[r], r);
    std::sort(cand.begin(), cand.end());  // by release, then rank: lowest rank on ties
    if (cand[k - 1].first < best.shadow) {
      best.shadow = cand[k - 1].first;
      best.ranks.clear();
      for (int i = 0; i < k; ++i) best.ranks.push_back(cand[i].second);
      std::sort(best.ranks.begin(), best.ranks.end());
    }
  }
  return best;
}

// Moldable trials: hands the free ranks nobody else can use to this call's assignments, one
// rank at a time to the one with the longest estimated duration (cost / ranks) that can still
// grow (below its group_size_max, and a free rank where it may take one: its own node while the
// group is smaller than a node), so durations even out (water-filling). Ties: lowest trial id.
void Widen(const std::vector<PendingTrial>& pending, std::vector<Assignment>* out, FreePool* pool,
           int ranks_per_node) {
  std::map<std::string, const PendingTrial*> by_id;
  for (const PendingTrial& t : pending) by_id[t.id] = &t;
  std::vector<bool> stuck(out->size(), false);
  while (pool->total() > 0) {
    int best = -1;
    double best_d = -1;
    for (size_t i = 0; i < out->size(); ++i) {
      const PendingTrial& t = *by_id.at((*out)[i].trial_id);
      const int size = static_cast<int>((*out)[i].ranks.size());
      if (stuck[i] || size >= t.group_size_max) continue;
      const double d = t.cost / size;
      if (best < 0 || d > best_d || (d == best_d && t.id < (*out)[best].trial_id)) {
        best = static_cast<int>(i);
        best_d = d;
      }
    }
    if (best < 0) return;
    std::vector<int>& ranks = (*out)[best].ranks;
    // A group smaller than a node grows inside its node (placement never splits a group that
    // fits in one); a group of a node or more may take ranks anywhere.
    const bool in_node = GrowsInsideNode(static_cast<int>(ranks.size()), ranks_per_node);
    const int64_t node = ranks_per_node > 0 ? ranks.front() / ranks_per_node : 0;
    // The free rank closest to the group (in its node when it must stay there).
    int pick = -1;
    for (const Node& n : pool->nodes()) {
      if (in_node && n.id != node) continue;
      for (int r : n.free) {
        if (pick < 0 || std::abs(r - ranks.front()) < std::abs(pick - ranks.front())) pick = r;
      }
    }
    if (pick < 0 && in_node) {
      // Its node is full. The group has not started, so it may move whole to the node with
      // the most free ranks, if that one holds it and one more.
      const Node* roomy = nullptr;
      for (const Node& n : pool->nodes())
        if (n.id != node && (roomy == nullptr || n.free.size() > roomy->free.size())) roomy = &n;
      if (roomy != nullptr && roomy->free.size() > ranks.size()) {
        std::vector<int> moved = PickInNode(roomy->free, static_cast<int>(ranks.size()) + 1);
        pool->Give(ranks);
        pool->Take(moved);
        ranks = std::move(moved);
        continue;
      }
    }
    if (pick < 0) {
      stuck[best] = true;
      continue;
    }
    pool->Take({pick});
    ranks.insert(std::lower_bound(ranks.begin(), ranks.end(), pick), pick);
  }
}

}  // namespace

std::vector<Assignment> Place(const std::string& policy_name,
                              const std::vector<PendingTrial>& pending,
                              const ClusterSnapshot& cluster) {
  const PolicySpec& policy = FindPolicy(policy_name);
  Validate(pending, cluster);
  std::vector<Assignment> out;
  FreePool pool(cluster);  // every free rank not yet assigned
  // Estimated release time of every rank; only needed for the reservation, so only built
  // when the world is known.
  const bool can_reserve = policy.reserve && cluster.world_size > 0;
  std::vector<double> release;
  if (can_reserve) {
    release.assign(cluster.world_size, kInf);
    for (int r : cluster.free_ranks) release[r] = 0;
    for (const RunningTrial& rt : cluster.running) {
      const double rem = std::isfinite(rt.remaining) && rt.remaining >= 0 ? rt.remaining : kInf;
      for (int r : rt.ranks) release[r] = rem;
    }
  }
  // Once a trial is blocked: its reserved free ranks (`inside`), and the other free ranks
  // (`outside`), which trials ending after the shadow time are limited to. `pool` is always
  // their union.
  bool reserved = false;
  double shadow = kInf;
  std::optional<FreePool> inside, outside;
  for (size_t i : PolicyOrder(policy, pending)) {
    if (pool.total() == 0) break;
    const PendingTrial& t = pending[i];
    // Never placeable; the caller reports it (UnplaceableTrials). It must not block others.
    if (cluster.world_size > 0 && t.group_size > cluster.world_size) continue;
    std::vector<int> ranks;
    if (!outside) {
      ranks = PickRanks(pool, t.group_size, cluster.ranks_per_node);
    } else if (Duration(t) <= shadow) {
      // Ends before the blocked trial needs its ranks: fill the reserved hole first, so the
      // ranks outside stay free for trials that cannot use it.
      ranks = PickRanks(*inside, t.group_size, cluster.ranks_per_node);
      if (ranks.empty()) ranks = PickRanks(pool, t.group_size, cluster.ranks_per_node);
    } else {
      ranks = PickRanks(*outside, t.group_size, cluster.ranks_per_node);
    }
    if (ranks.empty()) {
      if (policy.strict) break;
      if (can_reserve && !reserved) {
        reserved = true;
        const Reservation res = Reserve(release, t.group_size, cluster.ranks_per_node);
        if (!res.ranks.empty()) {
          shadow = res.shadow;
          ClusterSnapshot split;
          split.ranks_per_node = cluster.ranks_per_node;
          ClusterSnapshot rest = split;
          for (const Node& n : pool.nodes()) {
            for (int r : n.free) {
              const bool in = std::binary_search(res.ranks.begin(), res.ranks.end(), r);
              (in ? split : rest).free_ranks.push_back(r);
            }
          }
          inside.emplace(split);
          outside.emplace(rest);
        }
      }
      continue;
    }
    pool.Take(ranks);
    if (outside) {
      std::vector<int> from_inside, from_outside;
      for (int r : ranks) (inside->Contains(r) ? from_inside : from_outside).push_back(r);
      inside->Take(from_inside);
      outside->Take(from_outside);
    }
    if (can_reserve) {
      for (int r : ranks) release[r] = Duration(t);
    }
    out.push_back(Assignment{t.id, std::move(ranks)});
  }
  // Ranks would sit idle only when every placeable trial got its ranks; then moldable trials
  // take them. (While a trial waits, free ranks stay for it and for backfill.)
  size_t placeable = 0;
  for (const PendingTrial& t : pending)
    placeable += cluster.world_size <= 0 || t.group_size <= cluster.world_size;
  if (out.size() == placeable && pool.total() > 0)
    Widen(pending, &out, &pool, cluster.ranks_per_node);
  return out;
}

std::vector<std::string> PlacementPolicyNames() {
  std::vector<std::string> names;
  for (const PolicySpec& p : kPolicies) names.emplace_back(p.name);
  return names;
}

std::vector<std::string> UnplaceableTrials(const std::vector<PendingTrial>& pending,
                                           const ClusterSnapshot& cluster) {
  std::vector<std::string> ids;
  if (cluster.world_size <= 0) return ids;
  for (const PendingTrial& t : pending) {
    if (t.group_size > cluster.world_size) ids.push_back(t.id);
  }
  return ids;
}

double EstimateCost(int64_t params, int64_t tokens_per_epoch, int epochs) {
  if (params < 0 || tokens_per_epoch < 0 || epochs < 0) {
    throw std::invalid_argument("EstimateCost: negative argument");
  }
  return static_cast<double>(params) * static_cast<double>(tokens_per_epoch) *
         static_cast<double>(epochs);
}

}  // namespace revsweep
