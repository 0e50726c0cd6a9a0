// GradSync (worker/grad_sync.h) without MPI: bucket planning (every parameter in exactly one
// bucket, in order, buckets within the size limit), the copy in / copy out around the
// collective, undefined gradients, the 1-rank shortcut and BroadcastParameters. A recording
// Communicator stands in for a group of two. (The MPI path end to end, against a 1-rank run,
// is tests/mpi/dp_equivalence.sh.)
#include "worker/grad_sync.h"

#include <gtest/gtest.h>

#include <vector>

#include "worker/communicator.h"

namespace revsweep {
namespace {

// Pretends to be one of `size` ranks. AllReduceAverage records a copy of each buffer it is
// handed and then replaces it with `f(buffer)` (default: halves it, as averaging with a rank
// whose gradients are all zero would). Broadcast fills with `broadcast_value`.
class RecordingCommunicator : public Communicator {
 public:
  explicit RecordingCommunicator(int size) : size_(size) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  std::string name() const override { return "recording"; }
  void AllReduceAverage(torch::Tensor& t) override {
    EXPECT_TRUE(t.is_contiguous());
    reduced.push_back(t.clone());
    t.mul_(0.5);
  }
  void Broadcast(torch::Tensor& t, int root) override {
    EXPECT_EQ(root, 0);
    broadcast_numels.push_back(t.numel());
    t.fill_(broadcast_value);
  }
  bool AnyTrue(bool flag) override { return flag; }

  std::vector<torch::Tensor> reduced;
  std::vector<int64_t> broadcast_numels;
  float broadcast_value = 7;

 private:
  int size_;
};

// Parameters of the given sizes (float32, 4 bytes per element), each with its gradient set to
// (index + 1) everywhere so a bucket's contents identify which parameters it holds.
std::vector<torch::Tensor> MakeParams(const std::vector<std::vector<int64_t>>& shapes) {
  std::vector<torch::Tensor> ps;
  for (size_t i = 0; i < shapes.size(); ++i) {
    auto p = torch::zeros(shapes[i], torch::requires_grad());
    p.mutable_grad() = torch::full(shapes[i], static_cast<float>(i + 1));
    ps.push_back(p);
  }
  return ps;
}

int64_t TotalNumel(const std::vector<torch::Tensor>& ps) {
  int64_t n = 0;
  for (const auto& p : ps) n += p.numel();
  return n;
}

// Splits every recorded bucket back into runs of equal values and returns, in order, the
// parameter index (value - 1) and length of each run.
std::vector<std::pair<int, int64_t>> Runs(const std::vector<torch::Tensor>& buckets) {
  std::vector<std::pair<int, int64_t>> runs;
  for (const auto& b : buckets) {
    auto a = b.accessor<float, 1>();
    for (int64_t i = 0; i < b.numel(); ++i) {
      const int idx = static_cast<int>(a[i]) - 1;
      if (i > 0 && static_cast<int>(a[i - 1]) - 1 == idx)
        ++runs.back().second;
      else
        runs.emplace_back(idx, 1);
    }
  }
  return runs;
}

TEST(GradSyncTest, EveryParameterLandsInExactlyOneBucketInOrder) {
  auto ps = MakeParams({{10, 10}, {7}, {3, 5}, {200}, {1}, {33, 2}, {50}});
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, /*bucket_bytes=*/4 * 120);
  sync.AverageGradients();
  ASSERT_EQ(comm.reduced.size(), sync.num_buckets());
  int64_t reduced_numel = 0;
  for (const auto& b : comm.reduced) reduced_numel += b.numel();
  EXPECT_EQ(reduced_numel, TotalNumel(ps));
  // Each parameter appears once, contiguously, whole, and in parameter order.
  auto runs = Runs(comm.reduced);
  ASSERT_EQ(runs.size(), ps.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_EQ(runs[i].first, static_cast<int>(i));
    EXPECT_EQ(runs[i].second, ps[i].numel()) << "parameter " << i;
  }
}

TEST(GradSyncTest, BucketsRespectTheSizeLimit) {
  // 4-byte floats; limit 100 elements. The 200-element parameter cannot fit any bucket and
  // must travel alone; every other bucket stays within the limit.
  auto ps = MakeParams({{30}, {30}, {30}, {30}, {200}, {60}, {40}, {1}, {99}});
  const size_t limit = 4 * 100;
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, limit);
  sync.AverageGradients();
  ASSERT_EQ(comm.reduced.size(), sync.num_buckets());
  for (const auto& b : comm.reduced) {
    const size_t bytes = static_cast<size_t>(b.numel()) * 4;
    if (bytes > limit) {
      // Oversized only when it is a single parameter.
      auto runs = Runs({b});
      EXPECT_EQ(runs.size(), 1u) << "a bucket of " << bytes << " bytes holds several parameters";
    }
  }
  // Greedy packing: 30+30+30 | 30 | 200 | 60+40 | 1+99 -> 5 buckets.
  EXPECT_EQ(sync.num_buckets(), 5u);
  // A limit larger than everything makes one bucket; a tiny limit one bucket per parameter.
  RecordingCommunicator c1(2), c2(2);
  EXPECT_EQ(GradSync(ps, &c1, size_t{1} << 30).num_buckets(), 1u);
  EXPECT_EQ(GradSync(ps, &c2, 1).num_buckets(), ps.size());
}

TEST(GradSyncTest, AveragedValuesAreCopiedBackIntoEveryGradient) {
  auto ps = MakeParams({{4, 3}, {5}, {2, 2, 2}});
  RecordingCommunicator comm(2);  // halves each bucket
  GradSync sync(ps, &comm, 4 * 16);
  sync.AverageGradients();
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_TRUE(torch::equal(ps[i].grad(), torch::full(ps[i].sizes(), (i + 1) * 0.5f)))
        << "parameter " << i;
    EXPECT_EQ(ps[i].grad().sizes(), ps[i].sizes());
  }
}

TEST(GradSyncTest, OneRankSelfCommunicatorLeavesGradientsUnchanged) {
  auto ps = MakeParams({{4, 3}, {5}, {64}});
  torch::manual_seed(3);
  std::vector<torch::Tensor> before;
  for (auto& p : ps) {
    p.mutable_grad() = torch::randn(p.sizes());
    before.push_back(p.grad().clone());
  }
  std::vector<void*> ptrs;
  for (auto& p : ps) ptrs.push_back(p.grad().data_ptr());
  SelfCommunicator self;
  GradSync sync(ps, &self, 4 * 8);
  sync.AverageGradients();
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_TRUE(torch::equal(ps[i].grad(), before[i])) << "parameter " << i;
    EXPECT_EQ(ps[i].grad().data_ptr(), ptrs[i]) << "gradient tensor replaced";
  }
}

TEST(GradSyncTest, UndefinedGradientsCountAsZeros) {
  // A rank that had no documents in a step calls no backward: its gradients stay undefined
  // and must take part in the average as zeros (and come back defined, with the average).
  auto ps = MakeParams({{3}, {2, 2}, {5}});
  ps[1].mutable_grad() = torch::Tensor();
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, 1 << 20);
  sync.AverageGradients();
  ASSERT_EQ(comm.reduced.size(), 1u);
  // The bucket handed to the collective holds zeros where the undefined gradient goes.
  EXPECT_TRUE(torch::equal(comm.reduced[0].narrow(0, 3, 4), torch::zeros({4})));
  ASSERT_TRUE(ps[1].grad().defined());
  EXPECT_EQ(ps[1].grad().sizes(), ps[1].sizes());
  EXPECT_TRUE(torch::equal(ps[1].grad(), torch::zeros({2, 2})));
  EXPECT_TRUE(torch::equal(ps[0].grad(), torch::full({3}, 0.5f)));
  EXPECT_TRUE(torch::equal(ps[2].grad(), torch::full({5}, 1.5f)));

  // All gradients undefined (the first step of a rank with an empty shard): all zeros.
  auto qs = MakeParams({{3}, {4}});
  for (auto& q : qs) q.mutable_grad() = torch::Tensor();
  RecordingCommunicator comm2(2);
  GradSync sync2(qs, &comm2, 1 << 20);
  sync2.AverageGradients();
  for (auto& q : qs) {
    ASSERT_TRUE(q.grad().defined());
    EXPECT_TRUE(torch::equal(q.grad(), torch::zeros_like(q)));
  }
}

TEST(GradSyncTest, BroadcastParametersCopiesTheLeadersValuesIntoEveryParameter) {
  auto ps = MakeParams({{4, 3}, {5}, {300}});
  RecordingCommunicator comm(2);
  GradSync sync(ps, &comm, 4 * 20);
  sync.BroadcastParameters();
  EXPECT_EQ(comm.broadcast_numels.size(), sync.num_buckets());
  for (auto& p : ps) EXPECT_TRUE(torch::equal(p, torch::full(p.sizes(), 7.0f)));
}

}  // namespace
}  // namespace revsweep
